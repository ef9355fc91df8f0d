//! Another division's consultation is not found, in the browser as in the API.

use crate::harness::browser_test;

#[test]
fn another_divisions_consultation_shows_the_not_found_page() {
    browser_test("other_division_404", async |ctx| {
        let app = &ctx.app;
        let title = "住民記録の照会業務を電子化したい";
        let filed = app.file(&app.login(&app.org.requester), title);
        let page = format!("/consultations/{}", filed["id"]);

        // A colleague in the same division sees it…
        let colleague = ctx.browser().await;
        colleague.login_as(&app.org.colleague).await;
        colleague.goto(&page).await;
        colleague.expect_state("received").await;

        // …a requester of 保育課 gets the 404 page, with nothing of the consultation.
        let outsider = ctx.browser().await;
        outsider.login_as(&app.org.outsider).await;
        outsider.goto(&page).await;
        outsider.wait_for("h1#error-title").await;
        assert!(!outsider.exists("#state").await, "#state on the 404 page");
        let source = outsider.client.source().await.expect("page source");
        assert!(
            !source.contains(title),
            "the 404 page shows the consultation's title"
        );
        let number = filed["number"].as_str().expect("number");
        assert!(
            !source.contains(number),
            "the 404 page shows the consultation's number"
        );
    });
}

#[test]
fn the_not_found_page_keeps_the_header_of_the_signed_in_user() {
    browser_test("not_found_header", async |ctx| {
        let app = &ctx.app;
        let filed = app.file(&app.login(&app.org.requester), "窓口予約を電子化したい");
        let b = ctx.browser().await;
        b.login_as(&app.org.outsider).await;
        b.goto(&format!("/consultations/{}", filed["id"])).await;
        b.wait_for("h1#error-title").await;
        // PAGES.md: every page has these.
        for selector in [
            "nav#main-nav",
            "#current-user",
            "form#logout-form button",
            "form#language-form button[name=locale][value=en]",
        ] {
            assert!(
                b.exists(selector).await,
                "no `{selector}` on the 404 page of a signed-in user"
            );
        }
        assert!(b.text("#current-user").await.contains("伊藤"));
    });
}
