//! Rules of DESIGN.md that no other test defended, checked through the API on both
//! databases with the expected values worked out from the design, not from the
//! code: who receives each transition's mail (with "the division's managers or, if
//! none, the nearest unit above"), the SLA due times as the API shows them, the
//! `overdue` filter and `sort=due`, the reopen window, and a `/readyz` that fails.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc, Weekday};
use diesel::prelude::*;
use digicon::db::schema::{consultations, outbox};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp, User};

// ---------------------------------------------------------------- mail

/// The newest outbox row, to read only what a step queued after it.
fn mark(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().expect("connection");
    outbox::table
        .select(diesel::dsl::max(outbox::id))
        .first::<Option<i64>>(&mut *conn)
        .expect("outbox")
        .unwrap_or(0)
}

/// The addresses mail about consultation `c` went to since `since`.
fn mailed_since(app: &TestApp, c: &Value, since: i64) -> BTreeSet<String> {
    let mut conn = app.pool.get().expect("connection");
    outbox::table
        .filter(outbox::id.gt(since))
        .filter(outbox::consultation_id.eq(c["id"].as_i64().expect("id")))
        .select(outbox::recipient_email)
        .load::<String>(&mut *conn)
        .expect("outbox")
        .into_iter()
        .collect()
}

fn emails(users: &[&User]) -> BTreeSet<String> {
    users.iter().map(|u| u.email.clone()).collect()
}

/// DESIGN.md's `notifies` column for the steps after assignment, the actor aside:
/// provide_info → assignee; resolve → requester and division manager; reopen →
/// assignee; a change of assignee → new and previous assignee, requester and
/// division manager; withdraw → assignee and the DX office. 市民課 has no manager, so
/// "division manager" is the manager of 市民局 above it (渡辺).
fn each_transition_mails_the_people_the_design_names(app: &TestApp) {
    let org = &app.org;
    let requester = app.login(&org.requester);
    let colleague = app.login(&org.colleague);
    let dx = app.login(&org.dx);
    let se = app.login(&org.se);
    let se2 = app.login(&org.se2);

    let c = app.file(&requester, "通知先の確認");
    let at = mark(app);
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": org.se.id, "reason": "既知の手順"}),
    );
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.se, &org.requester, &org.manager]),
        "assign: assignee, requester, the manager of the unit above 市民課"
    );

    let c = app.must_fire(&se, &c, "request_info", json!({"message": "様式を"}));
    let at = mark(app);
    // A colleague in the division may answer for the requester.
    let c = app.must_fire(&colleague, &c, "provide_info", json!({"message": "添付"}));
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.se]),
        "provide_info: the assignee"
    );

    let at = mark(app);
    let c = app.must_fire(&dx, &c, "assign", json!({"assignee_id": org.se2.id}));
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.se2, &org.se, &org.requester, &org.manager]),
        "a change of assignee: new, previous, requester, division manager"
    );

    let at = mark(app);
    let c = app.must_fire(&se2, &c, "resolve", json!({"resolution": "RPAで対応"}));
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.requester, &org.manager]),
        "resolve: requester and division manager"
    );

    let at = mark(app);
    let c = app.must_fire(&requester, &c, "reopen", json!({"reason": "まだ動かない"}));
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.se2]),
        "reopen: the assignee"
    );

    let at = mark(app);
    let c = app.must_fire(
        &requester,
        &c,
        "withdraw",
        json!({"reason": "不要になった"}),
    );
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.se2, &org.dx]),
        "withdraw: the assignee and the DX office"
    );
}

/// A division with its own manager: that manager, not the one of the bureau above.
fn a_division_with_a_manager_mails_that_manager_only(app: &TestApp) {
    let org = &app.org;
    let outsider = app.login(&org.outsider);
    let dx = app.login(&org.dx);
    let se = app.login(&org.se);
    let c = app.file(&outsider, "保育課の相談");
    let at = mark(app);
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": org.se.id, "reason": "既知"}),
    );
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.se, &org.outsider, &org.other_manager])
    );
    let at = mark(app);
    let c = app.must_fire(&se, &c, "resolve", json!({"resolution": "対応済み"}));
    assert_eq!(
        mailed_since(app, &c, at),
        emails(&[&org.outsider, &org.other_manager])
    );
}

// ---------------------------------------------------------------- SLA

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("offset")
}

/// National holidays: the data file the app ships (data, not the rule under test).
fn holidays() -> &'static HashSet<NaiveDate> {
    static DAYS: OnceLock<HashSet<NaiveDate>> = OnceLock::new();
    DAYS.get_or_init(|| {
        include_str!("../../src/domain/calendar/holidays_jp.csv")
            .lines()
            .filter_map(|line| line.split(',').next())
            .filter_map(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            .collect()
    })
}

/// DESIGN.md: business days skip weekends, national holidays and Dec 29 – Jan 3.
fn is_business_day(date: NaiveDate) -> bool {
    let year_end =
        (date.month() == 12 && date.day() >= 29) || (date.month() == 1 && date.day() <= 3);
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
        && !year_end
        && !holidays().contains(&date)
}

fn next_midnight(at: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
    let date = at.with_timezone(&jst()).date_naive();
    let end = (date + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(jst())
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc);
    (date, end)
}

/// `start` plus `amount` of business time (the clock runs only on business days).
fn add_business(start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
    let (mut at, mut remaining) = (start, amount);
    loop {
        let (date, end) = next_midnight(at);
        if is_business_day(date) {
            if remaining <= end - at {
                return at + remaining;
            }
            remaining -= end - at;
        }
        at = end;
    }
}

/// The business time between two instants.
fn business_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let (mut at, mut total) = (from, Duration::zero());
    while at < to {
        let (date, end) = next_midnight(at);
        let end = end.min(to);
        if is_business_day(date) {
            total += end - at;
        }
        at = end;
    }
    total
}

fn time(c: &Value, field: &str) -> DateTime<Utc> {
    let text = c[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {c}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{field} {text}: {e}"))
        .with_timezone(&Utc)
}

/// Asserts `c[field]` is `days` business days after some instant in `[from, to]`.
fn assert_due(c: &Value, field: &str, from: DateTime<Utc>, to: DateTime<Utc>, days: i64) {
    let due = time(c, field);
    let slack = Duration::seconds(1);
    let (earliest, latest) = (
        add_business(from, Duration::days(days)) - slack,
        add_business(to, Duration::days(days)) + slack,
    );
    assert!(
        earliest <= due && due <= latest,
        "{field} {due} not {days} business days after [{from}, {to}] (expected {earliest} ..= {latest})"
    );
}

fn file_with(app: &TestApp, token: &str, title: &str, priority: &str) -> Value {
    let reply = app.post(
        "/api/v1/consultations",
        token,
        json!({"title": title, "body": "本文", "category": "rpa", "priority": priority}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

/// Hearing due 3 business days after filing (1 when urgent), resolution due 10
/// after assignment (3 when urgent); the running due time is the hearing's, then the
/// resolution's.
fn due_times_follow_the_priority_from_filing_and_from_assignment(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    for (priority, hearing_days, resolution_days) in [("normal", 3, 10), ("urgent", 1, 3)] {
        let t0 = Utc::now();
        let c = file_with(app, &requester, &format!("期限 {priority}"), priority);
        let t1 = Utc::now();
        assert_due(&c, "hearing_due_at", t0, t1, hearing_days);
        assert_eq!(c["due_at"], c["hearing_due_at"], "{priority}: {c}");
        assert!(c["resolution_due_at"].is_null(), "{c}");

        let t0 = Utc::now();
        let c = app.must_fire(
            &dx,
            &c,
            "assign",
            json!({"assignee_id": app.org.se.id, "reason": "既知"}),
        );
        let t1 = Utc::now();
        assert_due(&c, "resolution_due_at", t0, t1, resolution_days);
        assert_eq!(c["due_at"], c["resolution_due_at"], "{priority}: {c}");
    }
}

/// The clock stops in `waiting`: no due time runs there, and on the answer the
/// resolution is due later by the business time spent waiting.
fn the_resolution_clock_pauses_while_waiting_on_the_requester(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let c = app.file(&requester, "回答待ちの期限");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    let due_before = time(&c, "resolution_due_at");
    let c = app.must_fire(&se, &c, "request_info", json!({"message": "資料を"}));
    assert_eq!(c["state"], "waiting");
    assert!(c["due_at"].is_null(), "no clock runs while waiting: {c}");
    // Fourteen days of waiting (always some business days among them).
    let paused = Utc::now() - Duration::days(14);
    {
        let mut conn = app.pool.get().expect("connection");
        diesel::update(consultations::table.find(c["id"].as_i64().expect("id")))
            .set(consultations::sla_paused_at.eq(Some(paused.naive_utc())))
            .execute(&mut *conn)
            .expect("update");
    }
    let t0 = Utc::now();
    let c = app.must_fire(
        &requester,
        &c,
        "provide_info",
        json!({"message": "送りました"}),
    );
    let t1 = Utc::now();
    let due_after = time(&c, "resolution_due_at");
    let slack = Duration::seconds(1);
    let earliest = add_business(due_before, business_between(paused, t0)) - slack;
    let latest = add_business(due_before, business_between(paused, t1)) + slack;
    assert!(
        earliest <= due_after && due_after <= latest,
        "resolution due {due_before} → {due_after}, expected {earliest} ..= {latest}"
    );
    assert_eq!(c["due_at"], c["resolution_due_at"], "{c}");
}

fn set_due(app: &TestApp, c: &Value, due: DateTime<Utc>) {
    let mut conn = app.pool.get().expect("connection");
    diesel::update(consultations::table.find(c["id"].as_i64().expect("id")))
        .set((
            consultations::due_at.eq(Some(due.naive_utc())),
            consultations::hearing_due_at.eq(Some(due.naive_utc())),
        ))
        .execute(&mut *conn)
        .expect("update");
}

fn ids(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    let reply = app.get(&format!("/api/v1/consultations?{query}"), token);
    assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}: no items in {:?}", reply.body))
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}

/// `overdue=true` lists exactly those past their running due time; `sort=due`
/// puts the soonest due first (urgent's hearing is due before normal's, before low's).
fn overdue_lists_the_late_ones_and_sort_due_puts_the_soonest_first(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let low = file_with(app, &requester, "低", "low");
    let normal = file_with(app, &requester, "通常", "normal");
    let urgent = file_with(app, &requester, "至急", "urgent");
    let id = |c: &Value| c["id"].as_i64().expect("id");
    assert_eq!(
        ids(app, &dx, "sort=due"),
        vec![id(&urgent), id(&normal), id(&low)]
    );
    assert!(ids(app, &dx, "overdue=true").is_empty(), "none late yet");

    set_due(app, &low, Utc::now() - Duration::hours(1));
    assert_eq!(ids(app, &dx, "overdue=true"), vec![id(&low)]);
    assert_eq!(
        ids(app, &dx, "sort=due"),
        vec![id(&low), id(&urgent), id(&normal)]
    );
}

fn set_resolved_at(app: &TestApp, c: &Value, at: DateTime<Utc>) {
    let mut conn = app.pool.get().expect("connection");
    diesel::update(consultations::table.find(c["id"].as_i64().expect("id")))
        .set(consultations::resolved_at.eq(Some(at.naive_utc())))
        .execute(&mut *conn)
        .expect("update");
}

/// The requester may reopen within 14 days of the resolution, not after.
fn reopen_is_refused_after_the_fourteen_day_window(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let c = app.file(&requester, "再開の期限");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    let c = app.must_fire(&se, &c, "resolve", json!({"resolution": "対応済み"}));
    let path = format!("/api/v1/consultations/{}", c["id"]);

    set_resolved_at(app, &c, Utc::now() - Duration::days(15));
    let seen = app.get(&path, &requester).body;
    assert!(
        !seen["allowed_events"]
            .as_array()
            .expect("allowed_events")
            .contains(&json!("reopen")),
        "{seen}"
    );
    let late = app.fire(&requester, &c, "reopen", json!({"reason": "まだ"}));
    assert_eq!(late.status, 422, "{:?}", late.body);
    assert_eq!(app.get(&path, &requester).body["state"], "resolved");

    set_resolved_at(app, &c, Utc::now() - Duration::days(13));
    let seen = app.get(&path, &requester).body;
    assert!(
        seen["allowed_events"]
            .as_array()
            .expect("allowed_events")
            .contains(&json!("reopen")),
        "{seen}"
    );
    let reopened = app.must_fire(&requester, &c, "reopen", json!({"reason": "まだ"}));
    assert_eq!(reopened["state"], "assigned");
}

/// A resolution breach notifies the assignee and the DX office manager (DESIGN.md),
/// and no one else: not the requester, nor the division's manager.
fn a_resolution_breach_notifies_the_assignee_and_the_dx_office_manager(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.sla_sweep_secs = 1) else {
        return;
    };
    let app = &app;
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let c = app.file(&requester, "解決期限の超過");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    let at = mark(app);
    {
        let past = (Utc::now() - Duration::minutes(5)).naive_utc();
        let mut conn = app.pool.get().expect("connection");
        diesel::update(consultations::table.find(c["id"].as_i64().expect("id")))
            .set((
                consultations::due_at.eq(Some(past)),
                consultations::resolution_due_at.eq(Some(past)),
            ))
            .execute(&mut *conn)
            .expect("update");
    }
    let breach = || -> BTreeSet<String> {
        let mut conn = app.pool.get().expect("connection");
        outbox::table
            .filter(outbox::id.gt(at))
            .filter(outbox::kind.eq("breach"))
            .select(outbox::recipient_email)
            .load::<String>(&mut *conn)
            .expect("outbox")
            .into_iter()
            .collect()
    };
    let expected = emails(&[&app.org.se, &app.org.dx_manager]);
    let start = std::time::Instant::now();
    while breach() != expected {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "breach mail went to {:?}, expected {expected:?}",
            breach()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(mailed_since(app, &c, at), expected, "nothing else was sent");
}

#[test]
fn a_resolution_breach_notifies_the_assignee_and_the_dx_office_manager_on_sqlite() {
    a_resolution_breach_notifies_the_assignee_and_the_dx_office_manager(Backend::Sqlite);
}

#[test]
fn a_resolution_breach_notifies_the_assignee_and_the_dx_office_manager_on_postgres() {
    a_resolution_breach_notifies_the_assignee_and_the_dx_office_manager(Backend::Postgres);
}

// ---------------------------------------------------------------- readiness

/// `/readyz` answers 503 when a migration is not applied.
fn readyz_fails_when_a_migration_is_missing(app: &TestApp) {
    let ready = app.send("GET", "/readyz", None, None, &[]);
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    {
        let mut conn = app.pool.get().expect("connection");
        diesel::sql_query(
            "DELETE FROM __diesel_schema_migrations WHERE version = \
             (SELECT MAX(version) FROM __diesel_schema_migrations)",
        )
        .execute(&mut *conn)
        .expect("forget a migration");
    }
    let ready = app.send("GET", "/readyz", None, None, &[]);
    assert_eq!(ready.status, 503, "{:?}", ready.body);
    assert_eq!(ready.body["status"], "migrations pending");
}

both_backends!(
    each_transition_mails_the_people_the_design_names,
    a_division_with_a_manager_mails_that_manager_only,
    due_times_follow_the_priority_from_filing_and_from_assignment,
    the_resolution_clock_pauses_while_waiting_on_the_requester,
    overdue_lists_the_late_ones_and_sort_due_puts_the_soonest_first,
    reopen_is_refused_after_the_fourteen_day_window,
    readyz_fails_when_a_migration_is_missing,
);
