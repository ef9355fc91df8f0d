//! A consultation through every state of the workflow, as its people would move it.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{future_hearing, TestApp};

fn events_of(timeline: &[Value]) -> Vec<(String, Option<String>, String, i64)> {
    timeline
        .iter()
        .filter(|i| i["kind"] == "event")
        .map(|i| {
            (
                i["event"].as_str().unwrap_or_default().to_string(),
                i["from_state"].as_str().map(str::to_string),
                i["to_state"].as_str().unwrap_or_default().to_string(),
                i["version"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

fn a_consultation_walks_from_received_through_every_state_to_closed(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);

    let c = app.file(&requester, "窓口の受付簿を電子化したい");
    assert_eq!(c["state"], "received");
    assert_eq!(c["version"], 1);
    assert!(
        c["number"]
            .as_str()
            .unwrap_or_default()
            .starts_with("DX-20"),
        "{c}"
    );
    assert_eq!(
        c["department_id"], app.org.shimin_division,
        "filed for the requester's division"
    );
    assert_eq!(c["allowed_events"], json!(["withdraw"]));

    let hearing_at = future_hearing();
    let c = app.must_fire(
        &dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": hearing_at, "hearing_place": "本庁舎5階 会議室A"}),
    );
    assert_eq!(c["state"], "hearing");
    assert_eq!(c["hearing_at"], hearing_at);
    assert!(c["first_response_at"].is_string());

    let c = app.must_fire(&se, &c, "assign", json!({"assignee_id": app.org.se.id}));
    assert_eq!(c["state"], "assigned");
    assert_eq!(c["assignee_id"], app.org.se.id);
    assert_eq!(
        c["allowed_events"],
        json!(["assign", "request_info", "resolve"])
    );

    let c = app.must_fire(
        &se,
        &c,
        "request_info",
        json!({"message": "現在の様式を共有してください"}),
    );
    assert_eq!(c["state"], "waiting");
    let c = app.must_fire(
        &requester,
        &c,
        "provide_info",
        json!({"message": "共有フォルダに置きました"}),
    );
    assert_eq!(c["state"], "assigned");
    let c = app.must_fire(
        &se,
        &c,
        "resolve",
        json!({"resolution": "kintone アプリを作成しました"}),
    );
    assert_eq!(c["state"], "resolved");
    assert!(c["resolved_at"].is_string());
    let c = app.must_fire(
        &requester,
        &c,
        "reopen",
        json!({"reason": "集計欄が足りません"}),
    );
    assert_eq!(c["state"], "assigned");
    assert!(c["resolved_at"].is_null());
    let c = app.must_fire(
        &se,
        &c,
        "resolve",
        json!({"resolution": "集計欄を追加しました"}),
    );
    let c = app.must_fire(&requester, &c, "close", json!({"rating": 5}));
    assert_eq!(c["state"], "closed");
    assert_eq!(c["rating"], 5);
    assert_eq!(c["version"], 9);
    assert_eq!(c["allowed_events"], json!([]));

    let timeline = app.timeline(&requester, &c["id"]);
    let expected: Vec<(&str, Option<&str>, &str)> = vec![
        ("file", None, "received"),
        ("schedule_hearing", Some("received"), "hearing"),
        ("assign", Some("hearing"), "assigned"),
        ("request_info", Some("assigned"), "waiting"),
        ("provide_info", Some("waiting"), "assigned"),
        ("resolve", Some("assigned"), "resolved"),
        ("reopen", Some("resolved"), "assigned"),
        ("resolve", Some("assigned"), "resolved"),
        ("close", Some("resolved"), "closed"),
    ];
    let got = events_of(&timeline);
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (i, ((event, from, to, version), (e, f, t))) in got.iter().zip(&expected).enumerate() {
        assert_eq!((event.as_str(), from.as_deref(), to.as_str()), (*e, *f, *t));
        assert_eq!(*version, i as i64 + 1, "versions number the timeline");
    }
    let assign = &timeline[2];
    assert_eq!(assign["actor_id"], app.org.se.id);
    assert_eq!(assign["payload"]["assignee_id"], app.org.se.id);
}

fn the_dx_office_withdraws_a_duplicate_naming_the_original(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let original = app.file(&requester, "RPA で伝票起票を自動化したい");
    let duplicate = app.file(&requester, "伝票起票の RPA 化");
    let withdrawn = app.must_fire(
        &dx,
        &duplicate,
        "withdraw",
        json!({"reason": "重複", "duplicate_of": original["id"]}),
    );
    assert_eq!(withdrawn["state"], "withdrawn");
    assert_eq!(withdrawn["duplicate_of"], original["id"]);
    assert!(withdrawn["closed_at"].is_string());
}

fn a_requester_withdraws_their_own_consultation_but_not_a_colleagues(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let colleague = app.login(&app.org.colleague);
    let mine = app.file(&requester, "自分の相談");
    let reply = app.fire(&colleague, &mine, "withdraw", json!({"reason": "不要"}));
    assert_eq!(reply.status, 403, "{:?}", reply.body);
    let withdrawn = app.must_fire(
        &requester,
        &mine,
        "withdraw",
        json!({"reason": "課内で解決しました"}),
    );
    assert_eq!(withdrawn["state"], "withdrawn");
}

fn assigning_straight_from_received_needs_a_reason(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let c = app.file(&requester, "急ぎの相談");
    let reply = app.fire(&dx, &c, "assign", json!({"assignee_id": app.org.se.id}));
    assert_eq!(reply.status, 422);
    assert!(
        reply.body["errors"]["reason"].is_array(),
        "{:?}",
        reply.body
    );
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "前回ヒアリング済み"}),
    );
    assert_eq!(c["state"], "assigned");
}

fn the_dx_office_hands_work_from_one_se_to_another(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se2 = app.login(&app.org.se2);
    let c = app.file(&requester, "引き継ぎの相談");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知の案件"}),
    );
    // Another SE may not take it away from the assignee's hands for someone else…
    let reply = app.fire(&se2, &c, "assign", json!({"assignee_id": app.org.dx.id}));
    assert_eq!(reply.status, 403, "{:?}", reply.body);
    // …and only a helpdesk SE can be the assignee.
    let reply = app.fire(&dx, &c, "assign", json!({"assignee_id": app.org.dx.id}));
    assert_eq!(reply.status, 422);
    assert!(reply.body["errors"]["assignee_id"].is_array());
    let c = app.must_fire(&dx, &c, "assign", json!({"assignee_id": app.org.se2.id}));
    assert_eq!(c["assignee_id"], app.org.se2.id);
    let timeline = app.timeline(&dx, &c["id"]);
    let last = timeline.last().expect("events");
    assert_eq!(last["payload"]["previous_assignee_id"], app.org.se.id);
}

both_backends!(
    a_consultation_walks_from_received_through_every_state_to_closed,
    the_dx_office_withdraws_a_duplicate_naming_the_original,
    a_requester_withdraws_their_own_consultation_but_not_a_colleagues,
    assigning_straight_from_received_needs_a_reason,
    the_dx_office_hands_work_from_one_se_to_another,
);
