//! The dashboard page: managers reach it from the navigation and see charts drawn
//! on the server with their numbers in tables; requesters get neither.

use crate::harness::browser_test;

#[test]
fn a_manager_opens_the_dashboard_from_the_navigation_and_sees_charts_with_tables() {
    browser_test("dashboard", async |ctx| {
        let app = &ctx.app;
        let token = app.login(&app.org.requester);
        app.file(&token, "窓口の受付簿を電子化したい");
        app.file(&token, "保育園の入園申込を電子申請にしたい");

        let b = ctx.browser().await;
        b.login_as(&app.org.manager).await;
        b.click_and_wait("nav#main-nav a[href='/dashboard']").await;
        assert_eq!(b.path().await, "/dashboard");
        assert!(b.text("#fiscal-year").await.contains("令和"), "era label");
        assert_eq!(b.text("#summary-filed").await, "2");
        // Every chart is an SVG in the HTML itself, with its numbers in a table.
        for (chart, table) in [
            ("months", "months"),
            ("backlog", "backlog"),
            ("stages", "stages"),
            ("divisions", "divisions"),
        ] {
            assert!(
                b.exists(&format!("#chart-{chart} svg")).await,
                "{chart} chart"
            );
            assert!(
                !b.all(&format!("#table-{table} tbody tr")).await.is_empty(),
                "{table} table"
            );
        }
        assert_eq!(b.all("#table-months tbody tr").await.len(), 12);
        assert_eq!(b.all("#chart-backlog svg rect title").await.len(), 4);
        let received = b.text("#table-backlog tbody tr:first-child td").await;
        assert_eq!(received, "2", "both filings wait in 受付");
        assert!(
            b.attr("#export-csv", "href")
                .await
                .unwrap_or_default()
                .starts_with("/api/v1/export/consultations.csv?fiscal_year="),
            "CSV export for the year shown"
        );
        b.screenshot("manager-dashboard").await;

        let requester = ctx.browser().await;
        requester.login_as(&app.org.requester).await;
        assert!(!requester.exists("nav#main-nav a[href='/dashboard']").await);
        requester.goto("/dashboard").await;
        requester.wait_for("h1#error-title").await;
    });
}
