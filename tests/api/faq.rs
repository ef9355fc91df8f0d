//! The FAQ through the API on both databases: who writes it, publishing an
//! answered inquiry, edits with versions, suggestions within visibility, and
//! "this solved it" counted.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::TestApp;

fn article(title: &str) -> Value {
    json!({
        "title": title,
        "question": "ルックアップの取得ボタンを押しても値が更新されません",
        "answer": "参照先アプリの閲覧権限を確認してください",
        "topic": "error",
    })
}

fn the_helpdesk_writes_the_faq_and_everyone_reads_it(app: &TestApp) {
    let se = app.login(&app.org.se);
    let requester = app.login(&app.org.requester);
    let manager = app.login(&app.org.manager);
    for (token, expected) in [(&requester, 403), (&manager, 403)] {
        let reply = app.post("/api/v1/faq", token, article("書けない"));
        assert_eq!(reply.status, expected, "{:?}", reply.body);
    }
    let created = app.post("/api/v1/faq", &se, article("ルックアップが更新されない"));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].clone();
    let read = app.get(&format!("/api/v1/faq/{id}"), &requester);
    assert_eq!(read.status, 200);
    assert_eq!(read.body["title"], "ルックアップが更新されない");
    let listed = app.get("/api/v1/faq?q=ルックアップ", &requester);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let none = app.get("/api/v1/faq?q=ライセンス", &requester);
    assert_eq!(none.body["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(app.get("/api/v1/faq?topic=gossip", &requester).status, 400);

    let mut edit = article("ルックアップの値が古いまま");
    edit["version"] = json!(1);
    let edited = app.patch(&format!("/api/v1/faq/{id}"), &se, edit.clone());
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(edited.body["version"], 2);
    let stale = app.patch(&format!("/api/v1/faq/{id}"), &se, edit);
    assert_eq!(stale.status, 409, "{:?}", stale.body);
    let refused = app.patch(
        &format!("/api/v1/faq/{id}"),
        &requester,
        json!({"version": 2}),
    );
    assert_eq!(refused.status, 403);
    let invalid = app.post("/api/v1/faq", &se, json!({"title": "", "topic": "gossip"}));
    assert_eq!(invalid.status, 422);
    for field in ["title", "question", "answer", "topic"] {
        assert!(invalid.body["errors"][field].is_array(), "{field}");
    }
    assert_eq!(app.get("/api/v1/faq/999999", &requester).status, 404);
}

fn an_answer_is_published_and_suggested_before_anyone_asks_again(app: &TestApp) {
    let se = app.login(&app.org.se);
    let requester = app.login(&app.org.requester);
    let outsider = app.login(&app.org.outsider);
    let asked = app.post(
        "/api/v1/inquiries",
        &requester,
        json!({"subject": "CSV読み込みで文字化けする", "question": "Excelで作ったCSVを読み込むと文字化けします", "topic": "how_to"}),
    );
    assert_eq!(asked.status, 201);
    let unanswered = app.post(
        "/api/v1/faq",
        &se,
        json!({"source_inquiry_id": asked.body["id"]}),
    );
    assert_eq!(unanswered.status, 422, "{:?}", unanswered.body);
    let answered = app.post(
        &format!("/api/v1/inquiries/{}/transitions", asked.body["id"]),
        &se,
        json!({"event": "answer", "version": 1, "answer": "UTF-8 (BOM付き) で保存してください"}),
    );
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    // Suggestions: the answered inquiry for its division, nothing for another.
    let draft = "CSVを読み込むと文字化けしてしまう";
    let suggest = |token: &str| {
        let reply = app.get(&format!("/api/v1/faq/suggest?text={draft}"), token);
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body
    };
    let seen = suggest(&app.login(&app.org.colleague));
    assert_eq!(seen["inquiries"][0]["id"], asked.body["id"], "{seen:?}");
    assert_eq!(
        suggest(&outsider)["inquiries"],
        json!([]),
        "another division's"
    );
    let published = app.post(
        "/api/v1/faq",
        &se,
        json!({"source_inquiry_id": asked.body["id"]}),
    );
    assert_eq!(published.status, 201, "{:?}", published.body);
    assert_eq!(published.body["title"], "CSV読み込みで文字化けする");
    assert_eq!(
        published.body["answer"],
        "UTF-8 (BOM付き) で保存してください"
    );
    assert_eq!(published.body["source_inquiry_id"], asked.body["id"]);
    let now = suggest(&outsider);
    assert_eq!(now["articles"][0]["id"], published.body["id"], "{now:?}");
    assert_eq!(
        suggest(&outsider)["articles"].as_array().map(Vec::len),
        Some(1)
    );
    let unrelated = app.get("/api/v1/faq/suggest?text=ライセンスを追加したい", &outsider);
    assert_eq!(unrelated.body["articles"], json!([]));

    // "This solved it" counts; one that names nothing or what cannot be seen does not.
    let solved = app.post(
        "/api/v1/faq/solved",
        &outsider,
        json!({"faq_id": published.body["id"]}),
    );
    assert_eq!(solved.status, 204, "{:?}", solved.body);
    let hidden = app.post(
        "/api/v1/faq/solved",
        &outsider,
        json!({"inquiry_id": asked.body["id"]}),
    );
    assert_eq!(hidden.status, 404);
    let nothing = app.post("/api/v1/faq/solved", &outsider, json!({}));
    assert_eq!(nothing.status, 422);
    let mut conn = app.pool.get().expect("connection");
    use diesel::prelude::*;
    let counted: i64 = digicon::db::schema::deflections::table
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(counted, 1);
}

both_backends!(
    the_helpdesk_writes_the_faq_and_everyone_reads_it,
    an_answer_is_published_and_suggested_before_anyone_asks_again,
);
