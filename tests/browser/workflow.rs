//! The workflow clicked through the pages: filed to closed, and a stale form.

use serde_json::json;

use crate::harness::{browser_test, sorted, Browser};

/// The id in a consultation page's path (`/consultations/42`).
async fn consultation_id(b: &Browser) -> i64 {
    let path = b.path().await;
    path.strip_prefix("/consultations/")
        .and_then(|rest| rest.split(['?', '#']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a consultation page: {path}"))
}

/// Waits for the state, then checks the action forms offered to this user.
async fn expect(b: &Browser, who: &str, state: &str, actions: &[&str]) {
    b.expect_state(state).await;
    assert_eq!(
        b.actions().await,
        sorted(actions),
        "section#actions for {who} in {state}"
    );
}

/// Submits an action form and waits for the page it leads to.
async fn submit(b: &Browser, event: &str) {
    b.click_and_wait(&format!(
        "section#actions form[data-event={event}] button[type=submit]"
    ))
    .await;
}

fn field(event: &str, name: &str) -> String {
    format!("section#actions form[data-event={event}] [name={name}]")
}

#[test]
fn a_consultation_is_clicked_from_filed_to_closed() {
    browser_test("filed_to_closed", async |ctx| {
        let app = &ctx.app;
        let org = &app.org;
        let title = "紙の申請書を電子申請にしたい";

        // The requester files it through the form.
        let requester = ctx.browser().await;
        requester.login_as(&org.requester).await;
        requester.click_and_wait("a#new-consultation").await;
        assert_eq!(requester.path().await, "/consultations/new");
        let form = "form#new-consultation";
        requester
            .fill(&format!("{form} input[name=title]"), title)
            .await;
        requester
            .fill(
                &format!("{form} textarea[name=current_work]"),
                "毎月300件の申請書を紙で受け付け、手入力しています。",
            )
            .await;
        requester
            .fill(
                &format!("{form} textarea[name=wish]"),
                "オンラインで受け付けて、入力をなくしたい。",
            )
            .await;
        requester
            .select(&format!("{form} select[name=category]"), "e_application")
            .await;
        requester
            .select(&format!("{form} select[name=priority]"), "high")
            .await;
        requester
            .set_value(&format!("{form} input[name=desired_by]"), "2031-03-31")
            .await;
        requester
            .fill(&format!("{form} input[name=contact]"), "内線 1234")
            .await;
        requester.screenshot("new-consultation").await;
        requester
            .click_and_wait(&format!("{form} button#file-submit"))
            .await;
        expect(&requester, "the requester", "received", &["withdraw"]).await;
        let id = consultation_id(&requester).await;
        let stored = app.current(&json!(id));
        assert_eq!(stored["title"], title, "{stored}");
        assert_eq!(stored["category"], "e_application", "{stored}");
        assert_eq!(stored["priority"], "high", "{stored}");
        assert_eq!(stored["desired_by"], "2031-03-31", "{stored}");
        let number = stored["number"].as_str().expect("number").to_string();
        let heading = requester.text("h1").await;
        assert!(
            heading.contains(&number) && heading.contains(title),
            "h1 should hold {number} and the title: {heading:?}"
        );
        requester.screenshot("consultation-requester").await;
        let page = format!("/consultations/{id}");

        // The DX office schedules a hearing, then assigns an SE.
        let dx = ctx.browser().await;
        dx.login_as(&org.dx).await;
        dx.goto(&page).await;
        let dx_actions = ["schedule_hearing", "assign", "withdraw"];
        expect(&dx, "the DX office", "received", &dx_actions).await;
        dx.set_value(
            &field("schedule_hearing", "hearing_at"),
            &format!("{}T10:00", crate::helpers::jst_date_in(30)),
        )
        .await;
        dx.fill(
            &field("schedule_hearing", "hearing_place"),
            "本庁舎 5階 会議室A",
        )
        .await;
        submit(&dx, "schedule_hearing").await;
        expect(&dx, "the DX office", "hearing", &dx_actions).await;
        let hearing = app.current(&json!(id))["hearing_at"].clone();
        assert_eq!(
            hearing,
            format!("{}T10:00:00+09:00", crate::helpers::jst_date_in(30)),
            "the hearing time"
        );
        dx.select(&field("assign", "assignee_id"), &org.se.id.to_string())
            .await;
        submit(&dx, "assign").await;
        expect(&dx, "the DX office", "assigned", &["assign", "withdraw"]).await;

        // The SE finds it in their queue and asks for more information.
        let se = ctx.browser().await;
        se.login_as(&org.se).await;
        se.click_and_wait(&format!(
            "table#consultations tr[data-number=\"{number}\"] a.consultation-link"
        ))
        .await;
        assert_eq!(se.path().await, page);
        let se_actions = ["assign", "request_info", "resolve"];
        expect(&se, "the assignee", "assigned", &se_actions).await;
        se.screenshot("consultation-helpdesk").await;
        se.fill(
            &field("request_info", "message"),
            "現在の申請書の様式を添付してください。",
        )
        .await;
        submit(&se, "request_info").await;
        expect(&se, "the assignee", "waiting", &[]).await;

        // The requester provides it.
        requester.reload().await;
        expect(
            &requester,
            "the requester",
            "waiting",
            &["provide_info", "withdraw"],
        )
        .await;
        // It says, first, that the question waits on them, whose and what it is,
        // with the answer box already open.
        let banner = requester.text("#awaiting-reply").await;
        assert!(banner.contains("鈴木さんから質問があります"), "{banner}");
        assert!(
            banner.contains("現在の申請書の様式を添付してください。"),
            "{banner}"
        );
        assert_eq!(requester.text("#state").await, "あなたの回答待ち");
        assert!(
            requester
                .exists("details[open] form[data-event=provide_info] textarea[name=message]")
                .await,
            "the answer box is open"
        );
        requester.screenshot("consultation-waiting-on-you").await;
        requester
            .fill(&field("provide_info", "message"), "様式を添付しました。")
            .await;
        submit(&requester, "provide_info").await;
        expect(&requester, "the requester", "assigned", &["withdraw"]).await;

        // The SE resolves it.
        se.reload().await;
        expect(&se, "the assignee", "assigned", &se_actions).await;
        se.fill(
            &field("resolve", "resolution"),
            "電子申請システムの様式を作成しました。",
        )
        .await;
        submit(&se, "resolve").await;
        expect(&se, "the assignee", "resolved", &[]).await;

        // The requester sees it at phone size, then closes it with a rating.
        let phone = ctx.phone().await;
        phone.login_as(&org.requester).await;
        phone.goto(&page).await;
        expect(&phone, "the requester", "resolved", &["close", "reopen"]).await;
        let width = phone
            .client
            .execute("return window.innerWidth;", vec![])
            .await
            .expect("innerWidth");
        assert_eq!(width, json!(390), "the phone's viewport width");
        phone.screenshot("consultation-phone").await;

        requester.reload().await;
        expect(
            &requester,
            "the requester",
            "resolved",
            &["close", "reopen"],
        )
        .await;
        requester.select(&field("close", "rating"), "5").await;
        submit(&requester, "close").await;
        expect(&requester, "the requester", "closed", &[]).await;
        let closed = app.current(&json!(id));
        assert_eq!(closed["rating"], 5, "{closed}");

        let timeline = requester
            .attrs("ol#timeline li.timeline-item[data-event]", "data-event")
            .await;
        let events = [
            "file",
            "schedule_hearing",
            "assign",
            "request_info",
            "provide_info",
            "resolve",
            "close",
        ];
        let mut seen = timeline.iter();
        for event in events {
            assert!(
                seen.any(|e| e == event),
                "ol#timeline should hold {events:?} in order, holds {timeline:?}"
            );
        }
        for (b, who) in [(&dx, "the DX office"), (&se, "the assignee")] {
            b.reload().await;
            expect(b, who, "closed", &[]).await;
        }
    });
}

#[test]
fn a_stale_form_shows_who_changed_it_and_keeps_the_typed_text() {
    browser_test("stale_form", async |ctx| {
        let app = &ctx.app;
        let org = &app.org;
        let filed = app.file(&app.login(&org.requester), "庁内照会をオンライン化したい");
        let page = format!("/consultations/{}", filed["id"]);
        let reason = "同じ内容の相談が既にあるため取り下げます。";

        // The DX office starts to withdraw it…
        let dx = ctx.browser().await;
        dx.login_as(&org.dx).await;
        dx.goto(&page).await;
        expect(
            &dx,
            "the DX office",
            "received",
            &["schedule_hearing", "assign", "withdraw"],
        )
        .await;
        dx.fill(&field("withdraw", "reason"), reason).await;

        // …while an SE schedules a hearing.
        let se = ctx.browser().await;
        se.login_as(&org.se).await;
        se.goto(&page).await;
        expect(&se, "an SE", "received", &["schedule_hearing", "assign"]).await;
        se.set_value(
            &field("schedule_hearing", "hearing_at"),
            &format!("{}T10:00", crate::helpers::jst_date_in(30)),
        )
        .await;
        se.fill(&field("schedule_hearing", "hearing_place"), "オンライン")
            .await;
        submit(&se, "schedule_hearing").await;
        se.expect_state("hearing").await;

        // The DX office's submit is refused as stale, and nothing changes.
        submit(&dx, "withdraw").await;
        dx.wait_for(".flash[data-error=stale][role=alert]").await;
        let flash = dx.text(".flash[data-error=stale]").await;
        assert!(
            flash.contains("鈴木"),
            "the stale flash should name who changed it (鈴木): {flash:?}"
        );
        assert_eq!(app.current(&filed["id"])["state"], "hearing");
        assert_eq!(
            dx.value(&field("withdraw", "reason")).await,
            reason,
            "the typed reason after the stale submit"
        );
        dx.expect_state("hearing").await;

        // Having seen the change, the DX office submits again and it goes through.
        submit(&dx, "withdraw").await;
        dx.expect_state("withdrawn").await;
        let withdrawn = app.current(&filed["id"]);
        assert_eq!(withdrawn["state"], "withdrawn", "{withdrawn}");
    });
}
