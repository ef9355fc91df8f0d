//! The effects report (issue 20): effects per fiscal year pro rata by the months a
//! system was in production (from its phase history), a closed year that never
//! changes, the in-house rate over systems in operation, cumulative money, the
//! admin's targets from the settings page, other effects, and the tables read
//! back from CSV and XLSX.

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use digicon::db::schema::system_events;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::session::Session;

/// Midnight UTC of a day (09:00 that day in Tokyo), as stored.
fn tokyo(y: i32, m: u32, d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("time")
}

/// Registers a system in production (as the DX office, so it counts) and dates
/// its history: registered in production on `live`.
fn live_system(app: &TestApp, dx: &str, name: &str, extra: Value, live: NaiveDateTime) -> Value {
    let mut body = json!({"name": name, "platform": "rpa", "department_id": app.org.shimin_division,
                          "owner_id": app.org.requester.id, "phase": "production",
                          "manual_location": "//fs/manual.pdf"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let reply = app.post("/api/v1/systems", dx, body);
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    date_events(app, reply.body["id"].as_i64().expect("id"), &[live]);
    reply.body
}

/// Sets the times of a system's history rows, oldest first.
fn date_events(app: &TestApp, system_id: i64, times: &[NaiveDateTime]) {
    let mut conn = app.pool.get().expect("connection");
    let ids: Vec<i64> = system_events::table
        .filter(system_events::system_id.eq(system_id))
        .order(system_events::id.asc())
        .select(system_events::id)
        .load(&mut conn)
        .expect("events");
    for (id, at) in ids.iter().zip(times) {
        diesel::update(system_events::table.find(id))
            .set(system_events::created_at.eq(at))
            .execute(&mut conn)
            .expect("dated");
    }
}

fn edit(app: &TestApp, token: &str, id: &Value, body: Value) -> crate::helpers::Reply {
    let current = app.get(&format!("/api/v1/systems/{id}"), token).body;
    let mut body = body;
    body["version"] = current["version"].clone();
    app.patch(&format!("/api/v1/systems/{id}"), token, body)
}

/// The fiscal year of today in Tokyo.
pub fn current_fiscal_year() -> i32 {
    digicon::domain::fiscal::fiscal_year(
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .date_naive(),
    )
}

fn report(app: &TestApp, token: &str, year: i32) -> Value {
    let reply = app.get(&format!("/api/v1/effects/report?fiscal_year={year}"), token);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn hours(app: &TestApp, token: &str, year: i32) -> i64 {
    report(app, token, year)["figures"]["hours_saved"]
        .as_i64()
        .expect("hours")
}

fn a_phase_change_in_mid_year_counts_pro_rata_by_month(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let reply = app.post(
        "/api/v1/systems",
        &dx,
        json!({"name": "議事録作成RPA", "platform": "rpa", "department_id": app.org.shimin_division,
               "owner_id": app.org.requester.id, "hours_saved_per_year": 1200, "manual_location": "//fs/m.pdf"}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let id = reply.body["id"].clone();
    for phase in ["verification", "production"] {
        let moved = edit(app, &dx, &id, json!({"phase": phase}));
        assert_eq!(moved.status, 200, "{:?}", moved.body);
    }
    // Trial in May 2023, verification in June, production from 15 October 2024.
    date_events(
        app,
        id.as_i64().expect("id"),
        &[tokyo(2023, 5, 1), tokyo(2023, 6, 1), tokyo(2024, 10, 15)],
    );
    assert_eq!(hours(app, &dx, 2023), 0, "not yet in production");
    assert_eq!(
        hours(app, &dx, 2024),
        600,
        "October to March: 6 of 12 months"
    );
    assert_eq!(hours(app, &dx, 2025), 1200);
    let retired = edit(app, &dx, &id, json!({"phase": "retired"}));
    assert_eq!(retired.status, 200, "{:?}", retired.body);
    date_events(
        app,
        id.as_i64().expect("id"),
        &[
            tokyo(2023, 5, 1),
            tokyo(2023, 6, 1),
            tokyo(2024, 10, 15),
            tokyo(2025, 7, 10),
        ],
    );
    assert_eq!(
        hours(app, &dx, 2024),
        600,
        "the earlier year keeps its months"
    );
    assert_eq!(hours(app, &dx, 2025), 300, "April to June: 3 of 12 months");
    let r = report(app, &dx, 2025);
    assert_eq!(r["figures"]["top_systems"][0]["months"], 3);
    assert_eq!(
        r["figures"]["in_operation"], 0,
        "retired before the year's end"
    );
}

fn a_closed_year_is_unchanged_after_a_system_is_retired(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let admin = app.login(&app.org.admin);
    let s = live_system(
        app,
        &dx,
        "保育申込電子申請",
        json!({"hours_saved_per_year": 2400, "cost_saved_per_year": 1_200_000}),
        tokyo(2023, 4, 3),
    );
    let before = report(app, &dx, 2024);
    assert_eq!(before["figures"]["hours_saved"], 2400);
    assert_eq!(before["closed"], false);

    let requester = app.login(&app.org.requester);
    let refused = app.post(
        "/api/v1/effects/close",
        &requester,
        json!({"fiscal_year": 2024}),
    );
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let bad = app.post("/api/v1/effects/close", &dx, json!({"fiscal_year": 1999}));
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert_eq!(bad.content_type, "application/problem+json");
    assert!(
        bad.body["errors"]["fiscal_year"].is_array(),
        "{:?}",
        bad.body
    );
    let malformed = app.send(
        "POST",
        "/api/v1/effects/close",
        Some(&dx),
        Some("{\"fiscal_year\":"),
        &[],
    );
    assert_eq!(malformed.status, 400, "{:?}", malformed.body);
    assert_eq!(
        report(app, &dx, 2024)["closed"],
        false,
        "nothing closed by refusals"
    );

    let closed = app.post("/api/v1/effects/close", &dx, json!({"fiscal_year": 2024}));
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    let again = app.post("/api/v1/effects/close", &dx, json!({"fiscal_year": 2024}));
    assert_eq!(again.status, 409, "{:?}", again.body);

    // Retired, and the retirement dated back into the closed year.
    let retired = edit(app, &dx, &s["id"], json!({"phase": "retired"}));
    assert_eq!(retired.status, 200, "{:?}", retired.body);
    date_events(
        app,
        s["id"].as_i64().expect("id"),
        &[tokyo(2023, 4, 3), tokyo(2024, 10, 1)],
    );
    let after = report(app, &dx, 2024);
    assert_eq!(after["closed"], true);
    assert_eq!(
        after["figures"], before["figures"],
        "a closed year never changes"
    );
    assert_eq!(hours(app, &dx, 2025), 0, "an open year follows the ledger");

    // Reopening: admins only, with a reason, recorded.
    let by_dx = app.post(
        "/api/v1/effects/reopen",
        &dx,
        json!({"fiscal_year": 2024, "reason": "訂正"}),
    );
    assert_eq!(by_dx.status, 403, "{:?}", by_dx.body);
    let no_reason = app.post(
        "/api/v1/effects/reopen",
        &admin,
        json!({"fiscal_year": 2024}),
    );
    assert_eq!(no_reason.status, 422, "{:?}", no_reason.body);
    assert!(no_reason.body["errors"]["reason"].is_array());
    assert_eq!(report(app, &dx, 2024)["closed"], true);
    let reopened = app.post(
        "/api/v1/effects/reopen",
        &admin,
        json!({"fiscal_year": 2024, "reason": "廃止日の訂正"}),
    );
    assert_eq!(reopened.status, 204, "{:?}", reopened.body);
    let live = report(app, &dx, 2024);
    assert_eq!(live["closed"], false);
    assert_eq!(
        live["figures"]["hours_saved"], 1200,
        "April to September once reopened"
    );
    let history: Vec<(String, Option<String>)> = live["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["reason"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("close".to_string(), None),
            ("reopen".to_string(), Some("廃止日の訂正".to_string()))
        ]
    );
    let not_closed = app.post(
        "/api/v1/effects/reopen",
        &admin,
        json!({"fiscal_year": 2024, "reason": "x"}),
    );
    assert_eq!(not_closed.status, 409, "{:?}", not_closed.body);
}

fn the_in_house_rate_counts_only_systems_in_operation(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let live = tokyo(2024, 4, 1);
    live_system(app, &dx, "内製A", json!({"built_by": "in_house"}), live);
    live_system(app, &dx, "内製B", json!({"built_by": "in_house"}), live);
    live_system(app, &dx, "委託C", json!({"built_by": "vendor"}), live);
    // A trial and a retired in-house system are not in operation.
    let trial = app.post(
        "/api/v1/systems",
        &dx,
        json!({"name": "試行D", "platform": "rpa", "department_id": app.org.shimin_division,
               "owner_id": app.org.requester.id}),
    );
    assert_eq!(trial.status, 201);
    let gone = live_system(app, &dx, "廃止E", json!({"built_by": "in_house"}), live);
    assert_eq!(
        edit(app, &dx, &gone["id"], json!({"phase": "retired"})).status,
        200
    );
    let year = current_fiscal_year();
    let f = &report(app, &dx, year)["figures"];
    assert_eq!(
        (
            f["in_house"].as_i64(),
            f["in_operation"].as_i64(),
            f["in_house_rate"].as_f64()
        ),
        (Some(2), Some(3), Some(66.7)),
        "{f}"
    );
    let session_page = {
        let mut session = Session::new(app);
        session.login(&app.org.dx.email);
        session.get(&format!("/effects/report?fiscal_year={year}"))
    };
    assert_eq!(session_page.status, 200);
    assert!(
        session_page.body.contains("2 / 3 システム (66.7%)"),
        "the denominator is shown: {}",
        session_page.body
    );
}

fn cumulative_money_adds_the_years_since_the_start_year(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let admin = app.login(&app.org.admin);
    live_system(
        app,
        &dx,
        "窓口予約アプリ",
        json!({"cost_saved_per_year": 1_200_000, "development_cost_avoided": 5_000_000, "hours_saved_per_year": 100}),
        tokyo(2024, 4, 1),
    );
    live_system(
        app,
        &dx,
        "受付RPA",
        json!({"cost_saved_per_year": 600_000}),
        tokyo(2025, 10, 1),
    );
    let settings = app.send(
        "PUT",
        "/api/v1/effects/settings",
        Some(&admin),
        Some(&json!({"start_fiscal_year": 2024, "target_hours": 1000, "target_amount": 20_000_000, "target_fiscal_year": 2027}).to_string()),
        &[],
    );
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    let r = report(app, &dx, 2025);
    // FY2024: 1.2M + 5M once; FY2025: 1.2M + 0.6M × 6/12.
    assert_eq!(r["years"][0]["effect_amount"], 6_200_000);
    assert_eq!(r["figures"]["effect_amount"], 1_500_000);
    assert_eq!(r["cumulative_amount"], 7_700_000);
    assert_eq!(r["amount_progress"]["remaining"], 12_300_000);
    assert_eq!(
        r["amount_progress"]["needed_per_year"], 6_150_000,
        "two years left"
    );
    let later_start = app.send(
        "PUT",
        "/api/v1/effects/settings",
        Some(&admin),
        Some(
            &json!({"start_fiscal_year": 2025, "target_hours": 1000, "target_fiscal_year": 2027})
                .to_string(),
        ),
        &[],
    );
    assert_eq!(later_start.status, 200);
    let r = report(app, &dx, 2025);
    assert_eq!(r["cumulative_amount"], 1_500_000);
    assert_eq!(
        (
            r["previous"]["fiscal_year"].as_i64(),
            r["previous"]["hours_saved"].as_i64()
        ),
        (Some(2024), Some(100)),
        "last year is compared even before the start year"
    );
    assert!(r["amount_progress"].is_null(), "no money target set");
}

fn targets_are_set_on_the_settings_page(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let dx = app.login(&app.org.dx);
    let mut session = Session::new(app);
    session.login(&app.org.admin.email);
    let page = session.get("/admin/effects");
    assert_eq!(page.status, 200);
    let csrf = session.csrf();
    let refused = session.post(
        "/admin/effects",
        &[
            ("_csrf", &csrf),
            ("start_fiscal_year", "2025"),
            ("target_hours", "abc"),
            ("target_amount", ""),
            ("target_fiscal_year", "2024"),
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let unchanged = app.get("/api/v1/effects/settings", &admin).body;
    assert_eq!(
        unchanged["target_hours"], 100_000,
        "the environment's default: {unchanged}"
    );
    let year = current_fiscal_year();
    let target_year = (year + 2).to_string();
    let saved = session.post(
        "/admin/effects",
        &[
            ("_csrf", &csrf),
            ("start_fiscal_year", "2019"),
            ("target_hours", "100,000"),
            ("target_amount", "5000000000"),
            ("target_fiscal_year", &target_year),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let settings = app.get("/api/v1/effects/settings", &admin).body;
    assert_eq!(
        settings,
        json!({"start_fiscal_year": 2019, "target_hours": 100000, "target_amount": 5_000_000_000_i64, "target_fiscal_year": year + 2})
    );
    live_system(
        app,
        &dx,
        "効果測定",
        json!({"hours_saved_per_year": 40_000}),
        tokyo(2020, 4, 1),
    );
    let r = report(app, &dx, year);
    assert_eq!(r["hours_progress"]["percent"], 40.0);
    assert_eq!(
        r["hours_progress"]["needed_per_year"], 30_000,
        "60,000 over two years"
    );
    // Only admins read or set the targets.
    assert_eq!(app.get("/api/v1/effects/settings", &dx).status, 403);
    let mut dx_session = Session::new(app);
    dx_session.login(&app.org.dx.email);
    assert_eq!(dx_session.get("/admin/effects").status, 403);
}

fn other_effects_are_kept_per_system_and_shown_in_the_report(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let s = live_system(app, &dx, "コールセンターFAQ", json!({}), tokyo(2024, 4, 1));
    let effect =
        json!({"what": "応援職員", "before": 100, "after": 15, "unit": "人/日", "note": "繁忙期"});
    let invalid = edit(
        app,
        &dx,
        &s["id"],
        json!({"other_effects": [{"what": "", "before": 1, "after": 2, "unit": "日"}]}),
    );
    assert_eq!(invalid.status, 422, "{:?}", invalid.body);
    assert!(invalid.body["errors"]["other_effects"].is_array());
    let saved = edit(
        app,
        &dx,
        &s["id"],
        json!({"other_effects": [effect], "development_cost_avoided": 3_000_000}),
    );
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let got = app.get(&format!("/api/v1/systems/{}", s["id"]), &dx).body;
    assert_eq!(got["other_effects"][0]["after"], 15.0);
    assert_eq!(got["development_cost_avoided"], 3_000_000);
    let line = &report(app, &dx, 2025)["figures"]["other_effects"][0];
    assert_eq!(
        (line["what"].as_str(), line["system"].as_str()),
        (Some("応援職員"), Some("コールセンターFAQ"))
    );
    let mut session = Session::new(app);
    session.login(&app.org.dx.email);
    let page = session.get(&format!("/systems/{}", s["id"]));
    assert!(page.body.contains("応援職員") && page.body.contains("人/日"));

    // The edit form: its rows replace the list; a figure that is not a number is
    // refused and nothing changes.
    let form = session.get(&format!("/systems/{}/edit", s["id"]));
    assert!(
        form.body.contains("name=\"effect_0_what\" ") && form.body.contains("value=\"応援職員\"")
    );
    assert!(
        form.body.contains("name=\"effect_2_what\""),
        "blank rows to add more"
    );
    let csrf = session.csrf();
    let path = format!("/systems/{}", s["id"]);
    let version = app
        .get(&path.replace("/systems", "/api/v1/systems"), &dx)
        .body["version"]
        .to_string();
    let fields = |before: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("version", version.clone()),
            ("other_effects_rows", "1".to_string()),
            ("effect_0_what", "残業時間".to_string()),
            ("effect_0_before", before.to_string()),
            ("effect_0_after", "40".to_string()),
            ("effect_0_unit", "時間/月".to_string()),
            ("effect_1_what", String::new()),
            ("development_cost_avoided", "4,000,000".to_string()),
        ]
    };
    let bad = fields("たくさん");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = session.post(&path, &bad);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        app.get(&path.replace("/systems", "/api/v1/systems"), &dx)
            .body["other_effects"][0]["what"],
        "応援職員",
        "nothing changed"
    );
    let good = fields("55");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = session.post(&path, &good);
    assert_eq!(saved.status, 303, "{}", saved.body);
    let got = app
        .get(&path.replace("/systems", "/api/v1/systems"), &dx)
        .body;
    assert_eq!(
        got["other_effects"],
        json!([{"what": "残業時間", "before": 55.0, "after": 40.0, "unit": "時間/月", "note": null}])
    );
    assert_eq!(got["development_cost_avoided"], 4_000_000);
}

fn the_report_tables_read_back_from_csv_and_xlsx(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    live_system(
        app,
        &dx,
        "=HYPERLINK(\"http://evil\")",
        json!({"hours_saved_per_year": 1920, "cost_saved_per_year": 1_000_000}),
        tokyo(2024, 4, 1),
    );
    let (content_type, csv) = app.download(
        "/api/v1/effects/report.csv?fiscal_year=2025&table=systems",
        &dx,
    );
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let text = String::from_utf8(csv[3..].to_vec()).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("システム,所管課,稼働月数,削減時間,削減コスト (円)")
    );
    assert_eq!(
        lines.next(),
        Some("\"'=HYPERLINK(\"\"http://evil\"\")\",市民課,12,1920,1000000"),
        "formula neutralised, numbers kept"
    );
    let bad = app.get("/api/v1/effects/report.csv?table=secrets", &dx);
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let bad_year = app.get("/api/v1/effects/report?fiscal_year=twenty", &dx);
    assert_eq!(bad_year.status, 400, "{:?}", bad_year.body);

    let (content_type, xlsx) = app.download("/api/v1/effects/report.xlsx?fiscal_year=2025", &dx);
    assert!(content_type.contains("spreadsheetml"), "{content_type}");
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(xlsx)).expect("xlsx");
    assert_eq!(
        book.sheet_names(),
        vec!["概要", "年度別", "局別", "上位システム", "その他の効果"]
    );
    let summary = book.worksheet_range("概要").expect("summary");
    let find = |label: &str| {
        summary
            .rows()
            .find(|r| r[0] == Data::String(label.into()))
            .map(|r| r[1].clone())
    };
    assert_eq!(find("削減時間"), Some(Data::Float(1920.0)));
    assert_eq!(find("職員換算"), Some(Data::Float(1.0)));
    let systems = book.worksheet_range("上位システム").expect("systems");
    assert_eq!(
        systems.get((1, 0)),
        Some(&Data::String("=HYPERLINK(\"http://evil\")".into())),
        "XLSX text is text, never a formula"
    );
}

fn the_command_line_closes_a_year_and_refuses_mistakes(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    live_system(
        app,
        &dx,
        "転入届RPA",
        json!({"hours_saved_per_year": 600}),
        tokyo(2023, 4, 1),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| crate::cli::digicon(&app.database_url, dir.path(), args, "");
    let closed = run(&["effects", "close", "--fiscal-year", "2024"]);
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    let said = String::from_utf8_lossy(&closed.stdout);
    assert!(
        said.contains("fiscal year 2024 closed: 600 hours saved"),
        "{said}"
    );
    let r = report(app, &dx, 2024);
    assert_eq!(r["closed"], true);
    assert_eq!(
        r["history"][0]["actor"],
        Value::Null,
        "closed from the command line"
    );
    let again = run(&["effects", "close", "--fiscal-year", "2024"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("closed already"));
    let out_of_range = run(&["effects", "close", "--fiscal-year", "1999"]);
    assert_eq!(out_of_range.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out_of_range.stderr).contains("fiscal_year"));
    let reopened = run(&[
        "effects",
        "reopen",
        "--fiscal-year",
        "2024",
        "--reason",
        "訂正",
    ]);
    assert!(
        reopened.status.success(),
        "{}",
        String::from_utf8_lossy(&reopened.stderr)
    );
    assert_eq!(report(app, &dx, 2024)["closed"], false);
}

both_backends!(
    the_command_line_closes_a_year_and_refuses_mistakes,
    a_phase_change_in_mid_year_counts_pro_rata_by_month,
    a_closed_year_is_unchanged_after_a_system_is_retired,
    the_in_house_rate_counts_only_systems_in_operation,
    cumulative_money_adds_the_years_since_the_start_year,
    targets_are_set_on_the_settings_page,
    other_effects_are_kept_per_system_and_shown_in_the_report,
    the_report_tables_read_back_from_csv_and_xlsx,
);
