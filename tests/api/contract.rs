//! The contract between the two front doors. The JSON API and the HTML pages are
//! both thin adapters over the same rules (DESIGN.md, "two front doors, one
//! hallway"), so the same caller with the same input must reach the same outcome
//! through either. Every write use case is driven here through both doors, as each
//! relevant role, with the same valid and invalid inputs; each door acts on its own
//! freshly prepared (equivalent) data, and both must agree with each other and with
//! the expected outcome:
//!
//! - the status class (a page's success is a 303 redirect, the API's 200/201; a
//!   page's failures carry the API's status codes and say what went wrong),
//! - whether anything was stored (any row of the domain tables added or changed),
//! - whether mail was queued (rows added to the outbox).
//!
//! Each use case is a table of cases: actor, door-independent input, expected
//! outcome. Two small functions per use case turn an input into an API request or
//! a form post; one runner does the rest and reports every broken case at once.

use std::collections::HashMap;
use std::fmt;

use chrono::{Duration, FixedOffset, NaiveDateTime, Utc};
use diesel::prelude::*;
use digicon::db::schema::{
    comments, consultation_events, consultations, departments, outbox, system_events, systems,
    users,
};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Reply, TestApp, User};
use crate::session::{Page, Session};

// ---------------------------------------------------------------------------
// Outcomes

/// The class of an answer, whichever door gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Invalid,
    Forbidden,
    NotFound,
    Stale,
    /// A page failure (4xx) that does not say what went wrong.
    Silent(u16),
    /// Anything else: a 400, a 500, a page's 200 where a redirect was due...
    Other(u16),
}

impl Status {
    fn of_failure(code: u16) -> Status {
        match code {
            422 => Status::Invalid,
            403 => Status::Forbidden,
            404 => Status::NotFound,
            409 => Status::Stale,
            code => Status::Other(code),
        }
    }

    fn of_api(code: u16) -> Status {
        match code {
            200 | 201 => Status::Ok,
            code => Status::of_failure(code),
        }
    }

    fn of_page(page: &Page) -> Status {
        let explained =
            page.body.contains("data-kind=\"error\"") || page.body.contains("id=\"error-title\"");
        match page.status {
            303 => Status::Ok,
            code @ (403 | 404 | 409 | 422) if !explained => Status::Silent(code),
            code => Status::of_failure(code),
        }
    }
}

/// What a case must come to, through either door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcome {
    status: Status,
    stored: bool,
    mail: bool,
}

impl Outcome {
    /// Done and stored, with or without mail.
    const fn done(mail: bool) -> Outcome {
        Outcome {
            status: Status::Ok,
            stored: true,
            mail,
        }
    }

    /// Refused: nothing stored, nobody told.
    const fn refused(status: Status) -> Outcome {
        Outcome {
            status,
            stored: false,
            mail: false,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}, {}, {}",
            self.status,
            if self.stored { "stored" } else { "not stored" },
            if self.mail { "mail" } else { "no mail" }
        )
    }
}

const DONE: Outcome = Outcome::done(false);
const DONE_MAILED: Outcome = Outcome::done(true);
const INVALID: Outcome = Outcome::refused(Status::Invalid);
const FORBIDDEN: Outcome = Outcome::refused(Status::Forbidden);
const NOT_FOUND: Outcome = Outcome::refused(Status::NotFound);
const STALE: Outcome = Outcome::refused(Status::Stale);

// ---------------------------------------------------------------------------
// Actors and doors

/// The fixture users who act in the cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    /// 田中, requester in a section of 市民課.
    Requester,
    /// 伊藤, requester in 保育課 (another division).
    Outsider,
    Dx,
    Se,
    Se2,
    /// Manager of 市民局 (sees 市民課).
    Manager,
    Admin,
}

impl Who {
    fn user(self, app: &TestApp) -> &User {
        let org = &app.org;
        match self {
            Who::Requester => &org.requester,
            Who::Outsider => &org.outsider,
            Who::Dx => &org.dx,
            Who::Se => &org.se,
            Who::Se2 => &org.se2,
            Who::Manager => &org.manager,
            Who::Admin => &org.admin,
        }
    }
}

/// What a door answered, classified, with a little of why for the report.
struct Answer {
    status: Status,
    detail: String,
}

fn shorten(text: &str) -> String {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 240 {
        format!("{}…", text.chars().take(240).collect::<String>())
    } else {
        text
    }
}

impl Answer {
    fn of_reply(reply: &Reply) -> Answer {
        Answer {
            status: Status::of_api(reply.status),
            detail: format!("{} {}", reply.status, shorten(&reply.body.to_string())),
        }
    }

    fn of_page(page: &Page) -> Answer {
        // The flash or the error page, without the markup.
        let start = page
            .body
            .find("role=\"alert\"")
            .or_else(|| page.body.find("id=\"error-title\""));
        let said = start.map_or(String::new(), |at| {
            let end = page.body[at..]
                .find("</div>")
                .or_else(|| page.body[at..].find("</section>"))
                .map_or(page.body.len(), |e| at + e);
            let mut text = String::new();
            let mut in_tag = false;
            for c in page.body[at..end].chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        text.push(' ');
                    }
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        });
        Answer {
            status: Status::of_page(page),
            detail: format!(
                "{}{} {}",
                page.status,
                page.location
                    .as_deref()
                    .map(|l| format!(" → {l}"))
                    .unwrap_or_default(),
                shorten(&said)
            ),
        }
    }
}

/// Both doors for every actor: bearer tokens for the API, signed-in sessions for
/// the pages, each made once per app (logins are rate-limited and slow on purpose).
struct Doors<'a> {
    app: &'a TestApp,
    tokens: HashMap<Who, String>,
    sessions: HashMap<Who, Session<'a>>,
    serial: usize,
}

/// The page's message when a form's CSRF token is refused: that 403 would be the
/// harness's fault, not an outcome.
const CSRF_REFUSED: &str = "フォームの有効期限が切れました";

impl<'a> Doors<'a> {
    fn new(app: &'a TestApp) -> Doors<'a> {
        Doors {
            app,
            tokens: HashMap::new(),
            sessions: HashMap::new(),
            serial: 0,
        }
    }

    /// A tag no other prepared data has (for e-mail addresses and codes).
    fn unique(&mut self) -> String {
        self.serial += 1;
        format!("{}", self.serial)
    }

    fn token(&mut self, who: Who) -> String {
        let app = self.app;
        self.tokens
            .entry(who)
            .or_insert_with(|| app.login(who.user(app)))
            .clone()
    }

    fn api(&mut self, who: Who, method: &str, path: &str, body: Value) -> Answer {
        self.api_with(who, method, path, body, &[])
    }

    fn api_with(
        &mut self,
        who: Who,
        method: &str,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let token = self.token(who);
        let reply = self
            .app
            .send(method, path, Some(&token), Some(&body.to_string()), headers);
        Answer::of_reply(&reply)
    }

    /// Posts a form as `who`, with the session's CSRF token.
    fn form(&mut self, who: Who, path: &str, fields: &[(&str, String)]) -> Answer {
        let app = self.app;
        let session = self.sessions.entry(who).or_insert_with(|| {
            let mut session = Session::new(app);
            let landed = session.login(&who.user(app).email);
            assert_eq!(landed.status, 303, "page login of {who:?}");
            session
        });
        let csrf = session.csrf();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        form.extend(fields.iter().map(|(name, value)| (*name, value.as_str())));
        let page = session.post(path, &form);
        assert!(
            !(page.status == 403 && page.body.contains(CSRF_REFUSED)),
            "the CSRF token of {who:?} was refused on {path}"
        );
        assert!(
            !page
                .location
                .as_deref()
                .is_some_and(|to| to.starts_with("/login")),
            "the session of {who:?} was lost on {path}"
        );
        Answer::of_page(&page)
    }
}

// ---------------------------------------------------------------------------
// What was stored and mailed

/// Everything a write could leave behind, apart from mail.
#[derive(Debug, PartialEq, Eq)]
struct Rows {
    counts: Vec<i64>,
    users: Vec<(i64, String, String, i64, String, bool)>,
    departments: Vec<(i64, String, String, bool)>,
}

struct Footprint {
    rows: Rows,
    /// The newest outbox row's id (0 when there is none).
    last_mail: i64,
}

fn footprint(app: &TestApp) -> Footprint {
    let mut conn = app.pool.get().expect("connection");
    let conn = &mut *conn;
    let counts = vec![
        consultations::table.count().get_result(conn),
        consultation_events::table.count().get_result(conn),
        comments::table.count().get_result(conn),
        systems::table.count().get_result(conn),
        system_events::table.count().get_result(conn),
        users::table.count().get_result(conn),
        departments::table.count().get_result(conn),
    ]
    .into_iter()
    .collect::<QueryResult<Vec<i64>>>()
    .expect("counts");
    let users = users::table
        .select((
            users::id,
            users::name,
            users::role,
            users::department_id,
            users::locale,
            users::active,
        ))
        .order(users::id)
        .load(conn)
        .expect("users");
    let departments = departments::table
        .select((
            departments::id,
            departments::code,
            departments::name,
            departments::active,
        ))
        .order(departments::id)
        .load(conn)
        .expect("departments");
    let last_mail = outbox::table
        .select(diesel::dsl::max(outbox::id))
        .first::<Option<i64>>(conn)
        .expect("outbox")
        .unwrap_or(0);
    Footprint {
        rows: Rows {
            counts,
            users,
            departments,
        },
        last_mail,
    }
}

/// The recipients of the mail queued after `last`.
fn mail_since(app: &TestApp, last: i64) -> Vec<String> {
    let mut conn = app.pool.get().expect("connection");
    outbox::table
        .filter(outbox::id.gt(last))
        .select(outbox::recipient_email)
        .load(&mut *conn)
        .expect("outbox")
}

// ---------------------------------------------------------------------------
// The runner

/// One row of a use case's table.
struct Case<I> {
    what: &'static str,
    who: Who,
    input: I,
    expect: Outcome,
    /// Someone who must be among the mail's recipients.
    mail_to: Option<Who>,
}

fn case<I>(what: &'static str, who: Who, input: I, expect: Outcome) -> Case<I> {
    Case {
        what,
        who,
        input,
        expect,
        mail_to: None,
    }
}

impl<I> Case<I> {
    fn mailing(self, who: Who) -> Case<I> {
        Case {
            mail_to: Some(who),
            ..self
        }
    }
}

/// A use case's three parts: the precondition each door gets afresh, and the
/// request each door makes of an input.
struct Doorways<I, T> {
    prepare: fn(&mut Doors, &I) -> T,
    api: fn(&mut Doors, Who, &I, &T) -> Answer,
    page: fn(&mut Doors, Who, &I, &T) -> Answer,
}

/// Runs every case through both doors and fails with all the cases where a door
/// disagrees with the expected outcome.
fn check_contract<I, T>(
    app: &TestApp,
    use_case: &str,
    cases: Vec<Case<I>>,
    doorways: Doorways<I, T>,
) {
    let mut doors = Doors::new(app);
    let mut broken = vec![];
    for case in &cases {
        let mut seen = vec![];
        for door in ["API", "page"] {
            let target = (doorways.prepare)(&mut doors, &case.input);
            let before = footprint(app);
            let answer = if door == "API" {
                (doorways.api)(&mut doors, case.who, &case.input, &target)
            } else {
                (doorways.page)(&mut doors, case.who, &case.input, &target)
            };
            let after = footprint(app);
            let recipients = mail_since(app, before.last_mail);
            let outcome = Outcome {
                status: answer.status,
                stored: before.rows != after.rows,
                mail: !recipients.is_empty(),
            };
            let mut wrong = outcome != case.expect;
            if let Some(who) = case.mail_to {
                let email = &who.user(app).email;
                wrong |= !recipients.contains(email);
            }
            seen.push((door, outcome, wrong, answer.detail, recipients));
        }
        let line = format!(
            "{use_case}: {} ({:?}): expected {}; API {}; page {}",
            case.what, case.who, case.expect, seen[0].1, seen[1].1
        );
        eprintln!("{line}");
        if seen.iter().any(|(_, _, wrong, _, _)| *wrong) {
            let why: Vec<String> = seen
                .iter()
                .filter(|(_, _, wrong, _, _)| *wrong)
                .map(|(door, _, _, detail, recipients)| {
                    format!("    {door} answered {detail}; mail to {recipients:?}")
                })
                .collect();
            broken.push(format!("{line}\n{}", why.join("\n")));
        }
    }
    assert!(
        broken.is_empty(),
        "{} of {} {use_case} cases break the contract between the API and the pages:\n{}",
        broken.len(),
        cases.len(),
        broken.join("\n")
    );
}

fn long_text(chars: usize) -> String {
    "あ".repeat(chars)
}

// ---------------------------------------------------------------------------
// 1. Filing a consultation

struct Filing {
    title: Option<String>,
    department_id: Option<i64>,
}

const CURRENT_WORK: &str = "紙の申請書を毎月300件手入力しています。";
const WISH: &str = "電子申請にして入力をなくしたい。";

fn file_by_api(doors: &mut Doors, who: Who, input: &Filing, _: &()) -> Answer {
    let mut body = json!({
        "body": format!("{CURRENT_WORK}\n{WISH}"),
        "category": "e_application",
        "priority": "normal",
    });
    if let Some(title) = &input.title {
        body["title"] = json!(title);
    }
    if let Some(id) = input.department_id {
        body["department_id"] = json!(id);
    }
    let key = format!("contract-api-{}", doors.unique());
    doors.api_with(
        who,
        "POST",
        "/api/v1/consultations",
        body,
        &[("Idempotency-Key", &key)],
    )
}

fn file_by_page(doors: &mut Doors, who: Who, input: &Filing, _: &()) -> Answer {
    let key = format!("contract-page-{}", doors.unique());
    doors.form(
        who,
        "/consultations",
        &[
            ("title", input.title.clone().unwrap_or_default()),
            ("current_work", CURRENT_WORK.into()),
            ("wish", WISH.into()),
            ("category", "e_application".into()),
            ("priority", "normal".into()),
            (
                "department_id",
                input
                    .department_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            ),
            ("desired_by", String::new()),
            ("contact", String::new()),
            ("idempotency_key", key),
        ],
    )
}

fn filing_a_consultation_has_the_same_outcome_through_the_api_and_the_page(app: &TestApp) {
    let division = Some(app.org.shimin_division);
    let filing = |title: &str, department_id: Option<i64>| Filing {
        title: Some(title.to_string()),
        department_id,
    };
    let cases = vec![
        case(
            "a requester files for their own division",
            Who::Requester,
            filing("窓口予約の電子化", None),
            DONE_MAILED,
        ),
        case(
            "the DX office files on behalf of a division",
            Who::Dx,
            filing("窓口予約の電子化(代理)", division),
            DONE_MAILED,
        ),
        case(
            "an admin files on behalf of a division",
            Who::Admin,
            filing("窓口予約の電子化(管理者)", division),
            DONE_MAILED,
        ),
        case(
            "a helpdesk SE may not file",
            Who::Se,
            filing("SE による起票", division),
            FORBIDDEN,
        ),
        case(
            "a manager may not file",
            Who::Manager,
            filing("管理職による起票", division),
            FORBIDDEN,
        ),
        case(
            "a filing without a title is refused",
            Who::Requester,
            Filing {
                title: None,
                department_id: None,
            },
            INVALID,
        ),
        case(
            "a title of 201 characters is refused",
            Who::Requester,
            Filing {
                title: Some(long_text(201)),
                department_id: None,
            },
            INVALID,
        ),
        case(
            "the DX office may not file for an unknown department",
            Who::Dx,
            filing("存在しない課の相談", Some(999_999)),
            INVALID,
        ),
    ];
    check_contract(
        app,
        "file",
        cases,
        Doorways {
            prepare: |_, _| (),
            api: file_by_api,
            page: file_by_page,
        },
    );
}

// ---------------------------------------------------------------------------
// 2. Workflow events

/// The state a fresh consultation is brought to before the event.
#[derive(Debug, Clone, Copy)]
enum Given {
    Received,
    Hearing,
    AssignedToSe,
}

/// The version the actor sends.
#[derive(Debug, Clone, Copy)]
enum Seen {
    Current,
    Stale,
}

/// An event field's value, written as each door writes it.
enum Arg {
    Text(String),
    Id(i64),
    /// A wall-clock time in Asia/Tokyo.
    At(NaiveDateTime),
}

impl Arg {
    fn json(&self) -> Value {
        match self {
            Arg::Text(text) => json!(text),
            Arg::Id(id) => json!(id),
            Arg::At(at) => json!(at.format("%Y-%m-%dT%H:%M:00+09:00").to_string()),
        }
    }

    /// As a browser posts it (`datetime-local` for times).
    fn form(&self) -> String {
        match self {
            Arg::Text(text) => text.clone(),
            Arg::Id(id) => id.to_string(),
            Arg::At(at) => at.format("%Y-%m-%dT%H:%M").to_string(),
        }
    }
}

fn text(value: &str) -> Arg {
    Arg::Text(value.to_string())
}

/// 10:00 in Tokyo, `days` from today there.
fn tokyo_ten_oclock(days: i64) -> NaiveDateTime {
    let tokyo = FixedOffset::east_opt(9 * 3600).expect("offset");
    (Utc::now() + Duration::days(days))
        .with_timezone(&tokyo)
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .expect("a time")
}

struct Firing {
    given: Given,
    event: &'static str,
    version: Seen,
    fields: Vec<(&'static str, Arg)>,
}

fn firing(given: Given, event: &'static str, fields: Vec<(&'static str, Arg)>) -> Firing {
    Firing {
        given,
        event,
        version: Seen::Current,
        fields,
    }
}

/// A consultation of 市民課 filed by the requester and brought to `given` by the
/// DX office, through the API.
fn consultation_in(doors: &mut Doors, given: Given) -> Value {
    let app = doors.app;
    let requester = doors.token(Who::Requester);
    let dx = doors.token(Who::Dx);
    let c = app.file(&requester, "申請書の電子化について");
    match given {
        Given::Received => c,
        Given::Hearing => app.must_fire(
            &dx,
            &c,
            "schedule_hearing",
            json!({"hearing_at": crate::helpers::future_hearing(), "hearing_place": "第1会議室"}),
        ),
        Given::AssignedToSe => app.must_fire(
            &dx,
            &c,
            "assign",
            json!({"assignee_id": app.org.se.id, "reason": "内容が明確なため"}),
        ),
    }
}

fn version_sent(c: &Value, seen: Seen) -> i64 {
    let current = c["version"].as_i64().expect("a version");
    match seen {
        Seen::Current => current,
        Seen::Stale => current - 1,
    }
}

fn fire_by_api(doors: &mut Doors, who: Who, input: &Firing, c: &Value) -> Answer {
    let mut body = json!({"event": input.event, "version": version_sent(c, input.version)});
    for (name, arg) in &input.fields {
        body[*name] = arg.json();
    }
    doors.api(
        who,
        "POST",
        &format!("/api/v1/consultations/{}/transitions", c["id"]),
        body,
    )
}

fn fire_by_page(doors: &mut Doors, who: Who, input: &Firing, c: &Value) -> Answer {
    let mut form = vec![
        ("event", input.event.to_string()),
        ("version", version_sent(c, input.version).to_string()),
    ];
    form.extend(input.fields.iter().map(|(name, arg)| (*name, arg.form())));
    doors.form(who, &format!("/consultations/{}/events", c["id"]), &form)
}

fn workflow_events_have_the_same_outcome_through_the_api_and_the_page(app: &TestApp) {
    let se = app.org.se.id;
    let se2 = app.org.se2.id;
    let hearing = || {
        vec![
            ("hearing_at", Arg::At(tokyo_ten_oclock(7))),
            ("hearing_place", text("第1会議室")),
        ]
    };
    let cases = vec![
        case(
            "the DX office schedules a hearing",
            Who::Dx,
            firing(Given::Received, "schedule_hearing", hearing()),
            DONE_MAILED,
        ),
        case(
            "a requester may not schedule a hearing",
            Who::Requester,
            firing(Given::Received, "schedule_hearing", hearing()),
            FORBIDDEN,
        ),
        case(
            "a hearing in the past is refused",
            Who::Dx,
            firing(
                Given::Received,
                "schedule_hearing",
                vec![
                    ("hearing_at", Arg::At(tokyo_ten_oclock(-2))),
                    ("hearing_place", text("第1会議室")),
                ],
            ),
            INVALID,
        ),
        case(
            "a helpdesk SE takes a new consultation for themselves",
            Who::Se,
            firing(
                Given::Received,
                "assign",
                vec![("assignee_id", Arg::Id(se)), ("reason", text("既知の内容"))],
            ),
            DONE_MAILED,
        ),
        case(
            "a helpdesk SE may not hand a consultation to another SE",
            Who::Se,
            firing(
                Given::Received,
                "assign",
                vec![
                    ("assignee_id", Arg::Id(se2)),
                    ("reason", text("既知の内容")),
                ],
            ),
            FORBIDDEN,
        ),
        case(
            "the DX office assigns an SE after the hearing",
            Who::Dx,
            firing(Given::Hearing, "assign", vec![("assignee_id", Arg::Id(se))]),
            DONE_MAILED,
        ),
        case(
            "the assignee asks the requester for information",
            Who::Se,
            firing(
                Given::AssignedToSe,
                "request_info",
                vec![("message", text("現在の申請書の様式を添付してください"))],
            ),
            DONE_MAILED,
        ),
        case(
            "a request for information of 10,001 characters is refused",
            Who::Se,
            firing(
                Given::AssignedToSe,
                "request_info",
                vec![("message", Arg::Text(long_text(10_001)))],
            ),
            INVALID,
        ),
        case(
            "the assignee resolves",
            Who::Se,
            firing(
                Given::AssignedToSe,
                "resolve",
                vec![("resolution", text("電子申請の様式を作成しました"))],
            ),
            DONE_MAILED,
        ),
        case(
            "an SE who is not the assignee may not resolve",
            Who::Se2,
            firing(
                Given::AssignedToSe,
                "resolve",
                vec![("resolution", text("横から解決"))],
            ),
            FORBIDDEN,
        ),
        case(
            "the requester withdraws their own consultation",
            Who::Requester,
            firing(
                Given::Received,
                "withdraw",
                vec![("reason", text("課内で解決しました"))],
            ),
            DONE_MAILED,
        ),
        case(
            "a withdrawal without a reason is refused",
            Who::Requester,
            firing(Given::Received, "withdraw", vec![]),
            INVALID,
        ),
        case(
            "an event fired on a stale version is refused",
            Who::Dx,
            Firing {
                version: Seen::Stale,
                ..firing(Given::Hearing, "schedule_hearing", hearing())
            },
            STALE,
        ),
        case(
            "an event the state does not allow is refused",
            Who::Requester,
            firing(Given::Received, "close", vec![]),
            INVALID,
        ),
        case(
            "another division's requester does not find the consultation",
            Who::Outsider,
            firing(
                Given::Received,
                "withdraw",
                vec![("reason", text("取り下げます"))],
            ),
            NOT_FOUND,
        ),
    ];
    check_contract(
        app,
        "fire",
        cases,
        Doorways {
            prepare: |doors, input: &Firing| consultation_in(doors, input.given),
            api: fire_by_api,
            page: fire_by_page,
        },
    );
}

// ---------------------------------------------------------------------------
// 3. Comments

struct Commenting {
    given: Given,
    body: String,
    internal: bool,
}

fn comment_by_api(doors: &mut Doors, who: Who, input: &Commenting, c: &Value) -> Answer {
    doors.api(
        who,
        "POST",
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        json!({"body": input.body, "internal": input.internal}),
    )
}

fn comment_by_page(doors: &mut Doors, who: Who, input: &Commenting, c: &Value) -> Answer {
    // The public form has no `internal` field; the note form sends `internal=true`.
    let mut form = vec![("body", input.body.clone())];
    if input.internal {
        form.push(("internal", "true".into()));
    }
    doors.form(who, &format!("/consultations/{}/comments", c["id"]), &form)
}

fn comments_have_the_same_outcome_through_the_api_and_the_page(app: &TestApp) {
    let public = |given: Given, body: &str| Commenting {
        given,
        body: body.to_string(),
        internal: false,
    };
    let cases = vec![
        case(
            "a requester comments publicly and the assignee is told",
            Who::Requester,
            public(Given::AssignedToSe, "様式のサンプルを共有します"),
            DONE_MAILED,
        )
        .mailing(Who::Se),
        case(
            "a requester comments on an unassigned consultation and the DX office is told",
            Who::Requester,
            public(Given::Received, "補足です"),
            DONE_MAILED,
        )
        .mailing(Who::Dx),
        case(
            "a comment of 10,001 characters is refused",
            Who::Requester,
            Commenting {
                given: Given::AssignedToSe,
                body: long_text(10_001),
                internal: false,
            },
            INVALID,
        ),
        case(
            "an empty comment is refused",
            Who::Requester,
            public(Given::AssignedToSe, ""),
            INVALID,
        ),
        case(
            "a manager may not comment",
            Who::Manager,
            public(Given::AssignedToSe, "進捗はいかがですか"),
            FORBIDDEN,
        ),
        case(
            "a requester may not write an internal note",
            Who::Requester,
            Commenting {
                internal: true,
                ..public(Given::AssignedToSe, "内部メモのつもり")
            },
            FORBIDDEN,
        ),
        case(
            "an SE writes an internal note",
            Who::Se,
            Commenting {
                internal: true,
                ..public(Given::AssignedToSe, "過去の類似案件あり")
            },
            DONE_MAILED,
        ),
        case(
            "another division's requester does not find the consultation",
            Who::Outsider,
            public(Given::AssignedToSe, "横から失礼します"),
            NOT_FOUND,
        ),
    ];
    check_contract(
        app,
        "comment",
        cases,
        Doorways {
            prepare: |doors, input: &Commenting| consultation_in(doors, input.given),
            api: comment_by_api,
            page: comment_by_page,
        },
    );
}

// ---------------------------------------------------------------------------
// 4. The system ledger

enum Ledger {
    Register {
        name: Option<String>,
        department_id: Option<i64>,
        /// Staff registering for a division name its owner (someone in it).
        owner_email: Option<String>,
    },
    /// An edit of a fresh entry the requester registered for 市民課.
    Edit { version: Seen, name: String },
}

/// For an edit, a fresh entry of 市民課 registered by the requester through the API.
fn ledger_entry(doors: &mut Doors, input: &Ledger) -> Option<Value> {
    let Ledger::Edit { .. } = input else {
        return None;
    };
    let app = doors.app;
    let token = doors.token(Who::Requester);
    let name = format!("窓口予約アプリ{}", doors.unique());
    let reply = app.post(
        "/api/v1/systems",
        &token,
        json!({"name": name, "platform": "low_code_app", "phase": "trial", "built_by": "in_house"}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    Some(reply.body)
}

fn ledger_by_api(doors: &mut Doors, who: Who, input: &Ledger, entry: &Option<Value>) -> Answer {
    match (input, entry) {
        (
            Ledger::Register {
                name,
                department_id,
                owner_email,
            },
            _,
        ) => {
            let mut body =
                json!({"platform": "low_code_app", "phase": "trial", "built_by": "in_house"});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(id) = department_id {
                body["department_id"] = json!(id);
            }
            if let Some(email) = owner_email {
                body["owner_email"] = json!(email);
            }
            doors.api(who, "POST", "/api/v1/systems", body)
        }
        (Ledger::Edit { version, name }, Some(entry)) => doors.api(
            who,
            "PATCH",
            &format!("/api/v1/systems/{}", entry["id"]),
            json!({
                "version": version_sent(entry, *version),
                "name": name,
                "platform": "low_code_app",
                "phase": "trial",
                "built_by": "in_house",
                "holds_personal_data": false,
            }),
        ),
        (Ledger::Edit { .. }, None) => unreachable!("an edit has an entry"),
    }
}

fn ledger_by_page(doors: &mut Doors, who: Who, input: &Ledger, entry: &Option<Value>) -> Answer {
    match (input, entry) {
        (
            Ledger::Register {
                name,
                department_id,
                owner_email,
            },
            _,
        ) => {
            let mut form = vec![
                ("name", name.clone().unwrap_or_default()),
                ("platform", "low_code_app".into()),
                ("phase", "trial".into()),
                ("built_by", "in_house".into()),
                ("workflow_before", String::new()),
                ("workflow_after", String::new()),
                // The similar-name warning is answered "mine is different".
                ("confirm_different", "true".into()),
            ];
            if let Some(id) = department_id {
                form.push(("department_id", id.to_string()));
            }
            if let Some(email) = owner_email {
                form.push(("owner_email", email.clone()));
            }
            doors.form(who, "/systems", &form)
        }
        (Ledger::Edit { version, name }, Some(entry)) => doors.form(
            who,
            &format!("/systems/{}", entry["id"]),
            &[
                ("version", version_sent(entry, *version).to_string()),
                ("name", name.clone()),
                ("platform", "low_code_app".into()),
                ("phase", "trial".into()),
                ("built_by", "in_house".into()),
            ],
        ),
        (Ledger::Edit { .. }, None) => unreachable!("an edit has an entry"),
    }
}

fn ledger_registrations_and_edits_have_the_same_outcome_through_the_api_and_the_page(
    app: &TestApp,
) {
    let register = |name: &str| Ledger::Register {
        name: Some(name.to_string()),
        department_id: None,
        owner_email: None,
    };
    let edit = |version: Seen| Ledger::Edit {
        version,
        name: "窓口予約アプリ(改)".into(),
    };
    let cases = vec![
        case(
            "a requester registers a system of their own division",
            Who::Requester,
            register("住民票交付予約アプリ"),
            DONE,
        ),
        case(
            "the DX office registers a system for a division",
            Who::Dx,
            Ledger::Register {
                name: Some("保育料試算アプリ".into()),
                department_id: Some(app.org.hoiku_division),
                owner_email: Some(app.org.outsider.email.clone()),
            },
            DONE,
        ),
        case(
            "the DX office may not make someone outside the division its owner",
            Who::Dx,
            Ledger::Register {
                name: Some("保育料試算アプリ(別)".into()),
                department_id: Some(app.org.hoiku_division),
                owner_email: Some(app.org.requester.email.clone()),
            },
            INVALID,
        ),
        case(
            "a manager may not register a system",
            Who::Manager,
            register("管理職の台帳登録"),
            FORBIDDEN,
        ),
        case(
            "a registration without a name is refused",
            Who::Requester,
            Ledger::Register {
                name: None,
                department_id: None,
                owner_email: None,
            },
            INVALID,
        ),
        case(
            "the requester edits their division's entry",
            Who::Requester,
            edit(Seen::Current),
            DONE,
        ),
        case(
            "an edit on a stale version is refused",
            Who::Requester,
            edit(Seen::Stale),
            STALE,
        ),
        case(
            "a manager may not edit an entry",
            Who::Manager,
            edit(Seen::Current),
            FORBIDDEN,
        ),
        case(
            "another division's requester does not find the entry",
            Who::Outsider,
            edit(Seen::Current),
            NOT_FOUND,
        ),
    ];
    check_contract(
        app,
        "ledger",
        cases,
        Doorways {
            prepare: ledger_entry,
            api: ledger_by_api,
            page: ledger_by_page,
        },
    );
}

// ---------------------------------------------------------------------------
// 5. The directory (admin)

enum Directory {
    CreateUser {
        password: &'static str,
    },
    /// An edit of a fresh user; `None` sends the name unchanged.
    EditUser {
        name: Option<String>,
        locale: Option<&'static str>,
    },
    CreateDepartment,
    /// A rename of a fresh department.
    EditDepartment {
        name: String,
    },
}

/// What a directory case acts on: a tag for new e-mail addresses and codes, and
/// the fresh user or department an edit changes.
struct Subject {
    tag: String,
    id: Option<i64>,
}

fn directory_subject(doors: &mut Doors, input: &Directory) -> Subject {
    let app = doors.app;
    let tag = doors.unique();
    let admin = doors.token(Who::Admin);
    let created = |path: &str, body: Value| {
        let reply = app.post(path, &admin, body);
        assert_eq!(reply.status, 201, "{path}: {:?}", reply.body);
        reply.body["id"].as_i64()
    };
    let id = match input {
        Directory::EditUser { .. } => created(
            "/api/v1/users",
            json!({
                "email": format!("edit-{tag}@city.test"), "name": format!("編集対象{tag}"),
                "role": "requester", "department_id": app.org.shimin_division,
                "locale": "ja", "password": "long enough secret",
            }),
        ),
        Directory::EditDepartment { .. } => created(
            "/api/v1/departments",
            json!({"code": format!("EDIT{tag}"), "name": format!("改称前の課{tag}"), "parent_id": app.org.shimin_bureau}),
        ),
        Directory::CreateUser { .. } | Directory::CreateDepartment => None,
    };
    Subject { tag, id }
}

/// The fields of each request, the same for both doors.
fn directory_fields(
    app: &TestApp,
    input: &Directory,
    subject: &Subject,
) -> Vec<(&'static str, Value)> {
    let tag = &subject.tag;
    match input {
        Directory::CreateUser { password } => vec![
            ("email", json!(format!("new-{tag}@city.test"))),
            ("name", json!(format!("新規職員{tag}"))),
            ("role", json!("requester")),
            ("department_id", json!(app.org.shimin_division)),
            ("locale", json!("ja")),
            ("password", json!(password)),
        ],
        Directory::EditUser { name, locale } => {
            let mut fields = vec![
                (
                    "name",
                    json!(name.clone().unwrap_or_else(|| format!("編集対象{tag}"))),
                ),
                ("role", json!("requester")),
                ("department_id", json!(app.org.shimin_division)),
            ];
            if let Some(locale) = locale {
                fields.push(("locale", json!(locale)));
            }
            fields
        }
        Directory::CreateDepartment => vec![
            ("code", json!(format!("NEW{tag}"))),
            ("name", json!(format!("新設課{tag}"))),
            ("parent_id", json!(app.org.shimin_bureau)),
        ],
        Directory::EditDepartment { name } => vec![("name", json!(name))],
    }
}

fn directory_path(input: &Directory, subject: &Subject, api: bool) -> (&'static str, String) {
    let id = subject.id.unwrap_or_default();
    match (input, api) {
        (Directory::CreateUser { .. }, true) => ("POST", "/api/v1/users".into()),
        (Directory::CreateUser { .. }, false) => ("POST", "/admin/users".into()),
        (Directory::EditUser { .. }, true) => ("PATCH", format!("/api/v1/users/{id}")),
        (Directory::EditUser { .. }, false) => ("POST", format!("/admin/users/{id}")),
        (Directory::CreateDepartment, true) => ("POST", "/api/v1/departments".into()),
        (Directory::CreateDepartment, false) => ("POST", "/admin/departments".into()),
        (Directory::EditDepartment { .. }, true) => ("PATCH", format!("/api/v1/departments/{id}")),
        (Directory::EditDepartment { .. }, false) => ("POST", format!("/admin/departments/{id}")),
    }
}

fn directory_by_api(doors: &mut Doors, who: Who, input: &Directory, subject: &Subject) -> Answer {
    let body: serde_json::Map<String, Value> = directory_fields(doors.app, input, subject)
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    let (method, path) = directory_path(input, subject, true);
    doors.api(who, method, &path, Value::Object(body))
}

fn directory_by_page(doors: &mut Doors, who: Who, input: &Directory, subject: &Subject) -> Answer {
    let form: Vec<(&str, String)> = directory_fields(doors.app, input, subject)
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect();
    let (_, path) = directory_path(input, subject, false);
    doors.form(who, &path, &form)
}

fn directory_changes_have_the_same_outcome_through_the_api_and_the_admin_pages(app: &TestApp) {
    let rename_user = |name: &str| Directory::EditUser {
        name: Some(name.to_string()),
        locale: None,
    };
    let rename_department = |name: &str| Directory::EditDepartment {
        name: name.to_string(),
    };
    let cases = vec![
        case(
            "an admin creates a user",
            Who::Admin,
            Directory::CreateUser {
                password: "long enough secret",
            },
            DONE,
        ),
        case(
            "the DX office may not create a user",
            Who::Dx,
            Directory::CreateUser {
                password: "long enough secret",
            },
            FORBIDDEN,
        ),
        case(
            "a password shorter than the minimum is refused",
            Who::Admin,
            Directory::CreateUser { password: "short" },
            INVALID,
        ),
        case(
            "an admin renames a user",
            Who::Admin,
            rename_user("改名後の職員"),
            DONE,
        ),
        case(
            "the DX office may not edit a user",
            Who::Dx,
            rename_user("改名後の職員"),
            FORBIDDEN,
        ),
        case(
            "a user name of 101 characters is refused",
            Who::Admin,
            Directory::EditUser {
                name: Some(long_text(101)),
                locale: None,
            },
            INVALID,
        ),
        case(
            "an unknown locale is refused",
            Who::Admin,
            Directory::EditUser {
                name: None,
                locale: Some("xx"),
            },
            INVALID,
        ),
        case(
            "an admin creates a department",
            Who::Admin,
            Directory::CreateDepartment,
            DONE,
        ),
        case(
            "the DX office may not create a department",
            Who::Dx,
            Directory::CreateDepartment,
            FORBIDDEN,
        ),
        case(
            "an admin renames a department",
            Who::Admin,
            rename_department("改称後の課"),
            DONE,
        ),
        case(
            "the DX office may not rename a department",
            Who::Dx,
            rename_department("改称後の課"),
            FORBIDDEN,
        ),
        case(
            "a department name of 101 characters is refused",
            Who::Admin,
            Directory::EditDepartment {
                name: long_text(101),
            },
            INVALID,
        ),
    ];
    check_contract(
        app,
        "directory",
        cases,
        Doorways {
            prepare: directory_subject,
            api: directory_by_api,
            page: directory_by_page,
        },
    );
}

both_backends!(
    filing_a_consultation_has_the_same_outcome_through_the_api_and_the_page,
    workflow_events_have_the_same_outcome_through_the_api_and_the_page,
    comments_have_the_same_outcome_through_the_api_and_the_page,
    ledger_registrations_and_edits_have_the_same_outcome_through_the_api_and_the_page,
    directory_changes_have_the_same_outcome_through_the_api_and_the_admin_pages,
);
