//! XSS: a payload of script tags, an attribute breaker with quotes and backticks,
//! a `javascript:` URL and a template expression goes into every free-text field
//! (consultation, workflow messages, comments and internal notes, ledger, user and
//! department names) and into every form that echoes what was typed. Every page
//! that shows a field must show it as text: escaped where it is expected, never as
//! markup anywhere. Mail keeps it as plain text in the text part and escaped in
//! the HTML part.

use std::collections::BTreeSet;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{future_hearing, TestApp};
use crate::session::{Page, Session};

/// The hostile text, tagged so each field can be found again: no longer than the
/// shortest limit (names: 100 characters).
fn payload(marker: &str) -> String {
    format!(
        "{marker}<script>alert(1)</script>\"><img src=x onerror=alert(1)>'`{{{{7*7}}}}javascript:alert(1)"
    )
}

/// The start of the payload as handlebars escapes it.
fn escaped(marker: &str) -> String {
    format!("{marker}&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;")
}

/// Markup the payload would make if any of it escaped escaping.
const LIVE: &[&str] = &[
    "<script>alert",
    "<img src=x",
    "onerror=alert",
    "href=\"javascript:",
    "src=\"javascript:",
    "action=\"javascript:",
    "\"><img",
];

fn live_markup(page: &str) -> Vec<&'static str> {
    LIVE.iter().copied().filter(|m| page.contains(m)).collect()
}

struct Check<'a> {
    failures: Vec<String>,
    pairs: usize,
    pages: usize,
    _app: &'a TestApp,
}

impl Check<'_> {
    /// A page: no live markup at all, and each expected field shown as escaped text.
    fn page(&mut self, what: &str, page: &Page, status: u16, shows: &[&str], hides: &[&str]) {
        self.pages += 1;
        if page.status != status {
            self.failures.push(format!(
                "{what}: status {} (expected {status})",
                page.status
            ));
        }
        let csp = page.csp.as_deref().unwrap_or_default();
        if !csp.contains("script-src 'self'") || csp.contains("unsafe-inline") {
            self.failures
                .push(format!("{what}: no strict Content-Security-Policy ({csp})"));
        }
        let live = live_markup(&page.body);
        if !live.is_empty() {
            self.failures.push(format!("{what}: live markup {live:?}"));
        }
        for marker in shows {
            self.pairs += 1;
            if !page.body.contains(&escaped(marker)) {
                self.failures.push(format!(
                    "{what}: does not show field {marker} as escaped text"
                ));
            }
        }
        for marker in hides {
            if page.body.contains(marker) {
                self.failures.push(format!("{what}: shows {marker}"));
            }
        }
    }
}

/// Field markers.
const TITLE: &str = "XT1";
const BODY: &str = "XB2";
const CONTACT: &str = "XC3";
const PLACE: &str = "XP4";
const ASSIGN_REASON: &str = "XR5";
const ASKED: &str = "XM6";
const PROVIDED: &str = "XM7";
const RESOLUTION: &str = "XS8";
const REOPEN_REASON: &str = "XR9";
const COMMENT: &str = "XCA";
const NOTE: &str = "XNB";
const SYSTEM_NAME: &str = "XLC";
const BEFORE: &str = "XLD";
const AFTER: &str = "XLE";
const MANUAL: &str = "XLF";
const SE_NAME: &str = "XUG";
const REQUESTER_NAME: &str = "XUH";
const DEPARTMENT: &str = "XDI";
const WITHDRAW_REASON: &str = "XRJ";
const QUERY: &str = "XQK";
const LOGIN_EMAIL: &str = "XEL";
const DRAFT_TITLE: &str = "XFM";
const DRAFT_SYSTEM: &str = "XFN";

fn hostile_text_in_every_field_is_inert_in_every_page_and_mail(app: &TestApp) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let requester = app.login(&org.requester);
    let dx = app.login(&org.dx);
    let se = app.login(&org.se);

    // Names of people and of a division.
    for (path, marker) in [
        (format!("/api/v1/users/{}", org.se.id), SE_NAME),
        (
            format!("/api/v1/users/{}", org.requester.id),
            REQUESTER_NAME,
        ),
        (
            format!("/api/v1/departments/{}", org.shimin_division),
            DEPARTMENT,
        ),
    ] {
        let reply = app.patch(&path, &admin, json!({"name": payload(marker)}));
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    }

    // A consultation through its whole life, every text field hostile.
    let filed = app.post(
        "/api/v1/consultations",
        &requester,
        json!({"title": payload(TITLE), "body": payload(BODY), "contact": payload(CONTACT),
               "category": "rpa"}),
    );
    assert_eq!(filed.status, 201, "{:?}", filed.body);
    let c = filed.body;
    let c = app.must_fire(
        &dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": future_hearing(), "hearing_place": payload(PLACE)}),
    );
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": org.se.id, "reason": payload(ASSIGN_REASON)}),
    );
    let c = app.must_fire(&se, &c, "request_info", json!({"message": payload(ASKED)}));
    let c = app.must_fire(
        &requester,
        &c,
        "provide_info",
        json!({"message": payload(PROVIDED)}),
    );
    let system = app.post(
        "/api/v1/systems",
        &se,
        json!({"name": payload(SYSTEM_NAME), "platform": "low_code_app",
               "department_id": org.shimin_division, "owner_id": org.requester.id,
               "workflow_before": payload(BEFORE), "workflow_after": payload(AFTER),
               "manual_location": payload(MANUAL)}),
    );
    assert_eq!(system.status, 201, "{:?}", system.body);
    let s = system.body["id"].clone();
    let c = app.must_fire(
        &se,
        &c,
        "resolve",
        json!({"resolution": payload(RESOLUTION), "system_id": s}),
    );
    let c = app.must_fire(
        &requester,
        &c,
        "reopen",
        json!({"reason": payload(REOPEN_REASON)}),
    );
    for (token, body) in [
        (&requester, json!({"body": payload(COMMENT)})),
        (&se, json!({"body": payload(NOTE), "internal": true})),
    ] {
        let reply = app.post(
            &format!("/api/v1/consultations/{}/comments", c["id"]),
            token,
            body,
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    let other = app.file(&requester, "取り下げる相談");
    app.must_fire(
        &requester,
        &other,
        "withdraw",
        json!({"reason": payload(WITHDRAW_REASON)}),
    );
    let id = &c["id"];

    let mut check = Check {
        failures: vec![],
        pairs: 0,
        pages: 0,
        _app: app,
    };
    let mut staff = Session::new(app);
    staff.login(&org.se.email);
    let mut owner = Session::new(app);
    owner.login(&org.requester.email);
    let mut administrator = Session::new(app);
    administrator.login(&org.admin.email);
    let mut director = Session::new(app);
    director.login(&org.dx_manager.email);

    let detail = format!("/consultations/{id}");
    check.page(
        &format!("staff {detail}"),
        &staff.get(&detail),
        200,
        &[
            TITLE,
            BODY,
            CONTACT,
            PLACE,
            ASSIGN_REASON,
            ASKED,
            PROVIDED,
            RESOLUTION,
            REOPEN_REASON,
            COMMENT,
            NOTE,
            SE_NAME,
            REQUESTER_NAME,
            DEPARTMENT,
        ],
        &[],
    );
    check.page(
        &format!("requester {detail}"),
        &owner.get(&detail),
        200,
        &[TITLE, BODY, CONTACT, RESOLUTION, COMMENT, SE_NAME],
        &[NOTE],
    );
    let withdrawn = format!("/consultations/{}", other["id"]);
    check.page(
        &format!("requester {withdrawn}"),
        &owner.get(&withdrawn),
        200,
        &[WITHDRAW_REASON, REQUESTER_NAME],
        &[],
    );
    check.page(
        "staff /consultations",
        &staff.get("/consultations"),
        200,
        &[TITLE, DEPARTMENT],
        &[],
    );
    check.page(
        "staff /consultations?view=all",
        &staff.get("/consultations?view=all"),
        200,
        &[TITLE],
        &[],
    );
    // The search snippet shows the body around the hit; the query is echoed.
    let snippet = staff.get(&format!("/consultations?q={BODY}"));
    check.page("staff /consultations?q= (snippet)", &snippet, 200, &[], &[]);
    // The snippet is of the normalised text (lower case, half-width).
    let hit = BODY.to_lowercase();
    if !snippet
        .body
        .contains(&format!("{hit}</mark>&lt;script&gt;"))
    {
        check
            .failures
            .push("the search snippet does not show the body as escaped text".into());
    }
    check.pairs += 1;
    let q = form_urlencoded::byte_serialize(payload(QUERY).as_bytes()).collect::<String>();
    check.page(
        "staff /consultations?q=<payload>",
        &staff.get(&format!("/consultations?q={q}")),
        200,
        &[QUERY],
        &[],
    );
    // Error pages name the parameter that could not be read.
    for parameter in ["state", "sort", "fiscal_year", "priority"] {
        check.page(
            &format!("staff /consultations?{parameter}=<payload> (error page)"),
            &staff.get(&format!("/consultations?{parameter}={q}")),
            400,
            &[],
            &[],
        );
    }
    check.page(
        "requester /consultations/new",
        &owner.get("/consultations/new"),
        200,
        &[],
        &[],
    );
    check.page(
        "staff /systems",
        &staff.get("/systems"),
        200,
        &[SYSTEM_NAME, DEPARTMENT],
        &[],
    );
    check.page(
        &format!("staff /systems/{s}"),
        &staff.get(&format!("/systems/{s}")),
        200,
        &[
            SYSTEM_NAME,
            BEFORE,
            AFTER,
            MANUAL,
            TITLE,
            DEPARTMENT,
            REQUESTER_NAME,
        ],
        &[],
    );
    check.page(
        &format!("staff /systems/{s}/edit"),
        &staff.get(&format!("/systems/{s}/edit")),
        200,
        &[SYSTEM_NAME, BEFORE, AFTER, MANUAL],
        &[],
    );
    check.page(
        "staff /systems/effects",
        &staff.get("/systems/effects"),
        200,
        &[],
        &[],
    );
    check.page(
        "staff /systems/new",
        &staff.get("/systems/new"),
        200,
        &[],
        &[],
    );
    check.page(
        "staff /account",
        &staff.get("/account"),
        200,
        &[SE_NAME],
        &[],
    );
    check.page(
        "admin /admin/users",
        &administrator.get("/admin/users"),
        200,
        &[SE_NAME, REQUESTER_NAME, DEPARTMENT],
        &[],
    );
    check.page(
        "admin /admin/departments",
        &administrator.get("/admin/departments"),
        200,
        &[DEPARTMENT],
        &[],
    );
    check.page(
        "DX manager /dashboard",
        &director.get("/dashboard"),
        200,
        &[],
        &[],
    );
    check.page(
        "DX manager /dashboard?department=",
        &director.get(&format!("/dashboard?department={}", org.shimin_division)),
        200,
        &[],
        &[],
    );
    check.page("requester /", &owner.get("/"), 303, &[], &[]);

    // Forms that show what was typed again.
    let mut visitor = Session::new(app);
    visitor.get("/login");
    let token = visitor.csrf();
    let page = visitor.post(
        "/login",
        &[
            ("_csrf", &token),
            ("email", &payload(LOGIN_EMAIL)),
            ("password", "wrong"),
            ("next", &payload("XNX")),
        ],
    );
    // Refused sign-ins answer 401 with the form again; a `next` that is not a
    // path of ours is dropped (the page's own address stays in the language form).
    check.page(
        "the login form after a failure",
        &page,
        401,
        &[LOGIN_EMAIL],
        &["XNX"],
    );
    let next = form_urlencoded::byte_serialize(payload("XNY").as_bytes()).collect::<String>();
    check.page(
        "/login?next=<payload>",
        &visitor.get(&format!("/login?next={next}")),
        200,
        &[],
        &[],
    );
    let token = owner.csrf();
    let page = owner.post(
        "/consultations",
        &[
            ("_csrf", &token),
            ("title", &payload(DRAFT_TITLE)),
            ("current_work", &payload("XFW")),
            ("wish", &payload("XFV")),
            ("category", "not-a-category"),
        ],
    );
    check.page(
        "the filing form after a failure",
        &page,
        422,
        &[DRAFT_TITLE, "XFW", "XFV"],
        &[],
    );
    let token = staff.csrf();
    let page = staff.post(
        "/systems",
        &[
            ("_csrf", &token),
            ("name", &payload(DRAFT_SYSTEM)),
            ("platform", "low_code_app"),
            ("department_id", &org.shimin_division.to_string()),
            ("owner_email", &org.requester.email),
            ("workflow_after", &payload(AFTER)),
        ],
    );
    // Like the hostile entry: the form comes back with it listed as similar.
    check.page(
        "the registration form with similar systems",
        &page,
        200,
        &[DRAFT_SYSTEM],
        &[],
    );
    let token = staff.csrf();
    let page = staff.post(
        &format!("/consultations/{id}/comments"),
        &[
            ("_csrf", &token),
            (
                "body",
                &format!("{}{}", payload("XFO"), "長".repeat(10_001)),
            ),
        ],
    );
    check.page(
        "the comment form after a failure",
        &page,
        422,
        &["XFO"],
        &[],
    );

    // Mail: the worker has rendered what these events queued.
    let rows = {
        let mut conn = app.pool.get().expect("connection");
        digicon::db::outbox::list(&mut conn, None, None, 1000).expect("outbox")
    };
    assert!(!rows.is_empty(), "the events queued mail");
    let markers = [
        TITLE,
        PLACE,
        ASSIGN_REASON,
        ASKED,
        PROVIDED,
        RESOLUTION,
        REOPEN_REASON,
        COMMENT,
        SE_NAME,
        REQUESTER_NAME,
        WITHDRAW_REASON,
    ];
    let mut in_mail = BTreeSet::new();
    for row in &rows {
        let live = live_markup(&row.body_html);
        if !live.is_empty() {
            check
                .failures
                .push(format!("mail {} HTML: live markup {live:?}", row.id));
        }
        if row.body_text.contains("&lt;") || row.body_text.contains("&quot;") {
            check
                .failures
                .push(format!("mail {} text part is HTML-escaped", row.id));
        }
        let staff = [&org.dx, &org.se, &org.se2, &org.admin, &org.dx_manager];
        let to_staff = staff.iter().any(|u| u.email == row.recipient_email);
        if (row.body_html.contains(NOTE) || row.body_text.contains(NOTE)) && !to_staff {
            check.failures.push(format!(
                "mail {} carries the internal note to {}",
                row.id, row.recipient_email
            ));
        }
        for marker in markers {
            if row.body_text.contains(&payload(marker)) {
                in_mail.insert(marker);
                check.pairs += 1;
                if !row.body_html.contains(&escaped(marker)) {
                    check.failures.push(format!(
                        "mail {}: {marker} is in the text but not escaped in the HTML",
                        row.id
                    ));
                }
            } else if row.body_text.contains(marker) {
                check.failures.push(format!(
                    "mail {}: {marker} is changed in the text part",
                    row.id
                ));
            }
        }
    }
    // Every text the requester and the assignee are told about arrives as typed.
    for marker in [
        TITLE,
        PLACE,
        ASKED,
        PROVIDED,
        RESOLUTION,
        REOPEN_REASON,
        REQUESTER_NAME,
        WITHDRAW_REASON,
    ] {
        if !in_mail.contains(marker) {
            check
                .failures
                .push(format!("no mail carries {marker} as plain text"));
        }
    }
    eprintln!(
        "XSS: {} field×page/mail pairs shown as text on {} pages and {} mails",
        check.pairs,
        check.pages,
        rows.len()
    );
    assert!(
        check.failures.is_empty(),
        "{} XSS failures:\n{}",
        check.failures.len(),
        check.failures.join("\n")
    );
}

both_backends!(hostile_text_in_every_field_is_inert_in_every_page_and_mail);
