//! `serve --demo`: a believable city (bureaus, a ward, a dozen divisions with
//! sections), one user or more per role, and consultations in every state, all
//! written through the same workflow rules as real traffic.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use diesel::Connection;

use crate::app::consultations::{file_as, fire_as, Firing};
use crate::app::{directory, App};
use crate::db::consultations::{Consultation, Scope};
use crate::db::{comments, outbox, systems, users, DbConn};
use crate::domain::consultation::NewConsultationFields;
use crate::domain::directory::{NewDepartmentInput, NewUserInput};
use crate::domain::ledger::{BuiltBy, Phase, Platform, SystemFields};
use crate::domain::savings::OtherEffect;
use crate::domain::workflow::{Actor, TransitionInput};
use crate::domain::{Category, Event, Priority, Role, State};
use crate::settings::Settings;

/// Every demo user's password.
pub const DEMO_PASSWORD: &str = "demo-pass-2025";

/// (code, name, parent code, DX office)
const DEPARTMENTS: &[(&str, &str, Option<&str>, bool)] = &[
    ("SOMU", "総務局", None, false),
    ("DX", "DX推進課", Some("SOMU"), true),
    ("DX-HD", "ヘルプデスク係", Some("DX"), true),
    ("JINJI", "人事課", Some("SOMU"), false),
    ("KOKUSAI", "国際交流課", Some("SOMU"), false),
    ("SHIMIN", "市民局", None, false),
    ("SHIMINKA", "市民課", Some("SHIMIN"), false),
    ("SHIMINKA-JUKI", "住民記録係", Some("SHIMINKA"), false),
    ("SHIMINKA-KOSEKI", "戸籍係", Some("SHIMINKA"), false),
    ("KUSEI", "区政推進課", Some("SHIMIN"), false),
    ("FUKUSHI", "健康福祉局", None, false),
    ("FUKUSHI-SOMU", "福祉総務課", Some("FUKUSHI"), false),
    ("KAIGO", "介護保険課", Some("FUKUSHI"), false),
    ("HOIKU", "保育課", Some("FUKUSHI"), false),
    ("HOIKU-NYUEN", "入園係", Some("HOIKU"), false),
    ("KANKYO", "環境局", None, false),
    ("GOMI", "ごみ減量推進課", Some("KANKYO"), false),
    ("ZAISEI", "財政局", None, false),
    ("ZEISEI", "税制課", Some("ZAISEI"), false),
    ("KEIYAKU", "契約課", Some("ZAISEI"), false),
    ("CHUO", "中央区役所", None, false),
    ("CHUO-KUMIN", "中央区 区民課", Some("CHUO"), false),
];

/// (email, name, role, department code, locale)
pub const USERS: &[(&str, &str, Role, &str, &str)] = &[
    (
        "admin@demo.digicon.local",
        "管理 太郎",
        Role::Admin,
        "DX",
        "ja",
    ),
    (
        "dx@demo.digicon.local",
        "佐藤 花子",
        Role::DxOffice,
        "DX",
        "ja",
    ),
    (
        "se1@demo.digicon.local",
        "鈴木 一郎",
        Role::Helpdesk,
        "DX-HD",
        "ja",
    ),
    (
        "se2@demo.digicon.local",
        "高橋 美咲",
        Role::Helpdesk,
        "DX-HD",
        "ja",
    ),
    (
        "requester@demo.digicon.local",
        "田中 健",
        Role::Requester,
        "SHIMINKA-JUKI",
        "ja",
    ),
    (
        "hoiku@demo.digicon.local",
        "伊藤 さくら",
        Role::Requester,
        "HOIKU-NYUEN",
        "ja",
    ),
    (
        "gomi@demo.digicon.local",
        "中村 大輔",
        Role::Requester,
        "GOMI",
        "ja",
    ),
    (
        "emily@demo.digicon.local",
        "Emily Clark",
        Role::Requester,
        "KOKUSAI",
        "en",
    ),
    (
        "manager@demo.digicon.local",
        "渡辺 誠",
        Role::Manager,
        "SHIMINKA",
        "ja",
    ),
    (
        "dx-manager@demo.digicon.local",
        "小林 直子",
        Role::Manager,
        "DX",
        "ja",
    ),
];

/// (title, body, category)
const TOPICS: &[(&str, &str, Category)] = &[
    (
        "転入届の受付予約をオンライン化したい",
        "現在は電話で予約を受け付けており、繁忙期は1日200件を超えます。",
        Category::EApplication,
    ),
    (
        "住民票の郵送請求の入力作業を自動化したい",
        "郵送で届く請求書を毎日手入力しています。AI-OCR で読み取れないでしょうか。",
        Category::AiOcr,
    ),
    (
        "保育園入園申込の集計をアプリにしたい",
        "紙の申込書を Excel に転記して集計しています。転記ミスが年に数十件あります。",
        Category::LowCodeApp,
    ),
    (
        "粗大ごみ受付の電話対応を減らしたい",
        "受付の8割が同じ質問です。オンライン申請と FAQ で減らせないか相談したいです。",
        Category::EApplication,
    ),
    (
        "職員研修の出欠管理をデジタル化したい",
        "研修ごとに紙の名簿を回覧し、後で入力しています。",
        Category::LowCodeApp,
    ),
    (
        "会計伝票の起票を RPA で自動化したい",
        "毎月500件の伝票を同じ手順で起票しています。",
        Category::Rpa,
    ),
    (
        "窓口の待ち時間データを活用したい",
        "発券機のログがあるものの、分析できていません。",
        Category::DataUse,
    ),
    (
        "契約書類の保管場所を一元化したい",
        "共有フォルダが課ごとに分かれていて、探すのに時間がかかります。",
        Category::Other,
    ),
    (
        "外国人住民向けの案内を多言語で出したい",
        "We receive many questions in English and Vietnamese at the counter.",
        Category::Other,
    ),
    (
        "介護認定の申請状況を照会できるようにしたい",
        "申請者からの進捗確認の電話が1日30件あります。",
        Category::LowCodeApp,
    ),
];

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Loads the demo when the database has no users. Returns whether it did.
pub fn load_if_empty(conn: &mut DbConn, app: &App) -> Result<bool, String> {
    if users::count(conn).map_err(err)? > 0 {
        return Ok(false);
    }
    conn.transaction(|conn| load(conn, app).map_err(DemoError))
        .map_err(|DemoError(e)| e)?;
    Ok(true)
}

/// Carries a message out of a diesel transaction (which needs `From<diesel::Error>`).
struct DemoError(String);

impl From<diesel::result::Error> for DemoError {
    fn from(e: diesel::result::Error) -> Self {
        DemoError(e.to_string())
    }
}

struct People {
    dx: i64,
    ses: Vec<i64>,
    requesters: Vec<(i64, i64)>,
}

fn load(conn: &mut DbConn, app: &App) -> Result<(), String> {
    let mut ids = std::collections::HashMap::new();
    for (code, name, parent, dx_office) in DEPARTMENTS {
        let input = NewDepartmentInput {
            code: Some(code.to_string()),
            name: Some(name.to_string()),
            parent_id: parent.and_then(|p| ids.get(p).copied()),
            kind: None,
            is_dx_office: *dx_office,
        };
        let department = directory::add_department(conn, &input).map_err(|e| format!("{e:?}"))?;
        ids.insert(*code, department.id);
    }
    let mut people = People {
        dx: 0,
        ses: vec![],
        requesters: vec![],
    };
    for (email, name, role, department, locale) in USERS {
        let department_id = ids.get(department).copied().unwrap_or_default();
        let input = NewUserInput {
            email: Some(email.to_string()),
            name: Some(name.to_string()),
            role: Some(role.as_str().to_string()),
            department_id: Some(department_id),
            locale: Some(locale.to_string()),
            password: Some(DEMO_PASSWORD.to_string()),
        };
        let user = directory::add_user(conn, &input).map_err(|e| format!("{e:?}"))?;
        match role {
            Role::DxOffice => people.dx = user.id,
            Role::Helpdesk => people.ses.push(user.id),
            Role::Requester => {
                let department = crate::db::departments::find(conn, department_id)
                    .map_err(err)?
                    .ok_or("department vanished")?;
                let division =
                    crate::db::departments::division_of(conn, &department).map_err(err)?;
                people.requesters.push((user.id, division));
            }
            _ => {}
        }
    }
    let now = Utc::now();
    for i in 0..49usize {
        let target = State::ALL[i % State::ALL.len()];
        // Older consultations have got further; recent ones are still early on.
        let days_ago = match target {
            State::Received => 0,
            // Hearings are three days after filing, so these are still ahead.
            State::Hearing => 1 - (i / State::ALL.len()) as i64 * 3,
            State::Assigned | State::Waiting => 6,
            State::Resolved => 9,
            State::Closed => 12,
            State::Withdrawn => 7,
        } + (i / State::ALL.len()) as i64 * 3
            - if target == State::Resolved {
                (i / State::ALL.len()) as i64 * 2
            } else {
                0
            };
        let filed_at = now - Duration::days(days_ago) - Duration::hours(i as i64 % 7 + 1);
        let filed_at = filed_at.trunc_subsecs(0);
        walk(conn, app, &people, i, target, filed_at)?;
    }
    load_ledger(conn, &ids, &people)?;
    // About 3.5 questions to the helpdesk for every consultation.
    let se = people.ses.first().copied().ok_or("no SE")?;
    crate::demo_helpdesk::load(conn, app, se, people.dx, &people.requesters, 49 * 7 / 2)?;
    // The demo's made-up history would otherwise fill the mail folder.
    outbox::delete_unsent(conn).map_err(err)?;
    Ok(())
}

/// (name, division code, platform, phase, built by, hours and yen saved a year,
/// where the manual is, workflow before and after)
type DemoSystem = (
    &'static str,
    &'static str,
    Platform,
    Phase,
    BuiltBy,
    Option<(i64, i64)>,
    Option<&'static str>,
    Option<(&'static str, &'static str)>,
);

const SYSTEMS: &[DemoSystem] = &[
    (
        "住民票請求受付アプリ",
        "SHIMINKA",
        Platform::LowCodeApp,
        Phase::Production,
        BuiltBy::InHouse,
        Some((1_200, 3_000_000)),
        Some("//fs01/shimin/manual/juminhyo.pdf"),
        Some((
            "郵送請求を紙の台帳に手書き",
            "受付アプリに入力し、進捗を一覧で確認",
        )),
    ),
    (
        "転入届入力RPA",
        "SHIMINKA",
        Platform::Rpa,
        Phase::Production,
        BuiltBy::InHouse,
        Some((800, 2_000_000)),
        Some("//fs01/shimin/manual/tennyu-rpa.docx"),
        None,
    ),
    (
        "保育所入所申請 電子申請フォーム",
        "HOIKU",
        Platform::EApplication,
        Phase::Production,
        BuiltBy::InHouse,
        Some((2_400, 6_000_000)),
        Some("https://intra.city.example/hoiku/manual"),
        Some((
            "窓口で紙の申請書を受け取り手入力",
            "オンライン申請のデータを取り込む",
        )),
    ),
    (
        "介護認定調査票 AI-OCR",
        "KAIGO",
        Platform::AiOcr,
        Phase::Verification,
        BuiltBy::Vendor,
        Some((1_500, 3_750_000)),
        None,
        None,
    ),
    (
        "ごみ収集カレンダー問合せ管理",
        "GOMI",
        Platform::LowCodeApp,
        Phase::Trial,
        BuiltBy::InHouse,
        None,
        None,
        None,
    ),
    (
        "契約書類チェックRPA",
        "KEIYAKU",
        Platform::Rpa,
        Phase::Production,
        BuiltBy::Vendor,
        Some((600, 1_500_000)),
        Some("//fs01/zaisei/keiyaku/rpa-manual.pdf"),
        Some(("契約書類を目視で照合", "RPA が照合し差異だけを一覧にする")),
    ),
    (
        "職員研修申込アプリ",
        "JINJI",
        Platform::LowCodeApp,
        Phase::Retired,
        BuiltBy::InHouse,
        None,
        Some("//fs01/jinji/kenshu.pdf"),
        None,
    ),
];

/// A small system ledger: systems in every phase, some lacking what production
/// needs so the flags and reminders show.
fn load_ledger(
    conn: &mut DbConn,
    ids: &std::collections::HashMap<&str, i64>,
    people: &People,
) -> Result<(), String> {
    let now = crate::db::now();
    for (i, (name, division, platform, phase, built_by, savings, manual, workflow)) in
        SYSTEMS.iter().enumerate()
    {
        let department_id = ids.get(division).copied().ok_or("unknown division")?;
        let owner = people
            .requesters
            .iter()
            .find(|(_, d)| *d == department_id)
            .map_or(people.dx, |(id, _)| *id);
        let fields = SystemFields {
            name: name.to_string(),
            department_id: Some(department_id),
            platform: *platform,
            phase: *phase,
            built_by: *built_by,
            workflow_before: workflow.map(|w| w.0.to_string()),
            workflow_after: workflow.map(|w| w.1.to_string()),
            hours_saved_per_year: savings.map(|s| s.0),
            cost_saved_per_year: savings.map(|s| s.1),
            holds_personal_data: i % 2 == 0,
            manual_location: manual.map(str::to_string),
            owner_id: Some(owner),
            review_on: (*phase == Phase::Production)
                .then(|| (Utc::now() + Duration::days(30 * i as i64 - 60)).date_naive()),
            // Registered by the DX office; one production entry waits for its
            // confirmation so the page shows what that looks like.
            verified: i != 1,
            // A vendor's quote for building it, avoided by building in-house.
            development_cost_avoided: (*built_by == BuiltBy::InHouse)
                .then(|| savings.map(|s| s.1 * 2))
                .flatten(),
            other_effects: if i == 0 {
                vec![OtherEffect {
                    what: "窓口の応援職員".into(),
                    before: 6.0,
                    after: 2.0,
                    unit: "人/日".into(),
                    note: Some("繁忙期 (3〜4月)".into()),
                }]
            } else {
                vec![]
            },
        };
        // Production systems went live in earlier years, so the effects report has
        // a history: the first a little over three years ago, the next ones later.
        let registered_at = if *phase == Phase::Production {
            now - Duration::days((1_200 - 250 * i as i64).max(20))
        } else {
            now
        };
        systems::register(
            conn,
            &fields,
            department_id,
            owner,
            systems::Registrant {
                actor_id: Some(people.dx),
                idempotency: None,
            },
            registered_at,
        )
        .map_err(err)?;
    }
    Ok(())
}

fn walk(
    conn: &mut DbConn,
    app: &App,
    people: &People,
    i: usize,
    target: State,
    filed_at: DateTime<Utc>,
) -> Result<Consultation, String> {
    let (title, body, category) = TOPICS[i % TOPICS.len()];
    let (requester, division) = people.requesters[i % people.requesters.len()];
    let se = people.ses[i % people.ses.len()];
    let fields = NewConsultationFields {
        title: title.to_string(),
        body: body.to_string(),
        category,
        priority: [
            Priority::Normal,
            Priority::High,
            Priority::Low,
            Priority::Urgent,
        ][i % 4],
        department_id: Some(division),
        desired_by: Some((filed_at + Duration::days(30)).date_naive()),
        contact: Some(format!("内線 {}", 4000 + i)),
    };
    let mut c = file_as(app, conn, &fields, requester, division, None, filed_at)
        .map_err(|e| format!("{e:?}"))?;
    let requester_actor = Actor::User {
        id: requester,
        role: Role::Requester,
    };
    let dx = Actor::User {
        id: people.dx,
        role: Role::DxOffice,
    };
    let se_actor = Actor::User {
        id: se,
        role: Role::Helpdesk,
    };
    let step = |conn: &mut DbConn,
                c: &Consultation,
                actor: Actor,
                event: Event,
                days: i64,
                input: TransitionInput| {
        fire_as(
            app,
            conn,
            &Firing {
                scope: &Scope::All,
                actor,
                id: c.id,
                version: c.version,
                event,
                input: &input,
                now: filed_at + Duration::hours(days * 24 - 20 + (i as i64 % 5)),
            },
        )
        .map_err(|e| format!("{} {}: {e}", c.number, event.as_str()))
    };
    if target == State::Received {
        return Ok(c);
    }
    if target == State::Withdrawn && i.is_multiple_of(2) {
        let reason = TransitionInput {
            reason: Some("課内で解決したため取り下げます".into()),
            ..Default::default()
        };
        return step(conn, &c, requester_actor, Event::Withdraw, 1, reason);
    }
    let hearing_at = (filed_at + Duration::days(3)).to_rfc3339();
    c = step(
        conn,
        &c,
        dx,
        Event::ScheduleHearing,
        1,
        TransitionInput {
            hearing_at: Some(hearing_at),
            hearing_place: Some(
                [
                    "本庁舎5階 会議室A",
                    "オンライン (Teams)",
                    "中央区役所 2階 相談室",
                ][i % 3]
                    .into(),
            ),
            ..Default::default()
        },
    )?;
    if target == State::Hearing {
        return Ok(c);
    }
    c = step(
        conn,
        &c,
        se_actor,
        Event::Assign,
        4,
        TransitionInput {
            assignee_id: Some(se),
            ..Default::default()
        },
    )?;
    if i.is_multiple_of(3) {
        insert_comment(
            conn,
            &c,
            se,
            "ヒアリングありがとうございました。現行の様式を共有してください。",
            false,
            filed_at,
        )?;
        insert_comment(
            conn,
            &c,
            se,
            "kintone の既存テンプレートが流用できそう。",
            true,
            filed_at,
        )?;
    }
    match target {
        State::Assigned => return Ok(c),
        State::Waiting => {
            return step(
                conn,
                &c,
                se_actor,
                Event::RequestInfo,
                5,
                TransitionInput {
                    message: Some("現在お使いの申請様式と、月ごとの件数を教えてください。".into()),
                    ..Default::default()
                },
            )
        }
        State::Withdrawn => {
            return step(
                conn,
                &c,
                dx,
                Event::Withdraw,
                5,
                TransitionInput {
                    reason: Some("既存システムの機能で対応できることが分かったため".into()),
                    ..Default::default()
                },
            )
        }
        _ => {}
    }
    c = step(conn, &c, se_actor, Event::Resolve, 8, TransitionInput {
        resolution: Some("ローコードアプリを作成し、課内で試行を開始しました。操作手順書を共有フォルダに置いています。".into()),
        ..Default::default()
    })?;
    if target == State::Resolved {
        return Ok(c);
    }
    step(
        conn,
        &c,
        requester_actor,
        Event::Close,
        10,
        TransitionInput {
            rating: Some(3 + (i as i64 % 3)),
            ..Default::default()
        },
    )
}

fn insert_comment(
    conn: &mut DbConn,
    c: &Consultation,
    author: i64,
    body: &str,
    internal: bool,
    filed_at: DateTime<Utc>,
) -> Result<(), String> {
    comments::insert(
        conn,
        &comments::NewComment {
            consultation_id: c.id,
            author_id: author,
            body,
            internal,
            created_at: (filed_at + Duration::days(4) + Duration::hours(2)).naive_utc(),
        },
    )
    .map(|_| ())
    .map_err(err)
}

/// Tells a newcomer how to log in.
pub fn print_logins(settings: &Settings) {
    println!(
        "demo logins (password for all: {DEMO_PASSWORD}) at http://{}",
        settings.bind
    );
    for (email, name, role, department, _) in USERS {
        println!(
            "  {:<34} {:<10} {:<12} {}",
            email,
            role.as_str(),
            name,
            department
        );
    }
}
