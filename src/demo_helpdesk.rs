//! The demo's helpdesk stream: about 3.5 inquiries per consultation, as the
//! city's desk has, asked on the web or recorded from calls, in every state,
//! and a handful of FAQ articles. Written through the use cases, like the
//! consultations, so timelines and numbers are those of real use.

use crate::app::{faq, inquiries, App, Caller};
use crate::db::DbConn;
use crate::domain::faq::FaqInput;
use crate::domain::inquiry::{InquiryTransitionInput, NewInquiryInput};
use crate::domain::Role;

/// (subject, question, topic, answer)
const QUESTIONS: &[(&str, &str, &str, &str)] = &[
    ("一覧で自分の係のレコードだけ表示したい", "アプリの一覧画面で、自分の係が登録したレコードだけを表示する方法を教えてください。", "how_to", "一覧の絞り込み条件に「作成者の所属」を追加し、自分の係を指定してください。"),
    ("ルックアップの値が更新されない", "参照先のアプリで値を変えたのに、こちらのアプリの値が古いままです。", "error", "ルックアップは取得した時点の値を保存します。「取得」ボタンを押し直すか、一括更新をしてください。"),
    ("新しく来た職員のアカウントがほしい", "4月に異動してきた職員がログインできません。アカウントの発行をお願いします。", "account_licence", "人事異動の反映は毎週月曜です。急ぎの場合は所属長の承認を添えて申請してください。"),
    ("CSVを読み込むと文字化けする", "Excelで保存したCSVを読み込むと、日本語が文字化けします。", "how_to", "Excelで「CSV UTF-8 (コンマ区切り)」を選んで保存し直してください。"),
    ("他の課にもアプリを見せたい", "作ったアプリを隣の課の職員にも閲覧だけさせたいです。", "permissions", "アプリのアクセス権で、相手の課に「閲覧」だけを付けてください。"),
    ("計算フィールドがエラーになる", "日付の差を計算するフィールドに「計算式が不正です」と出ます。", "error", "日付同士の差は DATE_FORMAT ではなく、日時フィールドの引き算で求めます。式の例を送ります。"),
    ("電子申請の結果をアプリに取り込みたい", "電子申請で受け付けたデータを毎日アプリに登録したいです。", "integration", "電子申請のCSV出力をアプリの一括登録で取り込めます。毎日自動にするならDX相談をご利用ください。"),
    ("通知メールが届かない", "レコードを登録しても、担当者に通知メールが届きません。", "error", "通知の宛先が「作成者」になっていました。「担当者フィールド」に変えると届きます。"),
    ("プロセス管理の差し戻し", "承認者が差し戻したとき、申請者に戻す設定はどうしますか。", "how_to", "プロセス管理で、承認ステータスから「申請中」に戻るアクションを追加してください。"),
    ("ライセンスの追加", "臨時職員3名分のライセンスを追加したいです。", "account_licence", "年度途中の追加は月単位で可能です。人数と期間を申請書でお送りください。"),
];

const FAQ: &[(&str, &str, &str, &str)] = &[
    (
        "CSVを読み込むと文字化けする",
        "Excelで保存したCSVを読み込むと日本語が文字化けします。",
        "Excelで「CSV UTF-8 (コンマ区切り)」を選んで保存し直してください。",
        "how_to",
    ),
    (
        "ルックアップの値が古いまま",
        "参照先を更新してもルックアップの値が変わりません。",
        "ルックアップは取得時の値を保存します。「取得」を押し直すか一括更新をしてください。",
        "error",
    ),
    (
        "他の課に閲覧だけ許可したい",
        "アプリを他の課にも見せたいが、編集はさせたくない。",
        "アプリのアクセス権で、その課に「閲覧」だけを付けてください。",
        "permissions",
    ),
    (
        "異動してきた職員のアカウント",
        "4月の異動者がログインできません。",
        "人事異動の反映は毎週月曜です。急ぐ場合は所属長の承認を添えて申請してください。",
        "account_licence",
    ),
    (
        "通知メールが届かない",
        "レコードを登録しても通知が届きません。",
        "通知の宛先の設定を確認してください。「担当者フィールド」を宛先にすると担当者に届きます。",
        "error",
    ),
];

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

/// `count` inquiries from the requesters, and the FAQ articles.
pub fn load(
    conn: &mut DbConn,
    app: &App,
    se: i64,
    dx: i64,
    requesters: &[(i64, i64)],
    count: usize,
) -> Result<(), String> {
    let caller = |conn: &mut DbConn, id: i64, role: Role| -> Result<Caller, String> {
        let user = crate::db::users::find(conn, id)
            .map_err(err)?
            .ok_or("no user")?;
        Caller::load(conn, id, role, user.department_id, None).map_err(err)
    };
    let se_caller = caller(conn, se, Role::Helpdesk)?;
    let dx_caller = caller(conn, dx, Role::DxOffice)?;
    for (subject, question, answer, topic) in FAQ.iter().map(|(s, q, a, t)| (s, q, a, t)) {
        let input = FaqInput {
            title: Some(subject.to_string()),
            question: Some(question.to_string()),
            answer: Some(answer.to_string()),
            topic: Some(topic.to_string()),
            ..Default::default()
        };
        faq::create(conn, &se_caller, &input).map_err(err)?;
    }
    for i in 0..count {
        let (subject, question, topic, answer) = QUESTIONS[i % QUESTIONS.len()];
        let (asker, _) = requesters[i % requesters.len()];
        let asker_caller = caller(conn, asker, Role::Requester)?;
        // Most calls are answered while the caller is on the phone.
        let by_phone = i % 3 != 0;
        let input = NewInquiryInput {
            subject: Some(subject.to_string()),
            question: Some(question.to_string()),
            topic: Some(topic.to_string()),
            asker_id: by_phone.then_some(asker),
            channel: by_phone.then(|| "phone".to_string()),
            answer: (by_phone && i % 5 != 0).then(|| answer.to_string()),
            priority: None,
        };
        let who = if by_phone { &se_caller } else { &asker_caller };
        let asked = inquiries::ask(app, conn, who, &input, None).map_err(err)?;
        let mut shown = asked.shown;
        let step = |conn: &mut DbConn,
                    by: &Caller,
                    current: &inquiries::ShownInquiry,
                    event: &str,
                    text: Option<&str>| {
            let input = InquiryTransitionInput {
                event: Some(event.to_string()),
                version: Some(current.inquiry.version),
                answer: text.map(str::to_string),
                message: text.map(str::to_string),
                helped: Some(true),
            };
            inquiries::fire(app, conn, by, current.inquiry.id, &input).map_err(err)
        };
        let open = shown.inquiry.state.as_str() == "open";
        match (open, i % 7) {
            (false, _) | (true, 0) => {} // answered on the phone, or still waiting
            (true, 1) => {
                shown = step(conn, &se_caller, &shown, "take", None)?;
                let ask_back = Some("対象のアプリ名を教えてください。");
                shown = step(conn, &se_caller, &shown, "ask_back", ask_back)?;
            }
            (true, 2) if i % 2 == 0 => shown = step(conn, &dx_caller, &shown, "escalate", None)?,
            (true, _) => shown = step(conn, &se_caller, &shown, "answer", Some(answer))?,
        }
        if shown.inquiry.state.as_str() == "answered" && i % 4 != 0 {
            step(conn, &asker_caller, &shown, "close", None)?;
        }
    }
    Ok(())
}
