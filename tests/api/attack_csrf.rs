//! CSRF on every state-changing page route. A form post is refused with 403 and
//! changes nothing when it carries no token, a wrong one, the token of another
//! visitor's session, or a token without its cookie; the same post with the right
//! token goes through (so the refusals are the token's doing, not the form's).
//! The routes are read from the sources: a new `#[post]` page route that is not
//! listed here fails the suite until someone says how to attack it.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{TestApp, User, PASSWORD};
use crate::session::{Page, Session};

/// Every page route that changes state, as its handler declares it.
const POST_ROUTES: &[&str] = &[
    "/login",
    "/logout",
    "/settings/language",
    "/account/password",
    "/account/sessions/end",
    "/consultations",
    "/consultations/{id}/events",
    "/consultations/{id}/comments",
    "/inquiries",
    "/inquiries/{id}/events",
    "/inquiries/{id}/comments",
    "/faq",
    "/faq/{id}",
    "/faq/{id}/solved",
    "/systems",
    "/systems/{id}",
    "/effects/close",
    "/effects/reopen",
    "/admin/effects",
    "/admin/users",
    "/admin/users/{id}",
    "/admin/users/{id}/sessions/end",
    "/admin/departments",
    "/admin/departments/{id}",
    "/admin/departments/import",
    "/admin/users/import",
    "/admin/users/{id}/password-reset",
    // Last: its control sets se2's password, which ends the target's sessions.
    "/password-reset/{token}",
];

/// The paths of every `#[post]`/`#[put]`/`#[patch]`/`#[delete]` handler outside
/// the API, read from `src/web`.
fn declared_page_writes() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut folders = vec![std::path::PathBuf::from("src/web")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("src/web") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for attribute in ["#[post(\"", "#[put(\"", "#[patch(\"", "#[delete(\""] {
                for (at, _) in text.match_indices(attribute) {
                    let rest = &text[at + attribute.len()..];
                    let route = &rest[..rest.find('"').expect("closing quote")];
                    if !route.starts_with("/api/") {
                        found.insert(route.to_string());
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_state_changing_page_route_is_in_the_csrf_suite() {
    let declared = declared_page_writes();
    let listed: BTreeSet<String> = POST_ROUTES.iter().map(|s| s.to_string()).collect();
    assert!(declared.contains("/login"), "the scan found the routes");
    assert_eq!(
        declared, listed,
        "page routes that change state and the CSRF suite's list differ: add the new route to POST_ROUTES with a form and a probe"
    );
    // And each handler is served: `routes()` registers every page module's handler.
    let routes = std::fs::read_to_string("src/web/mod.rs").expect("mod.rs");
    for handler in [
        "pages::auth::login",
        "pages::auth::logout",
        "pages::auth::language",
        "pages::auth::change_password",
        "pages::auth::end_sessions",
        "pages::consultations::create",
        "pages::consultations::fire",
        "pages::consultations::comment",
        "pages::systems::create",
        "pages::systems::update",
        "pages::admin::users_create",
        "pages::admin::users_update",
        "pages::admin::users_end_sessions",
        "pages::admin::users_password_reset",
        "pages::password_reset::set",
        "pages::admin::departments_create",
        "pages::admin::departments_update",
        "pages::admin_import::departments_import",
        "pages::admin_import::users_import",
    ] {
        assert!(
            routes.contains(&format!(".service({handler})")),
            "{handler} in routes()"
        );
    }
}

/// A post with exactly these cookies and form fields. The page's body starts with a
/// line saying whether the answer set a session or language cookie
/// (`sets_session=… sets_lang=…`): a refused post must set neither.
fn post_raw(
    app: &TestApp,
    path: &str,
    cookies: &HashMap<String, String>,
    form: &[(&str, &str)],
) -> Page {
    let cookie = cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let result = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .post(&format!("{}{path}", app.base))
        .set("Cookie", &cookie)
        .send_form(form);
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    Page {
        status: response.status(),
        location: response.header("location").map(str::to_string),
        csp: None,
        body: {
            let sets_session = response
                .all("set-cookie")
                .iter()
                .any(|c| c.starts_with("digicon_session=") && !c.starts_with("digicon_session=;"));
            let sets_lang = response
                .all("set-cookie")
                .iter()
                .any(|c| c.starts_with("digicon_lang="));
            format!(
                "sets_session={sets_session} sets_lang={sets_lang}\n{}",
                response.into_string().unwrap_or_default()
            )
        },
    }
}

struct Fixture {
    admin: String,
    /// An API token of the user posting the form (their other session).
    actor_token: Option<String>,
    consultation: Value,
    system: Value,
    inquiry: Value,
    article: Value,
    /// A token of se2, the target of the admin's "end sessions".
    target_token: String,
}

/// Everything a form post could change, read as the admin (and the session's
/// own view of itself).
fn world(app: &TestApp, f: &Fixture, actor: Option<&Session>) -> String {
    let c = &f.consultation["id"];
    let s = &f.system["id"];
    let mut parts = vec![
        app.get("/api/v1/consultations?limit=200", &f.admin)
            .body
            .to_string(),
        app.get(&format!("/api/v1/consultations/{c}/events"), &f.admin)
            .body
            .to_string(),
        app.get("/api/v1/systems?limit=200", &f.admin)
            .body
            .to_string(),
        app.get(&format!("/api/v1/systems/{s}"), &f.admin)
            .body
            .to_string(),
        app.get("/api/v1/users?limit=200", &f.admin)
            .body
            .to_string(),
        app.get("/api/v1/departments", &f.admin).body.to_string(),
        app.get("/api/v1/inquiries?limit=200", &f.admin)
            .body
            .to_string(),
        app.get(
            &format!("/api/v1/inquiries/{}/events", f.inquiry["id"]),
            &f.admin,
        )
        .body
        .to_string(),
        app.get("/api/v1/faq", &f.admin).body.to_string(),
        app.get("/api/v1/effects/settings", &f.admin)
            .body
            .to_string(),
        app.get(
            &format!("/api/v1/effects/report?fiscal_year={}", last_fiscal_year()),
            &f.admin,
        )
        .body
        .to_string(),
        format!("deflections: {}", deflections(app)),
        format!("password resets: {}", password_resets(app)),
        format!(
            "target session: {}",
            app.get("/api/v1/me", &f.target_token).status
        ),
    ];
    if let Some(token) = &f.actor_token {
        parts.push(format!(
            "actor's other session: {}",
            app.get("/api/v1/me", token).status
        ));
    }
    if let Some(session) = actor {
        match session.cookies.get("digicon_session") {
            Some(token) => {
                let me = app.get("/api/v1/me", token);
                parts.push(format!("actor: {} {}", me.status, me.body));
            }
            None => parts.push("actor: anonymous".into()),
        }
    }
    parts.join("\n")
}

/// The fiscal year before this one, which the DX office may close.
fn last_fiscal_year() -> i32 {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    digicon::domain::fiscal::fiscal_year(today) - 1
}

fn deflections(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    let mut conn = app.pool.get().expect("connection");
    digicon::db::schema::deflections::table
        .count()
        .get_result(&mut *conn)
        .expect("count")
}

/// Reset links asked for, and those used.
fn password_resets(app: &TestApp) -> String {
    use diesel::prelude::*;
    use digicon::db::schema::password_resets::dsl::*;
    let mut conn = app.pool.get().expect("connection");
    let asked: i64 = password_resets
        .count()
        .get_result(&mut *conn)
        .expect("count");
    let used: i64 = password_resets
        .filter(used_at.is_not_null())
        .count()
        .get_result(&mut *conn)
        .expect("count");
    format!("{asked} asked, {used} used")
}

/// A live reset link for a user, written as the app writes one; its token.
fn reset_link(app: &TestApp, user: &User) -> String {
    use diesel::prelude::*;
    use digicon::db::schema::password_resets;
    let token = "c5".repeat(32);
    let now = chrono::Utc::now().naive_utc();
    let mut conn = app.pool.get().expect("connection");
    diesel::insert_into(password_resets::table)
        .values((
            password_resets::user_id.eq(user.id),
            password_resets::token_hash.eq(digicon::domain::password::token_digest(&token)),
            password_resets::created_at.eq(now),
            password_resets::expires_at.eq(now + chrono::Duration::hours(1)),
        ))
        .execute(&mut *conn)
        .expect("a reset link");
    token
}

/// An inquiry asked by the requester and an FAQ article, for the fixtures.
fn inquiry_and_article(app: &TestApp, requester: &str) -> (Value, Value) {
    let inquiry = app.post(
        "/api/v1/inquiries",
        requester,
        serde_json::json!({"subject": "CSRF試験の質問", "question": "質問", "topic": "other"}),
    );
    assert_eq!(inquiry.status, 201, "{:?}", inquiry.body);
    let article = app.post(
        "/api/v1/faq",
        &app.login(&app.org.se),
        serde_json::json!({"title": "CSRF試験の記事", "question": "質問", "answer": "回答", "topic": "other"}),
    );
    assert_eq!(article.status, 201, "{:?}", article.body);
    (inquiry.body, article.body)
}

/// The form's fields and, if given, a `_csrf` token.
fn with_token<'a>(
    form: &'a [(&'a str, String)],
    token: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some(token) = token {
        all.push(("_csrf", token));
    }
    all
}

fn csrf_fails(page: &Page) -> bool {
    page.status == 403
}

fn datetime_local_next_week() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7))
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("offset"))
        .format("%Y-%m-%dT10:00")
        .to_string()
}

fn every_page_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(app: &TestApp) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let requester = app.login(&org.requester);
    let consultation = app.file(&requester, "CSRF試験の相談");
    let system = app.post(
        "/api/v1/systems",
        &admin,
        serde_json::json!({"name": "CSRF試験台帳", "platform": "rpa",
                           "department_id": org.shimin_division, "owner_id": org.requester.id}),
    );
    assert_eq!(system.status, 201, "{:?}", system.body);
    let (inquiry, article) = inquiry_and_article(app, &requester);
    let mut f = Fixture {
        admin: admin.clone(),
        actor_token: None,
        consultation,
        system: system.body,
        inquiry,
        article,
        target_token: app.login(&org.se2),
    };
    let hearing = datetime_local_next_week();
    let mut failures = vec![];
    let mut cases = 0;

    for route in POST_ROUTES {
        // Who posts, to which path, with which form (all but the token).
        let c = &f.consultation["id"];
        let s = &f.system["id"];
        let (actor, path, form): (Option<&User>, String, Vec<(&str, String)>) = match *route {
            "/login" => (
                None,
                "/login".into(),
                vec![
                    ("email", org.dx.email.clone()),
                    ("password", PASSWORD.into()),
                ],
            ),
            "/logout" => (Some(&org.colleague), "/logout".into(), vec![]),
            "/settings/language" => (
                Some(&org.colleague),
                "/settings/language".into(),
                vec![("locale", "en".into())],
            ),
            "/account/password" => (
                Some(&org.outsider),
                "/account/password".into(),
                vec![
                    ("current_password", PASSWORD.into()),
                    ("password", "a brand new long passphrase 42".into()),
                ],
            ),
            "/account/sessions/end" => (Some(&org.colleague), route.to_string(), vec![]),
            "/consultations" => (
                Some(&org.requester),
                "/consultations".into(),
                vec![
                    ("title", "CSRFで作られた相談".into()),
                    ("category", "rpa".into()),
                    ("current_work", "紙で受けています".into()),
                    ("wish", "電子化したい".into()),
                ],
            ),
            "/consultations/{id}/events" => {
                let version = app.current(c)["version"].to_string();
                (
                    Some(&org.dx),
                    format!("/consultations/{c}/events"),
                    vec![
                        ("event", "schedule_hearing".into()),
                        ("version", version),
                        ("hearing_at", hearing.clone()),
                        ("hearing_place", "会議室B".into()),
                    ],
                )
            }
            "/consultations/{id}/comments" => (
                Some(&org.requester),
                format!("/consultations/{c}/comments"),
                vec![("body", "CSRFで書かれたコメント".into())],
            ),
            "/inquiries" => (
                Some(&org.requester),
                "/inquiries".into(),
                vec![
                    ("subject", "CSRFで送られた質問".into()),
                    ("question", "質問".into()),
                    ("topic", "other".into()),
                ],
            ),
            "/inquiries/{id}/events" => {
                let i = &f.inquiry["id"];
                let version =
                    app.get(&format!("/api/v1/inquiries/{i}"), &admin).body["version"].to_string();
                (
                    Some(&org.se),
                    format!("/inquiries/{i}/events"),
                    vec![("event", "take".into()), ("version", version)],
                )
            }
            "/inquiries/{id}/comments" => (
                Some(&org.requester),
                format!("/inquiries/{}/comments", f.inquiry["id"]),
                vec![("body", "CSRFで書かれたコメント".into())],
            ),
            "/faq" => (
                Some(&org.se),
                "/faq".into(),
                vec![
                    ("title", "CSRFで書かれた記事".into()),
                    ("question", "質問".into()),
                    ("answer", "回答".into()),
                    ("topic", "other".into()),
                ],
            ),
            "/faq/{id}" => {
                let a = &f.article["id"];
                let version =
                    app.get(&format!("/api/v1/faq/{a}"), &admin).body["version"].to_string();
                (
                    Some(&org.se),
                    format!("/faq/{a}"),
                    vec![
                        ("version", version),
                        ("title", "CSRFで改題".into()),
                        ("question", "質問".into()),
                        ("answer", "回答".into()),
                        ("topic", "other".into()),
                    ],
                )
            }
            "/faq/{id}/solved" => (
                Some(&org.dx_manager),
                format!("/faq/{}/solved", f.article["id"]),
                vec![],
            ),
            "/effects/close" => (
                Some(&org.dx),
                "/effects/close".into(),
                vec![("fiscal_year", last_fiscal_year().to_string())],
            ),
            "/effects/reopen" => (
                Some(&org.admin),
                "/effects/reopen".into(),
                vec![
                    ("fiscal_year", last_fiscal_year().to_string()),
                    ("reason", "CSRF試験で再開".into()),
                ],
            ),
            "/admin/effects" => (
                Some(&org.admin),
                "/admin/effects".into(),
                vec![
                    ("start_fiscal_year", "2020".into()),
                    ("target_hours", "123456".into()),
                    ("target_fiscal_year", "2030".into()),
                ],
            ),
            "/systems" => (
                Some(&org.dx),
                "/systems".into(),
                vec![
                    ("name", "CSRFで登録された台帳".into()),
                    ("platform", "rpa".into()),
                    ("department_id", org.shimin_division.to_string()),
                    ("owner_email", org.requester.email.clone()),
                    ("confirm_different", "true".into()),
                ],
            ),
            "/systems/{id}" => {
                let current = app.get(&format!("/api/v1/systems/{s}"), &admin).body;
                (
                    Some(&org.dx),
                    format!("/systems/{s}"),
                    vec![
                        ("version", current["version"].to_string()),
                        ("name", "CSRFで改名された台帳".into()),
                        ("platform", "rpa".into()),
                        ("phase", "trial".into()),
                        ("built_by", "in_house".into()),
                        ("department_id", org.shimin_division.to_string()),
                        ("owner_email", org.requester.email.clone()),
                    ],
                )
            }
            "/admin/users" => (
                Some(&org.admin),
                "/admin/users".into(),
                vec![
                    ("email", "csrf-made@city.test".into()),
                    ("name", "CSRF太郎".into()),
                    ("role", "requester".into()),
                    ("department_id", org.shimin_division.to_string()),
                    ("locale", "ja".into()),
                    ("password", "a long enough password".into()),
                ],
            ),
            "/admin/users/{id}" => (
                Some(&org.admin),
                format!("/admin/users/{}", org.se2.id),
                vec![
                    ("name", "CSRFで改名".into()),
                    ("role", "helpdesk".into()),
                    ("department_id", org.dx_division.to_string()),
                    ("locale", "ja".into()),
                    ("active", "true".into()),
                ],
            ),
            "/admin/users/{id}/sessions/end" => (
                Some(&org.admin),
                format!("/admin/users/{}/sessions/end", org.se2.id),
                vec![],
            ),
            "/admin/departments" => (
                Some(&org.admin),
                "/admin/departments".into(),
                vec![
                    ("code", "CSRFDEPT".into()),
                    ("name", "CSRF課".into()),
                    ("kind", "division".into()),
                    ("parent_id", org.shimin_bureau.to_string()),
                ],
            ),
            "/admin/departments/{id}" => (
                Some(&org.admin),
                format!("/admin/departments/{}", org.hoiku_division),
                vec![("name", "CSRF保育課".into()), ("active", "true".into())],
            ),
            "/admin/users/{id}/password-reset" => (
                Some(&org.admin),
                format!("/admin/users/{}/password-reset", org.colleague.id),
                vec![],
            ),
            "/password-reset/{token}" => (
                None,
                format!("/password-reset/{}", reset_link(app, &org.se2)),
                vec![
                    ("password", "a brand new long passphrase 42".into()),
                    (
                        "password_confirmation",
                        "a brand new long passphrase 42".into(),
                    ),
                ],
            ),
            // The confirm form of an upload's preview: it applies the text it carries.
            "/admin/departments/import" => (
                Some(&org.admin),
                route.to_string(),
                vec![
                    ("apply", "true".into()),
                    (
                        "content",
                        "action,code,name,kind,parent\ncreate,CSRFIMPORT,CSRF取込課,division,SHIMIN\n"
                            .into(),
                    ),
                ],
            ),
            "/admin/users/import" => (
                Some(&org.admin),
                route.to_string(),
                vec![
                    ("apply", "true".into()),
                    (
                        "content",
                        "action,email,name,role,department\ncreate,csrf-import@city.test,CSRF取込,requester,HOIKU\n"
                            .into(),
                    ),
                ],
            ),
            other => panic!("no attack written for {other}"),
        };

        f.actor_token = actor.map(|user| app.login(user));
        let mut victim = Session::new(app);
        match actor {
            Some(user) => {
                let page = victim.login(&user.email);
                assert_eq!(page.status, 303, "{route}: login");
            }
            None => {
                victim.get("/login");
            }
        }
        let mut attacker = Session::new(app);
        attacker.login(&org.outsider.email);
        let their_token = attacker.csrf();
        let own_token = victim.csrf();

        let mut without_cookie = victim.cookies.clone();
        without_cookie.remove("digicon_csrf");
        let attacks: Vec<(&str, Page)> = vec![
            (
                "no token",
                post_raw(app, &path, &victim.cookies, &with_token(&form, None)),
            ),
            (
                "a wrong token",
                post_raw(
                    app,
                    &path,
                    &victim.cookies,
                    &with_token(
                        &form,
                        Some("0123456789abcdef0123456789abcdef0123456789abcdef"),
                    ),
                ),
            ),
            (
                "an empty token",
                post_raw(app, &path, &victim.cookies, &with_token(&form, Some(""))),
            ),
            (
                "another session's token",
                post_raw(
                    app,
                    &path,
                    &victim.cookies,
                    &with_token(&form, Some(&their_token)),
                ),
            ),
            (
                "its token without the cookie",
                post_raw(
                    app,
                    &path,
                    &without_cookie,
                    &with_token(&form, Some(&own_token)),
                ),
            ),
        ];
        let before = world(app, &f, Some(&victim));
        for (how, page) in attacks {
            cases += 1;
            if !csrf_fails(&page) {
                failures.push(format!(
                    "{route} with {how}: {} (expected 403)",
                    page.status
                ));
            }
            if page.body.starts_with("sets_session=true") || page.body.contains("sets_lang=true") {
                failures.push(format!("{route} with {how}: set a cookie"));
            }
        }
        let after = world(app, &f, Some(&victim));
        if before != after {
            failures.push(format!("{route}: refused posts changed something"));
        }

        // The control: the same form with the right token is not refused.
        let page = post_raw(
            app,
            &path,
            &victim.cookies,
            &with_token(&form, Some(&own_token)),
        );
        let changed = world(app, &f, Some(&victim)) != after
            || page.body.starts_with("sets_session=true")
            || page.body.contains("sets_lang=true");
        if page.status == 403 || !changed {
            failures.push(format!(
                "{route} with its token: {} and changed={changed} (the control must go through): {}",
                page.status,
                page.body.chars().take(400).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} CSRF cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The API's writes take the `Authorization` header only: the pages' session
/// cookie, which a browser sends by itself with a form from any page of the same
/// site, changes nothing there. Every write route of `routes()` is tried, with a
/// JSON body where it takes one (the strongest a same-site page could send).
fn api_writes_with_only_the_page_cookie_are_refused_and_change_nothing(app: &TestApp) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let requester = app.login(&org.requester);
    let consultation = app.file(&requester, "クッキーだけの変更");
    let system = app.post(
        "/api/v1/systems",
        &admin,
        serde_json::json!({"name": "クッキー試験台帳", "platform": "rpa",
                           "department_id": org.shimin_division, "owner_id": org.requester.id}),
    );
    assert_eq!(system.status, 201, "{:?}", system.body);
    let outbox = app.get("/api/v1/admin/outbox", &admin);
    let message = outbox.body["items"][0]["id"].clone();
    let (inquiry, article) = inquiry_and_article(app, &requester);
    let f = Fixture {
        admin: admin.clone(),
        actor_token: Some(app.login(&org.admin)),
        consultation,
        system: system.body,
        inquiry,
        article,
        target_token: app.login(&org.se2),
    };
    let mut browser = Session::new(app);
    browser.login(&org.admin.email);
    let cookie = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    // The pages' scripts read the API with the cookie: that stays.
    let me = crate::helpers::send_to(
        &app.base,
        "GET",
        "/api/v1/me",
        None,
        None,
        &[("Cookie", &cookie)],
    );
    assert_eq!(me.status, 200, "reading the API with the page cookie");

    let writes: Vec<(String, String)> = crate::meta::api_routes()
        .into_iter()
        .filter(|(path, method)| method != "get" && path != "/api/v1/auth/token")
        .collect();
    assert!(writes.len() >= 15, "{writes:?}");
    // Those that would end the cookie's own session go last.
    let mut writes = writes;
    writes.sort_by_key(|(path, _)| path == "/api/v1/auth/logout" || path == "/api/v1/me/sessions");
    let mut failures = vec![];
    for (template, method) in &writes {
        let id = if template.starts_with("/api/v1/consultations/") {
            f.consultation["id"].to_string()
        } else if template.starts_with("/api/v1/systems/") {
            f.system["id"].to_string()
        } else if template.starts_with("/api/v1/users/") {
            org.se2.id.to_string()
        } else if template.starts_with("/api/v1/inquiries/") {
            f.inquiry["id"].to_string()
        } else if template.starts_with("/api/v1/faq/") {
            f.article["id"].to_string()
        } else if template.starts_with("/api/v1/departments/") {
            org.hoiku_division.to_string()
        } else {
            message.to_string()
        };
        let path = template.replace("{id}", &id);
        let body = serde_json::json!({
            "title": "クッキーで改名", "body": "本文", "category": "rpa", "name": "クッキー",
            "platform": "rpa", "event": "withdraw", "reason": "クッキー",
            "version": 1, "priority": "urgent", "locale": "en", "code": "COOKIE",
            "email": "cookie@city.test", "role": "admin", "password": "a long enough password",
            "department_id": org.dx_division,
        })
        .to_string();
        let before = world(app, &f, Some(&browser));
        let reply = crate::helpers::send_to(
            &app.base,
            &method.to_uppercase(),
            &path,
            None,
            Some(&body),
            &[("Cookie", &cookie), ("Content-Type", "application/json")],
        );
        if reply.status != 401 {
            failures.push(format!(
                "{method} {path} with the cookie only: {}",
                reply.status
            ));
        }
        if world(app, &f, Some(&browser)) != before {
            failures.push(format!(
                "{method} {path} with the cookie only changed something"
            ));
        }
    }
    let account = browser.get("/account").status;
    if account != 200 {
        failures.push(format!(
            "the page session ended: /account answers {account}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failures over {} API writes with only the page cookie:\n{}",
        failures.len(),
        writes.len(),
        failures.join("\n")
    );
}

both_backends!(
    every_page_post_without_a_valid_csrf_token_is_refused_and_changes_nothing,
    api_writes_with_only_the_page_cookie_are_refused_and_change_nothing,
);
