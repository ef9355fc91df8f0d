//! `digicon import kintone`, run as a user runs it, on kintone-shaped CSV exports
//! in each encoding (UTF-8, UTF-8 with BOM, Shift_JIS), with table rows under
//! their record, quotes and line breaks inside values; then read back over the API.

use std::process::Output;

use diesel::prelude::*;
use digicon::db::schema::{comments, consultation_events, consultations, inquiries, systems};
use serde_json::Value;

use crate::both_backends;
use crate::cli::digicon;
use crate::helpers::TestApp;
use crate::session::Session;

/// A kintone export: every value quoted, quotes doubled, CRLF between rows (line
/// breaks inside values stay LF, as kintone writes them).
pub(crate) fn export(separator: &str, rows: &[Vec<&str>]) -> String {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|v| format!("\"{}\"", v.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(separator)
        })
        .map(|line| line + "\r\n")
        .collect()
}

pub(crate) fn bom(text: &str) -> Vec<u8> {
    [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()
}

pub(crate) fn shift_jis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "the fixture is all Shift_JIS");
    bytes.into_owned()
}

/// Runs the import with `args` on a file and mapping of these bytes.
pub(crate) struct Run<'a> {
    app: &'a TestApp,
    dir: tempfile::TempDir,
}

impl<'a> Run<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Run<'a> {
        Run {
            app,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn import(
        &self,
        kintone_app: &str,
        mapping: &str,
        file: &[u8],
        extra: &[&str],
    ) -> Output {
        let mapping_path = self.dir.path().join(format!("{kintone_app}.toml"));
        let file_path = self.dir.path().join(format!("{kintone_app}.csv"));
        std::fs::write(&mapping_path, mapping).expect("mapping");
        std::fs::write(&file_path, file).expect("file");
        let mut args = vec![
            "import",
            "kintone",
            "--app",
            kintone_app,
            "--mapping",
            mapping_path.to_str().expect("path"),
        ];
        args.extend(extra);
        args.push(file_path.to_str().expect("path"));
        digicon(&self.app.database_url, self.dir.path(), &args, "")
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn report(output: &Output) -> String {
    format!(
        "{}\n{}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Rows of the tables an import writes.
pub(crate) fn counts(app: &TestApp) -> [i64; 5] {
    let mut conn = app.pool.get().expect("connection");
    [
        consultations::table.count().get_result(&mut *conn),
        consultation_events::table.count().get_result(&mut *conn),
        comments::table.count().get_result(&mut *conn),
        inquiries::table.count().get_result(&mut *conn),
        systems::table.count().get_result(&mut *conn),
    ]
    .map(|n| n.expect("count"))
}

pub(crate) const DIGICON_MAPPING: &str = r#"
app = "digicon"
[columns]
record_number = "レコード番号"
number = "受付番号"
created_at = "作成日時"
updated_at = "更新日時"
requester = "作成者"
department = "所属"
title = "件名"
body = "相談内容"
category = "相談区分"
state = "ステータス"
assignee = ["担当SE", "作業者"]
hearing_at = "ヒアリング日時"
resolution = "対応結果"
resolved_at = "解決日"
closed_at = "完了日"

[history]
at = "対応日時"
author = "対応者"
text = "対応内容"

[states]
"受付" = "received"
"ヒアリング" = "hearing"
"回答待ち" = "waiting"
"完了" = "closed"
"取下げ" = "withdrawn"

[categories]
"ローコードアプリ" = "low_code_app"
"電子申請" = "e_application"

[departments]
"市民局 市民課" = "SHIMINKA"
"#;

pub(crate) const DIGICON_HEADER: [&str; 19] = [
    "レコードの開始行",
    "レコード番号",
    "受付番号",
    "作成日時",
    "更新日時",
    "作成者",
    "所属",
    "件名",
    "相談内容",
    "相談区分",
    "ステータス",
    "担当SE",
    "作業者",
    "ヒアリング日時",
    "対応結果",
    "解決日",
    "完了日",
    "対応日時",
    "対応者",
];

/// A Digicon app row: the record's fields, then one row of its history table.
#[allow(clippy::too_many_arguments)]
pub(crate) fn digicon_row<'a>(
    start: bool,
    record: &'a str,
    number: &'a str,
    created: &'a str,
    requester: &'a str,
    department: &'a str,
    title: &'a str,
    state: &'a str,
    se: &'a str,
    history: [&'a str; 3],
) -> Vec<&'a str> {
    let mut row = vec![
        if start { "*" } else { "" },
        record,
        number,
        created,
        "",
        requester,
        department,
        title,
        "紙の申請書を\n毎月手で入力しています。",
        "電子申請",
        state,
        se,
        "",
        "",
        "",
        "",
        "",
    ];
    row.extend(history);
    row
}

pub(crate) fn with_text_column(header: &[&'static str]) -> Vec<&'static str> {
    let mut h = header.to_vec();
    h.push("対応内容");
    h
}

fn a_dry_run_reports_every_problem_with_its_line_and_a_real_run_imports_nothing(app: &TestApp) {
    let header = with_text_column(&DIGICON_HEADER);
    let rows = vec![
        header,
        // Every row takes two lines: its body has a line break.
        // Lines 2–5: a record with two history rows.
        digicon_row(
            true,
            "1",
            "",
            "2023/06/01 9:30",
            "田中",
            "市民局 市民課",
            "紙の申請",
            "受付",
            "",
            ["2023-06-02 10:00", "鈴木", "電話で確認"],
        ),
        digicon_row(
            false,
            "1",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            ["2023-06-03 10:00", "佐藤", "\"議事録\"を共有"],
        ),
        // Lines 6–7: a month that does not exist.
        digicon_row(
            true,
            "2",
            "",
            "2023/13/01 9:30",
            "田中",
            "",
            "日付",
            "受付",
            "",
            ["", "", ""],
        ),
        // Lines 8–9: a department digicon does not have.
        digicon_row(
            true,
            "3",
            "",
            "2023/06/01 9:30",
            "田中",
            "建設局 道路課",
            "所属",
            "受付",
            "",
            ["", "", ""],
        ),
        // Lines 10–11: the record number of lines 2–5 again.
        digicon_row(
            true,
            "1",
            "",
            "2023/06/01 9:30",
            "田中",
            "",
            "重複",
            "受付",
            "",
            ["", "", ""],
        ),
        // Lines 12–13: a status the mapping does not know.
        digicon_row(
            true,
            "5",
            "",
            "2023/06/01 9:30",
            "田中",
            "",
            "状態",
            "保留",
            "",
            ["", "", ""],
        ),
        // Lines 14–17: a history row with a day February does not have.
        digicon_row(
            true,
            "6",
            "",
            "2023/06/01 9:30",
            "田中",
            "",
            "履歴",
            "受付",
            "",
            ["", "", ""],
        ),
        digicon_row(
            false,
            "6",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            ["2023-02-30 10:00", "鈴木", "メモ"],
        ),
        // Lines 18–19: waiting for the requester, but no SE is known.
        digicon_row(
            true,
            "7",
            "",
            "2023/06/01 9:30",
            "田中",
            "",
            "担当",
            "回答待ち",
            "",
            ["", "", ""],
        ),
    ];
    let file = bom(&export(",", &rows));
    let before = counts(app);
    let run = Run::new(app);

    let dry = run.import("digicon", DIGICON_MAPPING, &file, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(2), "{}", report(&dry));
    let out = stdout(&dry);
    for expected in [
        "line 6, 作成日時: \"2023/13/01 9:30\" is not a date and time",
        "line 8, 所属: unknown department \"建設局 道路課\"",
        "line 10, レコード番号: record 1 appears twice (first at line 2)",
        "line 12, ステータス: unknown value \"保留\"",
        "line 16, 対応日時: \"2023-02-30 10:00\" is not a date and time",
        "line 18, 担当SE: \"回答待ち\" needs an assignee",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    assert_eq!(out.lines().count(), 6, "one line a problem:\n{out}");
    assert!(String::from_utf8_lossy(&dry.stderr).contains("6 problems"));
    assert_eq!(counts(app), before, "a dry run changes nothing");

    let real = run.import("digicon", DIGICON_MAPPING, &file, &[]);
    assert_eq!(real.status.code(), Some(2), "{}", report(&real));
    assert_eq!(stdout(&real), out, "the real run reports the same problems");
    assert_eq!(counts(app), before, "one problem and nothing is imported");
}

/// `YYYY/MM/DD HH:MM` in Tokyo, `days` from now.
fn tokyo_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y/%m/%d %H:%M")
        .to_string()
}

fn find_by_number(app: &TestApp, token: &str, number: &str) -> Value {
    let fy = &number[3..7];
    let list = app.get(
        &format!("/api/v1/consultations?fiscal_year={fy}&limit=200"),
        token,
    );
    assert_eq!(list.status, 200, "{:?}", list.body);
    let found = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["number"] == number)
        .unwrap_or_else(|| panic!("{number} not listed: {:?}", list.body));
    app.get(&format!("/api/v1/consultations/{}", found["id"]), token)
        .body
}

fn an_export_is_imported_once_with_numbers_dates_states_timeline_and_counts(app: &TestApp) {
    let fy_now = digicon::domain::fiscal::fiscal_year(
        (chrono::Utc::now() - chrono::Duration::days(2))
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .date_naive(),
    );
    let current_number = format!("DX-{fy_now}-0050");
    let recent = tokyo_in(-2);
    let mut closed = digicon_row(
        true,
        "101",
        "DX-2023-0101",
        "2023/06/01 9:30",
        "田中",
        "市民局 市民課",
        "紙の申請をアプリに",
        "完了",
        "鈴木",
        ["2023-06-02 10:00", "鈴木", "申請書を\n\"議事録\"にまとめた"],
    );
    closed[4] = "2023/07/10 17:00";
    closed[13] = "2023/06/05 10:00";
    closed[14] = "アプリを作成しました";
    closed[15] = "2023/6/30";
    closed[16] = "2023-07-10";
    let history = digicon_row(
        false,
        "101",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        ["2023/06/20 15:00", "高橋", "検証を依頼"],
    );
    // Waiting on the requester: kintone's 作業者 is the requester, the SE is 担当SE.
    let mut waiting = digicon_row(
        true,
        "102",
        "DX-2024-0007",
        "2024-05-10 14:00",
        "山田",
        "",
        "RPAの相談",
        "回答待ち",
        "高橋",
        ["", "", ""],
    );
    waiting[12] = "山田";
    waiting[13] = "2024-05-13 10:00";
    let fresh = digicon_row(
        true,
        "103",
        &current_number,
        &recent,
        "伊藤",
        "保育課",
        "今年度の相談",
        "受付",
        "",
        ["", "", ""],
    );
    let mut withdrawn = digicon_row(
        true,
        "104",
        "",
        "2023-09-01T00:30:00Z",
        "田中",
        "",
        "取り下げた相談",
        "取下げ",
        "",
        ["", "", ""],
    );
    withdrawn[16] = "2023/09/05";
    let rows = vec![
        with_text_column(&DIGICON_HEADER),
        closed,
        history,
        waiting,
        fresh,
        withdrawn,
    ];
    let file = shift_jis(&export("\t", &rows));
    let before = counts(app);
    let run = Run::new(app);

    let first = run.import("digicon", DIGICON_MAPPING, &file, &[]);
    assert!(first.status.success(), "{}", report(&first));
    let out = stdout(&first);
    assert!(
        out.contains("4 records in 5 rows (Shift_JIS, tab-separated)"),
        "{out}"
    );
    assert!(out.contains("imported 4 records"), "{out}");
    let after = counts(app);
    assert_eq!(after[0] - before[0], 4, "{out}");
    assert_eq!(after[2] - before[2], 2, "two history rows became comments");

    let admin = app.login(&app.org.admin);
    let c = find_by_number(app, &admin, "DX-2023-0101");
    assert_eq!(c["state"], "closed");
    assert_eq!(c["assignee_id"], app.org.se.id);
    assert_eq!(c["requester_id"], app.org.requester.id);
    assert_eq!(c["department_id"], app.org.shimin_division);
    assert_eq!(c["category"], "e_application");
    assert_eq!(c["body"], "紙の申請書を\n毎月手で入力しています。");
    assert_eq!(c["resolution"], "アプリを作成しました");
    for (field, local) in [
        ("created_at", "2023-06-01T09:30:00"),
        ("resolved_at", "2023-06-30T00:00:00"),
        ("closed_at", "2023-07-10T00:00:00"),
        ("hearing_at", "2023-06-05T10:00:00"),
    ] {
        let value = c[field].as_str().unwrap_or_default();
        assert!(value.starts_with(local), "{field}: {value}");
    }
    let timeline = app.timeline(&admin, &c["id"]);
    let events: Vec<&str> = timeline
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| e["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        events,
        ["file", "schedule_hearing", "assign", "resolve", "close"]
    );
    for e in timeline.iter().filter(|e| e["kind"] == "event") {
        assert_eq!(e["payload"]["imported"]["from"], "kintone", "{e:?}");
        assert_eq!(e["payload"]["imported"]["record"], "101");
    }
    assert_eq!(timeline[0]["payload"]["number"], "DX-2023-0101");
    let notes: Vec<&Value> = timeline.iter().filter(|e| e["kind"] == "comment").collect();
    assert_eq!(notes.len(), 2);
    assert_eq!(
        notes[0]["payload"]["body"],
        "申請書を\n\"議事録\"にまとめた"
    );
    assert_eq!(notes[1]["actor_id"], app.org.se2.id);

    // The page says where its history came from.
    let mut session = Session::new(app);
    session.login(&app.org.dx.email);
    let page = session.get(&format!("/consultations/{}", c["id"]));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("kintoneから移行（digicon レコード 101）"),
        "{}",
        page.body
    );

    let w = find_by_number(app, &admin, "DX-2024-0007");
    assert_eq!(w["state"], "waiting");
    assert_eq!(
        w["assignee_id"], app.org.se2.id,
        "the SE, not the requester whose turn it is"
    );
    let f = find_by_number(app, &admin, &current_number);
    assert_eq!(f["state"], "received");
    assert_eq!(
        f["department_id"], app.org.hoiku_division,
        "matched by name"
    );
    let x = find_by_number(app, &admin, "DX-2023-0104");
    assert_eq!(x["state"], "withdrawn");
    assert!(x["created_at"]
        .as_str()
        .unwrap_or_default()
        .starts_with("2023-09-01T09:30:00"));

    // The dashboard of the imported past year counts them.
    let dashboard = app.get("/api/v1/dashboard?fiscal_year=2023", &admin);
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);
    assert_eq!(dashboard.body["filed"], 2, "{:?}", dashboard.body);
    assert_eq!(dashboard.body["resolved"], 1);
    assert_eq!(dashboard.body["open"], 2, "waiting and received, open now");
    assert_eq!(
        app.get("/api/v1/dashboard?fiscal_year=2024", &admin).body["filed"],
        1
    );

    // Searchable, by a word of a history comment too.
    let found = app.get(
        "/api/v1/consultations?q=%E8%AD%B0%E4%BA%8B%E9%8C%B2",
        &admin,
    );
    let numbers: Vec<&Value> = found.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| &c["number"])
        .collect();
    assert_eq!(numbers, ["DX-2023-0101"], "{:?}", found.body);

    // New filings are numbered after the imported ones.
    let filed = app.file(&app.login(&app.org.requester), "取り込み後の相談");
    assert_eq!(filed["number"], format!("DX-{fy_now}-0051"));

    // The same file again changes nothing.
    let counted = counts(app);
    let again = run.import("digicon", DIGICON_MAPPING, &file, &[]);
    assert!(again.status.success(), "{}", report(&again));
    assert!(
        stdout(&again).contains("imported 0 records"),
        "{}",
        stdout(&again)
    );
    assert!(
        stdout(&again).contains("4 imported before"),
        "{}",
        stdout(&again)
    );
    assert_eq!(counts(app), counted);
    assert_eq!(app.timeline(&admin, &c["id"]).len(), timeline.len());
}

/// The ids the worker would close now, or `days` from now: resolved
/// consultations past their reopen window.
fn due_to_close(app: &TestApp, days: i64) -> Vec<i64> {
    let mut conn = app.pool.get().expect("connection");
    let cutoff = digicon::db::now() + chrono::Duration::days(days) - chrono::Duration::days(14);
    digicon::db::consultations::resolved_before(&mut conn, cutoff, 100)
        .expect("resolved")
        .iter()
        .map(|c| c.id)
        .collect()
}

fn imported_resolved_history_gets_its_reopen_window_from_the_import(app: &TestApp) {
    let mapping = DIGICON_MAPPING.replace(
        "\"完了\" = \"closed\"",
        "\"完了\" = \"closed\"\n\"解決\" = \"resolved\"",
    );
    let mut resolved = digicon_row(
        true,
        "201",
        "DX-2023-0201",
        "2023/06/01 9:30",
        "田中",
        "市民局 市民課",
        "解決したままの相談",
        "解決",
        "鈴木",
        ["", "", ""],
    );
    resolved[14] = "手順書を渡しました";
    resolved[15] = "2023/6/30";
    let file = export(",", &[with_text_column(&DIGICON_HEADER), resolved]);
    let imported = Run::new(app).import("digicon", &mapping, file.as_bytes(), &[]);
    assert!(imported.status.success(), "{}", report(&imported));
    let admin = app.login(&app.org.admin);
    let c = find_by_number(app, &admin, "DX-2023-0201");
    assert_eq!(c["state"], "resolved");
    let id = c["id"].as_i64().expect("id");
    // Resolved in 2023, but the requester gets the whole window from the import.
    assert!(!due_to_close(app, 0).contains(&id));
    assert!(!due_to_close(app, 13).contains(&id));
    assert!(due_to_close(app, 15).contains(&id));
}

both_backends!(
    imported_resolved_history_gets_its_reopen_window_from_the_import,
    a_dry_run_reports_every_problem_with_its_line_and_a_real_run_imports_nothing,
    an_export_is_imported_once_with_numbers_dates_states_timeline_and_counts,
);
