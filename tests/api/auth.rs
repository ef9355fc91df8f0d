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
    let forged = digicon::web::auth::JwtKeys::new("another secret")
        .issue(app.org.admin.id, chrono::Duration::hours(1))
        .expect("token")
        .0;
    assert_eq!(app.get("/api/v1/me", &forged).status, 401);
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
);

#[test]
fn login_attempts_are_limited_per_account_with_retry_after() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.login_attempts_per_account_per_minute = 3
    })
    .expect("app");
    let attempt = |email: &str| {
        app.send(
            "POST",
            "/api/v1/auth/token",
            None,
            Some(&login_body(email, "wrong password")),
            &[],
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt("tanaka@city.test").status, 401);
    }
    let limited = attempt("tanaka@city.test");
    assert_eq!(limited.status, 429, "{:?}", limited.body);
    let retry_after: u64 = limited
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Even the right password waits now; other accounts are unaffected.
    let right = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&login_body("tanaka@city.test", PASSWORD)),
        &[],
    );
    assert_eq!(right.status, 429);
    assert_eq!(attempt("yamada@city.test").status, 401);
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
