//! What the API refuses, and how: illegal transitions (422), forbidden roles (403),
//! stale versions (409), invalid fields (422), malformed requests (400, 413), bad
//! list parameters (400), unknown routes (404); the list's valid filters and
//! pagination; and error messages in the caller's language. Every refusal must
//! leave the consultation exactly as it was.

use std::collections::{BTreeSet, HashSet};

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{future_hearing, Reply, TestApp};

/// The workflow table of DESIGN.md, restated here so that the server is checked
/// against the design and not against itself: each event and the states it may be
/// fired from.
const TABLE: &[(&str, &[&str])] = &[
    ("file", &[]),
    ("schedule_hearing", &["received", "hearing"]),
    ("assign", &["received", "hearing", "assigned"]),
    ("request_info", &["assigned"]),
    ("provide_info", &["waiting"]),
    ("resolve", &["assigned"]),
    ("reopen", &["resolved"]),
    ("close", &["resolved"]),
    ("withdraw", &["received", "hearing", "assigned", "waiting"]),
];

const STATES: &[&str] = &[
    "received",
    "hearing",
    "assigned",
    "waiting",
    "resolved",
    "closed",
    "withdrawn",
];

/// Asserts a problem+json reply with this status.
fn assert_problem(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert!(
        reply.content_type.starts_with("application/problem+json"),
        "content type {:?} for {:?}",
        reply.content_type,
        reply.body
    );
    assert_eq!(reply.body["status"], status, "{:?}", reply.body);
    assert!(
        reply.body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{:?}",
        reply.body
    );
    assert!(
        reply.body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{:?}",
        reply.body
    );
}

/// The fields named in a validation problem's `errors`, each with at least one
/// non-empty message.
fn error_fields(reply: &Reply) -> BTreeSet<String> {
    let errors = reply.body["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("no errors member: {:?}", reply.body));
    for (field, messages) in errors {
        let messages = messages.as_array().expect("messages are an array");
        assert!(!messages.is_empty(), "{field}: no message");
        for m in messages {
            assert!(m.as_str().is_some_and(|m| !m.is_empty()), "{field}: {m:?}");
        }
    }
    errors.keys().cloned().collect()
}

/// Asserts a 422 that names exactly these fields.
fn assert_invalid(reply: &Reply, fields: &[&str]) {
    assert_problem(reply, 422);
    let expected: BTreeSet<String> = fields.iter().map(|f| f.to_string()).collect();
    assert_eq!(error_fields(reply), expected, "{:?}", reply.body);
}

/// What anyone could observe of a consultation: the whole resource, its timeline
/// and the mail queued (kind and recipient of every outbox row).
struct Snapshot(Value, Vec<Value>, Vec<(String, String)>);

fn snapshot(app: &TestApp, admin: &str, id: &Value) -> Snapshot {
    let reply = app.get(&format!("/api/v1/consultations/{id}"), admin);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    Snapshot(reply.body, app.timeline(admin, id), queued_mail(app))
}

fn queued_mail(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use digicon::db::schema::outbox;
    let mut conn = app.pool.get().expect("connection");
    outbox::table
        .order(outbox::id.asc())
        .select((outbox::kind, outbox::recipient_email))
        .load(&mut *conn)
        .expect("outbox")
}

fn assert_unchanged(app: &TestApp, admin: &str, before: &Snapshot, what: &str) {
    let id = &before.0["id"];
    let after = snapshot(app, admin, id);
    assert_eq!(
        after.0["version"], before.0["version"],
        "{what}: version changed"
    );
    assert_eq!(
        after.1.len(),
        before.1.len(),
        "{what}: timeline grew: {:?}",
        after.1
    );
    assert_eq!(after.0, before.0, "{what}: the consultation changed");
    assert_eq!(after.2, before.2, "{what}: mail was queued");
}

/// Ids of the consultations a list request returns (one page of up to 200).
fn list_ids(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    let reply = app.get(&format!("/api/v1/consultations?{query}&limit=200"), token);
    assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
    assert!(reply.body["next_cursor"].is_null(), "{query}: one page");
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}

fn id_set(ids: &[i64]) -> BTreeSet<i64> {
    ids.iter().copied().collect()
}

fn id_of(c: &Value) -> i64 {
    c["id"].as_i64().expect("id")
}

fn count_all(app: &TestApp, admin: &str) -> usize {
    list_ids(app, admin, "").len()
}

/// Tokens of the people who move a consultation along.
struct Desk {
    requester: String,
    dx: String,
    se: String,
    admin: String,
}

/// Valid fields for an event, so that only the state or the role can be the reason
/// for a refusal.
fn fields_for(app: &TestApp, event: &str, assignee: i64) -> Value {
    match event {
        "schedule_hearing" => {
            json!({"hearing_at": future_hearing(), "hearing_place": "本庁舎5階 会議室A"})
        }
        "assign" => json!({"assignee_id": assignee, "reason": "前回ヒアリング済み"}),
        "request_info" => json!({"message": "現在の様式を共有してください"}),
        "provide_info" => json!({"message": "共有フォルダに置きました"}),
        "resolve" => json!({"resolution": "kintone アプリを作成しました"}),
        "reopen" => json!({"reason": "集計欄が足りません"}),
        "close" => json!({"rating": 4}),
        "withdraw" => json!({"reason": "課内で解決しました"}),
        "file" => json!({
            "title": "起票のやり直し",
            "body": "本文",
            "category": "rpa",
            "department_id": app.org.shimin_division,
        }),
        other => panic!("unknown event {other}"),
    }
}

/// Who fires an event in these tests: someone whose role may fire it in general.
fn caller_of<'a>(desk: &'a Desk, event: &str) -> (&'a str, &'static str) {
    match event {
        "schedule_hearing" | "assign" => (&desk.dx, "dx"),
        "request_info" | "resolve" => (&desk.se, "se"),
        _ => (&desk.requester, "requester"),
    }
}

/// The events each caller may fire by the table (the SE is the assignee wherever a
/// consultation here has one; the requester filed every one of them).
fn events_of(caller: &str) -> &'static [&'static str] {
    match caller {
        "dx" => &["schedule_hearing", "assign", "withdraw"],
        "se" => &["schedule_hearing", "assign", "request_info", "resolve"],
        "requester" => &["provide_info", "reopen", "close", "withdraw"],
        other => panic!("unknown caller {other}"),
    }
}

/// Files a consultation and moves it through the API into `state`, with `se` as
/// the assignee once it has one.
fn walk_to(app: &TestApp, desk: &Desk, state: &str) -> Value {
    let path: &[&str] = match state {
        "received" => &[],
        "hearing" => &["schedule_hearing"],
        "assigned" => &["schedule_hearing", "assign"],
        "waiting" => &["schedule_hearing", "assign", "request_info"],
        "resolved" => &["schedule_hearing", "assign", "resolve"],
        "closed" => &["schedule_hearing", "assign", "resolve", "close"],
        "withdrawn" => &["schedule_hearing", "assign", "withdraw"],
        other => panic!("no path to {other}"),
    };
    let mut c = app.file(&desk.requester, &format!("状態 {state} の相談"));
    for event in path {
        let (token, _) = caller_of(desk, event);
        c = app.must_fire(token, &c, event, fields_for(app, event, app.org.se.id));
    }
    assert_eq!(c["state"], state, "{c}");
    c
}

fn every_event_the_table_does_not_allow_from_a_state_is_refused_with_422_and_changes_nothing(
    app: &TestApp,
) {
    let desk = Desk {
        requester: app.login(&app.org.requester),
        dx: app.login(&app.org.dx),
        se: app.login(&app.org.se),
        admin: app.login(&app.org.admin),
    };
    let mut refused = 0;
    for state in STATES {
        let c = walk_to(app, &desk, state);
        for (event, from) in TABLE {
            if from.contains(state) {
                continue;
            }
            let (token, caller) = caller_of(&desk, event);
            let what = format!("{event} from {state} by {caller}");
            let before = snapshot(app, &desk.admin, &c["id"]);
            let reply = app.fire(token, &c, event, fields_for(app, event, app.org.se2.id));
            assert_problem(&reply, 422);
            assert_eq!(reply.body["state"], *state, "{what}: {:?}", reply.body);

            // `allowed_events` is what this caller may do now: the table says so, and
            // it is the same list the consultation itself shows the caller.
            let allowed: BTreeSet<String> = reply.body["allowed_events"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no allowed_events: {:?}", reply.body))
                .iter()
                .map(|e| e.as_str().expect("event name").to_string())
                .collect();
            let expected: BTreeSet<String> = TABLE
                .iter()
                .filter(|(e, from)| from.contains(state) && events_of(caller).contains(e))
                .map(|(e, _)| e.to_string())
                .collect();
            assert_eq!(allowed, expected, "{what}");
            let shown = app.get(&format!("/api/v1/consultations/{}", c["id"]), token);
            assert_eq!(
                shown.body["allowed_events"], reply.body["allowed_events"],
                "{what}: the problem's allowed_events match the resource's"
            );

            let detail = reply.body["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains(state),
                "{what}: detail names the state: {detail}"
            );
            assert!(
                detail.contains(event),
                "{what}: detail names the event: {detail}"
            );
            for e in &allowed {
                assert!(
                    detail.contains(e.as_str()),
                    "{what}: detail lists {e}: {detail}"
                );
            }
            if allowed.is_empty() {
                assert!(
                    detail.contains("なし"),
                    "{what}: detail says none: {detail}"
                );
            }
            assert_unchanged(app, &desk.admin, &before, &what);
            refused += 1;
        }
    }
    assert_eq!(refused, 49, "every illegal (state, event) pair was tried");
}

fn a_role_that_may_not_fire_an_event_gets_403_and_changes_nothing(app: &TestApp) {
    let desk = Desk {
        requester: app.login(&app.org.requester),
        dx: app.login(&app.org.dx),
        se: app.login(&app.org.se),
        admin: app.login(&app.org.admin),
    };
    let colleague = app.login(&app.org.colleague);
    let se2 = app.login(&app.org.se2);
    let manager = app.login(&app.org.manager);
    let se_id = app.org.se.id;

    let received = walk_to(app, &desk, "received");
    let assigned = walk_to(app, &desk, "assigned");
    let waiting = walk_to(app, &desk, "waiting");
    let resolved = walk_to(app, &desk, "resolved");
    let cases: Vec<(&str, &str, &Value, &str)> = vec![
        ("the requester", &desk.requester, &received, "assign"),
        (
            "the requester",
            &desk.requester,
            &received,
            "schedule_hearing",
        ),
        // The role may never fire it, whatever the state.
        ("the requester", &desk.requester, &assigned, "resolve"),
        ("a colleague", &colleague, &received, "withdraw"),
        // The requester of record closes (and rates) and reopens, not a colleague.
        ("a colleague", &colleague, &resolved, "close"),
        ("a colleague", &colleague, &resolved, "reopen"),
        ("the manager", &manager, &received, "withdraw"),
        ("the manager", &manager, &received, "schedule_hearing"),
        ("an SE", &desk.se, &received, "withdraw"),
        ("the assignee SE", &desk.se, &waiting, "provide_info"),
        ("the DX office", &desk.dx, &waiting, "provide_info"),
        ("another SE", &se2, &assigned, "resolve"),
        ("another SE", &se2, &assigned, "request_info"),
        ("the DX office", &desk.dx, &assigned, "resolve"),
        ("the DX office", &desk.dx, &assigned, "request_info"),
        ("the assignee SE", &desk.se, &resolved, "close"),
        ("the DX office", &desk.dx, &resolved, "reopen"),
    ];
    for (who, token, c, event) in cases {
        let what = format!("{event} by {who} in {}", c["state"]);
        let before = snapshot(app, &desk.admin, &c["id"]);
        let reply = app.fire(token, c, event, fields_for(app, event, se_id));
        assert_problem(&reply, 403);
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(event)),
            "{what}: detail names the event: {:?}",
            reply.body
        );
        assert_unchanged(app, &desk.admin, &before, &what);
    }
    // The same events go through for the people the table names.
    app.must_fire(
        &desk.se,
        &assigned,
        "resolve",
        fields_for(app, "resolve", se_id),
    );
    // A colleague covering for the requester may answer a question.
    app.must_fire(
        &colleague,
        &waiting,
        "provide_info",
        fields_for(app, "provide_info", se_id),
    );
}

fn a_stale_version_gets_409_with_the_current_version_and_changes_nothing(app: &TestApp) {
    let desk = Desk {
        requester: app.login(&app.org.requester),
        dx: app.login(&app.org.dx),
        se: app.login(&app.org.se),
        admin: app.login(&app.org.admin),
    };
    // The requester saw version 1; the DX office scheduled a hearing since.
    let seen = app.file(&desk.requester, "古い版で取り下げ");
    let now = app.must_fire(
        &desk.dx,
        &seen,
        "schedule_hearing",
        fields_for(app, "schedule_hearing", 0),
    );
    assert_eq!(now["version"], 2);
    let before = snapshot(app, &desk.admin, &now["id"]);
    let reply = app.fire(
        &desk.requester,
        &seen,
        "withdraw",
        json!({"reason": "不要になりました"}),
    );
    assert_problem(&reply, 409);
    assert_eq!(reply.body["current_version"], 2, "{:?}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains('2')),
        "detail names the current version: {:?}",
        reply.body
    );
    assert_unchanged(app, &desk.admin, &before, "withdraw with version 1");

    // A version from the future is as wrong as one from the past.
    let assigned = app.must_fire(
        &desk.dx,
        &now,
        "assign",
        json!({"assignee_id": app.org.se.id}),
    );
    assert_eq!(assigned["version"], 3);
    for version in [0, 1, 2, 4, 99] {
        let before = snapshot(app, &desk.admin, &assigned["id"]);
        let mut stale = assigned.clone();
        stale["version"] = version.into();
        let reply = app.fire(
            &desk.se,
            &stale,
            "resolve",
            json!({"resolution": "対応しました"}),
        );
        assert_problem(&reply, 409);
        assert_eq!(reply.body["current_version"], 3, "version {version}");
        assert_unchanged(app, &desk.admin, &before, &format!("version {version}"));
    }
    // With the version the server named, the same request goes through.
    let resolved = app.must_fire(
        &desk.se,
        &assigned,
        "resolve",
        json!({"resolution": "対応しました"}),
    );
    assert_eq!(resolved["version"], 4);
}

fn filing_reports_every_invalid_field_at_once_and_creates_nothing(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let admin = app.login(&app.org.admin);
    let file = |token: &str, body: Value| app.post("/api/v1/consultations", token, body);
    app.file(&requester, "既存の相談");
    let count = count_all(app, &admin);
    assert_eq!(count, 1);

    // Missing.
    let reply = file(&requester, json!({}));
    assert_invalid(&reply, &["title", "body", "category"]);
    // Blank.
    let reply = file(
        &requester,
        json!({"title": "   ", "body": " \n\t ", "category": " "}),
    );
    assert_invalid(&reply, &["title", "body", "category"]);
    // Unknown choices and a bad date, with the rest valid.
    let reply = file(
        &requester,
        json!({"title": "件名", "body": "本文", "category": "fax", "priority": "asap", "desired_by": "2025/04/01"}),
    );
    assert_invalid(&reply, &["category", "priority", "desired_by"]);
    // A date that does not exist.
    let reply = file(
        &requester,
        json!({"title": "件名", "body": "本文", "category": "rpa", "desired_by": "2025-02-30"}),
    );
    assert_invalid(&reply, &["desired_by"]);
    // Too long: 201 characters (counted as characters, not bytes).
    let long_title = "申".repeat(201);
    let reply = file(
        &requester,
        json!({"title": long_title, "body": "本文", "category": "rpa"}),
    );
    assert_invalid(&reply, &["title"]);
    // Everything at once.
    let reply = file(
        &requester,
        json!({"title": "a".repeat(201), "body": "", "category": "fax", "priority": "asap", "desired_by": "tomorrow"}),
    );
    assert_invalid(
        &reply,
        &["title", "body", "category", "priority", "desired_by"],
    );
    // The department: staff must name one, it must exist, and requesters file only
    // for their own division.
    let reply = file(
        &dx,
        json!({"title": "代理起票", "body": "本文", "category": "rpa"}),
    );
    assert_invalid(&reply, &["department_id"]);
    let reply = file(
        &dx,
        json!({"title": "代理起票", "body": "本文", "category": "rpa", "department_id": 999_999}),
    );
    assert_invalid(&reply, &["department_id"]);
    let reply = file(
        &requester,
        json!({"title": "他課の起票", "body": "本文", "category": "rpa", "department_id": app.org.hoiku_division}),
    );
    assert_invalid(&reply, &["department_id"]);

    // Valid JSON of the wrong type names the field.
    for (field, value) in [
        ("title", json!(5)),
        ("body", json!(["本文"])),
        ("category", json!(true)),
        ("priority", json!(3)),
        ("department_id", json!("SHIMINKA")),
        ("desired_by", json!(20_250_401)),
    ] {
        let mut body = json!({"title": "件名", "body": "本文", "category": "rpa"});
        body[field] = value;
        let reply = file(&requester, body);
        assert_problem(&reply, 422);
        assert!(
            error_fields(&reply).contains(field),
            "{field}: {:?}",
            reply.body
        );
    }
    // Valid JSON that is not an object at all.
    for raw in ["[]", "\"件名\"", "42", "null"] {
        let reply = app.send(
            "POST",
            "/api/v1/consultations",
            Some(&requester),
            Some(raw),
            &[],
        );
        assert_problem(&reply, 422);
    }
    assert_eq!(count_all(app, &admin), count, "nothing was created");

    // The limits are inclusive: 200 characters is fine.
    let reply = file(
        &requester,
        json!({"title": "申".repeat(200), "body": "本文", "category": "rpa", "priority": "urgent", "desired_by": "2030-03-31"}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["priority"], "urgent");
    assert_eq!(reply.body["desired_by"], "2030-03-31");
    assert_eq!(count_all(app, &admin), count + 1);
}

fn transition_fields_are_checked_per_event_and_a_refusal_changes_nothing(app: &TestApp) {
    let desk = Desk {
        requester: app.login(&app.org.requester),
        dx: app.login(&app.org.dx),
        se: app.login(&app.org.se),
        admin: app.login(&app.org.admin),
    };
    let en = [("Accept-Language", "en")];
    let fire_en = |token: &str, c: &Value, body: Value| {
        app.send(
            "POST",
            &format!("/api/v1/consultations/{}/transitions", c["id"]),
            Some(token),
            Some(&body.to_string()),
            &en,
        )
    };
    let c = app.file(&desk.requester, "項目チェックの相談");
    let before = snapshot(app, &desk.admin, &c["id"]);

    // schedule_hearing needs a time and a place; the time must be RFC 3339 and future.
    let reply = app.fire(&desk.dx, &c, "schedule_hearing", json!({}));
    assert_invalid(&reply, &["hearing_at", "hearing_place"]);
    let reply = app.fire(
        &desk.dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": "  ", "hearing_place": "  "}),
    );
    assert_invalid(&reply, &["hearing_at", "hearing_place"]);
    let reply = app.fire(
        &desk.dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": future_hearing()}),
    );
    assert_invalid(&reply, &["hearing_place"]);
    let reply = app.fire(
        &desk.dx,
        &c,
        "schedule_hearing",
        json!({"hearing_place": "会議室"}),
    );
    assert_invalid(&reply, &["hearing_at"]);
    let reply = fire_en(
        &desk.dx,
        &c,
        json!({"event": "schedule_hearing", "version": 1,
               "hearing_at": "2020-04-01T09:00:00+09:00", "hearing_place": "会議室"}),
    );
    assert_invalid(&reply, &["hearing_at"]);
    assert_eq!(
        reply.body["errors"]["hearing_at"],
        json!(["must be in the future"])
    );
    for malformed in [
        "next tuesday",
        "2030-04-01 09:00",
        "2030-04-01T09:00:00",
        "2030-13-01T09:00:00+09:00",
    ] {
        let reply = fire_en(
            &desk.dx,
            &c,
            json!({"event": "schedule_hearing", "version": 1,
                   "hearing_at": malformed, "hearing_place": "会議室"}),
        );
        assert_invalid(&reply, &["hearing_at"]);
        assert!(
            reply.body["errors"]["hearing_at"][0]
                .as_str()
                .is_some_and(|m| m.contains("RFC 3339")),
            "{malformed}: {:?}",
            reply.body
        );
    }
    // The envelope: an event and a version are required, and the event must exist.
    let path = format!("/api/v1/consultations/{}/transitions", c["id"]);
    let reply = app.post(&path, &desk.dx, json!({"event": "approve", "version": 1}));
    assert_invalid(&reply, &["event"]);
    let reply = app.post(&path, &desk.dx, json!({"event": "  ", "version": 1}));
    assert_invalid(&reply, &["event"]);
    let reply = app.post(&path, &desk.dx, json!({"version": 1}));
    assert_invalid(&reply, &["event"]);
    let reply = app.post(
        &path,
        &desk.dx,
        json!({"event": "withdraw", "reason": "重複"}),
    );
    assert_invalid(&reply, &["version"]);
    let reply = app.post(&path, &desk.dx, json!({}));
    assert_invalid(&reply, &["event", "version"]);
    let reply = app.post(
        &path,
        &desk.dx,
        json!({"event": "withdraw", "version": "1", "reason": "重複"}),
    );
    assert_problem(&reply, 422);
    assert!(error_fields(&reply).contains("version"), "{:?}", reply.body);
    // withdraw needs a reason.
    let reply = app.fire(&desk.requester, &c, "withdraw", json!({"reason": " "}));
    assert_invalid(&reply, &["reason"]);
    assert_unchanged(app, &desk.admin, &before, "refused fields on received");

    // request_info and resolve need their text.
    let c = walk_to(app, &desk, "assigned");
    let before = snapshot(app, &desk.admin, &c["id"]);
    let reply = app.fire(&desk.se, &c, "request_info", json!({}));
    assert_invalid(&reply, &["message"]);
    let reply = app.fire(&desk.se, &c, "resolve", json!({"resolution": ""}));
    assert_invalid(&reply, &["resolution"]);
    assert_unchanged(app, &desk.admin, &before, "refused fields on assigned");

    // close takes a rating from 1 to 5; reopen needs a reason.
    let c = app.must_fire(
        &desk.se,
        &c,
        "resolve",
        json!({"resolution": "対応しました"}),
    );
    let before = snapshot(app, &desk.admin, &c["id"]);
    for rating in [0, 6, -1, 100] {
        let reply = app.fire(&desk.requester, &c, "close", json!({"rating": rating}));
        assert_invalid(&reply, &["rating"]);
    }
    let reply = app.fire(&desk.requester, &c, "reopen", json!({}));
    assert_invalid(&reply, &["reason"]);
    let reply = app.fire(&desk.requester, &c, "reopen", json!({"reason": "   "}));
    assert_invalid(&reply, &["reason"]);
    assert_unchanged(app, &desk.admin, &before, "refused fields on resolved");
    let c = app.must_fire(&desk.requester, &c, "close", json!({"rating": 1}));
    assert_eq!(c["rating"], 1);
}

fn a_wrongly_typed_field_of_a_transition_gets_422_naming_that_field(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let admin = app.login(&app.org.admin);
    let c = app.file(&requester, "型のチェック");
    let before = snapshot(app, &admin, &c["id"]);
    let path = format!("/api/v1/consultations/{}/transitions", c["id"]);
    // The envelope's own members, then each event's fields.
    let cases = [
        ("event", json!({"event": 5, "version": 1})),
        (
            "version",
            json!({"event": "withdraw", "version": "1", "reason": "重複"}),
        ),
        (
            "version",
            json!({"event": "withdraw", "version": 1.5, "reason": "重複"}),
        ),
        (
            "rating",
            json!({"event": "close", "version": 1, "rating": "five"}),
        ),
        (
            "assignee_id",
            json!({"event": "assign", "version": 1, "assignee_id": "suzuki", "reason": "急ぎ"}),
        ),
        (
            "hearing_at",
            json!({"event": "schedule_hearing", "version": 1, "hearing_at": 20_300_401, "hearing_place": "会議室"}),
        ),
        (
            "hearing_place",
            json!({"event": "schedule_hearing", "version": 1, "hearing_at": future_hearing(), "hearing_place": {"room": "A"}}),
        ),
        (
            "message",
            json!({"event": "request_info", "version": 1, "message": ["資料"]}),
        ),
        (
            "resolution",
            json!({"event": "resolve", "version": 1, "resolution": false}),
        ),
        (
            "system_id",
            json!({"event": "resolve", "version": 1, "resolution": "済", "system_id": "kintone"}),
        ),
        (
            "reason",
            json!({"event": "withdraw", "version": 1, "reason": 7}),
        ),
        (
            "duplicate_of",
            json!({"event": "withdraw", "version": 1, "reason": "重複", "duplicate_of": "DX-2025-0001"}),
        ),
    ];
    let mut misnamed = Vec::new();
    for (field, body) in cases {
        let reply = app.post(&path, &dx, body.clone());
        assert_problem(&reply, 422);
        let named = error_fields(&reply);
        if named != BTreeSet::from([field.to_string()]) {
            misnamed.push(format!("{field} reported as {named:?}"));
        }
        assert_unchanged(app, &admin, &before, &body.to_string());
    }
    assert!(
        misnamed.is_empty(),
        "a type error must name the field it is in: {misnamed:#?}"
    );
}

fn malformed_wrongly_typed_and_oversized_bodies_are_refused_before_anything_is_written(
    app: &TestApp,
) {
    let requester = app.login(&app.org.requester);
    let admin = app.login(&app.org.admin);
    let c = app.file(&requester, "本文の形のチェック");
    let count = count_all(app, &admin);
    let before = snapshot(app, &admin, &c["id"]);
    let transitions = format!("/api/v1/consultations/{}/transitions", c["id"]);
    let patch_path = format!("/api/v1/consultations/{}", c["id"]);
    let valid_filing = json!({"title": "件名", "body": "本文", "category": "rpa"}).to_string();

    for (method, path) in [
        ("POST", "/api/v1/consultations"),
        ("POST", transitions.as_str()),
        ("PATCH", patch_path.as_str()),
    ] {
        for raw in ["{\"title\": \"件名\",", "{title: 'x'}", "not json", ""] {
            let reply = app.send(method, path, Some(&requester), Some(raw), &[]);
            assert_problem(&reply, 400);
            assert!(reply.body.get("errors").is_none(), "{:?}", reply.body);
        }
        let reply = app.send(
            method,
            path,
            Some(&requester),
            Some(&valid_filing),
            &[("Content-Type", "text/plain")],
        );
        assert_problem(&reply, 400);
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("application/json")),
            "{:?}",
            reply.body
        );
        let reply = app.send(
            method,
            path,
            Some(&requester),
            Some(&valid_filing),
            &[("Content-Type", "application/x-www-form-urlencoded")],
        );
        assert_problem(&reply, 400);
    }

    // Above the 256 KiB limit: 413, whatever the body says.
    let huge = json!({"title": "a".repeat(300_000), "body": "本文", "category": "rpa"}).to_string();
    let reply = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some(&huge),
        &[],
    );
    assert_problem(&reply, 413);
    let huge_event =
        json!({"event": "withdraw", "version": 1, "reason": "a".repeat(300_000)}).to_string();
    let reply = app.send(
        "POST",
        &transitions,
        Some(&requester),
        Some(&huge_event),
        &[],
    );
    assert_problem(&reply, 413);
    assert_eq!(count_all(app, &admin), count, "nothing was created");
    assert_unchanged(app, &admin, &before, "refused bodies");

    // A JSON media type with parameters is still JSON.
    let reply = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some(&valid_filing),
        &[("Content-Type", "application/json; charset=utf-8")],
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

fn bad_list_parameters_get_400_naming_the_parameter(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    for (query, name) in [
        ("state=open", "state"),
        ("state=received&state=open", "state"),
        ("state=received,closed,nope", "state"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("sort=size", "sort"),
        ("sort=-updated", "sort"),
        ("overdue=maybe", "overdue"),
        ("cursor=garbage", "cursor"),
        ("assignee=someone", "assignee"),
        ("category=fax", "category"),
        ("priority=asap", "priority"),
        ("fiscal_year=last", "fiscal_year"),
    ] {
        let reply = app.get(&format!("/api/v1/consultations?{query}"), &admin);
        assert_problem(&reply, 400);
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(name)),
            "{query}: detail names {name}: {:?}",
            reply.body
        );
    }
}

fn list_filters_select_exactly_what_they_name_and_pages_walk_without_gaps(app: &TestApp) {
    let desk = Desk {
        requester: app.login(&app.org.requester),
        dx: app.login(&app.org.dx),
        se: app.login(&app.org.se),
        admin: app.login(&app.org.admin),
    };
    let se2 = app.login(&app.org.se2);
    let outsider = app.login(&app.org.outsider);
    let colleague = app.login(&app.org.colleague);
    let hearing = || fields_for(app, "schedule_hearing", 0);
    let create = |token: &str, body: Value| {
        let reply = app.post("/api/v1/consultations", token, body);
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    };

    // c1: 市民課, e_application, normal → hearing.
    let c1 = app.file(&desk.requester, "窓口の受付簿を電子化したい");
    // c2: 市民課, rpa, high → assigned to se.
    let c2 = create(
        &desk.requester,
        json!({"title": "伝票の RPA 化", "body": "毎月の伝票起票", "category": "rpa", "priority": "high"}),
    );
    // c3: 保育課, ai_ocr, urgent → received.
    let c3 = create(
        &outsider,
        json!({"title": "入所申込書の読み取り", "body": "手書きの申込書", "category": "ai_ocr", "priority": "urgent"}),
    );
    // c4: 住民記録係 (a section of 市民課), data_use, low → waiting on se2.
    let c4 = create(
        &desk.dx,
        json!({"title": "統計データの活用", "body": "窓口統計", "category": "data_use", "priority": "low",
               "department_id": app.org.shimin_section}),
    );
    // c5: 市民課, other → withdrawn.
    let c5 = create(
        &desk.requester,
        json!({"title": "その他の相談", "body": "本文", "category": "other"}),
    );
    // c6: 市民課 (filed by a colleague), low_code_app → received.
    let c6 = create(
        &colleague,
        json!({"title": "ローコードで台帳", "body": "Excel 台帳", "category": "low_code_app"}),
    );
    // c7: 市民課, e_application → resolved by se.
    let c7 = app.file(&desk.requester, "電子申請の様式");

    app.must_fire(&desk.dx, &c1, "schedule_hearing", hearing());
    app.must_fire(
        &desk.dx,
        &c2,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知の案件"}),
    );
    let c4x = app.must_fire(
        &desk.dx,
        &c4,
        "assign",
        json!({"assignee_id": app.org.se2.id, "reason": "既知の案件"}),
    );
    app.must_fire(
        &se2,
        &c4x,
        "request_info",
        json!({"message": "資料をください"}),
    );
    app.must_fire(&desk.requester, &c5, "withdraw", json!({"reason": "不要"}));
    let c7x = app.must_fire(&desk.dx, &c7, "schedule_hearing", hearing());
    let c7x = app.must_fire(
        &desk.se,
        &c7x,
        "assign",
        json!({"assignee_id": app.org.se.id}),
    );
    app.must_fire(
        &desk.se,
        &c7x,
        "resolve",
        json!({"resolution": "様式を作成しました"}),
    );
    // The last change of all, for sort=updated.
    let current6 = snapshot(app, &desk.admin, &c6["id"]).0;
    let reply = app.patch(
        &format!("/api/v1/consultations/{}", c6["id"]),
        &desk.dx,
        json!({"version": current6["version"], "title": "ローコードで台帳を作りたい"}),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    let [i1, i2, i3, i4, i5, i6, i7] = [&c1, &c2, &c3, &c4, &c5, &c6, &c7].map(id_of);
    let all = [i1, i2, i3, i4, i5, i6, i7];
    let shimin = [i1, i2, i4, i5, i6, i7];
    let cases: Vec<(&str, String, Vec<i64>)> = vec![
        (&desk.admin, "".into(), all.to_vec()),
        (&desk.admin, "state=received".into(), vec![i3, i6]),
        (
            &desk.admin,
            "state=hearing&state=assigned".into(),
            vec![i1, i2],
        ),
        (&desk.admin, "state=waiting,resolved".into(), vec![i4, i7]),
        (&desk.admin, "state=withdrawn".into(), vec![i5]),
        (&desk.admin, "state=closed".into(), vec![]),
        (&desk.se, "assignee=me".into(), vec![i2, i7]),
        (&se2, "assignee=me".into(), vec![i4]),
        (&desk.dx, "assignee=me".into(), vec![]),
        (&desk.admin, "assignee=none".into(), vec![i1, i3, i5, i6]),
        (
            &desk.admin,
            format!("assignee={}", app.org.se.id),
            vec![i2, i7],
        ),
        (&desk.admin, "category=rpa".into(), vec![i2]),
        (&desk.admin, "category=e_application".into(), vec![i1, i7]),
        (&desk.admin, "priority=urgent".into(), vec![i3]),
        (&desk.admin, "priority=high".into(), vec![i2]),
        (&desk.admin, "priority=low".into(), vec![i4]),
        (&desk.admin, "priority=normal".into(), vec![i1, i5, i6, i7]),
        (
            &desk.admin,
            format!("department={}", app.org.shimin_division),
            shimin.to_vec(),
        ),
        (&desk.admin, "department=SHIMINKA".into(), shimin.to_vec()),
        (
            &desk.admin,
            format!("department={}", app.org.shimin_section),
            vec![i4],
        ),
        (&desk.admin, "department=JUKI".into(), vec![i4]),
        (&desk.admin, "department=HOIKU".into(), vec![i3]),
        (
            &desk.admin,
            format!("department={}", app.org.hoiku_division),
            vec![i3],
        ),
        (&desk.admin, "department=SHIMIN".into(), all.to_vec()),
        (
            &desk.admin,
            format!("department={}", app.org.shimin_bureau),
            all.to_vec(),
        ),
        (&desk.admin, "department=DX".into(), vec![]),
        (&desk.admin, "department=NOSUCH".into(), vec![]),
        (
            &desk.admin,
            "state=received&department=SHIMINKA".into(),
            vec![i6],
        ),
        (
            &desk.admin,
            "category=e_application&state=resolved".into(),
            vec![i7],
        ),
        (&desk.admin, "overdue=false".into(), all.to_vec()),
        (&desk.admin, "overdue=true".into(), vec![]),
        (&desk.admin, "q=受付簿".into(), vec![i1]),
        // Filters never widen what a caller may see.
        (&desk.requester, "".into(), shimin.to_vec()),
        (&desk.requester, "department=HOIKU".into(), vec![]),
        (&outsider, "category=rpa".into(), vec![]),
    ];
    for (token, query, expected) in &cases {
        let got = list_ids(app, token, query);
        assert_eq!(got.len(), id_set(&got).len(), "{query}: duplicates {got:?}");
        assert_eq!(id_set(&got), id_set(expected), "{query}");
    }

    // Sorting.
    let mut ascending = all.to_vec();
    ascending.sort();
    assert_eq!(list_ids(app, &desk.admin, "sort=created"), ascending);
    let descending: Vec<i64> = ascending.iter().rev().copied().collect();
    assert_eq!(list_ids(app, &desk.admin, "sort=-created"), descending);
    assert_eq!(
        list_ids(app, &desk.admin, ""),
        descending,
        "-created by default"
    );
    let updated = app.get("/api/v1/consultations?sort=updated&limit=200", &desk.admin);
    assert_eq!(updated.status, 200);
    let items = updated.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 7);
    assert_eq!(items[0]["id"], c6["id"], "the last changed comes first");
    assert_eq!(items[1]["id"], c7["id"], "then the one resolved before it");
    for pair in items.windows(2) {
        let (a, b) = (
            pair[0]["updated_at"].as_str().unwrap_or_default(),
            pair[1]["updated_at"].as_str().unwrap_or_default(),
        );
        assert!(a >= b, "updated_at descends: {a} then {b}");
    }

    // Pagination: two at a time, every page's cursor leads on, nothing twice or missing.
    for query in [
        "sort=created",
        "sort=-created",
        "sort=updated",
        "sort=due",
        "",
        "state=received,hearing,assigned,waiting",
        "department=SHIMINKA&sort=created",
    ] {
        let one_page = list_ids(app, &desk.admin, query);
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0.. {
            assert!(page < 20, "{query}: the walk ends");
            let path = match &cursor {
                None => format!("/api/v1/consultations?{query}&limit=2"),
                Some(c) => format!("/api/v1/consultations?{query}&limit=2&cursor={c}"),
            };
            let reply = app.get(&path, &desk.admin);
            assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
            let items = reply.body["items"].as_array().expect("items");
            assert!(items.len() <= 2, "{path}");
            walked.extend(items.iter().map(id_of));
            match reply.body["next_cursor"].as_str() {
                Some(next) => {
                    assert_eq!(items.len(), 2, "{path}: only a full page has a next one");
                    cursor = Some(next.to_string());
                }
                None => break,
            }
        }
        let unique: HashSet<i64> = walked.iter().copied().collect();
        assert_eq!(
            unique.len(),
            walked.len(),
            "{query}: duplicates in {walked:?}"
        );
        assert_eq!(walked, one_page, "{query}: pages add up to the whole list");
    }
    // A cursor belongs to its sort order.
    let first = app.get("/api/v1/consultations?sort=created&limit=2", &desk.admin);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let reply = app.get(
        &format!("/api/v1/consultations?sort=-created&limit=2&cursor={cursor}"),
        &desk.admin,
    );
    assert_problem(&reply, 400);
}

fn error_messages_follow_accept_language_and_default_to_japanese(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let path = "/api/v1/consultations/999999";
    let ja = app.send("GET", path, Some(&requester), None, &[]);
    assert_problem(&ja, 404);
    assert_eq!(ja.body["title"], "見つかりません");
    assert!(!ja.body["detail"].as_str().unwrap_or_default().is_ascii());
    for header in ["en", "en-US,en;q=0.9", "fr-FR, en;q=0.5"] {
        let en = app.send(
            "GET",
            path,
            Some(&requester),
            None,
            &[("Accept-Language", header)],
        );
        assert_problem(&en, 404);
        assert_eq!(en.body["title"], "Not found", "{header}");
        assert_eq!(
            en.body["detail"], "The resource does not exist or you may not see it",
            "{header}"
        );
    }
    for header in ["ja", "ja,en;q=0.8", "en;q=0.5,ja;q=0.9", "fr"] {
        let reply = app.send(
            "GET",
            path,
            Some(&requester),
            None,
            &[("Accept-Language", header)],
        );
        assert_eq!(reply.body["title"], "見つかりません", "{header}");
    }
    // An unknown route speaks the same language.
    let en = app.send(
        "GET",
        "/api/v1/nothing-here",
        Some(&requester),
        None,
        &[("Accept-Language", "en")],
    );
    assert_problem(&en, 404);
    assert_eq!(en.body["title"], "Not found");

    // An illegal transition: the state is named in either language.
    let c = app.file(&requester, "言語のチェック");
    let c = app.must_fire(&requester, &c, "withdraw", json!({"reason": "不要"}));
    let body = json!({"event": "close", "version": c["version"]}).to_string();
    let transitions = format!("/api/v1/consultations/{}/transitions", c["id"]);
    let ja = app.send("POST", &transitions, Some(&requester), Some(&body), &[]);
    assert_problem(&ja, 422);
    assert_eq!(ja.body["title"], "入力内容に誤りがあります");
    assert_eq!(
        ja.body["detail"],
        "状態「withdrawn」ではイベント「close」は実行できません。実行できるイベント: なし"
    );
    let en = app.send(
        "POST",
        &transitions,
        Some(&requester),
        Some(&body),
        &[("Accept-Language", "en")],
    );
    assert_problem(&en, 422);
    assert_eq!(en.body["title"], "Invalid input");
    assert_eq!(
        en.body["detail"],
        "The event \"close\" is not allowed in state \"withdrawn\". Allowed events: none"
    );
    assert_eq!(en.body["state"], "withdrawn");
    assert_eq!(en.body["allowed_events"], json!([]));

    // Field messages too.
    let en = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some("{}"),
        &[("Accept-Language", "en")],
    );
    assert_problem(&en, 422);
    assert_eq!(en.body["title"], "Invalid input");
    assert_eq!(en.body["errors"]["title"], json!(["is required"]));
    let ja = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some("{}"),
        &[],
    );
    assert_problem(&ja, 422);
    let message = ja.body["errors"]["title"][0].as_str().unwrap_or_default();
    assert!(
        !message.is_empty() && !message.is_ascii(),
        "Japanese: {message}"
    );
}

fn the_dx_office_edits_a_consultation_with_its_version_and_others_may_not(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let se2 = app.login(&app.org.se2);
    let admin = app.login(&app.org.admin);
    let c = app.file(&requester, "編集のチェック");
    let path = format!("/api/v1/consultations/{}", c["id"]);

    let reply = app.patch(&path, &dx, json!({"version": 1, "priority": "high"}));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["priority"], "high");
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["state"], "received", "an edit is no transition");
    let timeline = app.timeline(&admin, &c["id"]);
    assert_eq!(timeline.len(), 2, "{timeline:?}");
    let update = &timeline[1];
    assert_eq!(update["event"], "update");
    assert_eq!(update["actor_id"], app.org.dx.id);
    assert_eq!(update["version"], 2);
    assert_eq!(update["from_state"], "received");
    assert_eq!(update["to_state"], "received");
    assert_eq!(
        update["payload"]["changes"],
        json!({"priority": ["normal", "high"]})
    );

    let before = snapshot(app, &admin, &c["id"]);
    assert_eq!(before.0["priority"], "high");
    // Requesters and SEs other than the assignee may not edit.
    for (who, token) in [("the requester", &requester), ("an SE", &se)] {
        let reply = app.patch(&path, token, json!({"version": 2, "priority": "urgent"}));
        assert_problem(&reply, 403);
        assert_unchanged(app, &admin, &before, who);
    }
    // A stale version.
    let reply = app.patch(&path, &dx, json!({"version": 1, "priority": "low"}));
    assert_problem(&reply, 409);
    assert_eq!(reply.body["current_version"], 2);
    assert_unchanged(app, &admin, &before, "stale edit");
    // Nothing to change, or nothing valid.
    for body in [
        json!({}),
        json!({"version": 2}),
        json!({"priority": "low"}),
        json!({"version": 2, "priority": "asap"}),
        json!({"version": 2, "category": "fax"}),
        json!({"version": 2, "title": "   "}),
        json!({"version": 2, "title": "a".repeat(201)}),
        json!({"version": "2", "priority": "low"}),
    ] {
        let reply = app.patch(&path, &dx, body.clone());
        assert_problem(&reply, 422);
        assert!(!error_fields(&reply).is_empty(), "{body}");
        assert_unchanged(app, &admin, &before, &body.to_string());
    }
    let reply = app.patch(&path, &dx, json!({}));
    assert!(error_fields(&reply).contains("version"));
    let reply = app.patch(&path, &dx, json!({"version": 2, "priority": "asap"}));
    assert_eq!(
        error_fields(&reply),
        BTreeSet::from(["priority".to_string()])
    );

    // The assignee may edit; another SE still may not.
    let c = app.must_fire(
        &dx,
        &before.0,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知の案件"}),
    );
    let reply = app.patch(
        &path,
        &se2,
        json!({"version": c["version"], "category": "rpa"}),
    );
    assert_problem(&reply, 403);
    let reply = app.patch(
        &path,
        &se,
        json!({"version": c["version"], "category": "rpa"}),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["category"], "rpa");
    assert_eq!(reply.body["version"], 4);

    // A withdrawn consultation is not edited any more.
    let c = app.must_fire(&dx, &reply.body, "withdraw", json!({"reason": "重複"}));
    let before = snapshot(app, &admin, &c["id"]);
    let reply = app.patch(
        &path,
        &dx,
        json!({"version": c["version"], "priority": "low"}),
    );
    assert_problem(&reply, 422);
    assert_unchanged(app, &admin, &before, "edit when withdrawn");
}

fn an_unknown_route_under_the_api_is_a_404_problem(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let c = app.file(&requester, "ルートのチェック");
    for (method, path, token) in [
        (
            "GET",
            "/api/v1/nothing-here".to_string(),
            Some(requester.as_str()),
        ),
        ("GET", "/api/v1/nothing-here".to_string(), None),
        (
            "GET",
            "/api/v2/consultations".to_string(),
            Some(requester.as_str()),
        ),
        (
            "POST",
            format!("/api/v1/consultations/{}/approve", c["id"]),
            Some(requester.as_str()),
        ),
        (
            "GET",
            "/api/v1/consultations/not-a-number".to_string(),
            Some(requester.as_str()),
        ),
        (
            "GET",
            "/api/v1/consultations/999999/events".to_string(),
            Some(requester.as_str()),
        ),
    ] {
        let body = (method == "POST").then_some("{}");
        let reply = app.send(method, &path, token, body, &[]);
        assert_problem(&reply, 404);
        assert_eq!(reply.body["title"], "見つかりません", "{method} {path}");
    }
}

both_backends!(
    every_event_the_table_does_not_allow_from_a_state_is_refused_with_422_and_changes_nothing,
    a_role_that_may_not_fire_an_event_gets_403_and_changes_nothing,
    a_stale_version_gets_409_with_the_current_version_and_changes_nothing,
    filing_reports_every_invalid_field_at_once_and_creates_nothing,
    transition_fields_are_checked_per_event_and_a_refusal_changes_nothing,
    a_wrongly_typed_field_of_a_transition_gets_422_naming_that_field,
    malformed_wrongly_typed_and_oversized_bodies_are_refused_before_anything_is_written,
    bad_list_parameters_get_400_naming_the_parameter,
    list_filters_select_exactly_what_they_name_and_pages_walk_without_gaps,
    error_messages_follow_accept_language_and_default_to_japanese,
    the_dx_office_edits_a_consultation_with_its_version_and_others_may_not,
    an_unknown_route_under_the_api_is_a_404_problem,
);
