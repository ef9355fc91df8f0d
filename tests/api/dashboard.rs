//! Dashboards and exports: the aggregates against numbers worked out by hand on a
//! small fixed history (fiscal-year boundaries on March 31 / April 1 in Tokyo
//! included), who may see which figures, and CSV/XLSX downloads read back.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use digicon::db::schema::consultations;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{TestApp, User};

/// A Tokyo wall-clock time as the stored UTC time.
fn jst(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time") - Duration::hours(9)
}

/// Stage columns of one fixture consultation, written straight to the database so
/// the history can lie in the past.
#[derive(Default)]
struct Shape {
    created: Option<NaiveDateTime>,
    state: &'static str,
    hearing: Option<NaiveDateTime>,
    assigned: Option<NaiveDateTime>,
    resolved: Option<NaiveDateTime>,
    due: Option<NaiveDateTime>,
    rating: Option<i16>,
    reopened: i32,
    se: bool,
}

fn filed_as(app: &TestApp, user: &User, title: &str, shape: Shape) -> i64 {
    let token = app.login(user);
    let id = app.file(&token, title)["id"].as_i64().expect("id");
    let created = shape.created.expect("created");
    let fy = digicon::domain::fiscal::fiscal_year((created + Duration::hours(9)).date());
    let mut conn = app.pool.get().expect("connection");
    diesel::update(consultations::table.find(id))
        .set((
            consultations::created_at.eq(created),
            consultations::fiscal_year.eq(fy),
            consultations::state.eq(shape.state),
            consultations::hearing_at.eq(shape.hearing),
            consultations::assigned_at.eq(shape.assigned),
            consultations::resolved_at.eq(shape.resolved),
            consultations::resolution_due_at.eq(shape.due),
            consultations::rating.eq(shape.rating),
            consultations::reopen_count.eq(shape.reopened),
            consultations::assignee_id.eq(shape.se.then_some(app.org.se.id)),
        ))
        .execute(&mut *conn)
        .expect("shape");
    // Written behind the desk's back: count the rollups again, as `digicon
    // reindex` does after such a change.
    digicon::db::stats::rebuild(&mut conn, &app.settings.timezone).expect("rollups");
    id
}

/// The fixture: fiscal 2024 (令和6年度) is April 1 2024 to March 31 2025 in Tokyo.
fn history(app: &TestApp) {
    let org = &app.org;
    // A: the first minute of FY2024; a day to the hearing, a day to assignment, two to resolution.
    filed_as(
        app,
        &org.requester,
        "A",
        Shape {
            created: Some(jst("2024-04-01 00:00")),
            state: "closed",
            hearing: Some(jst("2024-04-02 00:00")),
            assigned: Some(jst("2024-04-03 00:00")),
            resolved: Some(jst("2024-04-05 00:00")),
            due: Some(jst("2024-04-10 17:00")),
            rating: Some(5),
            se: true,
            ..Default::default()
        },
    );
    // B: the last hour of FY2024, resolved in FY2025.
    filed_as(
        app,
        &org.requester,
        "B",
        Shape {
            created: Some(jst("2025-03-31 23:00")),
            state: "resolved",
            hearing: Some(jst("2025-04-02 23:00")),
            assigned: Some(jst("2025-04-03 23:00")),
            resolved: Some(jst("2025-04-10 10:00")),
            due: Some(jst("2025-04-20 17:00")),
            se: true,
            ..Default::default()
        },
    );
    // C: the first minute of FY2025, still waiting for its hearing.
    filed_as(
        app,
        &org.requester,
        "C",
        Shape {
            created: Some(jst("2025-04-01 00:00")),
            state: "hearing",
            hearing: Some(jst("2025-04-08 10:00")),
            ..Default::default()
        },
    );
    // D: the last minute of FY2023, resolved in FY2024, late and after a reopen.
    filed_as(
        app,
        &org.requester,
        "D",
        Shape {
            created: Some(jst("2024-03-31 23:59")),
            state: "closed",
            assigned: Some(jst("2024-03-31 12:00")),
            resolved: Some(jst("2024-04-01 10:00")),
            due: Some(jst("2024-03-31 18:00")),
            rating: Some(3),
            reopened: 1,
            se: true,
            ..Default::default()
        },
    );
    // E: 保育課, filed in FY2024 and never looked at.
    filed_as(
        app,
        &org.outsider,
        "E",
        Shape {
            created: Some(jst("2024-06-15 09:00")),
            state: "received",
            ..Default::default()
        },
    );
    // F: 市民課 itself, no hearing, nine days of work.
    filed_as(
        app,
        &org.colleague,
        "F",
        Shape {
            created: Some(jst("2024-05-10 09:00")),
            state: "closed",
            assigned: Some(jst("2024-05-11 00:00")),
            resolved: Some(jst("2024-05-20 00:00")),
            due: Some(jst("2024-05-30 17:00")),
            se: true,
            ..Default::default()
        },
    );
    // G: filed ten days ago, being worked on.
    filed_as(
        app,
        &org.requester,
        "G",
        Shape {
            created: Some(Utc::now().naive_utc() - Duration::days(10)),
            state: "assigned",
            assigned: Some(Utc::now().naive_utc() - Duration::days(9)),
            se: true,
            ..Default::default()
        },
    );
}

fn counts(list: &Value) -> Vec<(String, i64)> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().expect("key").to_string(),
                c["count"].as_i64().expect("count"),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, i64)]) -> Vec<(String, i64)> {
    items.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

fn aggregates_match_a_hand_computed_history(app: &TestApp) {
    history(app);
    let admin = app.login(&app.org.admin);
    let reply = app.get("/api/v1/dashboard?fiscal_year=2024", &admin);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let d = &reply.body;
    assert_eq!(d["label"], "FY2024");
    assert_eq!(d["era_label"], "令和6年度");
    // Filed in FY2024: A, B, E, F. Resolved in FY2024: A, D, F. Open now: C, E, G.
    assert_eq!(
        (
            d["filed"].as_i64(),
            d["resolved"].as_i64(),
            d["open"].as_i64()
        ),
        (Some(4), Some(3), Some(3))
    );
    assert_eq!(d["previous_year"]["era_label"], "令和5年度");
    assert_eq!(
        (
            d["previous_year"]["filed"].as_i64(),
            d["previous_year"]["resolved"].as_i64()
        ),
        (Some(1), Some(0))
    );

    let months = d["months"].as_array().expect("months");
    assert_eq!(months.len(), 12);
    assert_eq!(
        months[0],
        json!({"month": "2024-04", "filed": 1, "resolved": 2})
    );
    assert_eq!(
        months[1],
        json!({"month": "2024-05", "filed": 1, "resolved": 1})
    );
    assert_eq!(
        months[2],
        json!({"month": "2024-06", "filed": 1, "resolved": 0})
    );
    assert_eq!(
        months[11],
        json!({"month": "2025-03", "filed": 1, "resolved": 0})
    );

    assert_eq!(
        counts(&d["backlog_by_state"]),
        pairs(&[
            ("received", 1),
            ("hearing", 1),
            ("assigned", 1),
            ("waiting", 0)
        ])
    );
    assert_eq!(
        counts(&d["backlog_by_age"]),
        pairs(&[("0-7", 0), ("8-30", 1), ("31-90", 0), ("91-", 2)])
    );
    assert_eq!(
        d["stages"],
        json!([
            {"stage": "filed_to_hearing", "count": 2, "median_hours": 24.0, "p90_hours": 48.0},
            {"stage": "hearing_to_assignment", "count": 2, "median_hours": 24.0, "p90_hours": 24.0},
            {"stage": "assignment_to_resolution", "count": 3, "median_hours": 48.0, "p90_hours": 216.0},
        ])
    );
    assert_eq!(d["sla"]["count"], 2);
    assert_eq!(d["sla"]["of"], 3);
    assert_eq!(d["satisfaction"], json!({"count": 2, "mean": 4.0}));
    assert_eq!(d["reopen"]["count"], 1);
    assert_eq!(d["reopen"]["of"], 3);
    assert_eq!(
        counts(&d["by_state"]),
        pairs(&[("received", 1), ("resolved", 1), ("closed", 2)])
    );
    let e_application = d["by_category"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["key"] == "e_application")
        .expect("e_application")
        .clone();
    assert_eq!(
        e_application,
        json!({"key": "e_application", "filed": 4, "resolved": 3})
    );
    // The section's consultations roll up to 市民課.
    assert_eq!(
        d["by_division"],
        json!([
            {"department_id": app.org.shimin_division, "code": "SHIMINKA", "name": "市民課", "filed": 3, "resolved": 3, "open": 2},
            {"department_id": app.org.hoiku_division, "code": "HOIKU", "name": "保育課", "filed": 1, "resolved": 0, "open": 1},
        ])
    );
    assert_eq!(
        d["by_se"],
        json!([{"user_id": app.org.se.id, "name": "鈴木", "open": 1, "resolved": 3}])
    );

    // The next year starts with B's resolution and C's filing.
    let next = app.get("/api/v1/dashboard?fiscal_year=2025", &admin).body;
    assert_eq!(next["era_label"], "令和7年度");
    assert_eq!(
        (next["filed"].as_i64(), next["resolved"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(next["previous_year"]["filed"], 4);
    assert_eq!(next["previous_year"]["resolved"], 3);
}

fn each_role_sees_the_dashboard_of_its_scope_or_nothing(app: &TestApp) {
    history(app);
    let org = &app.org;
    let filed = |user: &User, query: &str| {
        let reply = app.get(
            &format!("/api/v1/dashboard?fiscal_year=2024{query}"),
            &app.login(user),
        );
        (reply.status, reply.body["filed"].as_i64())
    };
    assert_eq!(filed(&org.admin, ""), (200, Some(4)));
    assert_eq!(filed(&org.dx, ""), (200, Some(4)));
    assert_eq!(filed(&org.dx_manager, ""), (200, Some(4)));
    // 市民局's manager sees both of its divisions; 保育課's only its own.
    assert_eq!(filed(&org.manager, ""), (200, Some(4)));
    assert_eq!(filed(&org.other_manager, ""), (200, Some(1)));
    assert_eq!(filed(&org.manager, "&department=SHIMINKA"), (200, Some(3)));
    assert_eq!(
        filed(&org.admin, &format!("&department={}", org.hoiku_division)),
        (200, Some(1))
    );
    assert_eq!(filed(&org.other_manager, "&department=SHIMINKA").0, 404);
    assert_eq!(filed(&org.admin, "&department=NOPE").0, 404);
    for user in [&org.requester, &org.se] {
        let reply = app.get("/api/v1/dashboard", &app.login(user));
        assert_eq!(reply.status, 403, "{:?}", reply.body);
        assert!(reply.content_type.starts_with("application/problem+json"));
        let export = app.get("/api/v1/export/consultations.csv", &app.login(user));
        assert_eq!(export.status, 403);
    }
    let bad = app.get("/api/v1/dashboard?fiscal_year=24", &app.login(&org.admin));
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(bad.content_type.starts_with("application/problem+json"));
}

fn exports_have_japanese_headers_and_read_back(app: &TestApp) {
    history(app);
    let token = app.login(&app.org.manager);
    let (content_type, csv) = app.download(
        "/api/v1/export/consultations.csv?fiscal_year=2024&sort=created",
        &token,
    );
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(&headers[0], "番号");
    assert_eq!(&headers[1], "件名");
    assert_eq!(&headers[4], "状態");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let titles: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(
        titles,
        ["A", "F", "E", "B"],
        "filed in FY2024, oldest first"
    );
    assert_eq!(&rows[0][4], "完了");
    assert_eq!(&rows[0][5], "市民課", "filed for the division");
    assert_eq!(&rows[0][7], "鈴木");
    assert_eq!(&rows[0][8], "2024-04-01 00:00", "times in Tokyo");
    assert_eq!(&rows[0][14], "5");

    // The same filters as the list: 保育課's manager gets only E.
    let (_, theirs) = app.download(
        "/api/v1/export/consultations.csv?fiscal_year=2024",
        &app.login(&app.org.other_manager),
    );
    assert_eq!(csv::Reader::from_reader(&theirs[3..]).records().count(), 1);

    let (content_type, xlsx) = app.download(
        "/api/v1/export/consultations.xlsx?fiscal_year=2024&sort=created",
        &token,
    );
    assert!(content_type.contains("spreadsheetml"), "{content_type}");
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).expect("an XLSX file");
    let sheet = workbook.worksheet_range("相談一覧").expect("the sheet");
    let rows: Vec<&[Data]> = sheet.rows().collect();
    assert_eq!(rows.len(), 5, "header and four rows");
    assert_eq!(rows[0][0], Data::String("番号".into()));
    assert_eq!(rows[1][1], Data::String("A".into()));
    assert_eq!(rows[1][14], Data::Float(5.0));

    let bad = app.get("/api/v1/export/consultations.csv?state=bogus", &token);
    assert_eq!(bad.status, 400, "{:?}", bad.body);
}

fn the_workflow_keeps_stage_times_on_the_consultation(app: &TestApp) {
    let org = &app.org;
    let requester = app.login(&org.requester);
    let se = app.login(&org.se);
    let se2 = app.login(&org.se2);
    let c = app.file(&requester, "段階の時刻");
    let c = app.must_fire(
        &se,
        &c,
        "assign",
        json!({"assignee_id": org.se.id, "reason": "簡単な相談のため"}),
    );
    // A hand-over is not the first assignment.
    let c = app.must_fire(&se, &c, "assign", json!({"assignee_id": org.se2.id}));
    let c = app.must_fire(
        &se2,
        &c,
        "resolve",
        json!({"resolution": "設定を変えました"}),
    );
    let c = app.must_fire(
        &requester,
        &c,
        "reopen",
        json!({"reason": "まだ直りません"}),
    );
    app.must_fire(
        &se2,
        &c,
        "resolve",
        json!({"resolution": "もう一度直しました"}),
    );
    let id = c["id"].as_i64().expect("id");
    let mut conn = app.pool.get().expect("connection");
    let (assigned_at, reopen_count): (Option<NaiveDateTime>, i32) = consultations::table
        .find(id)
        .select((consultations::assigned_at, consultations::reopen_count))
        .first(&mut *conn)
        .expect("row");
    let timeline = app.timeline(&requester, &c["id"]);
    let first_assign = timeline
        .iter()
        .find(|e| e["event"] == "assign")
        .expect("assign event");
    let assigned_at = assigned_at.expect("assigned_at is set");
    let shown =
        chrono::DateTime::parse_from_rfc3339(first_assign["created_at"].as_str().expect("time"))
            .expect("rfc3339")
            .naive_utc();
    assert_eq!(
        assigned_at.and_utc().timestamp(),
        shown.and_utc().timestamp(),
        "the first assignment"
    );
    assert_eq!(reopen_count, 1);
}

fn rollups_kept_change_by_change_equal_a_recount(app: &TestApp) {
    let org = &app.org;
    let requester = app.login(&org.requester);
    let outsider = app.login(&org.outsider);
    let dx = app.login(&org.dx);
    let se = app.login(&org.se);
    let admin = app.login(&org.admin);
    let a = app.file(&requester, "ロールアップ A");
    let a = app.must_fire(
        &dx,
        &a,
        "schedule_hearing",
        json!({"hearing_place": "会議室", "hearing_at": crate::helpers::future_hearing()}),
    );
    let a = app.must_fire(&se, &a, "assign", json!({"assignee_id": org.se.id}));
    let a = app.must_fire(&se, &a, "resolve", json!({"resolution": "直しました"}));
    let a = app.must_fire(&requester, &a, "reopen", json!({"reason": "まだです"}));
    let a = app.must_fire(&se, &a, "resolve", json!({"resolution": "今度こそ"}));
    app.must_fire(&requester, &a, "close", json!({"rating": 4}));
    let b = app.file(&outsider, "ロールアップ B");
    let edited = app.patch(
        &format!("/api/v1/consultations/{}", b["id"]),
        &dx,
        json!({"version": b["version"], "category": "rpa"}),
    );
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    app.must_fire(
        &outsider,
        &edited.body,
        "withdraw",
        json!({"reason": "不要"}),
    );
    // C is filed for the section itself (the DX office files on its behalf).
    let c = app.post(
        "/api/v1/consultations",
        &dx,
        json!({"title": "ロールアップ C", "body": "係の相談", "category": "other",
               "department_id": org.shimin_section}),
    );
    assert_eq!(c.status, 201, "{:?}", c.body);

    let kept = app.get("/api/v1/dashboard", &admin).body;
    assert_eq!(kept["filed"], 3, "{kept:?}");
    assert_eq!(kept["resolved"], 1);
    assert_eq!(kept["reopen"]["count"], 1);
    assert_eq!(kept["satisfaction"]["count"], 1);
    let mut conn = app.pool.get().expect("connection");
    digicon::db::stats::rebuild(&mut conn, &app.settings.timezone).expect("rollups");
    let recounted = app.get("/api/v1/dashboard", &admin).body;
    assert_eq!(kept, recounted, "the kept rollups are what a recount gives");

    // A manager of a section (not a whole division) gets the dashboard counted on
    // the spot, and only for that section.
    let section_manager = app.post(
        "/api/v1/users",
        &admin,
        json!({"email": "kakaricho@city.test", "name": "係の管理職", "role": "manager",
               "department_id": org.shimin_section, "password": crate::helpers::PASSWORD}),
    );
    assert_eq!(section_manager.status, 201, "{:?}", section_manager.body);
    let token = app.login(&crate::helpers::User {
        id: section_manager.body["id"].as_i64().expect("id"),
        email: "kakaricho@city.test".into(),
    });
    let section = app.get("/api/v1/dashboard", &token);
    assert_eq!(section.status, 200, "{:?}", section.body);
    assert_eq!(section.body["filed"], 1, "C only: A is its division's");
    assert_eq!(section.body["resolved"], 0);
    assert_eq!(section.body["by_division"][0]["filed"], 1);
}

/// The dashboard's own tables (not the consultation list) as CSV and XLSX, with
/// the page's numbers and the caller's scope.
fn dashboard_tables_export_to_csv_and_xlsx_and_read_back(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    app.file(&requester, "窓口の受付簿を電子化したい");
    app.file(&requester, "申請書の様式を統一したい");
    let outsider = app.login(&app.org.outsider);
    app.file(&outsider, "保育の申込書を電子化したい");
    let manager = app.login(&app.org.other_manager);
    let dx = app.login(&app.org.dx);

    let (content_type, csv) = app.download("/api/v1/export/dashboard.csv?table=divisions", &dx);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let text = String::from_utf8(csv[3..].to_vec()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "所属,受付,解決,未完了",
        "the page's headers: {text}"
    );
    assert!(lines.contains(&"市民課,2,0,2"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("保育課,1,")), "{text}");

    // A division manager's export holds only their scope.
    let (_, theirs) = app.download("/api/v1/export/dashboard.csv?table=divisions", &manager);
    let theirs = String::from_utf8_lossy(&theirs).to_string();
    assert!(
        theirs.contains("保育課") && !theirs.contains("市民課"),
        "{theirs}"
    );
    assert_eq!(
        app.get("/api/v1/export/dashboard.csv", &requester).status,
        403
    );
    assert_eq!(
        app.get("/api/v1/export/dashboard.csv?table=nope", &dx)
            .status,
        400
    );
    assert_eq!(
        app.get("/api/v1/export/dashboard.xlsx?fiscal_year=abc", &dx)
            .status,
        400
    );

    let (content_type, xlsx) = app.download("/api/v1/export/dashboard.xlsx", &dx);
    assert!(content_type.contains("spreadsheetml"), "{content_type}");
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).expect("xlsx");
    assert_eq!(book.sheet_names().len(), 8);
    let states = book.worksheet_range("状態別").expect("by state");
    let received = states
        .rows()
        .find(|r| r[0] == Data::String("受付".into()))
        .map(|r| r[1].clone());
    assert_eq!(received, Some(Data::Float(3.0)), "numbers stay numbers");
}

both_backends!(
    dashboard_tables_export_to_csv_and_xlsx_and_read_back,
    rollups_kept_change_by_change_equal_a_recount,
    aggregates_match_a_hand_computed_history,
    each_role_sees_the_dashboard_of_its_scope_or_nothing,
    exports_have_japanese_headers_and_read_back,
    the_workflow_keeps_stage_times_on_the_consultation,
);

/// A dashboard is served again for DIGICON_DASHBOARD_CACHE_MS (per fiscal year
/// and covered departments), then computed afresh.
#[test]
fn a_dashboard_is_served_from_the_cache_for_its_moments() {
    let Some(app) = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.dashboard_cache_ms = 1_500;
    }) else {
        return;
    };
    let dx = app.login(&app.org.dx);
    let requester = app.login(&app.org.requester);
    let filed = |token: &str| app.get("/api/v1/dashboard", token).body["filed"].clone();
    let before = filed(&dx);
    app.file(&requester, "キャッシュの間に受け付けた相談");
    assert_eq!(filed(&dx), before, "the same moments' dashboard");
    let start = std::time::Instant::now();
    loop {
        if filed(&dx) != before {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "never computed again"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(filed(&dx).as_i64(), before.as_i64().map(|n| n + 1));
}
