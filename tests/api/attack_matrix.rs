//! The attack suite's access matrix: every fixture user against every route that
//! takes an id or returns tickets, on a consultation and a ledger entry of their
//! own division and of another. The expected status of each cell is computed from
//! the rules of DESIGN.md ("Users and roles", "Decided after the first release")
//! written out below as small functions, never by asking the server, so a change
//! in what the server allows fails here. A refused write must leave the resource
//! exactly as it was.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{future_hearing, TestApp, User};
use crate::session::Session;

/// The fixture users that act in the matrix (se2 is the target of admin actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// 市民課 (in its section 住民記録係); files "ours" and owns our ledger entry.
    Requester,
    /// 市民課 itself.
    Colleague,
    /// A requester of 保育課; files "theirs" and owns their ledger entry.
    Outsider,
    Dx,
    Se,
    /// Manager of 市民局 (above both divisions).
    Manager,
    /// Manager of 保育課.
    OtherManager,
    /// Manager in the DX office.
    DxManager,
    Admin,
}

pub const EVERYONE: [Who; 9] = [
    Who::Requester,
    Who::Colleague,
    Who::Outsider,
    Who::Dx,
    Who::Se,
    Who::Manager,
    Who::OtherManager,
    Who::DxManager,
    Who::Admin,
];

/// The two divisions the resources belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Division {
    Shimin,
    Hoiku,
}

impl Who {
    pub fn user(self, app: &TestApp) -> &User {
        let org = &app.org;
        match self {
            Who::Requester => &org.requester,
            Who::Colleague => &org.colleague,
            Who::Outsider => &org.outsider,
            Who::Dx => &org.dx,
            Who::Se => &org.se,
            Who::Manager => &org.manager,
            Who::OtherManager => &org.other_manager,
            Who::DxManager => &org.dx_manager,
            Who::Admin => &org.admin,
        }
    }

    /// dx_office, helpdesk and admin (DESIGN.md: "see all").
    pub fn is_staff(self) -> bool {
        matches!(self, Who::Dx | Who::Se | Who::Admin)
    }

    pub fn is_manager(self) -> bool {
        matches!(self, Who::Manager | Who::OtherManager | Who::DxManager)
    }

    /// Scope: staff and the DX office's manager see all; a division manager their
    /// unit and what is below it; a requester their division.
    pub fn sees(self, division: Division) -> bool {
        match self {
            Who::Dx | Who::Se | Who::Admin | Who::DxManager | Who::Manager => true,
            Who::Requester | Who::Colleague => division == Division::Shimin,
            Who::Outsider | Who::OtherManager => division == Division::Hoiku,
        }
    }

    /// Dashboards and consultation exports: manager, dx_office, admin.
    pub fn sees_reports(self) -> bool {
        self.is_manager() || matches!(self, Who::Dx | Who::Admin)
    }
}

/// `status` when visible, else 404: what may not be seen does not exist.
fn visible_or_404(who: Who, division: Division, status: u16) -> u16 {
    if who.sees(division) {
        status
    } else {
        404
    }
}

/// GET of a consultation, its timeline, its page; GET of a ledger entry and its page.
fn expect_read(who: Who, division: Division) -> u16 {
    visible_or_404(who, division, 200)
}

/// A public comment: anyone who sees it but managers, who only read.
fn expect_comment(who: Who, division: Division) -> u16 {
    visible_or_404(who, division, if who.is_manager() { 403 } else { 201 })
}

/// An internal note: dx_office and helpdesk (admins may all the DX office may).
fn expect_internal_note(who: Who, division: Division) -> u16 {
    visible_or_404(who, division, if who.is_staff() { 201 } else { 403 })
}

/// PATCH of a consultation: dx_office, admin or its assignee (it has none here).
fn expect_edit(who: Who, division: Division) -> u16 {
    let allowed = matches!(who, Who::Dx | Who::Admin);
    visible_or_404(who, division, if allowed { 200 } else { 403 })
}

/// `schedule_hearing` from received/hearing: dx_office, helpdesk (and admin).
fn expect_schedule_hearing(who: Who, division: Division) -> u16 {
    visible_or_404(who, division, if who.is_staff() { 200 } else { 403 })
}

/// PATCH of a ledger entry and its edit page: staff, and requesters of the
/// entry's division (DESIGN.md: they edit their own division's systems);
/// managers read.
fn expect_ledger_edit(who: Who, division: Division) -> u16 {
    let requester = matches!(who, Who::Requester | Who::Colleague | Who::Outsider);
    visible_or_404(
        who,
        division,
        if who.is_staff() || requester {
            200
        } else {
            403
        },
    )
}

/// The dashboard of a division: report roles, within their scope.
pub fn expect_dashboard(who: Who, division: Option<Division>) -> u16 {
    if !who.sees_reports() {
        return 403;
    }
    match division {
        Some(d) => visible_or_404(who, d, 200),
        None => 200,
    }
}

fn expect_admin_only(who: Who, status: u16) -> u16 {
    if who == Who::Admin {
        status
    } else {
        403
    }
}

/// The scene: a consultation and a ledger entry in each division, everyone signed in.
pub struct Scene {
    pub tokens: Vec<(Who, String)>,
    pub ours: Value,
    pub theirs: Value,
    pub our_system: Value,
    pub their_system: Value,
}

pub const OUR_TITLE: &str = "市民課案件ALPHA 共通語句デルタの電子化";
pub const THEIR_TITLE: &str = "保育課案件BRAVO 共通語句デルタの電子化";
/// Text only in their consultation's body, next to the common phrase.
pub const THEIR_SECRET: &str = "保育課秘密ECHO";
pub const OUR_SYSTEM: &str = "市民課台帳FOXTROT";
pub const THEIR_SYSTEM: &str = "保育課台帳GOLF";

impl Scene {
    pub fn token(&self, who: Who) -> &str {
        self.tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.as_str())
            .expect("everyone is signed in")
    }

    pub fn consultation(&self, division: Division) -> &Value {
        match division {
            Division::Shimin => &self.ours,
            Division::Hoiku => &self.theirs,
        }
    }

    pub fn system(&self, division: Division) -> &Value {
        match division {
            Division::Shimin => &self.our_system,
            Division::Hoiku => &self.their_system,
        }
    }
}

pub fn scene(app: &TestApp) -> Scene {
    let tokens: Vec<(Who, String)> = EVERYONE
        .iter()
        .map(|w| (*w, app.login(w.user(app))))
        .collect();
    let token = |who: Who| {
        tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.clone())
            .expect("token")
    };
    let file = |who: Who, title: &str, body: String| {
        let reply = app.post(
            "/api/v1/consultations",
            &token(who),
            json!({"title": title, "body": body, "category": "e_application"}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    };
    let ours = file(
        Who::Requester,
        OUR_TITLE,
        "共通語句デルタ 住民票の申請を紙で受けています。".into(),
    );
    let theirs = file(
        Who::Outsider,
        THEIR_TITLE,
        format!("共通語句デルタ {THEIR_SECRET} 保育の申込書を手入力しています。"),
    );
    let register = |who: Who, name: &str| {
        let reply = app.post(
            "/api/v1/systems",
            &token(who),
            json!({"name": name, "platform": "low_code_app", "hours_saved_per_year": 100}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    };
    let our_system = register(Who::Requester, OUR_SYSTEM);
    let their_system = register(Who::Outsider, THEIR_SYSTEM);
    Scene {
        tokens,
        ours,
        theirs,
        our_system,
        their_system,
    }
}

/// One cell that did not answer as the rules say.
pub struct Misses(Vec<String>);

impl Misses {
    pub fn new() -> Misses {
        Misses(vec![])
    }

    pub fn check(&mut self, what: &str, who: Who, expected: u16, got: u16, body: &Value) {
        if expected != got {
            self.0.push(format!(
                "{who:?} {what}: expected {expected}, got {got}: {}",
                truncate(&body.to_string())
            ));
        }
    }

    pub fn fail(&mut self, message: String) {
        self.0.push(message);
    }

    pub fn assert_none(self, cells: usize) {
        eprintln!("access matrix: {cells} cells");
        assert!(
            self.0.is_empty(),
            "{} of {cells} cells broke the rules:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The queued messages (id, recipient, subject), not their status: the worker
/// sends them while a test runs.
pub fn outbox_messages(app: &TestApp, admin: &str) -> String {
    app.get("/api/v1/admin/outbox?limit=200", admin).body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|m| format!("{} {} {}", m["id"], m["recipient_email"], m["subject"]))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Everything an admin can read about a consultation: the record and its timeline.
pub fn consultation_state(app: &TestApp, admin: &str, id: &Value) -> String {
    let record = app.get(&format!("/api/v1/consultations/{id}"), admin);
    let timeline = app.get(&format!("/api/v1/consultations/{id}/events"), admin);
    format!("{}\n{}", record.body, timeline.body)
}

pub fn system_state(app: &TestApp, admin: &str, id: &Value) -> String {
    app.get(&format!("/api/v1/systems/{id}"), admin)
        .body
        .to_string()
}

/// An export's cells as text: the CSV itself, or every cell of an XLSX file.
fn export_text(app: &TestApp, path: &str, token: &str) -> String {
    let (_, bytes) = app.download(path, token);
    if !path.ends_with(".xlsx") {
        return String::from_utf8_lossy(&bytes).to_string();
    }
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
    let mut text = String::new();
    for name in workbook.sheet_names() {
        if let Ok(range) = workbook.worksheet_range(&name) {
            for row in range.rows() {
                for cell in row {
                    text.push_str(&cell.to_string());
                    text.push('\t');
                }
                text.push('\n');
            }
        }
    }
    text
}

/// The consultation and ledger routes, per user and division.
fn consultations_and_their_timelines_answer_each_user_as_the_rules_say(app: &TestApp) {
    let scene = scene(app);
    let admin = scene.token(Who::Admin).to_string();
    let mut misses = Misses::new();
    let mut cells = 0;
    for division in [Division::Shimin, Division::Hoiku] {
        let id = scene.consultation(division)["id"].clone();
        for who in EVERYONE {
            let token = scene.token(who);
            let expected = expect_read(who, division);
            for path in [
                format!("/api/v1/consultations/{id}"),
                format!("/api/v1/consultations/{id}/events"),
            ] {
                let reply = app.get(&path, token);
                misses.check(
                    &format!("GET {path} ({division:?})"),
                    who,
                    expected,
                    reply.status,
                    &reply.body,
                );
                cells += 1;
            }

            // Writes: each refused one must change nothing.
            let current = app.get(&format!("/api/v1/consultations/{id}"), &admin).body;
            let priority = if current["priority"] == "high" {
                "low"
            } else {
                "high"
            };
            let writes: Vec<(String, u16, String, Value)> = vec![
                (
                    "comment".into(),
                    expect_comment(who, division),
                    format!("/api/v1/consultations/{id}/comments"),
                    json!({"body": format!("{who:?}のコメント")}),
                ),
                (
                    "internal note".into(),
                    expect_internal_note(who, division),
                    format!("/api/v1/consultations/{id}/comments"),
                    json!({"body": format!("{who:?}の内部メモ"), "internal": true}),
                ),
                (
                    "schedule_hearing".into(),
                    expect_schedule_hearing(who, division),
                    format!("/api/v1/consultations/{id}/transitions"),
                    json!({"event": "schedule_hearing", "hearing_at": future_hearing(),
                           "hearing_place": "会議室A"}),
                ),
                (
                    "PATCH".into(),
                    expect_edit(who, division),
                    format!("/api/v1/consultations/{id}"),
                    json!({"priority": priority}),
                ),
            ];
            for (what, expected, path, mut body) in writes {
                let before = consultation_state(app, &admin, &id);
                let version =
                    app.get(&format!("/api/v1/consultations/{id}"), &admin).body["version"].clone();
                let method = if what == "PATCH" { "PATCH" } else { "POST" };
                if what == "PATCH" || what == "schedule_hearing" {
                    body["version"] = version;
                }
                let reply = app.send(method, &path, Some(token), Some(&body.to_string()), &[]);
                misses.check(
                    &format!("{what} ({division:?})"),
                    who,
                    expected,
                    reply.status,
                    &reply.body,
                );
                cells += 1;
                if expected >= 400 && consultation_state(app, &admin, &id) != before {
                    misses.fail(format!(
                        "{who:?} {what} ({division:?}) was refused but changed the consultation"
                    ));
                }
            }
        }
    }
    misses.assert_none(cells);
}

/// Search, similar suggestions, the list page's snippets and the exports show
/// only what the caller may see.
fn search_suggestions_snippets_and_exports_show_only_what_the_caller_may_see(app: &TestApp) {
    let scene = scene(app);
    let mut misses = Misses::new();
    let mut cells = 0;
    let our_id = scene.ours["id"].as_i64().expect("id");
    let their_id = scene.theirs["id"].as_i64().expect("id");
    let q = form_urlencoded::byte_serialize("共通語句デルタ".as_bytes()).collect::<String>();
    for who in EVERYONE {
        let token = scene.token(who);
        let mut expected: Vec<i64> = vec![];
        if who.sees(Division::Shimin) {
            expected.push(our_id);
        }
        if who.sees(Division::Hoiku) {
            expected.push(their_id);
        }
        expected.sort();

        for path in [
            format!("/api/v1/consultations?q={q}&limit=200"),
            format!("/api/v1/consultations/similar?title={q}&body={q}"),
        ] {
            let reply = app.get(&path, token);
            let mut ids: Vec<i64> = reply.body["items"]
                .as_array()
                .map(|items| items.iter().filter_map(|c| c["id"].as_i64()).collect())
                .unwrap_or_default();
            ids.sort();
            cells += 1;
            if reply.status != 200 || ids != expected {
                misses.fail(format!(
                    "{who:?} GET {path}: expected 200 with {expected:?}, got {} with {ids:?}",
                    reply.status
                ));
            }
        }

        // The list page with the search, as this user's page session.
        let mut session = Session::new(app);
        session.login(&who.user(app).email);
        let page = session.get(&format!("/consultations?q={q}"));
        cells += 1;
        let shows_theirs = page.body.contains("BRAVO") || page.body.contains(THEIR_SECRET);
        let shows_ours = page.body.contains("ALPHA");
        if page.status != 200
            || shows_theirs != who.sees(Division::Hoiku)
            || shows_ours != who.sees(Division::Shimin)
        {
            misses.fail(format!(
                "{who:?} list page ?q=: status {}, shows ours {shows_ours}, theirs {shows_theirs}",
                page.status
            ));
        }

        // The ledger's list page: the entries of the caller's scope.
        let page = session.get("/systems");
        cells += 1;
        if page.status != 200
            || page.body.contains(OUR_SYSTEM) != who.sees(Division::Shimin)
            || page.body.contains(THEIR_SYSTEM) != who.sees(Division::Hoiku)
        {
            misses.fail(format!(
                "{who:?} /systems page: {} or the wrong entries",
                page.status
            ));
        }

        // Consultation exports: report roles only, with what their scope holds.
        for format in ["csv", "xlsx"] {
            let path = format!("/api/v1/export/consultations.{format}");
            let reply = app.send("GET", &path, Some(token), None, &[]);
            let expected = if who.sees_reports() { 200 } else { 403 };
            misses.check(
                &format!("GET {path}"),
                who,
                expected,
                reply.status,
                &json!(null),
            );
            cells += 1;
        }
        if who.sees_reports() {
            for format in ["csv", "xlsx"] {
                let path = format!("/api/v1/export/consultations.{format}");
                let text = export_text(app, &path, token);
                cells += 1;
                if text.contains("ALPHA") != who.sees(Division::Shimin)
                    || text.contains("BRAVO") != who.sees(Division::Hoiku)
                {
                    misses.fail(format!("{who:?} {path} holds the wrong rows"));
                }
            }
        }

        // The ledger's list, export and effects: everyone, within their scope.
        for (path, is_json) in [
            ("/api/v1/systems?limit=200", true),
            ("/api/v1/export/systems.csv", false),
            ("/api/v1/export/systems.xlsx", false),
        ] {
            let reply = app.send("GET", path, Some(token), None, &[]);
            misses.check(&format!("GET {path}"), who, 200, reply.status, &json!(null));
            cells += 1;
            {
                let text = if is_json {
                    reply.body.to_string()
                } else {
                    export_text(app, path, token)
                };
                if text.contains(OUR_SYSTEM) != who.sees(Division::Shimin)
                    || text.contains(THEIR_SYSTEM) != who.sees(Division::Hoiku)
                {
                    misses.fail(format!("{who:?} {path} holds the wrong entries"));
                }
            }
        }
        let effects = app.get("/api/v1/systems/effects", token);
        cells += 1;
        let counted = effects.body["systems"].as_i64().unwrap_or(0)
            + effects.body["unconfirmed"]["systems"].as_i64().unwrap_or(0);
        let visible = [Division::Shimin, Division::Hoiku]
            .iter()
            .filter(|d| who.sees(**d))
            .count() as i64;
        if effects.status != 200 || counted != visible {
            misses.fail(format!(
                "{who:?} effects: status {}, counts {counted} entries, may see {visible}: {}",
                effects.status, effects.body
            ));
        }
    }
    misses.assert_none(cells);
}

/// The ledger's entries through the API and the pages.
fn ledger_entries_and_their_pages_answer_each_user_as_the_rules_say(app: &TestApp) {
    let scene = scene(app);
    let admin = scene.token(Who::Admin).to_string();
    let mut misses = Misses::new();
    let mut cells = 0;
    for who in EVERYONE {
        let token = scene.token(who);
        let mut session = Session::new(app);
        session.login(&who.user(app).email);
        for division in [Division::Shimin, Division::Hoiku] {
            let id = scene.system(division)["id"].clone();
            let path = format!("/api/v1/systems/{id}");
            let reply = app.get(&path, token);
            misses.check(
                &format!("GET {path}"),
                who,
                expect_read(who, division),
                reply.status,
                &reply.body,
            );
            let page = session.get(&format!("/systems/{id}"));
            misses.check(
                &format!("page /systems/{id}"),
                who,
                expect_read(who, division),
                page.status,
                &json!(null),
            );
            let page = session.get(&format!("/systems/{id}/edit"));
            misses.check(
                &format!("page /systems/{id}/edit"),
                who,
                expect_ledger_edit(who, division),
                page.status,
                &json!(null),
            );
            cells += 3;

            let before = system_state(app, &admin, &id);
            let current = app.get(&path, &admin).body;
            let body = json!({"version": current["version"],
                              "workflow_after": format!("{who:?}が書き換えた")});
            let expected = expect_ledger_edit(who, division);
            let reply = app.patch(&path, token, body);
            misses.check(
                &format!("PATCH {path}"),
                who,
                expected,
                reply.status,
                &reply.body,
            );
            cells += 1;
            if expected >= 400 && system_state(app, &admin, &id) != before {
                misses.fail(format!("{who:?} PATCH {path} was refused but changed it"));
            }
            // Confirming an entry is for the DX office and admins only.
            let before = system_state(app, &admin, &id);
            let current = app.get(&path, &admin).body;
            let reply = app.patch(
                &path,
                token,
                json!({"version": current["version"], "verified": true}),
            );
            let expected = if matches!(who, Who::Dx | Who::Admin) {
                visible_or_404(who, division, 200)
            } else {
                // Someone who may not edit is refused for that, else for confirming.
                visible_or_404(who, division, 403)
            };
            misses.check(
                &format!("PATCH {path} verified"),
                who,
                expected,
                reply.status,
                &reply.body,
            );
            cells += 1;
            if expected >= 400 && system_state(app, &admin, &id) != before {
                misses.fail(format!("{who:?} confirmed {path} though refused"));
            }
        }
        // Consultation pages.
        for division in [Division::Shimin, Division::Hoiku] {
            let id = &scene.consultation(division)["id"];
            let page = session.get(&format!("/consultations/{id}"));
            misses.check(
                &format!("page /consultations/{id}"),
                who,
                expect_read(who, division),
                page.status,
                &json!(null),
            );
            cells += 1;
        }
    }
    misses.assert_none(cells);
}

/// Dashboards (API and page), the outbox, users, departments and sessions.
fn reports_and_administration_answer_each_user_as_the_rules_say(app: &TestApp) {
    let scene = scene(app);
    let admin = scene.token(Who::Admin).to_string();
    let org = &app.org;
    let mut misses = Misses::new();
    let mut cells = 0;
    let outbox = app.get("/api/v1/admin/outbox", &admin);
    assert_eq!(outbox.status, 200, "{:?}", outbox.body);
    let message = outbox.body["items"][0]["id"].clone();
    assert!(message.is_i64(), "filing queued mail: {:?}", outbox.body);
    for who in EVERYONE {
        let token = scene.token(who);
        let mut session = Session::new(app);
        session.login(&who.user(app).email);
        for (department, division) in [
            (None, None),
            (Some(org.shimin_division), Some(Division::Shimin)),
            (Some(org.hoiku_division), Some(Division::Hoiku)),
        ] {
            let query = department
                .map(|d| format!("?department={d}"))
                .unwrap_or_default();
            let expected = expect_dashboard(who, division);
            let reply = app.get(&format!("/api/v1/dashboard{query}"), token);
            misses.check(
                &format!("GET /api/v1/dashboard{query}"),
                who,
                expected,
                reply.status,
                &reply.body,
            );
            let page = session.get(&format!("/dashboard{query}"));
            misses.check(
                &format!("page /dashboard{query}"),
                who,
                expected,
                page.status,
                &json!(null),
            );
            cells += 2;
        }
        // What a report role's dashboard counts: only the consultations of its scope.
        if who.sees_reports() {
            let dashboard = app.get("/api/v1/dashboard", token).body;
            let visible = [Division::Shimin, Division::Hoiku]
                .iter()
                .filter(|d| who.sees(**d))
                .count() as i64;
            let rows: Vec<String> = dashboard["by_division"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let leaks = rows.iter().any(|name| {
                (!who.sees(Division::Shimin) && (name == "市民課" || name == "住民記録係"))
                    || (!who.sees(Division::Hoiku) && name == "保育課")
            });
            cells += 1;
            if dashboard["filed"] != visible || leaks {
                misses.fail(format!(
                    "{who:?} dashboard counts {} filed (may see {visible}) in rows {rows:?}",
                    dashboard["filed"]
                ));
            }
        }

        // Reads of the directory and the outbox.
        for path in [
            "/api/v1/admin/outbox".to_string(),
            "/api/v1/users".to_string(),
            format!("/api/v1/users/{}", org.se2.id),
            "/api/v1/departments".to_string(),
        ] {
            let reply = app.get(&path, token);
            misses.check(
                &format!("GET {path}"),
                who,
                expect_admin_only(who, 200),
                reply.status,
                &reply.body,
            );
            cells += 1;
        }
        for path in ["/admin/users", "/admin/departments"] {
            let page = session.get(path);
            misses.check(
                &format!("page {path}"),
                who,
                expect_admin_only(who, 200),
                page.status,
                &json!(null),
            );
            cells += 1;
        }
        let page = session.get("/account");
        misses.check("page /account", who, 200, page.status, &json!(null));
        cells += 1;

        // Writes of the directory and the outbox; a refused one changes nothing.
        let directory = |app: &TestApp| {
            format!(
                "{}\n{}\n{}",
                app.get("/api/v1/users?limit=200", &admin).body,
                app.get("/api/v1/departments", &admin).body,
                outbox_messages(app, &admin)
            )
        };
        let n = format!("{who:?}").to_lowercase();
        let writes: Vec<(&str, String, Option<Value>, u16)> = vec![
            (
                "POST",
                "/api/v1/users".into(),
                Some(
                    json!({"email": format!("new-{n}@city.test"), "name": "新人",
                            "role": "requester", "department_id": org.shimin_division,
                            "password": "a long enough password"}),
                ),
                expect_admin_only(who, 201),
            ),
            (
                "PATCH",
                format!("/api/v1/users/{}", org.se2.id),
                Some(json!({"name": format!("高橋{n}")})),
                expect_admin_only(who, 200),
            ),
            (
                "POST",
                "/api/v1/departments".into(),
                Some(
                    json!({"code": format!("NEW{}", n.to_uppercase()), "name": "新設課",
                            "kind": "division", "parent_id": org.shimin_bureau}),
                ),
                expect_admin_only(who, 201),
            ),
            (
                "PATCH",
                format!("/api/v1/departments/{}", org.hoiku_division),
                Some(json!({"name": format!("保育課{n}")})),
                expect_admin_only(who, 200),
            ),
            (
                "POST",
                format!("/api/v1/admin/outbox/{message}/retry"),
                None,
                // The message has not failed: 409 for the admin.
                expect_admin_only(who, 409),
            ),
            (
                "POST",
                "/api/v1/admin/outbox/987654321/retry".into(),
                None,
                expect_admin_only(who, 404),
            ),
            (
                "DELETE",
                format!("/api/v1/users/{}/sessions", org.se2.id),
                None,
                expect_admin_only(who, 204),
            ),
        ];
        for (method, path, body, expected) in writes {
            let before = directory(app);
            let body = body.map(|b| b.to_string());
            let reply = app.send(method, &path, Some(token), body.as_deref(), &[]);
            misses.check(
                &format!("{method} {path}"),
                who,
                expected,
                reply.status,
                &reply.body,
            );
            cells += 1;
            if expected >= 400 && directory(app) != before {
                misses.fail(format!(
                    "{who:?} {method} {path} was refused but changed data"
                ));
            }
        }
    }
    misses.assert_none(cells);
}

both_backends!(
    consultations_and_their_timelines_answer_each_user_as_the_rules_say,
    search_suggestions_snippets_and_exports_show_only_what_the_caller_may_see,
    ledger_entries_and_their_pages_answer_each_user_as_the_rules_say,
    reports_and_administration_answer_each_user_as_the_rules_say,
);
