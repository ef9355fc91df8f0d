//! The mapping file (TOML): which kintone field holds each of our fields, how
//! kintone's values (status names, category labels, departments, users) read as
//! ours, and defaults. `--print-mapping` writes a starter file for each app.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::KintoneApp;
use crate::domain::kintone::Problem;

/// One kintone field, or several tried in order (the first non-empty one).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Columns::One(name) => vec![name.as_str()],
            Columns::Many(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

/// A table field (サブテーブル) whose rows become comments on the timeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    pub at: String,
    pub author: String,
    pub text: String,
    /// Internal notes (staff only) instead of public comments.
    #[serde(default)]
    pub internal: bool,
}

/// Values used when a record leaves a field empty (wire values, or an e-mail for a user).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub category: Option<String>,
    pub priority: Option<String>,
    pub topic: Option<String>,
    pub channel: Option<String>,
    pub platform: Option<String>,
    pub built_by: Option<String>,
    /// The SE of records whose own is not known (e-mail).
    pub assignee: Option<String>,
    /// Ledger entries count in the effects once confirmed (default: confirmed,
    /// the kintone ledger being the DX office's own).
    pub verified: Option<bool>,
}

/// A parsed mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub app: Option<String>,
    pub columns: BTreeMap<String, Columns>,
    pub history: Option<History>,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub states: BTreeMap<String, String>,
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    #[serde(default)]
    pub priorities: BTreeMap<String, String>,
    #[serde(default)]
    pub topics: BTreeMap<String, String>,
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    #[serde(default)]
    pub platforms: BTreeMap<String, String>,
    #[serde(default)]
    pub phases: BTreeMap<String, String>,
    #[serde(default)]
    pub built_by: BTreeMap<String, String>,
    /// kintone value → department code.
    #[serde(default)]
    pub departments: BTreeMap<String, String>,
    /// kintone value → e-mail address.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
}

impl Mapping {
    /// Parses a mapping for `app`: unknown keys and columns the app does not have
    /// are problems, and so is a missing required column.
    pub fn parse(text: &str, app: KintoneApp) -> Result<Mapping, Vec<Problem>> {
        let mapping: Mapping =
            toml::from_str(text).map_err(|e| vec![Problem::general(format!("mapping: {e}"))])?;
        let mut problems = Vec::new();
        if let Some(named) = &mapping.app {
            if named != app.as_str() {
                problems.push(Problem::general(format!(
                    "mapping: written for app {named:?}, not {:?}",
                    app.as_str()
                )));
            }
        }
        let known = app.columns();
        for key in mapping.columns.keys() {
            if !known.iter().any(|(k, _)| k == key) {
                problems.push(Problem::general(format!(
                    "mapping: [columns] has no field {key:?} for app {}",
                    app.as_str()
                )));
            }
        }
        for (key, required) in known {
            if *required && !mapping.columns.contains_key(*key) {
                problems.push(Problem::general(format!(
                    "mapping: [columns] must name the kintone field of {key:?}"
                )));
            }
        }
        if problems.is_empty() {
            Ok(mapping)
        } else {
            Err(problems)
        }
    }
}

/// The starter mapping of an app, with the field names kintone apps usually have.
pub fn starter(app: KintoneApp) -> &'static str {
    match app {
        KintoneApp::Digicon => DIGICON,
        KintoneApp::Helpdesk => HELPDESK,
        KintoneApp::Ledger => LEDGER,
    }
}

const DIGICON: &str = r#"# digicon import kintone --app digicon --mapping THIS.toml EXPORT.csv
# The Digicon consultation app. Left: our field; right: the kintone field name
# exactly as the CSV header writes it. Fields marked "optional" may be deleted
# when the app has no such field; every field named here must be in the file.
app = "digicon"

[columns]
record_number = "レコード番号"      # keys the import: running it again skips what is in
number = "受付番号"                 # optional: kept as the number (without it: DX-<fiscal year>-<record number>)
created_at = "作成日時"             # the filing time; its fiscal year counts it
updated_at = "更新日時"             # optional: the time of later steps that have no date of their own
requester = "作成者"                # the person who asked (a user: name or e-mail)
department = "所属"                 # optional: the requester's department when absent
title = "件名"
body = "相談内容"
category = "相談区分"               # optional: [defaults] category
priority = "優先度"                 # optional
desired_by = "希望時期"             # optional: a date
contact = "連絡先"                  # optional
state = "ステータス"                # process management status, read through [states]
assignee = ["担当SE", "作業者"]     # the first that names a helpdesk or DX office user
hearing_at = "ヒアリング日時"        # optional
hearing_place = "ヒアリング場所"     # optional
resolution = "対応結果"             # optional
resolved_at = "解決日"              # optional: else the update time
closed_at = "完了日"                # optional: else the update time

# Optional: a table field (サブテーブル) whose rows become comments on the timeline.
[history]
at = "対応日時"
author = "対応者"
text = "対応内容"
internal = false                    # true: internal notes, for staff only

[defaults]
category = "other"
priority = "normal"
# assignee = "se@city.example"     # the SE of records whose own is not known

# kintone status → received, hearing, assigned, waiting, resolved, closed, withdrawn
[states]
"受付" = "received"
"未着手" = "received"
"ヒアリング" = "hearing"
"ヒアリング調整中" = "hearing"
"対応中" = "assigned"
"回答待ち" = "waiting"
"解決" = "resolved"
"完了" = "closed"
"取下げ" = "withdrawn"

# → low_code_app, e_application, rpa, ai_ocr, data_use, other
[categories]
"ローコードアプリ" = "low_code_app"
"kintoneアプリ" = "low_code_app"
"電子申請" = "e_application"
"RPA" = "rpa"
"AI-OCR" = "ai_ocr"
"データ活用" = "data_use"
"その他" = "other"

# → low, normal, high, urgent
[priorities]
"低" = "low"
"中" = "normal"
"通常" = "normal"
"高" = "high"
"緊急" = "urgent"

# kintone department (organisation) name → our department code. Names not
# listed are matched by code, then by name.
[departments]
# "市民局 市民課" = "SHIMINKA"

# kintone user (display name or login name) → our user's e-mail. Users not
# listed are matched by e-mail, then by name (spaces ignored).
[users]
# "tanaka" = "tanaka@city.example"
"#;

const HELPDESK: &str = r#"# digicon import kintone --app helpdesk --mapping THIS.toml EXPORT.csv
# The helpdesk app. Left: our field; right: the kintone field name exactly as the
# CSV header writes it. Fields marked "optional" may be deleted.
app = "helpdesk"

[columns]
record_number = "レコード番号"
number = "問合せ番号"               # optional: kept (without it: HD-<fiscal year>-<record number>)
created_at = "作成日時"
updated_at = "更新日時"             # optional
asker = "作成者"                    # the person who asked (a user)
subject = "件名"
question = "質問内容"
topic = "分類"                      # optional: [defaults] topic
channel = "受付方法"                # optional: [defaults] channel
priority = "優先度"                 # optional
state = "ステータス"                # read through [states]
assignee = ["担当者", "作業者"]     # the first that names a helpdesk user
answer = "回答"                     # optional
answered_at = "回答日時"            # optional: else the update time
closed_at = "完了日"                # optional: else the update time
consultation = "移行先の相談"        # optional: the Digicon app record number it was escalated into (import that app first)

# Optional: a table field whose rows become comments on the timeline.
[history]
at = "対応日時"
author = "対応者"
text = "対応内容"
internal = false

[defaults]
topic = "other"
channel = "web"
priority = "normal"

# → open, waiting, answered, closed, escalated
[states]
"受付" = "open"
"対応中" = "open"
"確認待ち" = "waiting"
"回答済" = "answered"
"完了" = "closed"
"DX相談へ移行" = "escalated"

# → how_to, permissions, error, account_licence, integration, other
[topics]
"操作方法" = "how_to"
"権限" = "permissions"
"エラー" = "error"
"アカウント・ライセンス" = "account_licence"
"連携" = "integration"
"その他" = "other"

# → web, phone, mail, chat, visit, training
[channels]
"フォーム" = "web"
"電話" = "phone"
"メール" = "mail"
"チャット" = "chat"
"来庁" = "visit"
"研修" = "training"

[priorities]
"低" = "low"
"中" = "normal"
"高" = "high"
"緊急" = "urgent"

[departments]

[users]
"#;

const LEDGER: &str = r#"# digicon import kintone --app ledger --mapping THIS.toml EXPORT.csv
# The system ledger (システム管理台帳). Import the Digicon app first: entries are
# linked to the consultations that led to them by their kintone record numbers.
app = "ledger"

[columns]
record_number = "レコード番号"
created_at = "作成日時"
name = "システム名"
department = "所管課"
owner = "担当者"                    # a user: name or e-mail
platform = "基盤"
phase = "フェーズ"
built_by = "開発区分"               # optional: [defaults] built_by
workflow_before = "導入前の業務"     # optional
workflow_after = "導入後の業務"      # optional
hours_saved_per_year = "年間削減時間" # optional: hours a year
cost_saved_per_year = "年間削減額"   # optional: yen a year
holds_personal_data = "個人情報"     # optional: あり/なし
manual_location = "マニュアル"       # optional
review_on = "見直し日"               # optional: a date
production_on = "本番稼働日"         # optional: a date; else the creation time
consultations = "元の相談"           # optional: Digicon app record numbers, one a line or comma-separated
# verified = "確認済"                # optional: あり/なし; else [defaults] verified

[defaults]
built_by = "in_house"
verified = true

# → trial, verification, production, retired
[phases]
"試行" = "trial"
"検証" = "verification"
"本番" = "production"
"稼働中" = "production"
"廃止" = "retired"

# → low_code_app, e_application, rpa, ai_ocr, other
[platforms]
"kintone" = "low_code_app"
"ローコード" = "low_code_app"
"電子申請" = "e_application"
"RPA" = "rpa"
"AI-OCR" = "ai_ocr"
"その他" = "other"

# → in_house, vendor
[built_by]
"内製" = "in_house"
"職員" = "in_house"
"委託" = "vendor"
"業者" = "vendor"

[departments]

[users]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_starter_mapping_reads_as_a_mapping_of_its_app() {
        for app in [
            KintoneApp::Digicon,
            KintoneApp::Helpdesk,
            KintoneApp::Ledger,
        ] {
            let mapping = Mapping::parse(starter(app), app).expect("starter parses");
            assert_eq!(mapping.app.as_deref(), Some(app.as_str()));
        }
        let digicon = Mapping::parse(DIGICON, KintoneApp::Digicon).expect("parses");
        assert_eq!(
            digicon.states.get("回答待ち").map(String::as_str),
            Some("waiting")
        );
        assert_eq!(
            digicon.columns.get("assignee").map(Columns::names),
            Some(vec!["担当SE", "作業者"])
        );
    }

    #[test]
    fn a_mapping_with_an_unknown_or_missing_field_or_for_another_app_is_refused() {
        let messages = |text: &str| -> Vec<String> {
            Mapping::parse(text, KintoneApp::Helpdesk)
                .expect_err("refused")
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let typo = HELPDESK.replace("subject = ", "subjekt = ");
        let found = messages(&typo);
        assert!(
            found.iter().any(|m| m.contains("no field \"subjekt\"")),
            "{found:?}"
        );
        assert!(found.iter().any(|m| m.contains("\"subject\"")), "{found:?}");
        assert!(messages(DIGICON)
            .iter()
            .any(|m| m.contains("written for app \"digicon\"")));
        assert!(messages("[columns]\nrecord_number = 1\n")[0].starts_with("mapping:"));
        assert!(messages(&format!("{HELPDESK}\n[colors]\n"))[0].contains("colors"));
    }
}
