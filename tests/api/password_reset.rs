//! An admin's one-time password reset link, through the real app and a real SMTP
//! receiver: the mail in the user's language, the page of the link, the new
//! password, and every way a link stops working. Also the account page's
//! confirmation of a new password.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Reply, TestApp, User, PASSWORD};
use crate::session::Session;
use crate::smtp::{Received, SmtpReceiver};

const NEW_PASSWORD: &str = "a fresh long passphrase";

fn sign_in(app: &TestApp, email: &str, password: &str) -> Reply {
    app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"email": email, "password": password}).to_string()),
        &[],
    )
}

/// The next mail to `user` after the `seen` ones.
fn mail_to(receiver: &SmtpReceiver, user: &User, seen: usize) -> Received {
    let started = Instant::now();
    loop {
        if let Some(mail) = receiver.to(&user.email).into_iter().nth(seen) {
            return mail;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no mail to {}",
            user.email
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The path of the reset link in a mail, checked against the public URL.
fn link_path(app: &TestApp, mail: &Received) -> String {
    let prefix = format!("{}/password-reset/", app.settings.public_url);
    let text = mail.text();
    let start = text.find(&prefix).expect("a reset link in the mail");
    let token: String = text[start + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(token.len(), 64, "{text}");
    assert!(mail.html().contains(&format!("{prefix}{token}")));
    format!("/password-reset/{token}")
}

/// Whether a message of the outbox holds this text.
fn outbox_holds(app: &TestApp, text: &str) -> bool {
    use diesel::prelude::*;
    use digicon::db::schema::outbox;
    let mut conn = app.pool.get().expect("connection");
    let bodies: Vec<(String, String)> = outbox::table
        .select((outbox::body_text, outbox::body_html))
        .load(&mut *conn)
        .expect("outbox");
    bodies
        .iter()
        .any(|(t, h)| t.contains(text) || h.contains(text))
}

/// Sets a password through the link's page as an anonymous visitor.
fn set_password(app: &TestApp, path: &str, password: &str, confirmation: &str) -> (u16, String) {
    let mut visitor = Session::new(app);
    let form = visitor.get(path);
    if form.status != 200 {
        return (form.status, form.body);
    }
    let csrf = visitor.csrf();
    let page = visitor.post(
        path,
        &[
            ("_csrf", &csrf),
            ("password", password),
            ("password_confirmation", confirmation),
        ],
    );
    (page.status, page.body)
}

fn an_admin_mails_a_one_time_link_that_sets_a_new_password(app: &TestApp, receiver: &SmtpReceiver) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let before = app.login(&org.requester);
    let reply = app.send(
        "POST",
        &format!("/api/v1/users/{}/password-reset", org.requester.id),
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert!(reply.body["expires_at"].is_string());
    let mail = mail_to(receiver, &org.requester, 0);
    assert!(
        mail.subject().contains("パスワード再設定"),
        "{}",
        mail.subject()
    );
    assert!(mail.text().contains("リンクの有効期限"), "{}", mail.text());
    let path = link_path(app, &mail);
    // Once sent, the outbox keeps no copy of the link.
    let token = path.trim_start_matches("/password-reset/").to_string();
    let started = Instant::now();
    while outbox_holds(app, &token) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the sent mail's link stays in the outbox"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Asking did not change anything yet.
    assert_eq!(app.get("/api/v1/me", &before).status, 200);

    let page = app.send("GET", &path, None, None, &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.body.as_str().unwrap_or_default().contains("田中"),
        "the page names whose password it sets"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let (status, body) = set_password(app, &path, NEW_PASSWORD, "something else entirely");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("一致しません"), "{body}");
    let (status, _) = set_password(app, &path, "short", "short");
    assert_eq!(status, 422);
    let (status, body) = set_password(app, &path, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("新しいパスワードを設定しました"), "{body}");

    assert_eq!(sign_in(app, &org.requester.email, NEW_PASSWORD).status, 200);
    assert_eq!(sign_in(app, &org.requester.email, PASSWORD).status, 401);
    assert_eq!(app.get("/api/v1/me", &before).status, 401, "sessions ended");
    // The link is dead now, to look at and to post to.
    let (status, body) = set_password(
        app,
        &path,
        "yet another passphrase",
        "yet another passphrase",
    );
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("期限切れか、すでに使われています"), "{body}");
    let mut visitor = Session::new(app);
    visitor.get("/login");
    let csrf = visitor.csrf();
    let reuse = visitor.post(
        &path,
        &[
            ("_csrf", &csrf),
            ("password", "yet another passphrase"),
            ("password_confirmation", "yet another passphrase"),
        ],
    );
    assert_eq!(reuse.status, 410);
    assert_eq!(sign_in(app, &org.requester.email, NEW_PASSWORD).status, 200);
}

fn the_mail_speaks_the_users_language_and_the_page_the_visitors(
    app: &TestApp,
    receiver: &SmtpReceiver,
) {
    let org = &app.org;
    let outsider = app.login(&org.outsider);
    assert_eq!(
        app.patch("/api/v1/me", &outsider, json!({"locale": "en"}))
            .status,
        200
    );
    // From the admin's users page, with its button.
    let mut admin = Session::new(app);
    admin.login(&org.admin.email);
    let users = admin.get("/admin/users");
    let action = format!("/admin/users/{}/password-reset", org.outsider.id);
    assert!(users.body.contains(&action), "a reset button per user");
    let csrf = admin.csrf();
    let sent = admin.post(&action, &[("_csrf", &csrf)]);
    assert_eq!(sent.status, 303);
    let back = admin.get(sent.location.as_deref().expect("back to the list"));
    assert!(back
        .body
        .contains("パスワード再設定リンクをメールで送りました"));
    let mail = mail_to(receiver, &org.outsider, 0);
    assert_eq!(mail.subject(), "[digicon] Set a new password");
    assert!(mail.text().contains("Link valid until"), "{}", mail.text());
    let path = link_path(app, &mail);
    // The page speaks the visitor's language (nobody is signed in on it).
    let page = app.send("GET", &path, None, None, &[("Accept-Language", "en")]);
    assert_eq!(page.status, 200);
    let body = page.body.as_str().unwrap_or_default();
    assert!(body.contains("Enter a new password for 伊藤"), "{body}");
    let (status, _) = set_password(app, &path, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 200);
    assert_eq!(sign_in(app, &org.outsider.email, NEW_PASSWORD).status, 200);
}

fn expired_and_superseded_links_are_refused(app: &TestApp, receiver: &SmtpReceiver) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let reset = || {
        let reply = app.send(
            "POST",
            &format!("/api/v1/users/{}/password-reset", org.colleague.id),
            Some(&admin),
            None,
            &[],
        );
        assert_eq!(reply.status, 202, "{:?}", reply.body);
    };
    reset();
    let first = link_path(app, &mail_to(receiver, &org.colleague, 0));
    reset();
    let second = link_path(app, &mail_to(receiver, &org.colleague, 1));
    assert_ne!(first, second);
    assert_eq!(
        Session::new(app).get(&first).status,
        410,
        "a newer link kills the older"
    );
    assert_eq!(Session::new(app).get(&second).status, 200);

    // The link's time runs out (its row is what the app reads).
    {
        use diesel::prelude::*;
        use digicon::db::schema::password_resets;
        let mut conn = app.pool.get().expect("connection");
        let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
        diesel::update(password_resets::table)
            .set(password_resets::expires_at.eq(past))
            .execute(&mut *conn)
            .expect("expire the links");
    }
    let (status, body) = set_password(app, &second, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 410, "{body}");
    let mut visitor = Session::new(app);
    visitor.get("/login");
    let csrf = visitor.csrf();
    let late = visitor.post(
        &second,
        &[
            ("_csrf", &csrf),
            ("password", NEW_PASSWORD),
            ("password_confirmation", NEW_PASSWORD),
        ],
    );
    assert_eq!(late.status, 410);
    assert_eq!(sign_in(app, &org.colleague.email, PASSWORD).status, 200);
    assert_eq!(sign_in(app, &org.colleague.email, NEW_PASSWORD).status, 401);
    // A made-up token is as dead.
    assert_eq!(
        Session::new(app)
            .get(&format!("/password-reset/{}", "ab".repeat(32)))
            .status,
        410
    );
}

fn two_posts_of_one_link_at_once_set_the_password_once(app: &TestApp, receiver: &SmtpReceiver) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let reply = app.send(
        "POST",
        &format!("/api/v1/users/{}/password-reset", org.dx.id),
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let path = link_path(app, &mail_to(receiver, &org.dx, 0));
    let passwords = ["first racing passphrase", "second racing passphrase"];
    let mut visitors: Vec<(Session, String)> = passwords
        .iter()
        .map(|_| {
            let mut visitor = Session::new(app);
            assert_eq!(visitor.get(&path).status, 200);
            let csrf = visitor.csrf();
            (visitor, csrf)
        })
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let posts: Vec<_> = visitors
            .iter_mut()
            .zip(passwords)
            .map(|((visitor, csrf), password)| {
                let path = &path;
                scope.spawn(move || {
                    let form = [
                        ("_csrf", csrf.as_str()),
                        ("password", password),
                        ("password_confirmation", password),
                    ];
                    visitor.post(path, &form).status
                })
            })
            .collect();
        posts.into_iter().map(|p| p.join().expect("post")).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, vec![200, 410], "{statuses:?}");
    let winner = passwords[statuses.iter().position(|s| *s == 200).expect("a winner")];
    assert_eq!(sign_in(app, &org.dx.email, winner).status, 200);
}

fn only_admins_send_reset_links(app: &TestApp, receiver: &SmtpReceiver) {
    let org = &app.org;
    for user in [&org.requester, &org.dx, &org.manager, &org.se] {
        let token = app.login(user);
        let reply = app.send(
            "POST",
            &format!("/api/v1/users/{}/password-reset", org.colleague.id),
            Some(&token),
            None,
            &[],
        );
        assert_eq!(reply.status, 403, "{}: {:?}", user.email, reply.body);
        let mut browser = Session::new(app);
        browser.login(&user.email);
        let csrf = browser.csrf();
        let page = browser.post(
            &format!("/admin/users/{}/password-reset", org.colleague.id),
            &[("_csrf", &csrf)],
        );
        assert_eq!(page.status, 403, "{}", user.email);
    }
    let anonymous = app.send(
        "POST",
        &format!("/api/v1/users/{}/password-reset", org.colleague.id),
        None,
        None,
        &[],
    );
    assert_eq!(anonymous.status, 401);
    let admin = app.login(&org.admin);
    let missing = app.send(
        "POST",
        "/api/v1/users/999999/password-reset",
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(missing.status, 404);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        receiver.to(&org.colleague.email).is_empty(),
        "no mail went out"
    );
}

fn the_account_page_wants_the_new_password_twice(app: &TestApp, _: &SmtpReceiver) {
    let mut browser = Session::new(app);
    browser.login(&app.org.colleague.email);
    let page = browser.get("/account");
    assert!(page.body.contains("name=\"password_confirmation\""));
    let csrf = browser.csrf();
    let mismatch = browser.post(
        "/account/password",
        &[
            ("_csrf", &csrf),
            ("current_password", PASSWORD),
            ("password", NEW_PASSWORD),
            ("password_confirmation", "a different passphrase"),
        ],
    );
    assert_eq!(mismatch.status, 422);
    assert_eq!(sign_in(app, &app.org.colleague.email, PASSWORD).status, 200);
    let changed = browser.post(
        "/account/password",
        &[
            ("_csrf", &csrf),
            ("current_password", PASSWORD),
            ("password", NEW_PASSWORD),
            ("password_confirmation", NEW_PASSWORD),
        ],
    );
    assert_eq!(changed.status, 303);
    assert_eq!(
        sign_in(app, &app.org.colleague.email, NEW_PASSWORD).status,
        200
    );
    assert_eq!(sign_in(app, &app.org.colleague.email, PASSWORD).status, 401);
}

macro_rules! with_smtp {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $( #[test] fn $name() {
                let receiver = SmtpReceiver::start();
                let url = receiver.url();
                let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, move |s| {
                    s.smtp_url = Some(url);
                }).expect("app");
                super::$name(&app, &receiver)
            } )*
        }
        mod postgres {
            use super::*;
            $( #[test] fn $name() {
                let receiver = SmtpReceiver::start();
                let url = receiver.url();
                if let Some(app) = crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, move |s| {
                    s.smtp_url = Some(url);
                }) {
                    super::$name(&app, &receiver)
                }
            } )*
        }
    };
}

with_smtp!(
    an_admin_mails_a_one_time_link_that_sets_a_new_password,
    the_mail_speaks_the_users_language_and_the_page_the_visitors,
    expired_and_superseded_links_are_refused,
    only_admins_send_reset_links,
    two_posts_of_one_link_at_once_set_the_password_once,
    the_account_page_wants_the_new_password_twice,
);
