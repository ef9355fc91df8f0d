//! The helpdesk stream through the API on both databases: the inquiry lifecycle,
//! every illegal pair, forbidden roles, visibility across divisions, stale
//! versions, the quick record of a phone call, escalation into a consultation,
//! filing on behalf, mail to the right people in their language, the first-answer
//! reminder and breach once each, and auto-close.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use digicon::db::schema::{inquiries, outbox};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{TestApp, User};
use crate::smtp::SmtpReceiver;

const WAIT: Duration = Duration::from_secs(15);

fn ask(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/api/v1/inquiries", token, body);
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

fn question(subject: &str) -> Value {
    json!({
        "subject": subject,
        "question": "一覧画面で自分の係のレコードだけ表示したいです。",
        "topic": "how_to",
    })
}

fn fire(app: &TestApp, token: &str, inquiry: &Value, event: &str, fields: Value) -> (u16, Value) {
    let mut body = fields;
    body["event"] = event.into();
    body["version"] = inquiry["version"].clone();
    let reply = app.post(
        &format!("/api/v1/inquiries/{}/transitions", inquiry["id"]),
        token,
        body,
    );
    (reply.status, reply.body)
}

fn must_fire(app: &TestApp, token: &str, inquiry: &Value, event: &str, fields: Value) -> Value {
    let (status, body) = fire(app, token, inquiry, event, fields);
    assert_eq!(status, 200, "{event}: {body:?}");
    body
}

fn current(app: &TestApp, id: &Value) -> Value {
    let admin = app.login(&app.org.admin);
    let reply = app.get(&format!("/api/v1/inquiries/{id}"), &admin);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn events(app: &TestApp, token: &str, id: &Value) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/inquiries/{id}/events"), token);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["items"].as_array().cloned().unwrap_or_default()
}

/// Outbox rows of one kind: (recipient e-mail, subject).
fn mail_of_kind(app: &TestApp, kind: &str) -> Vec<(String, String)> {
    let mut conn = app.pool.get().expect("connection");
    outbox::table
        .filter(outbox::kind.eq(kind))
        .order(outbox::id.asc())
        .select((outbox::recipient_email, outbox::subject))
        .load(&mut *conn)
        .expect("outbox")
}

fn emails(users: &[&User]) -> Vec<String> {
    let mut list: Vec<String> = users.iter().map(|u| u.email.clone()).collect();
    list.sort();
    list
}

fn recipients(rows: &[(String, String)]) -> Vec<String> {
    let mut list: Vec<String> = rows.iter().map(|(to, _)| to.clone()).collect();
    list.sort();
    list
}

fn an_inquiry_goes_from_question_to_closed_with_every_step_on_its_timeline(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let i = ask(app, &requester, question("自分の係だけ表示したい"));
    let year = i["fiscal_year"].as_i64().expect("year");
    assert_eq!(i["number"], format!("HD-{year}-00001"));
    assert_eq!(i["state"], "open");
    assert_eq!(i["channel"], "web");
    assert_eq!(i["asker_id"], app.org.requester.id);
    assert_eq!(i["filed_by"], app.org.requester.id);
    assert_eq!(
        i["department_id"], app.org.shimin_division,
        "the asker's division"
    );
    assert!(i["first_answer_due_at"].is_string(), "{i:?}");
    assert_eq!(i["allowed_events"], json!([]), "the asker waits");

    let second = ask(app, &requester, question("二件目"));
    assert_eq!(second["number"], format!("HD-{year}-00002"));

    let shown = app.get(&format!("/api/v1/inquiries/{}", i["id"]), &se);
    assert_eq!(
        shown.body["allowed_events"],
        json!(["take", "answer", "escalate"])
    );
    let i = must_fire(app, &se, &i, "take", json!({}));
    assert_eq!(i["state"], "open");
    assert_eq!(i["assignee_id"], app.org.se.id);
    let i = must_fire(
        app,
        &se,
        &i,
        "ask_back",
        json!({"message": "アプリ名を教えてください"}),
    );
    assert_eq!(i["state"], "waiting");
    assert!(
        i["first_answered_at"].is_string(),
        "asking back answers first"
    );
    let i = must_fire(
        app,
        &requester,
        &i,
        "reply",
        json!({"message": "申請管理です"}),
    );
    assert_eq!(i["state"], "open");
    let i = must_fire(
        app,
        &se,
        &i,
        "answer",
        json!({"answer": "アクセス権の設定で係ごとに絞り込めます"}),
    );
    assert_eq!(i["state"], "answered");
    assert_eq!(i["answer"], "アクセス権の設定で係ごとに絞り込めます");
    let i = must_fire(app, &requester, &i, "close", json!({"helped": true}));
    assert_eq!(i["state"], "closed");
    assert_eq!(i["helped"], true);
    assert!(i["closed_at"].is_string());
    assert_eq!(i["version"], 6);

    let timeline = events(app, &requester, &i["id"]);
    let steps: Vec<(String, i64)> = timeline
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_string(),
                e["version"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let expected: Vec<(String, i64)> = ["ask", "take", "ask_back", "reply", "answer", "close"]
        .iter()
        .zip(1..)
        .map(|(e, v)| (e.to_string(), v))
        .collect();
    assert_eq!(steps, expected);
}

/// Every (state, event) pair outside the table answers 422 and changes nothing.
fn every_illegal_pair_is_refused_and_changes_nothing(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let dx = app.login(&app.org.dx);
    // One inquiry in each state.
    let open = ask(app, &requester, question("受付"));
    let waiting = ask(app, &requester, question("確認待ち"));
    let waiting = must_fire(app, &se, &waiting, "take", json!({}));
    let waiting = must_fire(app, &se, &waiting, "ask_back", json!({"message": "確認"}));
    let answered = ask(app, &requester, question("回答済"));
    let answered = must_fire(app, &se, &answered, "answer", json!({"answer": "回答"}));
    let closed = ask(app, &requester, question("完了"));
    let closed = must_fire(app, &se, &closed, "answer", json!({"answer": "回答"}));
    let closed = must_fire(app, &requester, &closed, "close", json!({}));
    let escalated = ask(app, &requester, question("移行"));
    let escalated = must_fire(app, &dx, &escalated, "escalate", json!({}));

    let fields = json!({"answer": "回答", "message": "メッセージ", "helped": true});
    let table: &[(&Value, &[(&str, &str)])] = &[
        (&open, &[("reply", "requester"), ("close", "requester")]),
        (&waiting, &[("ask_back", "se"), ("close", "requester")]),
        (
            &answered,
            &[
                ("take", "se"),
                ("answer", "se"),
                ("ask_back", "se"),
                ("escalate", "dx"),
            ],
        ),
        (
            &closed,
            &[
                ("take", "se"),
                ("answer", "se"),
                ("ask_back", "se"),
                ("reply", "requester"),
                ("close", "requester"),
                ("escalate", "dx"),
            ],
        ),
        (
            &escalated,
            &[
                ("take", "se"),
                ("answer", "se"),
                ("ask_back", "se"),
                ("reply", "requester"),
                ("close", "requester"),
                ("escalate", "dx"),
            ],
        ),
    ];
    let mut refused = 0;
    for (inquiry, pairs) in table {
        for (event, who) in *pairs {
            let token = match *who {
                "se" => &se,
                "dx" => &dx,
                _ => &requester,
            };
            let before = current(app, &inquiry["id"]);
            let (status, body) = fire(app, token, inquiry, event, fields.clone());
            assert_eq!(status, 422, "{event} from {}: {body:?}", inquiry["state"]);
            assert_eq!(body["state"], inquiry["state"], "names the state");
            assert!(body["allowed_events"].is_array());
            assert_eq!(current(app, &inquiry["id"]), before, "nothing changed");
            refused += 1;
        }
    }
    assert_eq!(refused, 20);
}

fn roles_the_table_does_not_name_are_forbidden(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let colleague = app.login(&app.org.colleague);
    let manager = app.login(&app.org.manager);
    let se = app.login(&app.org.se);
    let se2 = app.login(&app.org.se2);
    let dx = app.login(&app.org.dx);
    let i = ask(app, &requester, question("権限"));
    for (token, event, who) in [
        (&requester, "answer", "requester"),
        (&requester, "take", "requester"),
        (&requester, "escalate", "requester"),
        (&manager, "take", "manager"),
        (&dx, "answer", "dx_office"),
    ] {
        let (status, body) = fire(app, token, &i, event, json!({"answer": "x"}));
        assert_eq!(status, 403, "{who} {event}: {body:?}");
    }
    let held = must_fire(app, &se, &i, "take", json!({}));
    // Asking back is the assignee's.
    let (status, _) = fire(app, &se2, &held, "ask_back", json!({"message": "?"}));
    assert_eq!(status, 403);
    let waiting = must_fire(app, &se, &held, "ask_back", json!({"message": "?"}));
    // Replying is the asker of record's, not a colleague's.
    let (status, _) = fire(app, &colleague, &waiting, "reply", json!({"message": "!"}));
    assert_eq!(status, 403);
    // Asking on someone's behalf and answering at once are the helpdesk's.
    let on_behalf = app.post(
        "/api/v1/inquiries",
        &requester,
        json!({"subject": "代理", "question": "代理", "topic": "other", "asker_id": app.org.colleague.id}),
    );
    assert_eq!(on_behalf.status, 403, "{:?}", on_behalf.body);
    let answered_now = app.post(
        "/api/v1/inquiries",
        &requester,
        json!({"subject": "自答", "question": "自答", "topic": "other", "answer": "自分で"}),
    );
    assert_eq!(answered_now.status, 403, "{:?}", answered_now.body);
    let phone = app.post(
        "/api/v1/inquiries",
        &requester,
        json!({"subject": "電話", "question": "電話", "topic": "other", "channel": "phone"}),
    );
    assert_eq!(phone.status, 422, "{:?}", phone.body);
    assert!(phone.body["errors"]["channel"].is_array());
    let list = app.get("/api/v1/inquiries?limit=200", &requester);
    assert_eq!(
        list.body["items"].as_array().map(Vec::len),
        Some(1),
        "nothing was created"
    );
}

fn inquiries_are_visible_within_the_division_only(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let i = ask(app, &requester, question("見える範囲"));
    let path = format!("/api/v1/inquiries/{}", i["id"]);
    for (user, expected) in [
        (&app.org.colleague, 200),
        (&app.org.manager, 200),
        (&app.org.se, 200),
        (&app.org.dx, 200),
        (&app.org.outsider, 404),
        (&app.org.other_manager, 404),
    ] {
        let token = app.login(user);
        assert_eq!(app.get(&path, &token).status, expected, "{}", user.email);
        assert_eq!(
            app.get(&format!("{path}/events"), &token).status,
            expected,
            "{}",
            user.email
        );
        let listed = app.get("/api/v1/inquiries", &token).body["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            listed.iter().any(|x| x["id"] == i["id"]),
            expected == 200,
            "{} list",
            user.email
        );
    }
    let outsider = app.login(&app.org.outsider);
    let (status, _) = fire(app, &outsider, &i, "reply", json!({"message": "x"}));
    assert_eq!(status, 404);
    let comment = app.post(
        &format!("{path}/comments"),
        &outsider,
        json!({"body": "見えないはず"}),
    );
    assert_eq!(comment.status, 404);
}

fn a_stale_version_is_a_conflict_and_changes_nothing(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let se2 = app.login(&app.org.se2);
    let i = ask(app, &requester, question("競合"));
    must_fire(app, &se, &i, "take", json!({}));
    let (status, body) = fire(app, &se2, &i, "answer", json!({"answer": "古い版で"}));
    assert_eq!(status, 409, "{body:?}");
    let now = current(app, &i["id"]);
    assert_eq!(now["state"], "open");
    assert_eq!(now["assignee_id"], app.org.se.id);
    assert_eq!(now["version"], 2);
}

fn a_phone_call_is_recorded_and_answered_in_one_step(app: &TestApp) {
    let se = app.login(&app.org.se);
    let requester = app.login(&app.org.requester);
    let i = ask(
        app,
        &se,
        json!({
            "subject": "ルックアップが更新されない",
            "question": "取得ボタンを押しても古い値のままです",
            "topic": "error",
            "asker_id": app.org.requester.id,
            "channel": "phone",
            "answer": "参照先アプリのアクセス権を確認してください",
        }),
    );
    assert_eq!(i["state"], "answered");
    assert_eq!(i["channel"], "phone");
    assert_eq!(i["asker_id"], app.org.requester.id);
    assert_eq!(i["filed_by"], app.org.se.id);
    assert_eq!(i["assignee_id"], app.org.se.id);
    assert_eq!(i["department_id"], app.org.shimin_division);
    assert!(i["first_answered_at"].is_string());
    let timeline = events(app, &requester, &i["id"]);
    let names: Vec<&str> = timeline
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(names, ["ask", "answer"]);
    assert_eq!(timeline[0]["actor_id"], app.org.se.id);
    // The asker gets the answer (not a receipt as well); the SE who took the call
    // is not told of their own record.
    assert_eq!(
        recipients(&mail_of_kind(app, "inquiry_answered")),
        emails(&[&app.org.requester])
    );
    assert!(mail_of_kind(app, "inquiry_receipt").is_empty());
    assert!(mail_of_kind(app, "inquiry_new").is_empty());
    // The asker may close it: "this helped".
    let closed = must_fire(app, &requester, &i, "close", json!({"helped": true}));
    assert_eq!(closed["state"], "closed");
}

fn an_inquiry_escalates_into_a_consultation_linked_both_ways(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let i = ask(app, &requester, question("新しいアプリが必要"));
    let i = must_fire(app, &se, &i, "escalate", json!({}));
    assert_eq!(i["state"], "escalated");
    let consultation_id = i["consultation_id"].clone();
    assert!(consultation_id.is_i64(), "{i:?}");
    let c = app.get(
        &format!("/api/v1/consultations/{consultation_id}"),
        &requester,
    );
    assert_eq!(c.status, 200, "the asker sees it: {:?}", c.body);
    assert_eq!(c.body["state"], "received");
    assert_eq!(c.body["requester_id"], app.org.requester.id);
    assert_eq!(c.body["filed_by"], app.org.se.id);
    assert_eq!(c.body["title"], "新しいアプリが必要");
    let body = c.body["body"].as_str().unwrap_or_default();
    assert!(body.contains("自分の係のレコードだけ"), "{body}");
    assert!(body.contains(i["number"].as_str().unwrap_or("?")), "{body}");
    // The asker gets the consultation's receipt, as if they had filed it.
    let receipts = mail_of_kind(app, "filed_receipt");
    assert_eq!(recipients(&receipts), emails(&[&app.org.requester]));
    assert_eq!(
        recipients(&mail_of_kind(app, "inquiry_escalated")),
        emails(&[&app.org.requester, &app.org.dx])
    );
}

fn the_dx_office_files_a_consultation_on_someones_behalf(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let requester = app.login(&app.org.requester);
    let filed = app.post(
        "/api/v1/consultations",
        &dx,
        json!({
            "title": "電話で受けた相談",
            "body": "窓口の予約を電子化したい",
            "category": "e_application",
            "requester_id": app.org.requester.id,
        }),
    );
    assert_eq!(filed.status, 201, "{:?}", filed.body);
    assert_eq!(filed.body["requester_id"], app.org.requester.id);
    assert_eq!(filed.body["filed_by"], app.org.dx.id);
    assert_eq!(filed.body["department_id"], app.org.shimin_division);
    let timeline = app.timeline(&requester, &filed.body["id"]);
    assert_eq!(timeline[0]["actor_id"], app.org.dx.id, "the typist acted");
    // The person of record gets the receipt and may close or withdraw it.
    assert_eq!(
        recipients(&mail_of_kind(app, "filed_receipt")),
        emails(&[&app.org.requester])
    );
    let shown = app.get(
        &format!("/api/v1/consultations/{}", filed.body["id"]),
        &requester,
    );
    assert!(shown.body["allowed_events"]
        .as_array()
        .is_some_and(|e| e.contains(&json!("withdraw"))));
    // A requester names nobody but themselves.
    let refused = app.post(
        "/api/v1/consultations",
        &requester,
        json!({"title": "代理", "body": "代理", "category": "rpa", "requester_id": app.org.colleague.id}),
    );
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let unknown = app.post(
        "/api/v1/consultations",
        &dx,
        json!({"title": "代理", "body": "代理", "category": "rpa", "requester_id": 999_999}),
    );
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);
    assert!(unknown.body["errors"]["requester_id"].is_array());
}

fn comments_and_internal_notes_on_inquiries(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let manager = app.login(&app.org.manager);
    let i = ask(app, &requester, question("コメント"));
    let path = format!("/api/v1/inquiries/{}/comments", i["id"]);
    assert_eq!(
        app.post(&path, &se, json!({"body": "内部", "internal": true}))
            .status,
        201
    );
    assert_eq!(
        app.post(&path, &requester, json!({"body": "公開"})).status,
        201
    );
    assert_eq!(
        app.post(&path, &requester, json!({"body": "内部", "internal": true}))
            .status,
        403
    );
    assert_eq!(
        app.post(&path, &manager, json!({"body": "管理職"})).status,
        403
    );
    let long = app.post(&path, &requester, json!({"body": "あ".repeat(10_001)}));
    assert_eq!(long.status, 422);
    let seen = |token: &str| -> Vec<String> {
        events(app, token, &i["id"])
            .iter()
            .filter(|e| e["kind"] == "comment")
            .map(|e| {
                e["payload"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(seen(&requester), ["公開"]);
    assert_eq!(seen(&se), ["内部", "公開"]);
}

fn the_queue_views_and_filters_list_the_right_inquiries(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let fresh = ask(app, &requester, question("未割当"));
    let mine = ask(app, &requester, question("自分の"));
    let mine = must_fire(app, &se, &mine, "take", json!({}));
    let waiting = ask(
        app,
        &requester,
        json!({"subject": "確認待ち", "question": "q", "topic": "permissions"}),
    );
    let waiting = must_fire(app, &se, &waiting, "take", json!({}));
    must_fire(app, &se, &waiting, "ask_back", json!({"message": "?"}));
    let ids = |query: &str| -> Vec<Value> {
        let reply = app.get(&format!("/api/v1/inquiries?{query}"), &se);
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
        reply.body["items"]
            .as_array()
            .map(|items| items.iter().map(|i| i["id"].clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids("view=unassigned"), [fresh["id"].clone()]);
    assert_eq!(
        ids("view=mine"),
        [waiting["id"].clone(), mine["id"].clone()]
    );
    assert_eq!(ids("view=waiting"), [waiting["id"].clone()]);
    assert_eq!(ids("topic=permissions"), [waiting["id"].clone()]);
    assert_eq!(ids("q=確認待ち"), [waiting["id"].clone()]);
    assert!(ids("view=overdue").is_empty());
    // Pages follow each other without overlap.
    let first = app.get("/api/v1/inquiries?limit=2", &se);
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let second = app.get(&format!("/api/v1/inquiries?limit=2&cursor={cursor}"), &se);
    assert_eq!(second.body["items"].as_array().map(Vec::len), Some(1));
    assert!(second.body["next_cursor"].is_null());
    for bad in [
        "state=lost",
        "topic=gossip",
        "view=everything",
        "cursor=%%%",
        "limit=0",
    ] {
        assert_eq!(
            app.get(&format!("/api/v1/inquiries?{bad}"), &se).status,
            400,
            "{bad}"
        );
    }
    // Past its first-answer due time and unanswered: overdue.
    {
        let mut conn = app.pool.get().expect("connection");
        let past = Utc::now().naive_utc() - chrono::Duration::hours(1);
        diesel::update(inquiries::table.find(fresh["id"].as_i64().expect("id")))
            .set(inquiries::first_answer_due_at.eq(Some(past)))
            .execute(&mut *conn)
            .expect("update");
    }
    assert_eq!(ids("view=overdue"), [fresh["id"].clone()]);
    assert_eq!(ids("overdue=true"), [fresh["id"].clone()]);
}

fn bad_input_is_a_clear_error_and_creates_nothing(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let reply = app.post("/api/v1/inquiries", &requester, json!({"topic": "gossip"}));
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    for field in ["subject", "question", "topic"] {
        assert!(
            reply.body["errors"][field].is_array(),
            "{field}: {:?}",
            reply.body
        );
    }
    let key = [("Idempotency-Key", "retry-1")];
    let post = |body: Value| {
        app.send(
            "POST",
            "/api/v1/inquiries",
            Some(&requester),
            Some(&body.to_string()),
            &key,
        )
    };
    let first = post(question("再送"));
    let again = post(question("再送"));
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(
        first.body["id"], again.body["id"],
        "a retry creates nothing new"
    );
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    let other = post(question("別物"));
    assert_eq!(other.status, 409);
    let list = app.get("/api/v1/inquiries", &requester);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
}

/// The two streams side by side, from the rollups each change keeps.
fn the_report_counts_both_streams_within_the_scope(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let dx = app.login(&app.org.dx);
    app.file(&requester, "報告に数える相談");
    let first = ask(app, &requester, question("一件目"));
    ask(
        app,
        &requester,
        json!({"subject": "二件目", "question": "q", "topic": "error"}),
    );
    let third = ask(app, &requester, question("三件目"));
    must_fire(app, &se, &first, "answer", json!({"answer": "回答"}));
    must_fire(app, &dx, &third, "escalate", json!({}));
    let article = app.post(
        "/api/v1/faq",
        &se,
        json!({"title": "t", "question": "q", "answer": "a", "topic": "other"}),
    );
    let solved = app.post(
        "/api/v1/faq/solved",
        &requester,
        json!({"faq_id": article.body["id"]}),
    );
    assert_eq!(solved.status, 204);
    let report = |token: &str| app.get("/api/v1/dashboard/helpdesk", token);
    let whole = report(&dx);
    assert_eq!(whole.status, 200, "{:?}", whole.body);
    let r = &whole.body;
    // One filed directly, one escalated from the third inquiry.
    assert_eq!(r["consultations"], 2, "{r:?}");
    assert_eq!(r["inquiries"], 3);
    assert_eq!(r["first_answers"], 1);
    assert_eq!(r["escalated"], 1);
    assert_eq!(r["deflected"], 1);
    // A recount (`digicon reindex`, a reorganisation) gives the same report.
    {
        let mut conn = app.pool.get().expect("connection");
        digicon::db::stats::rebuild(&mut conn, &chrono_tz::Asia::Tokyo).expect("recount");
    }
    assert_eq!(report(&dx).body, whole.body);
    let months = r["months"].as_array().expect("months");
    assert_eq!(months.len(), 12);
    let inquiries_by_month: i64 = months.iter().filter_map(|m| m["inquiries"].as_i64()).sum();
    assert_eq!(inquiries_by_month, 3);
    assert_eq!(
        r["by_topic"][0],
        json!({"key": "how_to", "count": 2, "name": null})
    );
    assert_eq!(r["by_se"][0]["name"], "鈴木");
    // 市民局's manager sees them; 保育課's manager counts none of them.
    assert_eq!(report(&app.login(&app.org.manager)).body["inquiries"], 3);
    let other = report(&app.login(&app.org.other_manager));
    assert_eq!(other.body["inquiries"], 0, "{:?}", other.body);
    assert_eq!(report(&requester).status, 403);
    assert_eq!(
        app.get("/api/v1/dashboard/helpdesk?fiscal_year=19", &dx)
            .status,
        400
    );
}

both_backends!(
    the_report_counts_both_streams_within_the_scope,
    an_inquiry_goes_from_question_to_closed_with_every_step_on_its_timeline,
    every_illegal_pair_is_refused_and_changes_nothing,
    roles_the_table_does_not_name_are_forbidden,
    inquiries_are_visible_within_the_division_only,
    a_stale_version_is_a_conflict_and_changes_nothing,
    a_phone_call_is_recorded_and_answered_in_one_step,
    an_inquiry_escalates_into_a_consultation_linked_both_ways,
    the_dx_office_files_a_consultation_on_someones_behalf,
    comments_and_internal_notes_on_inquiries,
    the_queue_views_and_filters_list_the_right_inquiries,
    bad_input_is_a_clear_error_and_creates_nothing,
);

/// Over real SMTP: the asker's receipt and answer in their language, the
/// helpdesk told of a new question, the first-answer reminder and breach once
/// each, and an answered inquiry closed by the worker after five business days.
fn mail_sla_and_auto_close(app: &TestApp, receiver: &SmtpReceiver) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let me = app.patch("/api/v1/me", &requester, json!({"locale": "en"}));
    assert_eq!(me.status, 200, "{:?}", me.body);
    let i = ask(app, &requester, question("メールの確認"));
    let number = i["number"].as_str().expect("number").to_string();
    let wait_for = |address: &str, needle: &str| {
        let start = std::time::Instant::now();
        loop {
            let found = receiver
                .to(address)
                .iter()
                .filter(|m| m.subject().contains(needle))
                .count();
            if found > 0 {
                return found;
            }
            assert!(
                start.elapsed() < WAIT,
                "no mail to {address} with {needle:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(
        wait_for(
            &app.org.requester.email,
            &format!("[{number}] Inquiry received")
        ),
        1
    );
    wait_for(&app.org.se.email, "新しい問い合わせ");
    wait_for(&app.org.se2.email, "新しい問い合わせ");

    // Due in an hour: a reminder; then past due: a breach notice; each once.
    let set_due = |hours: i64| {
        let mut conn = app.pool.get().expect("connection");
        let at = Utc::now().naive_utc() + chrono::Duration::hours(hours);
        diesel::update(inquiries::table.find(i["id"].as_i64().expect("id")))
            .set(inquiries::first_answer_due_at.eq(Some(at)))
            .execute(&mut *conn)
            .expect("update");
    };
    set_due(1);
    wait_for(&app.org.se.email, "初回回答の期限が近づいています");
    set_due(-1);
    wait_for(&app.org.se.email, "初回回答の期限を過ぎています");
    wait_for(&app.org.dx_manager.email, "初回回答の期限を過ぎています");
    std::thread::sleep(Duration::from_millis(2500)); // several more sweeps
    let count = |needle: &str| {
        receiver
            .to(&app.org.se.email)
            .iter()
            .filter(|m| m.subject().contains(needle))
            .count()
    };
    assert_eq!(count("初回回答の期限が近づいています"), 1, "one reminder");
    assert_eq!(
        count("初回回答の期限を過ぎています"),
        1,
        "one breach notice"
    );

    let i = must_fire(
        app,
        &se,
        &current(app, &i["id"]),
        "answer",
        json!({"answer": "できます"}),
    );
    wait_for(&app.org.requester.email, &format!("[{number}] Answered"));
    {
        let mut conn = app.pool.get().expect("connection");
        let long_ago = Utc::now().naive_utc() - chrono::Duration::days(10);
        diesel::update(inquiries::table.find(i["id"].as_i64().expect("id")))
            .set(inquiries::answered_at.eq(Some(long_ago)))
            .execute(&mut *conn)
            .expect("update");
    }
    let start = std::time::Instant::now();
    while current(app, &i["id"])["state"] != "closed" {
        assert!(start.elapsed() < WAIT, "not closed by the worker");
        std::thread::sleep(Duration::from_millis(200));
    }
    let timeline = events(app, &requester, &i["id"]);
    let close = timeline.last().expect("events");
    assert_eq!(close["event"], "close");
    assert!(close["actor_id"].is_null(), "closed by the system");
}

mod with_smtp {
    use super::mail_sla_and_auto_close;
    use crate::helpers::{spawn_app_with, Backend};
    use crate::smtp::SmtpReceiver;

    #[test]
    fn sqlite() {
        let receiver = SmtpReceiver::start();
        let url = receiver.url();
        let app = spawn_app_with(Backend::Sqlite, move |s| {
            s.smtp_url = Some(url);
            s.sla_sweep_secs = 1;
        })
        .expect("app");
        mail_sla_and_auto_close(&app, &receiver);
    }

    #[test]
    fn postgres() {
        let receiver = SmtpReceiver::start();
        let url = receiver.url();
        if let Some(app) = spawn_app_with(Backend::Postgres, move |s| {
            s.smtp_url = Some(url);
            s.sla_sweep_secs = 1;
        }) {
            mail_sla_and_auto_close(&app, &receiver);
        }
    }
}
