//! The effects report in the access matrix: every fixture user against every
//! route of the report (API and pages), with a production system of each division
//! in the ledger. The report is the city's published figure, so whoever reads
//! reports (managers, the DX office, admins) sees it for the whole city — both
//! divisions' systems — and nobody else sees it at all; closing a year is the DX
//! office's (and admins'), reopening it and the targets are admins'. A refused
//! write changes nothing.

use serde_json::{json, Value};

use crate::attack_matrix::{
    expect_dashboard, scene, Division, Misses, Who, EVERYONE, OUR_SYSTEM, THEIR_SYSTEM,
};
use crate::both_backends;
use crate::helpers::TestApp;
use crate::session::Session;

fn expect_report(who: Who) -> u16 {
    if who.sees_reports() {
        200
    } else {
        403
    }
}

fn may_close(who: Who) -> bool {
    matches!(who, Who::Dx | Who::Admin)
}

/// What an admin sees of the year and the targets: any change shows here.
fn effects_state(app: &TestApp, admin: &str) -> String {
    let report = app.get("/api/v1/effects/report", admin).body;
    let settings = app.get("/api/v1/effects/settings", admin).body;
    format!("{} {} {}", report["closed"], report["history"], settings)
}

fn the_effects_report_answers_each_user_as_the_rules_say(app: &TestApp) {
    let scene = scene(app);
    let admin = scene.token(Who::Admin).to_string();
    let dx = scene.token(Who::Dx).to_string();
    // One confirmed production system in each division (the scene's own are trials).
    for (name, division, owner) in [
        (OUR_SYSTEM, app.org.shimin_division, app.org.requester.id),
        (THEIR_SYSTEM, app.org.hoiku_division, app.org.outsider.id),
    ] {
        let reply = app.post(
            "/api/v1/systems",
            &dx,
            json!({"name": format!("{name}本番"), "platform": "rpa", "department_id": division, "owner_id": owner,
                   "phase": "production", "manual_location": "//fs/m.pdf", "hours_saved_per_year": 120}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    // The current fiscal year: the systems went live today.
    let year = crate::effects::current_fiscal_year();
    let year_text = year.to_string();
    let mut misses = Misses::new();
    let mut cells = 0;
    for who in EVERYONE {
        let token = scene.token(who);
        let mut session = Session::new(app);
        session.login(&who.user(app).email);
        let reads = [
            &format!("/api/v1/effects/report?fiscal_year={year}"),
            &format!("/api/v1/effects/report.csv?fiscal_year={year}&table=systems"),
            &format!("/api/v1/effects/report.xlsx?fiscal_year={year}"),
        ];
        for path in reads {
            let reply = app.send("GET", path, Some(token), None, &[]);
            misses.check(
                &format!("GET {path}"),
                who,
                expect_report(who),
                reply.status,
                &json!(null),
            );
            cells += 1;
        }
        let page = session.get(&format!("/effects/report?fiscal_year={year}"));
        misses.check(
            "page /effects/report",
            who,
            expect_report(who),
            page.status,
            &json!(null),
        );
        cells += 1;
        if who.sees_reports() {
            for (division, name) in [
                (Division::Shimin, OUR_SYSTEM),
                (Division::Hoiku, THEIR_SYSTEM),
            ] {
                cells += 1;
                if !page.body.contains(name) {
                    misses.fail(format!(
                        "{who:?} report lacks the city's {division:?} system"
                    ));
                }
            }
        } else if page.body.contains(OUR_SYSTEM) || page.body.contains(THEIR_SYSTEM) {
            misses.fail(format!("{who:?} was shown the report"));
        }

        // Closing the year through the API, then through the page's button.
        for door in ["api", "page"] {
            let before = effects_state(app, &admin);
            let status = if door == "api" {
                app.post("/api/v1/effects/close", token, json!({"fiscal_year": year}))
                    .status
            } else {
                let csrf = session.csrf();
                session
                    .post(
                        "/effects/close",
                        &[("_csrf", &csrf), ("fiscal_year", year_text.as_str())],
                    )
                    .status
            };
            let expected = match (may_close(who), door) {
                (true, "api") => 200,
                (true, _) => 303,
                (false, _) => 403,
            };
            misses.check(
                &format!("close the year ({door})"),
                who,
                expected,
                status,
                &json!(null),
            );
            cells += 1;
            if expected == 403 && effects_state(app, &admin) != before {
                misses.fail(format!(
                    "{who:?} close ({door}) was refused but changed data"
                ));
            }
            if may_close(who) {
                let reopened = app.post(
                    "/api/v1/effects/reopen",
                    &admin,
                    json!({"fiscal_year": year, "reason": "matrix"}),
                );
                assert_eq!(reopened.status, 204, "{:?}", reopened.body);
            }
        }

        // Reopening and the targets: admins only.
        let closed = app.post(
            "/api/v1/effects/close",
            &admin,
            json!({"fiscal_year": year}),
        );
        assert_eq!(closed.status, 200, "{:?}", closed.body);
        let before = effects_state(app, &admin);
        let csrf = session.csrf();
        let writes: Vec<(String, u16)> = vec![
            (
                "POST /api/v1/effects/reopen".into(),
                app.post("/api/v1/effects/reopen", token, json!({"fiscal_year": year, "reason": "x"}))
                    .status,
            ),
            (
                "GET /api/v1/effects/settings".into(),
                app.get("/api/v1/effects/settings", token).status,
            ),
            (
                "PUT /api/v1/effects/settings".into(),
                app.send(
                    "PUT",
                    "/api/v1/effects/settings",
                    Some(token),
                    Some(&json!({"start_fiscal_year": 2019, "target_hours": 100000, "target_fiscal_year": 2030}).to_string()),
                    &[],
                )
                .status,
            ),
            ("page /admin/effects".into(), session.get("/admin/effects").status),
            (
                "page POST /admin/effects".into(),
                session
                    .post(
                        "/admin/effects",
                        &[("_csrf", &csrf), ("start_fiscal_year", "2019"), ("target_hours", "100000"),
                          ("target_amount", ""), ("target_fiscal_year", "2030")],
                    )
                    .status,
            ),
        ];
        let admin_status = [204, 200, 200, 200, 303];
        for ((what, got), ok) in writes.iter().zip(admin_status) {
            let expected = if who == Who::Admin { ok } else { 403 };
            misses.check(what, who, expected, *got, &json!(null));
            cells += 1;
        }
        if who != Who::Admin && effects_state(app, &admin) != before {
            misses.fail(format!("{who:?} refused reopen or settings changed data"));
        }
        let page_reopen = session.post(
            "/effects/reopen",
            &[
                ("_csrf", &csrf),
                ("fiscal_year", year_text.as_str()),
                ("reason", "x"),
            ],
        );
        let expected = if who == Who::Admin { 303 } else { 403 };
        let already_open = who == Who::Admin;
        // The admin's API reopen above left the year open: the page answers 409 then.
        let expected = if already_open { 409 } else { expected };
        misses.check(
            "page POST /effects/reopen",
            who,
            expected,
            page_reopen.status,
            &json!(null),
        );
        cells += 1;
        // Leave the year open for the next user.
        let _: Value = app
            .post(
                "/api/v1/effects/reopen",
                &admin,
                json!({"fiscal_year": year, "reason": "reset"}),
            )
            .body;
    }
    misses.assert_none(cells);
}

/// The dashboard's tables as CSV and XLSX answer as the dashboard does, per
/// division, and hold only the caller's scope.
fn dashboard_exports_answer_each_user_as_the_dashboard_does(app: &TestApp) {
    let scene = scene(app);
    let org = &app.org;
    let mut misses = Misses::new();
    let mut cells = 0;
    for who in EVERYONE {
        let token = scene.token(who);
        for (department, division) in [
            (None, None),
            (Some(org.shimin_division), Some(Division::Shimin)),
            (Some(org.hoiku_division), Some(Division::Hoiku)),
        ] {
            let query = department
                .map(|d| format!("?department={d}&table=divisions"))
                .unwrap_or_else(|| "?table=divisions".into());
            for format in ["csv", "xlsx"] {
                let path = format!("/api/v1/export/dashboard.{format}{query}");
                let reply = app.send("GET", &path, Some(token), None, &[]);
                misses.check(
                    &format!("GET {path}"),
                    who,
                    expect_dashboard(who, division),
                    reply.status,
                    &json!(null),
                );
                cells += 1;
            }
        }
        if who.sees_reports() {
            let (_, csv) = app.download("/api/v1/export/dashboard.csv?table=divisions", token);
            let text = String::from_utf8_lossy(&csv);
            cells += 1;
            if text.contains("市民課") != who.sees(Division::Shimin)
                || text.contains("保育課") != who.sees(Division::Hoiku)
            {
                misses.fail(format!(
                    "{who:?} dashboard CSV holds the wrong divisions: {text}"
                ));
            }
        }
    }
    misses.assert_none(cells);
}

both_backends!(
    the_effects_report_answers_each_user_as_the_rules_say,
    dashboard_exports_answer_each_user_as_the_dashboard_does,
);
