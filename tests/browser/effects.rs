//! The effects report as the DX office uses it at the year's end: opened from the
//! navigation, in Japanese with 令和 years and its charts, closed with its button,
//! then printed by Chromium to a one-page A4 PDF whose first page is saved as a
//! PNG (`target/screenshots/effects-report-page1.png`, by poppler's `pdftoppm`).

use std::process::Command;

use chrono::NaiveDate;
use diesel::prelude::*;
use digicon::db::schema::system_events;
use serde_json::json;

use crate::harness::{browser_test, screenshot_dir};

/// Poppler's tools, or a skip outside CI (`.ci/run` installs poppler-utils).
fn poppler(tool: &str) -> Option<Command> {
    let path = format!("/usr/bin/{tool}");
    if std::path::Path::new(&path).exists() {
        return Some(Command::new(path));
    }
    assert!(
        std::env::var("CI").is_err(),
        "{tool} is missing (apt-get install -y poppler-utils)"
    );
    eprintln!("skipping the PDF checks: {tool} is missing (apt-get install -y poppler-utils)");
    None
}

#[test]
fn the_dx_office_closes_the_year_and_prints_the_report_on_one_a4_page() {
    browser_test("effects-report", async |ctx| {
        let app = &ctx.app;
        let dx = app.login(&app.org.dx);
        let admin = app.login(&app.org.admin);
        let settings = app.send(
            "PUT",
            "/api/v1/effects/settings",
            Some(&admin),
            Some(&json!({"start_fiscal_year": 2023, "target_hours": 10000, "target_amount": 50_000_000, "target_fiscal_year": 2027}).to_string()),
            &[],
        );
        assert_eq!(settings.status, 200, "{:?}", settings.body);
        let systems = [
            (
                "住民票請求受付アプリ",
                app.org.shimin_division,
                app.org.requester.id,
                1200,
                "in_house",
                (2023, 10),
            ),
            (
                "転入届入力RPA",
                app.org.shimin_division,
                app.org.requester.id,
                800,
                "in_house",
                (2024, 4),
            ),
            (
                "保育所入所申請フォーム",
                app.org.hoiku_division,
                app.org.outsider.id,
                2400,
                "vendor",
                (2025, 7),
            ),
        ];
        for (name, division, owner, hours, built_by, (y, m)) in systems {
            let reply = app.post(
                "/api/v1/systems",
                &dx,
                json!({"name": name, "platform": "low_code_app", "department_id": division, "owner_id": owner,
                       "phase": "production", "manual_location": "//fs/manual.pdf", "built_by": built_by,
                       "hours_saved_per_year": hours, "cost_saved_per_year": hours * 2500,
                       "development_cost_avoided": 3_000_000,
                       "other_effects": [{"what": "窓口の応援職員", "before": 6, "after": 2, "unit": "人/日"}]}),
            );
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            let live = NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("time");
            let mut conn = app.pool.get().expect("connection");
            diesel::update(
                system_events::table
                    .filter(system_events::system_id.eq(reply.body["id"].as_i64().expect("id"))),
            )
            .set(system_events::created_at.eq(live))
            .execute(&mut conn)
            .expect("dated");
        }

        let b = ctx.browser().await;
        b.login_as(&app.org.dx).await;
        b.click_and_wait("nav#main-nav a[href='/effects/report']")
            .await;
        assert_eq!(b.path().await, "/effects/report");
        b.goto("/effects/report?fiscal_year=2025").await;
        assert!(
            b.text("#report-heading").await.contains("令和7年度"),
            "era heading"
        );
        // 1,200 + 800 + 2,400 × 9/12 (July to March).
        assert_eq!(b.text("#hours-saved").await, "3,800 時間");
        assert!(
            b.text("#in-house-rate").await.contains("2 / 3"),
            "denominator shown"
        );
        assert!(b.exists("#chart-years svg").await && b.exists("#chart-bureaus svg").await);
        assert_eq!(b.all("#report-top-systems tbody tr").await.len(), 3);
        assert!(b.exists("#hours-pace").await, "the pace to the target");
        assert_eq!(
            b.attr("#effects-report", "data-closed").await.as_deref(),
            Some("false")
        );

        b.click_and_wait("#close-year-button").await;
        assert_eq!(
            b.attr("#effects-report", "data-closed").await.as_deref(),
            Some("true")
        );
        assert!(
            !b.exists("#close-year").await,
            "a closed year has no close button"
        );
        assert_eq!(b.all("#report-history li").await.len(), 1);
        b.screenshot("effects-report").await;

        let pdf = b.print_pdf().await;
        assert!(pdf.starts_with(b"%PDF"), "a PDF");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshots");
        let pdf_path = dir.join("effects-report.pdf");
        std::fs::write(&pdf_path, &pdf).expect("write PDF");
        if let Some(mut info) = poppler("pdfinfo") {
            let out = info.arg(&pdf_path).output().expect("pdfinfo runs");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("Pages:           1"), "one page: {text}");
            assert!(text.contains("(A4)"), "A4: {text}");
        }
        if let Some(mut render) = poppler("pdftoppm") {
            let png = dir.join("effects-report-page1");
            let status = render
                .args(["-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile"])
                .arg(&pdf_path)
                .arg(&png)
                .status()
                .expect("pdftoppm runs");
            assert!(status.success());
            let bytes = std::fs::read(png.with_extension("png")).expect("the PNG");
            assert!(bytes.starts_with(b"\x89PNG"), "a PNG of the first page");
        }
    });
}
