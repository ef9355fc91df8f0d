//! The system ledger as people click through it: similar systems show while a
//! name is typed, registering, moving to production (refused without the manual),
//! the flags, and the effects page with its chart.

use serde_json::json;

use crate::harness::browser_test;

#[test]
fn registering_a_system_shows_similar_ones_and_production_needs_the_manual() {
    browser_test("ledger", async |ctx| {
        let app = &ctx.app;
        let dx = app.login(&app.org.dx);
        let reply = app.post(
            "/api/v1/systems",
            &dx,
            json!({"name": "申請受付管理アプリ", "platform": "low_code_app", "department_id": app.org.hoiku_division,
                   "owner_id": app.org.outsider.id}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let existing = reply.body["id"].to_string();

        let b = ctx.browser().await;
        b.login_as(&app.org.requester).await;
        b.goto("/systems").await;
        b.wait_for("#no-results").await;
        b.click_and_wait("a#register-system").await;
        b.fill("form#system-form input[name=name]", "申請受付管理システム")
            .await;
        // Typing is enough: the similar entry appears before anything is saved.
        b.wait_for(&format!(
            "section#similar-systems li[data-id=\"{existing}\"]"
        ))
        .await;
        b.select("form#system-form select[name=platform]", "low_code_app")
            .await;
        b.click_and_wait("form#system-form button#save-system")
            .await;
        // The server asks for confirmation that this is a different system.
        b.wait_for("section#similar-systems input[name=confirm_different]")
            .await;
        b.find("input[name=confirm_different]")
            .await
            .click()
            .await
            .expect("tick");
        b.click_and_wait("form#system-form button#save-system")
            .await;
        b.wait_for("#phase[data-phase=trial]").await;
        let path = b.path().await;

        for phase in ["verification", "production"] {
            b.click_and_wait("a#edit-system").await;
            b.select("form#system-form select[name=phase]", phase).await;
            b.click_and_wait("form#system-form button#save-system")
                .await;
        }
        b.wait_for(".flash[data-error=invalid]").await;
        let flash = b.flash_text().await.join(" ");
        assert!(flash.contains("操作マニュアル"), "{flash:?}");
        b.select("form#system-form select[name=phase]", "production")
            .await;
        b.fill(
            "form#system-form input[name=manual_location]",
            "//fs01/dx/manual.pdf",
        )
        .await;
        b.click_and_wait("form#system-form button#save-system")
            .await;
        b.wait_for("#phase[data-phase=production]").await;
        assert_eq!(b.path().await, path);
        assert!(
            b.exists("#system-flags").await,
            "lacking fields are flagged"
        );
        let events = b.attrs("ol#history li[data-event]", "data-event").await;
        assert_eq!(events, vec!["register", "phase", "phase"]);
        b.screenshot("ledger-entry").await;

        b.goto("/systems?flagged=true").await;
        b.wait_for("table#systems tr.flagged").await;
        assert_eq!(
            b.attr("#export-csv", "href").await.as_deref(),
            Some("/api/v1/export/systems.csv?flagged=true"),
            "the export takes the list's filters"
        );
        b.goto("/systems/effects").await;
        b.wait_for("svg#target-progress").await;
        assert!(
            b.exists("#effects-chart svg rect title").await,
            "hours saved per fiscal year are drawn as SVG bars"
        );
        // The rate is over confirmed systems in operation: the requester's entry
        // awaits the DX office, so it is shown apart and the denominator is 0.
        let rate = b.text("#in-house-rate").await;
        assert!(rate.starts_with("0 / 0"), "{rate}");
        assert!(b.exists("#effects-unconfirmed").await);
        b.screenshot("ledger-effects").await;

        // The filing form's suggestions share the same script.
        let requester = app.login(&app.org.requester);
        let filed = app.file(&requester, "申請受付の電子化");
        b.goto("/consultations/new").await;
        b.fill(
            "form#new-consultation input[name=title]",
            "申請受付の電子化について",
        )
        .await;
        b.wait_for(&format!(
            "section#similar a[href=\"/consultations/{}\"]",
            filed["id"]
        ))
        .await;
    });
}
