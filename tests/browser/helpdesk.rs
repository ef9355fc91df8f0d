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

#[test]
fn a_clerk_types_a_question_sees_the_faq_and_says_it_solved_it() {
    browser_test("faq_solved", async |ctx| {
        let app = &ctx.app;
        let org = &app.org;
        let se = app.login(&org.se);
        let article = app.post(
            "/api/v1/faq",
            &se,
            json!({
                "title": "CSVを読み込むと文字化けする",
                "question": "Excelで保存したCSVを読み込むと文字化けします",
                "answer": "CSV UTF-8 (コンマ区切り) で保存し直してください",
                "topic": "how_to",
            }),
        );
        assert_eq!(article.status, 201, "{:?}", article.body);
        let clerk = ctx.browser().await;
        clerk.login_as(&org.requester).await;
        clerk.goto("/inquiries/new").await;
        clerk
            .fill("form#new-inquiry-form input#subject", "CSVの文字化け")
            .await;
        clerk
            .fill(
                "form#new-inquiry-form textarea#question",
                "CSVを読み込むと文字化けしてしまいます",
            )
            .await;
        let item = format!(
            "section#faq-suggestions li[data-faq='{}']",
            article.body["id"]
        );
        clerk.wait_for(&item).await;
        clerk.screenshot("faq-suggested").await;
        clerk
            .click_and_wait(&format!("{item} form.faq-solved button"))
            .await;
        assert_eq!(
            clerk.path().await,
            format!("/faq/{}?solved=1", article.body["id"])
        );
        assert!(clerk.exists(".flash[data-kind=notice]").await);
        let mut conn = app.pool.get().expect("connection");
        use diesel::prelude::*;
        let counted: i64 = digicon::db::schema::deflections::table
            .count()
            .get_result(&mut *conn)
            .expect("count");
        assert_eq!(counted, 1, "one deflection");
        let asked = app.get("/api/v1/inquiries", &app.login(&org.requester));
        assert_eq!(asked.body["items"], json!([]), "nothing was asked");
    });
}
