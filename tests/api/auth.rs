//! Logging in, tokens, deactivation and login rate limits.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{send_to, spawn_app_with, start, Backend, TestApp, PASSWORD};

fn login_body(email: &str, password: &str) -> String {
    json!({"email": email, "password": password}).to_string()
}

fn a_user_logs_in_and_is_told_who_they_are(app: &TestApp) {
    let reply = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&login_body("TANAKA@city.test", PASSWORD)),
        &[],
    );
    assert_eq!(
        reply.status, 200,
        "e-mail is case-insensitive: {:?}",
        reply.body
    );
    assert_eq!(reply.body["user"]["email"], "tanaka@city.test");
    assert_eq!(reply.body["user"]["role"], "requester");
    assert!(reply.body["expires_at"]
        .as_str()
        .unwrap_or_default()
        .ends_with("+09:00"));
    let token = reply.body["token"].as_str().expect("token");
    let me = app.get("/api/v1/me", token);
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], app.org.requester.id);
    assert_eq!(me.body["department"]["code"], "JUKI");
}

fn a_wrong_password_and_an_unknown_email_get_the_same_answer(app: &TestApp) {
    let wrong = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&login_body("tanaka@city.test", "wrong password")),
        &[],
    );
    let unknown = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&login_body("nobody@city.test", "wrong password")),
        &[],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.content_type, "application/problem+json");
}

fn missing_and_invalid_tokens_are_refused(app: &TestApp) {
    let none = app.send("GET", "/api/v1/me", None, None, &[]);
    assert_eq!(none.status, 401);
    assert_eq!(none.header("WWW-Authenticate"), Some("Bearer"));
    let garbage = app.send("GET", "/api/v1/me", Some("not.a.token"), None, &[]);
    assert_eq!(garbage.status, 401);
    // A token signed with another secret is refused too.
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let forged = digicon::web::auth::JwtKeys::new("another secret")
        .issue(app.org.admin.id, "any", in_an_hour)
        .expect("token");
    assert_eq!(app.get("/api/v1/me", &forged).status, 401);
    // Signed with the right secret, but naming no session that was ever opened.
    let sessionless = digicon::web::auth::JwtKeys::new(&app.settings.jwt_secret)
        .issue(app.org.admin.id, "never-opened", in_an_hour)
        .expect("token");
    assert_eq!(app.get("/api/v1/me", &sessionless).status, 401);
}

fn logging_out_ends_the_session_at_once_and_only_that_one(app: &TestApp) {
    let laptop = app.login(&app.org.requester);
    let phone = app.login(&app.org.requester);
    let out = app.send("POST", "/api/v1/auth/logout", Some(&laptop), None, &[]);
    assert_eq!(out.status, 204, "{:?}", out.body);
    assert_eq!(app.get("/api/v1/me", &laptop).status, 401);
    assert_eq!(app.get("/api/v1/me", &phone).status, 200);
    // The pages' logout ends the cookie's session on the server too.
    let mut browser = crate::session::Session::new(app);
    browser.login(&app.org.requester.email);
    let cookie = browser.cookies["digicon_session"].clone();
    assert_eq!(app.get("/api/v1/me", &cookie).status, 200);
    let csrf = browser.csrf();
    assert_eq!(browser.post("/logout", &[("_csrf", &csrf)]).status, 303);
    assert_eq!(app.get("/api/v1/me", &cookie).status, 401);
}

fn the_account_page_changes_the_password_and_logs_out_everywhere(app: &TestApp) {
    let elsewhere = app.login(&app.org.colleague);
    let mut browser = crate::session::Session::new(app);
    browser.login(&app.org.colleague.email);
    assert_eq!(browser.get("/account").status, 200);
    let csrf = browser.csrf();
    let wrong = browser.post(
        "/account/password",
        &[
            ("_csrf", &csrf),
            ("current_password", "not it"),
            ("password", "another long passphrase"),
        ],
    );
    assert_eq!(wrong.status, 422);
    assert_eq!(app.get("/api/v1/me", &elsewhere).status, 200);
    let changed = browser.post(
        "/account/password",
        &[
            ("_csrf", &csrf),
            ("current_password", PASSWORD),
            ("password", "another long passphrase"),
        ],
    );
    assert_eq!(changed.status, 303);
    assert_eq!(changed.location.as_deref(), Some("/account?changed=1"));
    assert_eq!(app.get("/api/v1/me", &elsewhere).status, 401);
    let cookie = browser.cookies["digicon_session"].clone();
    assert_eq!(
        app.get("/api/v1/me", &cookie).status,
        200,
        "this browser stays in"
    );
    let out = browser.post("/account/sessions/end", &[("_csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(app.get("/api/v1/me", &cookie).status, 401);
}

fn a_password_change_or_reset_and_logging_out_everywhere_end_the_other_sessions(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let old = app.login(&app.org.requester);
    let current = app.login(&app.org.requester);
    let wrong = app.patch(
        "/api/v1/me",
        &current,
        json!({"password": "a brand new passphrase", "current_password": "not it"}),
    );
    assert_eq!(wrong.status, 422);
    assert!(wrong.body["errors"]["current_password"].is_array());
    assert_eq!(
        app.get("/api/v1/me", &old).status,
        200,
        "a refusal ends nothing"
    );
    let changed = app.patch(
        "/api/v1/me",
        &current,
        json!({"password": "a brand new passphrase", "current_password": PASSWORD}),
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(
        app.get("/api/v1/me", &old).status,
        401,
        "the other session ended"
    );
    assert_eq!(
        app.get("/api/v1/me", &current).status,
        200,
        "this one goes on"
    );
    let relogin = |password: &str| {
        app.send(
            "POST",
            "/api/v1/auth/token",
            None,
            Some(&login_body(&app.org.requester.email, password)),
            &[],
        )
    };
    assert_eq!(relogin(PASSWORD).status, 401);
    let fresh = relogin("a brand new passphrase");
    assert_eq!(fresh.status, 200);

    // An admin's reset signs the user out everywhere.
    let reset = app.patch(
        &format!("/api/v1/users/{}", app.org.requester.id),
        &admin,
        json!({"password": PASSWORD}),
    );
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    assert_eq!(app.get("/api/v1/me", &current).status, 401);

    // Log out everywhere, by the user and by an admin for a user.
    let one = app.login(&app.org.colleague);
    let two = app.login(&app.org.colleague);
    let everywhere = app.send("DELETE", "/api/v1/me/sessions", Some(&one), None, &[]);
    assert_eq!(everywhere.status, 204);
    assert_eq!(app.get("/api/v1/me", &one).status, 401);
    assert_eq!(app.get("/api/v1/me", &two).status, 401);
    let se = app.login(&app.org.se);
    let path = format!("/api/v1/users/{}/sessions", app.org.se.id);
    let not_admin = app.send("DELETE", &path, Some(&se), None, &[]);
    assert_eq!(not_admin.status, 403);
    assert_eq!(app.get("/api/v1/me", &se).status, 200);
    let by_admin = app.send("DELETE", &path, Some(&admin), None, &[]);
    assert_eq!(by_admin.status, 204);
    assert_eq!(app.get("/api/v1/me", &se).status, 401);
    let unknown = app.send(
        "DELETE",
        "/api/v1/users/999999/sessions",
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(unknown.status, 404);
}

fn a_deactivated_user_loses_access_at_once(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let token = app.login(&app.org.colleague);
    assert_eq!(app.get("/api/v1/me", &token).status, 200);
    let reply = app.patch(
        &format!("/api/v1/users/{}", app.org.colleague.id),
        &admin,
        json!({"active": false}),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(app.get("/api/v1/me", &token).status, 401);
    let login = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&login_body(&app.org.colleague.email, PASSWORD)),
        &[],
    );
    assert_eq!(login.status, 401);
}

fn a_token_issued_by_one_instance_is_accepted_by_another(app: &TestApp) {
    let token = app.login(&app.org.se);
    let (other, handle) = start(app.settings.clone());
    let me = send_to(&other, "GET", "/api/v1/me", Some(&token), None, &[]);
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["id"], app.org.se.id);
    actix_web::rt::System::new().block_on(handle.stop(false));
}

both_backends!(
    a_user_logs_in_and_is_told_who_they_are,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    missing_and_invalid_tokens_are_refused,
    a_deactivated_user_loses_access_at_once,
    a_token_issued_by_one_instance_is_accepted_by_another,
    logging_out_ends_the_session_at_once_and_only_that_one,
    a_password_change_or_reset_and_logging_out_everywhere_end_the_other_sessions,
    the_account_page_changes_the_password_and_logs_out_everywhere,
);

#[test]
fn failed_logins_back_off_per_account_and_address_without_locking_the_user_out() {
    // Behind a proxy on this machine, the client is the one it names.
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.trusted_proxies = digicon::settings::parse_networks("127.0.0.1").expect("networks")
    })
    .expect("app");
    let attempt = |email: &str, password: &str, from: &str| {
        app.send(
            "POST",
            "/api/v1/auth/token",
            None,
            Some(&login_body(email, password)),
            &[("X-Forwarded-For", from)],
        )
    };
    let stranger = "203.0.113.66";
    for _ in 0..5 {
        assert_eq!(attempt("tanaka@city.test", "wrong", stranger).status, 401);
    }
    let limited = attempt("tanaka@city.test", "wrong", stranger);
    assert_eq!(limited.status, 429, "{:?}", limited.body);
    let retry_after: u64 = limited
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // The stranger waits even with the right password…
    assert_eq!(attempt("tanaka@city.test", PASSWORD, stranger).status, 429);
    // …but the real user, at their own desk, signs in.
    assert_eq!(
        attempt("tanaka@city.test", PASSWORD, "10.1.2.3").status,
        200
    );
    // And a header from a client that is not a trusted proxy is not believed.
    let direct = spawn_app_with(Backend::Sqlite, |_| {}).expect("app");
    for i in 0..6 {
        let reply = direct.send(
            "POST",
            "/api/v1/auth/token",
            None,
            Some(&login_body("tanaka@city.test", "wrong")),
            &[("X-Forwarded-For", &format!("198.51.100.{i}"))],
        );
        let expected = if i < 5 { 401 } else { 429 };
        assert_eq!(reply.status, expected, "attempt {i}: {:?}", reply.body);
    }
}

#[test]
fn login_attempts_are_limited_per_client_address() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.login_attempts_per_address_per_minute = 4
    })
    .expect("app");
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            app.send(
                "POST",
                "/api/v1/auth/token",
                None,
                Some(&login_body(&format!("guess{i}@city.test"), "x")),
                &[],
            )
            .status
        })
        .collect();
    assert_eq!(statuses, vec![401, 401, 401, 401, 429]);
}
