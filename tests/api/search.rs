//! Japanese full-text search through the bigram index, on both databases.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::TestApp;

fn file(app: &TestApp, token: &str, title: &str, body: &str) -> Value {
    let reply = app.post(
        "/api/v1/consultations",
        token,
        json!({"title": title, "body": body, "category": "other"}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

fn numbers(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let path = format!(
        "/api/v1/consultations?q={}",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let reply = app.get(&path, token);
    assert_eq!(reply.status, 200, "{q}: {:?}", reply.body);
    // A malformed reply fails here rather than reading as "found nothing".
    reply.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: no items in {:?}", reply.body))
        .iter()
        .map(|i| i["title"].as_str().expect("title").to_string())
        .collect()
}

fn japanese_words_are_found_inside_sentences(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    file(
        app,
        &requester,
        "電子申請の受付業務をデジタル化したい",
        "紙の申請書を毎月手入力しています",
    );
    file(
        app,
        &requester,
        "会議録の作成を自動化したい",
        "録音から文字起こしをしたい",
    );
    file(
        app,
        &requester,
        "給付金の支給事務",
        "口座確認に時間がかかる",
    );
    assert_eq!(
        numbers(app, &requester, "申請"),
        vec!["電子申請の受付業務をデジタル化したい"]
    );
    assert_eq!(
        numbers(app, &requester, "受付業務"),
        vec!["電子申請の受付業務をデジタル化したい"]
    );
    assert_eq!(
        numbers(app, &requester, "会議"),
        vec!["会議録の作成を自動化したい"]
    );
    assert_eq!(
        numbers(app, &requester, "文字起こし"),
        vec!["会議録の作成を自動化したい"],
        "body text is searched"
    );
    assert_eq!(
        numbers(app, &requester, "給付 口座"),
        vec!["給付金の支給事務"],
        "words combine"
    );
    assert!(
        numbers(app, &requester, "申請受付").is_empty(),
        "bigrams must be consecutive"
    );
    assert_eq!(numbers(app, &requester, "自動化").len(), 1);
    assert_eq!(
        numbers(app, &requester, "化").len(),
        2,
        "a single character is found by scanning"
    );
}

fn full_width_half_width_and_case_are_alike(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    file(app, &requester, "ｱﾌﾟﾘの改修", "半角カナで書かれた件名");
    file(app, &requester, "ＲＰＡ導入", "全角英字");
    file(app, &requester, "Kintone の活用", "英字");
    assert_eq!(numbers(app, &requester, "アプリ"), vec!["ｱﾌﾟﾘの改修"]);
    assert_eq!(numbers(app, &requester, "rpa"), vec!["ＲＰＡ導入"]);
    assert_eq!(numbers(app, &requester, "KINTONE"), vec!["Kintone の活用"]);
}

fn title_matches_rank_first_then_the_newest(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    file(app, &requester, "窓口の混雑", "予約システムを入れたい");
    file(
        app,
        &requester,
        "予約システムの導入",
        "窓口の混雑を減らしたい",
    );
    file(
        app,
        &requester,
        "予約受付の電話",
        "予約システムで電話を減らしたい",
    );
    assert_eq!(
        numbers(app, &requester, "予約システム"),
        vec!["予約システムの導入", "予約受付の電話", "窓口の混雑"],
        "the title hit first, then newest first"
    );
}

/// Every page of a search, one row per page, following the cursor.
fn all_pages(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let mut titles = vec![];
    let mut cursor = String::new();
    loop {
        let reply = app.get(
            &format!(
                "/api/v1/consultations?limit=1&q={}&cursor={cursor}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ),
            token,
        );
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        for item in reply.body["items"].as_array().expect("items") {
            titles.push(item["title"].as_str().expect("title").to_string());
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return titles,
        }
        assert!(titles.len() < 50, "the pages never end: {titles:?}");
    }
}

fn search_pages_keep_the_relevance_order_when_others_match_more_recently(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let outsider = app.login(&app.org.outsider);
    file(app, &requester, "庁内ポータルの刷新", "古い");
    file(app, &requester, "掲示板の整理", "庁内ポータルに載せたい");
    // Newer matches the requester may not see, more than the index's first window
    // holds for a one-row page: the older visible ones must still be found.
    for i in 0..20 {
        file(app, &outsider, &format!("庁内ポータル {i}"), "他課");
    }
    file(app, &requester, "照会の削減", "庁内ポータルで回答したい");
    file(app, &requester, "庁内ポータルの検索", "新しい");
    assert_eq!(
        all_pages(app, &requester, "庁内ポータル"),
        vec![
            "庁内ポータルの検索",
            "庁内ポータルの刷新",
            "照会の削減",
            "掲示板の整理"
        ],
        "title matches newest first, then the others newest first, each once"
    );
}

fn search_respects_visibility_and_internal_notes(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let outsider = app.login(&app.org.outsider);
    let se = app.login(&app.org.se);
    let c = file(app, &requester, "住民票の郵送請求", "郵送で届く請求書");
    assert!(
        numbers(app, &outsider, "郵送").is_empty(),
        "another division's consultation is never found"
    );
    let note = app.post(
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        &se,
        json!({"body": "担当課長と調整済み", "internal": true}),
    );
    assert_eq!(note.status, 201);
    assert_eq!(
        numbers(app, &se, "調整済み").len(),
        1,
        "staff search internal notes"
    );
    assert!(
        numbers(app, &requester, "調整済み").is_empty(),
        "requesters never match internal notes"
    );
}

fn the_index_follows_edits_comments_and_resolutions(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let c = file(app, &requester, "旧い件名", "本文");
    let edited = app.patch(
        &format!("/api/v1/consultations/{}", c["id"]),
        &dx,
        json!({"version": 1, "title": "新しい件名"}),
    );
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert!(numbers(app, &requester, "旧い").is_empty());
    assert_eq!(numbers(app, &requester, "新しい").len(), 1);
    app.post(
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        &requester,
        json!({"body": "補足資料を添付します"}),
    );
    assert_eq!(numbers(app, &requester, "補足資料").len(), 1);
    let c = app.must_fire(
        &dx,
        &edited.body,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "急ぎ"}),
    );
    app.must_fire(
        &se,
        &c,
        "resolve",
        json!({"resolution": "ワークフロー機能で解決"}),
    );
    assert_eq!(
        numbers(app, &requester, "ワークフロー").len(),
        1,
        "the resolution is searchable"
    );
}

fn similar_consultations_suggest_open_and_resolved_ones_the_caller_may_see(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let outsider = app.login(&app.org.outsider);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let resolved = file(
        app,
        &requester,
        "電子申請の受付を始めたい",
        "窓口での受付を電子申請に切り替えたい",
    );
    let resolved = app.must_fire(
        &dx,
        &resolved,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    app.must_fire(
        &se,
        &resolved,
        "resolve",
        json!({"resolution": "汎用電子申請システムのテンプレートで対応できます"}),
    );
    file(
        app,
        &requester,
        "電子申請のフォーム作成",
        "申請フォームを作りたい",
    );
    let withdrawn = file(app, &requester, "電子申請を使いたい", "重複");
    app.must_fire(
        &requester,
        &withdrawn,
        "withdraw",
        json!({"reason": "重複"}),
    );
    file(app, &requester, "会議室の予約", "関係のない相談");
    file(app, &outsider, "電子申請で保育園の申込", "保育課の相談");
    let similar = |token: &str| -> Vec<Value> {
        let reply = app.get("/api/v1/consultations/similar?title=%E9%9B%BB%E5%AD%90%E7%94%B3%E8%AB%8B&body=%E5%8F%97%E4%BB%98", token);
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["items"].as_array().cloned().expect("items")
    };
    let mine = similar(&requester);
    let titles: Vec<&str> = mine
        .iter()
        .map(|i| i["title"].as_str().expect("title"))
        .collect();
    assert_eq!(
        titles.first(),
        Some(&"電子申請の受付を始めたい"),
        "{titles:?}"
    );
    assert!(titles.contains(&"電子申請のフォーム作成"));
    assert!(
        !titles.contains(&"電子申請を使いたい"),
        "withdrawn ones are not suggested"
    );
    assert!(!titles.contains(&"会議室の予約"));
    assert!(
        !titles.contains(&"電子申請で保育園の申込"),
        "another division's are not shown"
    );
    assert_eq!(
        mine[0]["resolution"],
        "汎用電子申請システムのテンプレートで対応できます"
    );
    assert!(
        similar(&dx)
            .iter()
            .any(|i| i["title"] == "電子申請で保育園の申込"),
        "staff see every division"
    );
    assert!(similar(&dx).len() <= 5);
}

/// The page of a new consultation looks for similar ones once and keeps them; a
/// new title makes it look again.
fn a_new_consultations_similar_ones_are_found_once_and_kept_until_its_title_changes(app: &TestApp) {
    use diesel::prelude::*;
    use digicon::db::schema::similar_cache;
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    file(
        app,
        &requester,
        "電子申請の受付を始めたい",
        "窓口の受付を電子化",
    );
    let new = file(
        app,
        &requester,
        "電子申請の受付方法",
        "受付を電子申請にしたい",
    );
    let kept = |id: &Value| -> Option<String> {
        let mut conn = app.pool.get().expect("connection");
        similar_cache::table
            .find(id.as_i64().expect("id"))
            .select(similar_cache::similar_ids)
            .first(&mut *conn)
            .optional()
            .expect("query")
    };
    let mut session = crate::session::Session::new(app);
    session.login(&app.org.dx.email);
    let page = session.get(&format!("/consultations/{}", new["id"]));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("電子申請の受付を始めたい"),
        "the similar one is shown"
    );
    assert!(kept(&new["id"]).is_some(), "and kept for the next visit");
    let edited = app.patch(
        &format!("/api/v1/consultations/{}", new["id"]),
        &dx,
        json!({"version": new["version"], "title": "会議室の予約"}),
    );
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(kept(&new["id"]), None, "a new title is looked up again");
}

both_backends!(
    a_new_consultations_similar_ones_are_found_once_and_kept_until_its_title_changes,
    similar_consultations_suggest_open_and_resolved_ones_the_caller_may_see,
    japanese_words_are_found_inside_sentences,
    full_width_half_width_and_case_are_alike,
    title_matches_rank_first_then_the_newest,
    search_pages_keep_the_relevance_order_when_others_match_more_recently,
    search_respects_visibility_and_internal_notes,
    the_index_follows_edits_comments_and_resolutions,
);

#[test]
fn reindex_rebuilds_the_index_from_the_consultations() {
    use diesel::connection::SimpleConnection;
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).expect("app");
    let requester = app.login(&app.org.requester);
    file(&app, &requester, "議事録の要約", "会議の議事録を要約したい");
    app.pool
        .get()
        .expect("connection")
        .batch_execute("DELETE FROM search_fts")
        .expect("emptied");
    assert!(
        numbers(&app, &requester, "議事録").is_empty(),
        "the index is empty"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digicon"))
        .arg("reindex")
        .env("DATABASE_URL", &app.database_url)
        .env("DIGICON_DATA_DIR", &app.settings.data_dir)
        .output()
        .expect("reindex runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reindexed 1 consultations"));
    assert_eq!(numbers(&app, &requester, "議事録").len(), 1);
}
