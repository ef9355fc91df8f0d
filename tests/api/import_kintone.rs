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
fn export(separator: &str, rows: &[Vec<&str>]) -> String {
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

fn bom(text: &str) -> Vec<u8> {
    [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat()
}

fn shift_jis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "the fixture is all Shift_JIS");
    bytes.into_owned()
}

/// Runs the import with `args` on a file and mapping of these bytes.
struct Run<'a> {
    app: &'a TestApp,
    dir: tempfile::TempDir,
}

impl<'a> Run<'a> {
    fn new(app: &'a TestApp) -> Run<'a> {
        Run {
            app,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn import(&self, kintone_app: &str, mapping: &str, file: &[u8], extra: &[&str]) -> Output {
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

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn report(output: &Output) -> String {
    format!(
        "{}\n{}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Rows of the tables an import writes.
fn counts(app: &TestApp) -> [i64; 5] {
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

const DIGICON_MAPPING: &str = r#"
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

const DIGICON_HEADER: [&str; 19] = [
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
fn digicon_row<'a>(
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

fn with_text_column(header: &[&'static str]) -> Vec<&'static str> {
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

const HELPDESK_MAPPING: &str = r#"
app = "helpdesk"
[columns]
record_number = "レコード番号"
created_at = "作成日時"
asker = "作成者"
subject = "件名"
question = "質問内容"
topic = "分類"
state = "ステータス"
assignee = ["担当者", "作業者"]
answer = "回答"
answered_at = "回答日時"
closed_at = "完了日"

[states]
"受付" = "open"
"確認待ち" = "waiting"
"回答済" = "answered"
"完了" = "closed"

[topics]
"操作方法" = "how_to"

[users]
"suzuki" = "suzuki@city.test"
"#;

fn the_helpdesk_app_becomes_inquiries_counted_in_their_year(app: &TestApp) {
    let header = vec![
        "レコード番号",
        "作成日時",
        "作成者",
        "件名",
        "質問内容",
        "分類",
        "ステータス",
        "担当者",
        "作業者",
        "回答",
        "回答日時",
        "完了日",
    ];
    let rows = vec![
        header,
        vec![
            "11",
            "2024/04/10 10:00",
            "田中",
            "一覧の絞り込み",
            "自分の係だけ\n表示したい",
            "操作方法",
            "回答済",
            "suzuki",
            "",
            "手順を送りました",
            "2024/04/10 11:00",
            "",
        ],
        vec![
            "12",
            "2024/05/01 9:00",
            "山田",
            "ライセンス",
            "新人の分",
            "",
            "完了",
            "高橋",
            "",
            "付与しました",
            "2024/05/01 10:00",
            "2024/05/03",
        ],
        vec![
            "13",
            "2024/06/01 9:00",
            "田中",
            "エラー",
            "保存できない",
            "",
            "確認待ち",
            "",
            "田中",
            "",
            "",
            "",
        ],
        vec![
            "14",
            "2025/04/02 9:00",
            "伊藤",
            "質問",
            "まだ見ていない",
            "",
            "受付",
            "",
            "",
            "",
            "",
            "",
        ],
    ];
    let file = export(",", &rows);
    let before = counts(app);
    let run = Run::new(app);
    let first = run.import("helpdesk", HELPDESK_MAPPING, file.as_bytes(), &[]);
    // Record 13 waits for the asker, but no SE is named in either column.
    assert_eq!(first.status.code(), Some(2), "{}", report(&first));
    assert!(
        stdout(&first).contains("line 5, 担当者: \"確認待ち\" needs the SE who answered"),
        "{}",
        stdout(&first)
    );
    assert_eq!(counts(app), before);

    let file = file.replace(
        "\"確認待ち\",\"\",\"田中\"",
        "\"確認待ち\",\"\",\"田中\n高橋\"",
    );
    let imported = run.import(
        "helpdesk",
        HELPDESK_MAPPING,
        file.as_bytes(),
        &["--encoding", "utf-8"],
    );
    assert!(imported.status.success(), "{}", report(&imported));
    assert!(
        stdout(&imported).contains("(UTF-8, comma-separated)"),
        "{}",
        stdout(&imported)
    );
    assert_eq!(counts(app)[3] - before[3], 4);

    let dx = app.login(&app.org.dx);
    let list = app.get("/api/v1/inquiries?fiscal_year=2024", &dx);
    let items = list.body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 3, "{:?}", list.body);
    let answered = items
        .iter()
        .find(|i| i["number"] == "HD-2024-00011")
        .expect("HD-2024-00011");
    let one = app
        .get(&format!("/api/v1/inquiries/{}", answered["id"]), &dx)
        .body;
    assert_eq!(one["state"], "answered");
    assert_eq!(one["assignee_id"], app.org.se.id, "[users] maps suzuki");
    assert_eq!(one["answer"], "手順を送りました");
    assert_eq!(one["topic"], "how_to");
    let events = app
        .get(&format!("/api/v1/inquiries/{}/events", answered["id"]), &dx)
        .body;
    let events: Vec<(String, String)> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().into(),
                e["payload"]["imported"]["record"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [("ask".into(), "11".into()), ("answer".into(), "11".into())]
    );
    let waiting = items
        .iter()
        .find(|i| i["number"] == "HD-2024-00013")
        .expect("waiting");
    assert_eq!(waiting["state"], "waiting");
    assert_eq!(
        waiting["assignee_id"], app.org.se2.id,
        "the SE among the 作業者"
    );

    let report_2024 = app.get("/api/v1/dashboard/helpdesk?fiscal_year=2024", &dx);
    assert_eq!(report_2024.body["inquiries"], 3, "{:?}", report_2024.body);
    assert_eq!(
        report_2024.body["first_answers"], 3,
        "answered, closed, asked back"
    );

    let counted = counts(app);
    let again = run.import("helpdesk", HELPDESK_MAPPING, file.as_bytes(), &[]);
    assert!(again.status.success(), "{}", report(&again));
    assert_eq!(counts(app), counted);
}

const LEDGER_MAPPING: &str = r#"
app = "ledger"
[columns]
record_number = "レコード番号"
created_at = "作成日時"
name = "システム名"
department = "所管課"
owner = "担当者"
platform = "基盤"
phase = "フェーズ"
hours_saved_per_year = "年間削減時間"
production_on = "本番稼働日"
consultations = "元の相談"

[phases]
"本番" = "production"
"試行" = "trial"

[platforms]
"kintone" = "low_code_app"
"#;

fn ledger_entries_link_the_consultations_that_led_to_them(app: &TestApp) {
    let run = Run::new(app);
    let mut a = digicon_row(
        true,
        "201",
        "DX-2023-0201",
        "2023/05/01 9:00",
        "田中",
        "",
        "受付台帳のアプリ化",
        "完了",
        "鈴木",
        ["", "", ""],
    );
    a[16] = "2023/06/01";
    let mut b = digicon_row(
        true,
        "202",
        "DX-2023-0202",
        "2023/05/02 9:00",
        "山田",
        "",
        "台帳の集計",
        "完了",
        "鈴木",
        ["", "", ""],
    );
    b[16] = "2023/06/02";
    let consultations = export(",", &[with_text_column(&DIGICON_HEADER), a, b]);
    let first = run.import("digicon", DIGICON_MAPPING, consultations.as_bytes(), &[]);
    assert!(first.status.success(), "{}", report(&first));

    let header = vec![
        "レコード番号",
        "作成日時",
        "システム名",
        "所管課",
        "担当者",
        "基盤",
        "フェーズ",
        "年間削減時間",
        "本番稼働日",
        "元の相談",
    ];
    let unknown = export(
        ",",
        &[
            header.clone(),
            vec![
                "1",
                "2024/04/01 9:00",
                "住民票受付アプリ",
                "SHIMINKA",
                "田中",
                "kintone",
                "本番",
                "1,200",
                "2024/04/15",
                "201\n999",
            ],
        ],
    );
    let before = counts(app);
    let refused = run.import("ledger", LEDGER_MAPPING, unknown.as_bytes(), &["--dry-run"]);
    assert_eq!(refused.status.code(), Some(2), "{}", report(&refused));
    assert!(
        stdout(&refused)
            .contains("line 2, 元の相談: no consultation was imported from Digicon app record 999"),
        "{}",
        stdout(&refused)
    );

    let file = export(
        ",",
        &[
            header,
            vec![
                "1",
                "2024/04/01 9:00",
                "住民票受付アプリ",
                "SHIMINKA",
                "田中",
                "kintone",
                "本番",
                "1,200",
                "2024/04/15",
                "201\n202",
            ],
            vec![
                "2",
                "2024/10/01 9:00",
                "保育の集計",
                "保育課",
                "伊藤",
                "kintone",
                "試行",
                "",
                "",
                "",
            ],
        ],
    );
    let imported = run.import("ledger", LEDGER_MAPPING, file.as_bytes(), &[]);
    assert!(imported.status.success(), "{}", report(&imported));
    assert_eq!(counts(app)[4] - before[4], 2);

    let dx = app.login(&app.org.dx);
    let list = app.get("/api/v1/systems", &dx).body;
    let system = list["items"]
        .as_array()
        .or(list.as_array())
        .expect("systems")
        .iter()
        .find(|s| s["name"] == "住民票受付アプリ")
        .cloned()
        .expect("imported system");
    let one = app
        .get(&format!("/api/v1/systems/{}", system["id"]), &dx)
        .body;
    let linked: Vec<&Value> = one["consultations"]
        .as_array()
        .expect("consultations")
        .iter()
        .map(|c| &c["number"])
        .collect();
    assert_eq!(linked, ["DX-2023-0201", "DX-2023-0202"], "{one:?}");
    assert_eq!(one["hours_saved_per_year"], 1200);
    assert_eq!(one["verified"], true);

    let effects = app.get("/api/v1/systems/effects", &dx).body;
    let fy2024 = effects["by_fiscal_year"]
        .as_array()
        .expect("by_fiscal_year")
        .iter()
        .find(|b| b["key"] == "2024")
        .cloned()
        .unwrap_or_else(|| panic!("FY2024 missing: {effects:?}"));
    assert_eq!(fy2024["hours_saved"], 1200, "{effects:?}");
    assert_eq!(effects["hours_saved"], 1200);

    let counted = counts(app);
    let again = run.import("ledger", LEDGER_MAPPING, file.as_bytes(), &[]);
    assert!(again.status.success(), "{}", report(&again));
    assert_eq!(counts(app), counted);
}

both_backends!(
    a_dry_run_reports_every_problem_with_its_line_and_a_real_run_imports_nothing,
    an_export_is_imported_once_with_numbers_dates_states_timeline_and_counts,
    the_helpdesk_app_becomes_inquiries_counted_in_their_year,
    ledger_entries_link_the_consultations_that_led_to_them,
);

#[test]
fn every_starter_mapping_is_printed_and_reads_as_a_mapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    for app in ["digicon", "helpdesk", "ledger"] {
        let printed = digicon(
            &url,
            dir.path(),
            &["import", "kintone", "--app", app, "--print-mapping"],
            "",
        );
        assert!(printed.status.success(), "{}", report(&printed));
        let text = stdout(&printed);
        assert!(
            text.contains("レコード番号") && text.contains("作成日時"),
            "{text}"
        );
        let app = digicon::app::kintone::KintoneApp::parse(app).expect("app");
        digicon::app::kintone::mapping::Mapping::parse(&text, app).expect("parses");
    }
    let unknown = digicon(
        &url,
        dir.path(),
        &["import", "kintone", "--app", "crm", "--print-mapping"],
        "",
    );
    assert_eq!(unknown.status.code(), Some(2));
}
