//! `digicon import kintone` of the helpdesk app and the system ledger, and the
//! starter mappings (the Digicon app and the file's rules are in `import_kintone`).

use serde_json::Value;

use crate::both_backends;
use crate::cli::digicon;
use crate::helpers::TestApp;
use crate::import_kintone::{
    counts, digicon_row, export, report, stdout, with_text_column, Run, DIGICON_HEADER,
    DIGICON_MAPPING,
};
use crate::session::Session;

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
consultation = "移行先の相談"

[states]
"受付" = "open"
"DX相談へ移行" = "escalated"
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
        "移行先の相談",
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
            "",
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
            "",
        ],
        // Escalated into the consultation of Digicon app record 301.
        vec![
            "15",
            "2025/05/01 9:00",
            "田中",
            "アプリ化したい",
            "紙の台帳をやめたい",
            "",
            "DX相談へ移行",
            "鈴木",
            "",
            "",
            "",
            "2025/05/02",
            "301",
        ],
    ];
    let file = export(",", &rows);
    let run = Run::new(app);
    let escalated_into = export(
        ",",
        &[
            with_text_column(&DIGICON_HEADER),
            digicon_row(
                true,
                "301",
                "DX-2025-0301",
                "2025/05/02 9:00",
                "田中",
                "",
                "台帳のアプリ化",
                "受付",
                "",
                ["", "", ""],
            ),
        ],
    );
    let consultation = run.import("digicon", DIGICON_MAPPING, escalated_into.as_bytes(), &[]);
    assert!(consultation.status.success(), "{}", report(&consultation));
    let before = counts(app);
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
    assert_eq!(counts(app)[3] - before[3], 5);

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
    // Answered in 2024; the system closes it five days after its import, not at
    // the first sweep.
    let due_to_close = |days: i64| -> bool {
        let mut conn = app.pool.get().expect("connection");
        let before = digicon::db::now() + chrono::Duration::days(days - 5);
        digicon::db::inquiries::answered_before(&mut conn, before, 1000)
            .expect("answered")
            .iter()
            .any(|i| serde_json::json!(i.id) == answered["id"])
    };
    assert!(!due_to_close(0));
    assert!(due_to_close(6));
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
    let mut session = Session::new(app);
    session.login(&app.org.dx.email);
    let page = session.get(&format!("/inquiries/{}", answered["id"]));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("kintoneから移行（helpdesk レコード 11）"),
        "{}",
        page.body
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

    let list = app.get("/api/v1/inquiries?fiscal_year=2025", &dx).body;
    let escalated = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["number"] == "HD-2025-00015")
        .cloned()
        .expect("HD-2025-00015");
    assert_eq!(escalated["state"], "escalated");
    let into = app.get("/api/v1/consultations?fiscal_year=2025", &dx).body["items"][0].clone();
    assert_eq!(into["number"], "DX-2025-0301");
    let one = app
        .get(&format!("/api/v1/inquiries/{}", escalated["id"]), &dx)
        .body;
    assert_eq!(one["consultation_id"], into["id"], "{one:?}");
    let events = app
        .get(
            &format!("/api/v1/inquiries/{}/events", escalated["id"]),
            &dx,
        )
        .body;
    assert_eq!(events["items"][1]["event"], "escalate");
    assert_eq!(events["items"][1]["payload"]["consultation_id"], into["id"]);

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

    // A later entry cannot claim a consultation another entry already has.
    let claimed = export(
        ",",
        &[
            header,
            vec![
                "3",
                "2025/04/01 9:00",
                "別のアプリ",
                "SHIMINKA",
                "田中",
                "kintone",
                "試行",
                "",
                "",
                "201",
            ],
        ],
    );
    let refused = run.import("ledger", LEDGER_MAPPING, claimed.as_bytes(), &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", report(&refused));
    assert!(
        stdout(&refused).contains(&format!(
            "line 2, 元の相談: the consultation of record 201 is already linked to ledger entry {}",
            system["id"]
        )),
        "{}",
        stdout(&refused)
    );

    let counted = counts(app);
    let again = run.import("ledger", LEDGER_MAPPING, file.as_bytes(), &[]);
    assert!(again.status.success(), "{}", report(&again));
    assert_eq!(counts(app), counted);
}

both_backends!(
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
