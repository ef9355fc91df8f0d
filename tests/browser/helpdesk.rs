//! The helpdesk stream in the browser: an SE records a phone call with the
//! keyboard alone, answered now; an inquiry escalated into a consultation.

use std::time::Instant;

use serde_json::json;

use crate::harness::{browser_test, TAB};

#[test]
fn an_se_records_a_phone_call_with_the_keyboard_only() {
    browser_test("quick_record", async |ctx| {
        let app = &ctx.app;
        let org = &app.org;
        let se = ctx.browser().await;
        se.login_as(&org.se).await;
        se.goto("/inquiries").await;
        se.click_and_wait("a#new-inquiry").await;
        assert_eq!(se.path().await, "/inquiries/new");
        // From here on only keys: the form starts on the asker, and each field
        // follows the last in the order the call goes.
        let started = Instant::now();
        assert_eq!(se.focused_id().await, "asker");
        let typed = [
            org.requester.email.as_str(),
            TAB,  // channel: 電話 is already chosen
            TAB,  // topic
            "エ", // エラー・不具合, chosen by its first letter
            TAB,
            "ルックアップが更新されない",
            TAB,
            "取得ボタンを押しても古い値のままです",
            TAB,
            "参照先アプリのアクセス権を付け直してもらいました",
            TAB, // "answered now", ticked
            TAB, // the record button
        ];
        let mut keystrokes = 0;
        for text in typed {
            se.keys(text).await;
            keystrokes += text.chars().count();
        }
        assert_eq!(se.focused_id().await, "inquiry-submit");
        se.enter_and_wait().await;
        keystrokes += 1;
        let seconds = started.elapsed().as_secs_f64();
        let path = se.path().await;
        assert!(path.starts_with("/inquiries/"), "on the inquiry: {path}");
        assert_eq!(
            se.attr("#inquiry-state", "data-state").await.as_deref(),
            Some("answered")
        );
        assert!(se.text("#inquiry-asker").await.contains("田中"));
        let id: i64 = path.trim_start_matches("/inquiries/").parse().expect("id");
        let admin = app.login(&org.admin);
        let recorded = app.get(&format!("/api/v1/inquiries/{id}"), &admin).body;
        assert_eq!(recorded["asker_id"], org.requester.id);
        assert_eq!(recorded["filed_by"], org.se.id);
        assert_eq!(recorded["channel"], "phone");
        assert_eq!(recorded["topic"], "error");
        assert_eq!(
            recorded["answer"],
            "参照先アプリのアクセス権を付け直してもらいました"
        );
        se.screenshot("quick-record-done").await;
        println!("quick record: {keystrokes} keystrokes, {seconds:.1} s in the browser test");
    });
}

#[test]
fn an_inquiry_is_escalated_into_a_consultation_from_its_page() {
    browser_test("escalate", async |ctx| {
        let app = &ctx.app;
        let org = &app.org;
        let requester = app.login(&org.requester);
        let asked = app.post(
            "/api/v1/inquiries",
            &requester,
            json!({"subject": "窓口予約をアプリにしたい", "question": "紙の予約台帳をやめたい", "topic": "other"}),
        );
        assert_eq!(asked.status, 201, "{:?}", asked.body);
        let se = ctx.browser().await;
        se.login_as(&org.se).await;
        se.goto(&format!("/inquiries/{}", asked.body["id"])).await;
        se.click_and_wait("section#inquiry-actions form[data-event=escalate] button[type=submit]")
            .await;
        let path = se.path().await;
        assert!(
            path.starts_with("/consultations/"),
            "on the consultation: {path}"
        );
        se.expect_state("received").await;
        let admin = app.login(&org.admin);
        let inquiry = app
            .get(&format!("/api/v1/inquiries/{}", asked.body["id"]), &admin)
            .body;
        assert_eq!(inquiry["state"], "escalated");
        assert_eq!(
            format!("/consultations/{}", inquiry["consultation_id"]),
            path
        );
    });
}
