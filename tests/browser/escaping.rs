//! Text from users is shown as text: no script runs, no element is injected.

use serde_json::json;

use crate::harness::{browser_test, Browser};

const TITLE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";
const COMMENT: &str = "詳しくは <a href=\"javascript:alert(3)\">こちら</a> \
                       または [こちら](javascript:alert(3)) javascript:alert(3)";

/// No dialog is open and nothing was injected into the DOM.
async fn assert_inert(b: &Browser, page: &str) {
    // Wait until every image has loaded or failed, so an injected `onerror` would
    // have fired by now.
    b.wait_until(
        "the images to settle",
        "return Array.from(document.images).every(i => i.complete);",
    )
    .await;
    if let Some(text) = b.alert_text().await {
        panic!("a dialog opened on the {page}: {text:?}");
    }
    let injected = b
        .client
        .execute(
            "return {
               onerror: document.querySelectorAll('[onerror]').length,
               scripts: Array.from(document.scripts)
                 .filter(s => s.textContent.includes('alert(')).length,
               javascript: Array.from(document.querySelectorAll('[href], [src], [action]'))
                 .filter(e => /^\\s*javascript:/i.test(
                   e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action')))
                 .length,
             };",
            vec![],
        )
        .await
        .expect("inspect the DOM");
    assert_eq!(
        injected,
        json!({ "onerror": 0, "scripts": 0, "javascript": 0 }),
        "injected elements on the {page}"
    );
}

#[test]
fn markup_in_a_title_and_a_comment_is_shown_as_text() {
    browser_test("escaping", async |ctx| {
        let app = &ctx.app;
        let token = app.login(&app.org.requester);
        let filed = app.file(&token, TITLE);
        let reply = app.post(
            &format!("/api/v1/consultations/{}/comments", filed["id"]),
            &token,
            json!({ "body": COMMENT }),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let number = filed["number"].as_str().expect("number");
        let row = format!("table#consultations tr[data-number=\"{number}\"]");

        let b = ctx.browser().await;
        b.login_as(&app.org.requester).await;
        b.wait_for(&row).await;
        assert_inert(&b, "list").await;
        let listed = b.text(&format!("{row} a.consultation-link")).await;
        assert!(
            listed.contains(TITLE),
            "the list should show the title as text: {listed:?}"
        );

        b.click_and_wait(&format!("{row} a.consultation-link"))
            .await;
        b.expect_state("received").await;
        assert_inert(&b, "consultation page").await;
        let heading = b.text("h1").await;
        assert!(
            heading.contains(TITLE),
            "h1 should show the title as text: {heading:?}"
        );
        let timeline = b.text("body").await;
        assert!(
            timeline.contains("<a href=\"javascript:alert(3)\">こちら</a>"),
            "the comment should be shown as text"
        );
        assert_eq!(
            b.client.get_alert_text().await.ok(),
            None,
            "no dialog at the end"
        );
    });
}
