//! `digicon generate`: fills a database with a realistic history.
//!
//! Why it exists: lists, search, dashboards and the SLA worker only show their real
//! behaviour on data of the size and shape a deployment reaches — a city of ~8,000
//! staff in ~40 bureaus and wards, ~350 divisions and ~1,500 sections, with ten fiscal
//! years of consultations, or a prefecture with millions of them. Filing that through
//! the API would take days (every filing and every transition is its own transaction
//! with mail in the outbox). This module writes, in bulk, the rows the workflow would
//! have written, and no mail at all.
//!
//! What it guarantees (the tests in `tests/api/generate.rs` and below check it):
//! - every timeline follows [`WORKFLOW`](crate::domain::workflow::WORKFLOW): each
//!   event's from/to states are read from the table, and each actor is one the table
//!   allows (requester, DX office, the assignee, or the system closing after the
//!   reopen window); nothing happens on or after the end of history;
//! - a consultation's `version` is its number of events, `updated_at` its last event,
//!   and its columns are what the events left (assignee, hearing, resolution, rating…);
//! - SLA columns come from the configured [`SlaPolicy`] and business calendar, as
//!   [`Desk`](crate::desk::Desk) computes them; reminders and breach notices for due
//!   times already past are recorded as sent, so starting the server on the
//!   generated database does not flood the outbox;
//! - numbers `DX-<fy>-<seq>` follow filing order within each fiscal year, and
//!   `consultation_counters` is advanced *before* the load, so new filings continue
//!   the numbering (even after an interrupted run, which only leaves a gap);
//! - the search index (`db::search`) holds what `db::search::index` would have
//!   written for each consultation (unless `--no-search-index`);
//! - every state occurs once there are at least seven consultations (the newest few
//!   are steered into missing states if chance left one out);
//! - the same seed, end date and starting database give the same rows.
//!
//! A database that already has consultations is refused unless `append` is set;
//! then the generated organisation is reused if it is there, and numbers and ids
//! continue after the existing ones (the new history interleaves in time with
//! what is there, so numbers are in filing order only within one run).
//!
//! Users all share one password ([`PASSWORD`]) hashed once; besides ~8,000 staff there
//! is one user per role with a known address (`gen-requester@gen.digicon.local`, …)
//! for benchmarks to log in with.
//!
//! Speed: a producer thread builds batches (texts, timelines, SLA times, search
//! bigrams, even the SQLite text of every timestamp) while the caller's thread only
//! writes them. On SQLite that is fixed-size multi-row `INSERT`s, prepared once and
//! re-bound, on the inner connection, in transactions of 50,000 consultations with
//! `synchronous = OFF`; on PostgreSQL binary `COPY`. Rows carry explicit ids so events
//! point at their consultation without a round trip. The search index is most of
//! the cost on SQLite: FTS5 needs ~40 µs per consultation however it is fed.
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Array, BigInt, Text, Timestamp};
use diesel::sqlite::Sqlite;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::db::schema::{
    consultation_counters, consultation_events, consultations, departments, users,
};
use crate::db::DbConn;
use crate::domain::calendar::{is_business_day, BusinessCalendar};
use crate::domain::fiscal::{consultation_number, fiscal_year};
use crate::domain::sla::{SlaClock, SlaPolicy, Step};
use crate::domain::workflow::transition;
use crate::domain::{Category, Event, Priority, Role, State};
use crate::settings::Settings;

/// The password of every generated user.
pub const PASSWORD: &str = "generated-pass-2025";
/// The domain of every generated user's e-mail address.
pub const EMAIL_DOMAIN: &str = "gen.digicon.local";
/// How many staff the generated city has.
pub const STAFF: usize = 8_000;
/// How many fiscal years of history, ending with the current one.
pub const FISCAL_YEARS: i32 = 10;

/// Consultations per batch handed from the producer to the writer (one transaction).
const BATCH: usize = 10_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub consultations: usize,
    pub seed: u64,
    /// Add to a database that already holds consultations: the generated organisation
    /// is reused if present, numbering and ids continue after what is there.
    pub append: bool,
    /// The history ends at the start of this local date: nothing is filed or happens
    /// on or after it. The command line passes today.
    pub as_of: NaiveDate,
    /// Fill the search index (`db::search`) as the application would have. Without
    /// it the load is about twice as fast, and text search finds none of it.
    pub search_index: bool,
}

#[derive(Debug)]
pub enum GenerateError {
    /// The database already has consultations and `append` was not asked for.
    Refused(String),
    Failed(String),
}

impl From<diesel::result::Error> for GenerateError {
    fn from(e: diesel::result::Error) -> Self {
        GenerateError::Failed(format!("database: {e}"))
    }
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenerateError::Refused(m) | GenerateError::Failed(m) => f.write_str(m),
        }
    }
}

/// What was generated, and how fast.
#[derive(Debug, Clone)]
pub struct Summary {
    pub consultations: usize,
    pub events: usize,
    pub departments_created: usize,
    pub users_created: usize,
    /// Every state, in workflow order, with its count (zeros included).
    pub per_state: Vec<(State, usize)>,
    pub per_fiscal_year: Vec<(i32, usize)>,
    /// The whole run, organisation and counters included.
    pub seconds: f64,
}

impl Summary {
    pub fn consultations_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.consultations as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The text `digicon generate` prints.
    pub fn report(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "generated {} consultations with {} events; created {} departments and {} users\n",
            self.consultations, self.events, self.departments_created, self.users_created
        ));
        out.push_str("per state:\n");
        for (state, n) in &self.per_state {
            out.push_str(&format!("  {:<10} {n:>10}\n", state.as_str()));
        }
        out.push_str("per fiscal year:\n");
        for (fy, n) in &self.per_fiscal_year {
            out.push_str(&format!("  FY{fy}     {n:>10}\n"));
        }
        out.push_str(&format!(
            "elapsed {:.2} s, {:.0} consultations/s\n",
            self.seconds,
            self.consultations_per_second()
        ));
        out.push_str(&format!(
            "every generated user's password: {PASSWORD}\nlogins: {}\n",
            KNOWN_USERS
                .iter()
                .map(|(local, _, _)| format!("{local}@{EMAIL_DOMAIN}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out
    }
}

/// Generates into `conn`, which must already be migrated.
pub fn generate(
    conn: &mut DbConn,
    settings: &Settings,
    options: &Options,
) -> Result<Summary, GenerateError> {
    let started = Instant::now();
    let existing: i64 = consultations::table.count().get_result(conn)?;
    if existing > 0 && !options.append {
        return Err(GenerateError::Refused(format!(
            "the database already holds {existing} consultations; pass --append to add to them"
        )));
    }
    let ctx = Ctx::new(settings, options.as_of);
    let (departments_created, users_created) = ensure_organisation(conn, &ctx, options.seed)?;
    let people = People::load(conn, options.seed)?;
    if people.requesters.is_empty() || people.ses.is_empty() || people.dx.is_empty() {
        return Err(GenerateError::Failed(
            "the generated organisation lacks requesters, SEs or DX office staff".into(),
        ));
    }
    let plan = Plan::new(&ctx, options.consultations, options.seed);

    // Numbers and ids are reserved before any consultation is written, so that an
    // interrupted load leaves gaps rather than numbers a new filing would reuse.
    let mut first_seq = HashMap::new();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for (fy, count) in &plan.per_fiscal_year {
            let last: Option<i64> = consultation_counters::table
                .find(*fy)
                .select(consultation_counters::last_seq)
                .first(conn)
                .optional()?;
            first_seq.insert(*fy, last.unwrap_or(0) + 1);
            let new_last = last.unwrap_or(0) + *count as i64;
            if *count == 0 {
                continue;
            }
            if last.is_some() {
                diesel::update(consultation_counters::table.find(*fy))
                    .set(consultation_counters::last_seq.eq(new_last))
                    .execute(conn)?;
            } else {
                diesel::insert_into(consultation_counters::table)
                    .values((
                        consultation_counters::fiscal_year.eq(*fy),
                        consultation_counters::last_seq.eq(new_last),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })?;
    let first_id = reserve_ids(conn, "consultations", options.consultations)?;

    let (tally, events) = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Batch>(2);
        let (ctx, people, plan) = (&ctx, &people, &plan);
        let (spent_tx, spent_rx) = mpsc::channel::<Batch>();
        let producer = scope.spawn(move || {
            let mut producer = Producer::new(ctx, people, options.seed, first_id, first_seq);
            producer.search_index = options.search_index;
            producer.run(plan, tx, spent_rx)
        });
        let written = write_batches(conn, &settings.database_url, rx, spent_tx);
        let tally = producer
            .join()
            .map_err(|_| GenerateError::Failed("the generator thread panicked".into()))?;
        Ok::<_, GenerateError>((tally, written?))
    })?;

    let per_state = State::ALL
        .iter()
        .map(|s| (*s, tally.per_state[state_index(*s)]))
        .collect();
    Ok(Summary {
        consultations: options.consultations,
        events,
        departments_created,
        users_created,
        per_state,
        per_fiscal_year: plan.per_fiscal_year.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------
// Time: the business days of the history, and local office hours.

/// Fixed inputs of the whole run.
struct Ctx {
    tz: Tz,
    calendar: BusinessCalendar,
    sla: SlaPolicy,
    reopen_window: Duration,
    remind_before: Duration,
    /// The end of history, local and UTC.
    end: NaiveDateTime,
    end_utc: NaiveDateTime,
    /// The fiscal years of the history, oldest first.
    fiscal_years: Vec<i32>,
    days: BusinessDays,
}

impl Ctx {
    fn new(settings: &Settings, as_of: NaiveDate) -> Ctx {
        let tz = settings.timezone;
        let end = as_of.and_time(NaiveTime::MIN);
        let last_fy = fiscal_year(as_of.pred_opt().unwrap_or(as_of));
        let fiscal_years: Vec<i32> = (last_fy - FISCAL_YEARS + 1..=last_fy).collect();
        let start = fy_start(fiscal_years[0]) - Duration::days(40);
        let ctx_days = BusinessDays::new(start, as_of + Duration::days(400));
        let mut ctx = Ctx {
            tz,
            calendar: BusinessCalendar::new(tz),
            sla: settings.sla,
            reopen_window: Duration::days(settings.reopen_window_days),
            remind_before: settings.sla.remind_before,
            end,
            end_utc: end,
            fiscal_years,
            days: ctx_days,
        };
        ctx.end_utc = ctx.utc(end);
        ctx
    }

    /// A local wall-clock time as stored: UTC.
    fn utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.naive_utc(),
            // A time skipped by a daylight-saving jump: an hour later exists.
            chrono::LocalResult::None => self
                .tz
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map(|t| t.naive_utc())
                .unwrap_or(local),
        }
    }
}

fn fy_start(fy: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(fy, 4, 1).unwrap_or(NaiveDate::MIN)
}

/// The business days around the history, for O(1) "n business days later".
struct BusinessDays {
    base: NaiveDate,
    days: Vec<NaiveDate>,
    /// For each calendar day from `base`: the index of the first business day on or after it.
    on_or_after: Vec<u32>,
}

impl BusinessDays {
    fn new(from: NaiveDate, to: NaiveDate) -> BusinessDays {
        let mut days = Vec::new();
        let mut on_or_after = Vec::new();
        let mut pending = 0usize;
        let mut d = from;
        while d <= to {
            on_or_after.push(0);
            if is_business_day(d) {
                for slot in on_or_after.iter_mut().skip(pending) {
                    *slot = days.len() as u32;
                }
                pending = on_or_after.len();
                days.push(d);
            }
            d += Duration::days(1);
        }
        // Days after the last business day point at it.
        let last = days.len().saturating_sub(1) as u32;
        for slot in on_or_after.iter_mut().skip(pending) {
            *slot = last;
        }
        BusinessDays {
            base: from,
            days,
            on_or_after,
        }
    }

    fn index_on_or_after(&self, date: NaiveDate) -> usize {
        let offset = (date - self.base).num_days().max(0) as usize;
        let offset = offset.min(self.on_or_after.len().saturating_sub(1));
        self.on_or_after.get(offset).copied().unwrap_or(0) as usize
    }

    /// The date `n` business days after `date` (n ≥ 1); from a day off, the first
    /// business day counts as one.
    fn after(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let first = self.index_on_or_after(date);
        let is_bd = self.days.get(first) == Some(&date);
        let target = first + n as usize - usize::from(!is_bd);
        self.days
            .get(target.min(self.days.len().saturating_sub(1)))
            .copied()
            .unwrap_or(date)
    }
}

/// A moment in office hours (08:35–17:25), to the second.
fn office_time(rng: &mut StdRng) -> NaiveTime {
    let secs = 8 * 3600 + 35 * 60 + rng.gen_range(0..(8 * 3600 + 50 * 60));
    NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or(NaiveTime::MIN)
}

/// A moment `n` business days after `t` in office hours, or for `n == 0` a little
/// later the same day.
fn later(ctx: &Ctx, rng: &mut StdRng, t: NaiveDateTime, n: u32) -> NaiveDateTime {
    if n == 0 {
        t + Duration::seconds(rng.gen_range(5 * 60..150 * 60))
    } else {
        ctx.days.after(t.date(), n).and_time(office_time(rng))
    }
}

/// An integer in `lo..=hi` leaning towards `lo`.
fn skewed(rng: &mut StdRng, lo: u32, hi: u32) -> u32 {
    let u: f64 = rng.gen();
    lo + ((hi - lo + 1) as f64 * u * u) as u32
}

// ---------------------------------------------------------------------------------
// The organisation.

/// (local part, role, display name) of the users benchmarks log in as.
pub const KNOWN_USERS: &[(&str, Role, &str)] = &[
    ("gen-requester", Role::Requester, "生成 依頼者"),
    ("gen-dx", Role::DxOffice, "生成 DX担当"),
    ("gen-helpdesk", Role::Helpdesk, "生成 SE"),
    ("gen-manager", Role::Manager, "生成 管理職"),
    ("gen-admin", Role::Admin, "生成 管理者"),
];

/// Bureaus (局) with their divisions (課). The DX office is 総務局's DX推進課.
const BUREAUS: &[(&str, &[&str])] = &[
    (
        "政策局",
        &[
            "総務課",
            "政策課",
            "秘書課",
            "広報課",
            "大都市制度推進課",
            "男女共同参画推進課",
            "基地対策課",
        ],
    ),
    (
        "総務局",
        &[
            "総務課",
            "DX推進課",
            "人事課",
            "職員課",
            "法制課",
            "文書課",
            "危機管理課",
            "行政改革推進課",
            "情報システム課",
            "庁舎管理課",
        ],
    ),
    (
        "財政局",
        &[
            "総務課",
            "財政課",
            "資金課",
            "契約課",
            "管財課",
            "税制課",
            "市民税課",
            "資産税課",
            "収納対策課",
        ],
    ),
    (
        "市民局",
        &[
            "市民課",
            "総務課",
            "地域振興課",
            "区政支援課",
            "市民協働推進課",
            "人権課",
            "スポーツ振興課",
            "消費生活課",
            "広聴相談課",
        ],
    ),
    (
        "文化観光局",
        &[
            "総務課",
            "文化振興課",
            "観光振興課",
            "MICE推進課",
            "国際交流課",
        ],
    ),
    (
        "経済局",
        &[
            "総務課",
            "経済企画課",
            "中小企業振興課",
            "商業振興課",
            "雇用労働課",
            "産業立地課",
            "市場管理課",
        ],
    ),
    (
        "こども青少年局",
        &[
            "総務課",
            "企画調整課",
            "保育対策課",
            "保育・教育運営課",
            "こども家庭課",
            "青少年育成課",
            "放課後児童育成課",
            "児童相談所",
        ],
    ),
    (
        "健康福祉局",
        &[
            "総務課",
            "福祉保健課",
            "生活福祉課",
            "高齢健康福祉課",
            "介護保険課",
            "障害福祉課",
            "保険年金課",
            "健康安全課",
            "医療政策課",
            "保健所",
        ],
    ),
    (
        "医療局",
        &["総務課", "医療政策課", "地域医療課", "がん対策推進課"],
    ),
    (
        "環境創造局",
        &[
            "総務課",
            "環境保全課",
            "公園緑地課",
            "農業振興課",
            "下水道計画課",
            "環境エネルギー課",
        ],
    ),
    (
        "資源循環局",
        &[
            "総務課",
            "業務課",
            "3R推進課",
            "施設課",
            "適正処理課",
            "収集事務所管理課",
        ],
    ),
    (
        "建築局",
        &[
            "総務課",
            "企画課",
            "建築指導課",
            "住宅政策課",
            "市営住宅課",
            "公共建築課",
            "宅地審査課",
        ],
    ),
    (
        "都市整備局",
        &[
            "総務課",
            "都市計画課",
            "地域まちづくり課",
            "都心再生課",
            "市街地整備課",
        ],
    ),
    (
        "道路局",
        &[
            "総務課",
            "道路政策課",
            "路政課",
            "建設課",
            "橋梁課",
            "施設課",
            "交通安全課",
        ],
    ),
    (
        "港湾局",
        &[
            "総務課",
            "港湾計画課",
            "賑わい振興課",
            "物流企画課",
            "維持保全課",
        ],
    ),
    (
        "消防局",
        &[
            "総務課",
            "人事課",
            "予防課",
            "警防課",
            "救急課",
            "指令課",
            "防災教育課",
        ],
    ),
    (
        "水道局",
        &[
            "総務課",
            "経理課",
            "お客さまサービス課",
            "給水課",
            "浄水課",
            "配水課",
        ],
    ),
    (
        "交通局",
        &["総務課", "経営企画課", "営業課", "運輸課", "施設課"],
    ),
    (
        "教育委員会事務局",
        &[
            "総務課",
            "教職員人事課",
            "学校支援課",
            "学事課",
            "生涯学習課",
            "中央図書館",
            "学校施設課",
            "特別支援教育課",
            "教育政策課",
        ],
    ),
    ("会計室", &["会計管理課", "審査課"]),
    ("選挙管理委員会事務局", &["総務課", "選挙課"]),
    ("人事委員会事務局", &["任用課", "調査課"]),
    ("監査事務局", &["監査管理課", "監査課"]),
    ("議会局", &["総務課", "議事課", "政策調査課"]),
    ("国際局", &["総務課", "国際政策課", "国際協力課"]),
    ("危機管理室", &["危機管理課", "防災企画課"]),
    (
        "デジタル統括本部",
        &["企画調整課", "情報セキュリティ課", "システム基盤課"],
    ),
    ("病院経営本部", &["経営企画課", "病院事務課"]),
];

const WARDS: &[&str] = &[
    "中央区",
    "北区",
    "南区",
    "東区",
    "西区",
    "港北区",
    "緑区",
    "青葉区",
    "旭区",
    "栄区",
    "泉区",
    "磯子区",
];

const WARD_DIVISIONS: &[&str] = &[
    "総務課",
    "区政推進課",
    "地域振興課",
    "戸籍課",
    "税務課",
    "保険年金課",
    "福祉保健課",
    "生活衛生課",
    "高齢・障害支援課",
    "こども家庭支援課",
    "生活支援課",
    "健康づくり課",
    "土木事務所",
    "区民活動支援センター",
    "会計課",
    "統計選挙課",
];

const SECTIONS: &[&str] = &[
    "企画係",
    "管理係",
    "調整係",
    "事業係",
    "計画係",
    "運営係",
    "審査係",
    "指導係",
    "受付係",
    "給付係",
    "窓口係",
    "調査係",
    "経理係",
    "相談係",
    "整備係",
    "推進係",
    "支援係",
    "第一係",
    "第二係",
    "第三係",
    "情報係",
    "統計係",
    "保全係",
    "施設係",
    "啓発係",
    "収納係",
    "認定係",
    "業務係",
    "証明係",
    "記録係",
];

const DX_SECTIONS: &[&str] = &["企画係", "ヘルプデスク係", "ローコード推進係"];

const FAMILY_NAMES: &[(&str, &str)] = &[
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("斎藤", "saito"),
    ("清水", "shimizu"),
    ("山崎", "yamazaki"),
    ("森", "mori"),
    ("池田", "ikeda"),
    ("橋本", "hashimoto"),
    ("阿部", "abe"),
    ("石川", "ishikawa"),
    ("山下", "yamashita"),
    ("中島", "nakajima"),
    ("石井", "ishii"),
    ("小川", "ogawa"),
    ("前田", "maeda"),
    ("岡田", "okada"),
    ("長谷川", "hasegawa"),
    ("藤田", "fujita"),
    ("後藤", "goto"),
    ("近藤", "kondo"),
    ("村上", "murakami"),
    ("遠藤", "endo"),
    ("青木", "aoki"),
    ("坂本", "sakamoto"),
];

const GIVEN_NAMES: &[(&str, &str)] = &[
    ("健", "ken"),
    ("翔太", "shota"),
    ("大輔", "daisuke"),
    ("拓也", "takuya"),
    ("直樹", "naoki"),
    ("誠", "makoto"),
    ("浩二", "koji"),
    ("隆", "takashi"),
    ("亮", "ryo"),
    ("悠斗", "yuto"),
    ("陽菜", "hina"),
    ("美咲", "misaki"),
    ("花子", "hanako"),
    ("さくら", "sakura"),
    ("由美", "yumi"),
    ("恵", "megumi"),
    ("愛", "ai"),
    ("真由美", "mayumi"),
    ("優子", "yuko"),
    ("彩", "aya"),
    ("和也", "kazuya"),
    ("智子", "tomoko"),
    ("裕子", "hiroko"),
    ("昌平", "shohei"),
    ("美穂", "miho"),
    ("涼子", "ryoko"),
    ("康介", "kosuke"),
    ("奈々", "nana"),
    ("俊介", "shunsuke"),
    ("千尋", "chihiro"),
];

#[derive(Insertable)]
#[diesel(table_name = departments)]
#[diesel(treat_none_as_default_value = false)]
struct DepartmentRow {
    id: i64,
    code: String,
    name: String,
    kind: &'static str,
    parent_id: Option<i64>,
    is_dx_office: bool,
    active: bool,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
struct UserRow<'a> {
    id: i64,
    email: String,
    name: String,
    password_hash: &'a str,
    role: &'static str,
    department_id: i64,
    locale: &'static str,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    mail_opt_out: &'static str,
}

/// Inserts rows of one table in bulk on the backend's own connection: multi-row
/// `INSERT`s of `$chunk` rows on SQLite, binary `COPY` on PostgreSQL.
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {
        match $conn {
            DbConn::Sqlite(c) => {
                for chunk in $rows.chunks($chunk) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
            DbConn::Postgresql(c) => {
                if !$rows.is_empty() {
                    diesel::copy_from($table)
                        .from_insertable($rows)
                        .execute(c)?;
                }
            }
        }
    };
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

/// Reserves `count` consecutive ids of a table and returns the first. PostgreSQL's
/// sequence is moved past them; SQLite's AUTOINCREMENT follows explicit ids itself.
fn reserve_ids(conn: &mut DbConn, table: &'static str, count: usize) -> QueryResult<i64> {
    match conn {
        DbConn::Sqlite(c) => {
            let max = diesel::sql_query(format!("SELECT COALESCE(MAX(id), 0) AS v FROM {table}"))
                .get_result::<Value>(c)?
                .v;
            Ok(max + 1)
        }
        DbConn::Postgresql(c) => {
            let seq = format!("pg_get_serial_sequence('{table}', 'id')");
            let first = diesel::sql_query(format!("SELECT nextval({seq}) AS v"))
                .get_result::<Value>(c)?
                .v;
            if count > 1 {
                diesel::sql_query(format!(
                    "SELECT setval({seq}, {}) AS v",
                    first + count as i64 - 1
                ))
                .get_result::<Value>(c)?;
            }
            Ok(first)
        }
    }
}

fn known_email(local: &str) -> String {
    format!("{local}@{EMAIL_DOMAIN}")
}

/// Creates the generated city unless it is already there (from an earlier run).
/// Returns how many departments and users were created.
fn ensure_organisation(
    conn: &mut DbConn,
    ctx: &Ctx,
    seed: u64,
) -> Result<(usize, usize), GenerateError> {
    let marker = known_email("gen-admin");
    let exists = users::table
        .filter(users::email.eq(&marker))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok((0, 0));
    }
    let hash = deterministic_hash(seed)?;
    let created_local = fy_start(ctx.fiscal_years[0]) - Duration::days(30);
    let created_at = ctx.utc(created_local.and_hms_opt(9, 0, 0).unwrap_or_default());
    let (departments_count, users_count) = conn.transaction(|conn| {
        let org = Org::build(seed);
        let first_department = reserve_ids(conn, "departments", org.departments.len())?;
        let first_user = reserve_ids(conn, "users", org.users.len())?;
        let department_rows: Vec<DepartmentRow> = org
            .departments
            .iter()
            .enumerate()
            .map(|(i, d)| DepartmentRow {
                id: first_department + i as i64,
                code: d.code.clone(),
                name: d.name.clone(),
                kind: d.kind,
                parent_id: d.parent.map(|p| first_department + p as i64),
                is_dx_office: d.dx,
                active: true,
                created_at,
            })
            .collect();
        let user_rows: Vec<UserRow> = org
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| UserRow {
                id: first_user + i as i64,
                email: u.email.clone(),
                name: u.name.clone(),
                password_hash: &hash,
                role: u.role.as_str(),
                department_id: first_department + u.department as i64,
                locale: u.locale,
                active: true,
                created_at,
                updated_at: created_at,
                mail_opt_out: "",
            })
            .collect();
        bulk_insert!(conn, departments::table, &department_rows, 2000);
        bulk_insert!(conn, users::table, &user_rows, 2000);
        Ok::<_, diesel::result::Error>((department_rows.len(), user_rows.len()))
    })?;
    Ok((departments_count, users_count))
}

/// One argon2id hash of [`PASSWORD`] for every generated user (hashing 8,000 would
/// take minutes), salted from the seed so the same seed gives the same database.
fn deterministic_hash(seed: u64) -> Result<String, GenerateError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5A17_5A17);
    let salt_bytes: [u8; 16] = rng.gen();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| GenerateError::Failed(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| GenerateError::Failed(format!("cannot hash the password: {e}")))
}

struct OrgDepartment {
    code: String,
    name: String,
    kind: &'static str,
    parent: Option<usize>,
    dx: bool,
}

struct OrgUser {
    email: String,
    name: String,
    role: Role,
    department: usize,
    locale: &'static str,
}

/// The city in memory; indices instead of ids.
struct Org {
    departments: Vec<OrgDepartment>,
    users: Vec<OrgUser>,
}

impl Org {
    /// Adds a member of staff with a random Japanese name.
    fn person(&mut self, rng: &mut StdRng, role: Role, department: usize) {
        let (family, family_romaji) = pick(rng, FAMILY_NAMES);
        let (given, given_romaji) = pick(rng, GIVEN_NAMES);
        let n = self.users.len();
        self.users.push(OrgUser {
            email: format!("{given_romaji}.{family_romaji}.{n:04}@{EMAIL_DOMAIN}"),
            name: format!("{family} {given}"),
            role,
            department,
            locale: if rng.gen_ratio(1, 100) { "en" } else { "ja" },
        });
    }

    fn build(seed: u64) -> Org {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0C17_u64);
        let mut org = Org {
            departments: Vec::new(),
            users: Vec::new(),
        };
        // Parent before child: the tree is written in this order.
        let units: Vec<(String, &'static str, Vec<String>)> = BUREAUS
            .iter()
            .map(|(name, divisions)| {
                (
                    name.to_string(),
                    "bureau",
                    divisions.iter().map(|d| d.to_string()).collect(),
                )
            })
            .chain(WARDS.iter().map(|ward| {
                (
                    format!("{ward}役所"),
                    "ward",
                    WARD_DIVISIONS
                        .iter()
                        .map(|d| format!("{ward} {d}"))
                        .collect(),
                )
            }))
            .collect();
        let mut sections_of_divisions: Vec<usize> = Vec::new();
        let mut dx_division = 0;
        let mut dx_sections = Vec::new();
        let mut shimin = (0, 0, 0);
        let mut bureau_heads = Vec::new();
        let mut division_heads = Vec::new();
        for (b, (name, kind, divisions)) in units.iter().enumerate() {
            let bureau = org.departments.len();
            bureau_heads.push(bureau);
            org.departments.push(OrgDepartment {
                code: format!("G{:02}0000", b + 1),
                name: name.clone(),
                kind,
                parent: None,
                dx: false,
            });
            for (v, division_name) in divisions.iter().enumerate() {
                let division = org.departments.len();
                let dx = name == "総務局" && division_name == "DX推進課";
                division_heads.push(division);
                org.departments.push(OrgDepartment {
                    code: format!("G{:02}{:02}00", b + 1, v + 1),
                    name: division_name.clone(),
                    kind: "division",
                    parent: Some(bureau),
                    dx,
                });
                let names: Vec<&str> = if dx {
                    dx_division = division;
                    DX_SECTIONS.to_vec()
                } else {
                    let count = rng.gen_range(2..=7);
                    let mut names: Vec<&str> =
                        SECTIONS.choose_multiple(&mut rng, count).copied().collect();
                    if rng.gen_bool(0.7) {
                        names.insert(0, "庶務係");
                        names.truncate(count);
                    }
                    names
                };
                for (s, section_name) in names.iter().enumerate() {
                    let section = org.departments.len();
                    org.departments.push(OrgDepartment {
                        code: format!("G{:02}{:02}{:02}", b + 1, v + 1, s + 1),
                        name: section_name.to_string(),
                        kind: "section",
                        parent: Some(division),
                        dx,
                    });
                    if dx {
                        dx_sections.push(section);
                    } else {
                        sections_of_divisions.push(section);
                    }
                    if name == "市民局" && division_name == "市民課" && s == 0 {
                        shimin = (bureau, division, section);
                    }
                }
            }
        }
        // The users benchmarks log in as come first, so their ids are predictable.
        for (local, role, name) in KNOWN_USERS {
            let department = match role {
                Role::Requester => shimin.2,
                Role::Manager => shimin.0,
                Role::Helpdesk => dx_sections[1],
                Role::DxOffice | Role::Admin => dx_division,
            };
            org.users.push(OrgUser {
                email: known_email(local),
                name: name.to_string(),
                role: *role,
                department,
                locale: "ja",
            });
        }
        // The DX office: a manager who sees everything, triage staff, SEs, admins.
        org.person(&mut rng, Role::Manager, dx_division);
        for _ in 0..2 {
            org.person(&mut rng, Role::Admin, dx_division);
        }
        for i in 0..12 {
            let at = if i % 2 == 0 {
                dx_division
            } else {
                dx_sections[0]
            };
            org.person(&mut rng, Role::DxOffice, at);
        }
        for i in 0..30 {
            let at = dx_sections[1 + i % 2];
            org.person(&mut rng, Role::Helpdesk, at);
        }
        // A head for every bureau, ward and division; a clerk in most divisions.
        for &b in &bureau_heads {
            org.person(&mut rng, Role::Manager, b);
        }
        for &d in &division_heads {
            if d == dx_division {
                continue;
            }
            org.person(&mut rng, Role::Manager, d);
            if rng.gen_bool(0.8) {
                org.person(&mut rng, Role::Requester, d);
            }
        }
        // Everyone else works in a section.
        while org.users.len() < STAFF {
            let section = sections_of_divisions[rng.gen_range(0..sections_of_divisions.len())];
            org.person(&mut rng, Role::Requester, section);
        }
        org
    }
}

/// Who files and who works consultations, as the database has them.
struct People {
    /// (user id, division id), with cumulative filing weights.
    requesters: Vec<(i64, i64)>,
    cumulative: Vec<f64>,
    known_requester: Option<(i64, i64)>,
    dx: Vec<i64>,
    ses: Vec<i64>,
}

impl People {
    fn load(conn: &mut DbConn, seed: u64) -> QueryResult<People> {
        let tree: HashMap<i64, (String, Option<i64>)> = departments::table
            .filter(departments::code.like("G%"))
            .select((departments::id, departments::kind, departments::parent_id))
            .load::<(i64, String, Option<i64>)>(conn)?
            .into_iter()
            .map(|(id, kind, parent)| (id, (kind, parent)))
            .collect();
        let division_of = |id: i64| match tree.get(&id) {
            Some((kind, Some(parent))) if kind == "section" => *parent,
            _ => id,
        };
        let staff: Vec<(i64, String, String, i64)> = users::table
            .filter(users::email.like(format!("%@{EMAIL_DOMAIN}")))
            .filter(users::active.eq(true))
            .order(users::id.asc())
            .select((users::id, users::email, users::role, users::department_id))
            .load(conn)?;
        // Some divisions are far busier than others.
        let mut division_ids: Vec<i64> = tree
            .iter()
            .filter(|(_, (kind, _))| kind != "section")
            .map(|(id, _)| *id)
            .collect();
        division_ids.sort_unstable();
        let mut rng = StdRng::seed_from_u64(seed ^ 0xD1_u64);
        let weight: HashMap<i64, f64> = division_ids
            .iter()
            .map(|id| {
                let u: f64 = rng.gen();
                (*id, 0.2 + 6.0 * u * u * u)
            })
            .collect();
        let mut people = People {
            requesters: Vec::new(),
            cumulative: Vec::new(),
            known_requester: None,
            dx: Vec::new(),
            ses: Vec::new(),
        };
        let mut total = 0.0;
        for (id, email, role, department) in staff {
            match Role::parse(&role) {
                Some(Role::Requester) => {
                    let division = division_of(department);
                    if email == known_email("gen-requester") {
                        people.known_requester = Some((id, division));
                    }
                    total += weight.get(&division).copied().unwrap_or(1.0);
                    people.requesters.push((id, division));
                    people.cumulative.push(total);
                }
                Some(Role::DxOffice) => people.dx.push(id),
                Some(Role::Helpdesk) => people.ses.push(id),
                _ => {}
            }
        }
        Ok(people)
    }

    /// A requester and their division; the known requester files one in 500.
    fn requester(&self, rng: &mut StdRng) -> (i64, i64) {
        if let Some(known) = self.known_requester {
            if rng.gen_ratio(1, 500) {
                return known;
            }
        }
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.gen::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        self.requesters[i.min(self.requesters.len() - 1)]
    }
}

// ---------------------------------------------------------------------------------
// When consultations are filed.

struct Plan {
    /// Business days in order with how many consultations are filed on each.
    days: Vec<(NaiveDate, u32)>,
    per_fiscal_year: Vec<(i32, usize)>,
}

impl Plan {
    fn new(ctx: &Ctx, count: usize, seed: u64) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x9_1A4_u64);
        let first = fy_start(ctx.fiscal_years[0]);
        let last = ctx.end.date();
        let mut days = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        let mut d = first;
        while d < last {
            if is_business_day(d) {
                let k = fiscal_year(d) - ctx.fiscal_years[0];
                // The desk grows as the city learns it exists; April (new staff, new
                // rules) and February (next year's budget) are busy, August quiet.
                let month = match d.month() {
                    4 => 1.3,
                    5 | 6 => 1.1,
                    8 => 0.75,
                    12 => 0.85,
                    2 => 1.15,
                    _ => 1.0,
                };
                total += 1.22f64.powi(k) * month;
                days.push((d, 0u32));
                cumulative.push(total);
            }
            d += Duration::days(1);
        }
        if !days.is_empty() {
            for _ in 0..count {
                let x = rng.gen::<f64>() * total;
                let i = cumulative.partition_point(|c| *c <= x).min(days.len() - 1);
                days[i].1 += 1;
            }
        }
        let per_fiscal_year = ctx
            .fiscal_years
            .iter()
            .map(|fy| {
                let n = days
                    .iter()
                    .filter(|(d, _)| fiscal_year(*d) == *fy)
                    .map(|(_, n)| *n as usize)
                    .sum();
                (*fy, n)
            })
            .collect();
        days.retain(|(_, n)| *n > 0);
        Plan {
            days,
            per_fiscal_year,
        }
    }
}

// ---------------------------------------------------------------------------------
// Text: titles, bodies and messages assembled from fragments of real requests.

const SUBJECTS: &[&str] = &[
    "給付金",
    "児童手当",
    "住民票の写し",
    "転入届",
    "保育園入園",
    "介護認定",
    "粗大ごみ収集",
    "道路占用許可",
    "補助金",
    "会議録",
    "議会答弁",
    "職員研修",
    "時間外勤務",
    "契約事務",
    "入札参加資格",
    "公用車",
    "物品購入",
    "選挙事務",
    "防災訓練",
    "避難所運営",
    "市税証明",
    "固定資産税",
    "国民健康保険",
    "生活保護",
    "予防接種",
    "特定健診",
    "図書館",
    "施設予約",
    "イベント参加",
    "市民アンケート",
    "問合せ対応",
    "苦情対応",
    "就学援助",
    "放課後児童クラブ",
    "犬の登録",
    "空き家対策",
    "道路損傷",
    "公園管理",
    "水道使用開始",
    "出張旅費",
    "庁内照会",
    "統計調査",
    "パブリックコメント",
    "広報紙",
    "ふるさと納税",
    "奨学金",
    "保育料",
    "児童扶養手当",
];

const OBJECTS: &[&str] = &[
    "申請書",
    "受付業務",
    "集計",
    "台帳管理",
    "進捗管理",
    "照会対応",
    "予約受付",
    "入力作業",
    "決裁",
    "通知書の発送",
    "名簿管理",
    "日程調整",
    "報告書作成",
    "実績報告",
    "審査",
    "問合せ管理",
    "データ入力",
    "文字起こし",
    "回覧",
    "押印",
];

const GOALS: &[&str] = &[
    "効率化",
    "自動化",
    "デジタル化",
    "ペーパーレス化",
    "見える化",
    "一元管理",
    "省力化",
    "オンライン化",
];

fn tools(category: Category) -> &'static [&'static str] {
    match category {
        Category::LowCodeApp => &["kintone", "ローコードアプリ", "Power Apps", "業務アプリ"],
        Category::EApplication => &[
            "電子申請",
            "オンライン申請",
            "LoGoフォーム",
            "電子申請システム",
        ],
        Category::Rpa => &["RPA", "WinActor", "RPAロボット"],
        Category::AiOcr => &["AI-OCR", "AI-OCRとRPA", "手書き文字認識"],
        Category::DataUse => &["BIツール", "ダッシュボード", "オープンデータ", "GIS"],
        Category::Other => &[
            "チャットボット",
            "生成AI",
            "Teams",
            "タブレット端末",
            "電子決裁",
            "Web会議",
        ],
    }
}

/// `{S}` subject, `{O}` object, `{T}` tool, `{G}` goal, `{N}` a count, `{D}` days.
const TITLES: &[&str] = &[
    "{S}の{O}を{T}で{G}したい",
    "{S}{O}の{G}について相談",
    "{T}による{S}{O}の{G}",
    "{S}の{O}に{T}を使えないか",
    "{S}に関する{O}の{G}（{T}の活用）",
    "【相談】{S}の{O}を{G}したい",
];

const SITUATIONS: &[&str] = &[
    "現在、{S}の{O}は紙の様式で受け付け、職員が Excel に転記しています。",
    "毎月およそ{N}件の{S}について、{O}を手作業で行っています。",
    "FAX で届く{S}の書類を印刷し、係内で回覧しています。",
    "{S}に関する問合せの電話が1日{N}件ほどあり、{O}に時間を取られています。",
    "{O}のために、複数のシステムから同じ情報を何度も入力しています。",
    "{S}の{O}は担当者の手元の Excel で管理しており、最新版がどれか分からなくなります。",
    "{S}の申請書を窓口と郵送で受け付け、{O}は紙の台帳で行っています。",
];

const PROBLEMS: &[&str] = &[
    "転記ミスが年に{N}件ほど発生しています。",
    "繁忙期には残業が月{N}時間を超えます。",
    "担当者が1人しかおらず、休暇中は業務が止まってしまいます。",
    "集計に毎月{D}日かかっています。",
    "市民の方を窓口で長くお待たせしています。",
    "紙の保管場所が足りなくなっています。",
    "在宅勤務の日には対応できません。",
    "受付業務と集計が月末に集中し、他の業務が進みません。",
];

const ASKS: &[&str] = &[
    "{T}で{G}できないか相談したいです。",
    "他課で{T}を導入した事例があれば教えてください。",
    "来年度の予算要求に間に合うよう、{T}の導入を検討したいです。",
    "まずはヒアリングをお願いできますでしょうか。",
    "{T}を使うとどの程度の時間削減になるか知りたいです。",
];

/// Rarer sentences, so search has rare terms to find as well as common ones.
const RARE: &[&str] = &[
    "稟議書の回付も電子化したいと考えています。",
    "個人情報を含むため、取扱いについても確認させてください。",
    "LGWAN 環境で利用できるかも教えてください。",
    "マイナンバーを扱う業務です。",
    "会議録の作成に音声認識が使えないかも知りたいです。",
    "公印の押印が必要な通知書があります。",
];

const RESOLUTIONS: &[&str] = &[
    "{T}でアプリを作成し、課内で試行を開始しました。操作手順書を共有フォルダに置いています。",
    "既存の{T}の機能で対応できることを確認し、設定手順をお伝えしました。",
    "{T}のテンプレートを提供し、担当者向けに操作説明会を実施しました。",
    "業務フローを見直し、{O}の手順を簡素化しました。{T}の導入は次年度に検討します。",
    "他課の{T}の事例を紹介し、同じ仕組みを横展開しました。",
    "{S}の{O}を{T}で{G}し、年間{N}時間の削減を見込んでいます。",
];

const REQUEST_INFO: &[&str] = &[
    "現在お使いの様式と、月ごとの件数を教えてください。",
    "業務の流れが分かる資料があれば共有してください。",
    "対象となるデータの項目一覧をお送りください。",
    "個人情報の有無と保存期間を確認させてください。",
    "利用する職員の人数と、市民の利用見込みを教えてください。",
];

const PROVIDE_INFO: &[&str] = &[
    "様式と昨年度の件数をお送りします。",
    "業務フロー図を共有フォルダに置きました。",
    "項目一覧を添付しました。ご確認ください。",
    "個人情報を含みます。保存期間は5年です。",
    "利用者は課内の職員約20名です。",
];

const REOPEN: &[&str] = &[
    "本番運用で不具合が見つかりました。",
    "年度切替の処理が想定どおり動きません。",
    "入力項目の追加が必要になりました。",
    "操作手順書どおりに進めるとエラーになります。",
];

const WITHDRAW_BY_REQUESTER: &[&str] = &[
    "課内で解決したため取り下げます。",
    "予算化が見送られたため取り下げます。",
    "制度改正により業務自体がなくなりました。",
    "全庁システムの更新で対応されることになりました。",
];

const SKIP_HEARING: &[&str] = &[
    "内容が明確なためヒアリングを省略します。",
    "電話で内容を確認済みです。",
    "既存テンプレートで対応できるため、直接担当を決めます。",
];

const HANDOVER: &[&str] = &[
    "担当者の異動に伴い引き継ぎます。",
    "負荷分散のため担当を変更します。",
];

const PLACES: &[&str] = &[
    "本庁舎5階 会議室A",
    "本庁舎8階 DX推進課 打合せスペース",
    "オンライン (Teams)",
    "オンライン (Zoom)",
    "区役所 2階 相談室",
    "依頼課の執務室",
];

/// The fragments one consultation's texts are built from.
struct Words {
    category: Category,
    subject: &'static str,
    object: &'static str,
    tool: &'static str,
    goal: &'static str,
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

/// Appends `template` with its placeholders filled.
fn fill(out: &mut String, template: &str, w: &Words, rng: &mut StdRng) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let key = rest.as_bytes().get(open + 1).copied().unwrap_or(b'?');
        match key {
            b'S' => out.push_str(w.subject),
            b'O' => out.push_str(w.object),
            b'T' => out.push_str(w.tool),
            b'G' => out.push_str(w.goal),
            b'N' => push_int(out, i64::from(skewed(rng, 10, 600))),
            b'D' => push_int(out, rng.gen_range(2..=10)),
            _ => {}
        }
        rest = rest.get(open + 3..).unwrap_or("");
    }
    out.push_str(rest);
}

fn push_int(out: &mut String, n: i64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}

/// Appends a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_json_opt_int(out: &mut String, n: Option<i64>) {
    match n {
        Some(n) => push_int(out, n),
        None => out.push_str("null"),
    }
}

// ---------------------------------------------------------------------------------
// Consultations and their timelines.

#[derive(Insertable)]
#[diesel(table_name = consultations)]
#[diesel(treat_none_as_default_value = false)]
struct ConsultationRow {
    id: i64,
    number: String,
    fiscal_year: i32,
    title: String,
    body: String,
    category: &'static str,
    priority: &'static str,
    department_id: i64,
    requester_id: i64,
    contact: Option<String>,
    desired_by: Option<NaiveDate>,
    state: &'static str,
    assignee_id: Option<i64>,
    hearing_at: Option<Stamp>,
    hearing_place: Option<&'static str>,
    resolution: Option<String>,
    system_id: Option<i64>,
    duplicate_of: Option<i64>,
    rating: Option<i16>,
    version: i32,
    created_at: Stamp,
    updated_at: Stamp,
    first_response_at: Option<Stamp>,
    resolved_at: Option<Stamp>,
    closed_at: Option<Stamp>,
    hearing_due_at: Option<Stamp>,
    resolution_due_at: Option<Stamp>,
    due_at: Option<Stamp>,
    sla_paused_at: Option<Stamp>,
    reminded_due_at: Option<Stamp>,
    breached_due_at: Option<Stamp>,
    assigned_at: Option<Stamp>,
    reopen_count: i32,
}

#[derive(Insertable)]
#[diesel(table_name = consultation_events)]
#[diesel(treat_none_as_default_value = false)]
struct EventRow {
    consultation_id: i64,
    event: &'static str,
    actor_id: Option<i64>,
    from_state: Option<&'static str>,
    to_state: &'static str,
    payload: String,
    version: i32,
    created_at: Stamp,
}

/// What the producer hands the writer: whole consultations with all their events.
struct Batch {
    consultations: Vec<ConsultationRow>,
    events: Vec<EventRow>,
    search: Vec<SearchDocument>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            consultations: Vec::with_capacity(BATCH),
            events: Vec::with_capacity(BATCH * 6),
            search: Vec::new(),
        }
    }
}

/// A consultation's entry in the search index, as `db::search::index` writes it
/// for a consultation without comments: the bigrams of the title, and of the body
/// and resolution joined by a line break.
struct SearchDocument {
    id: i64,
    title: String,
    public: String,
}

impl SearchDocument {
    fn of(row: &ConsultationRow) -> SearchDocument {
        let mut title = String::with_capacity(row.title.len() * 3);
        quick_grams(&mut title, &[&row.title]);
        let mut public = String::with_capacity((row.body.len() + 200) * 3);
        match &row.resolution {
            Some(resolution) => quick_grams(&mut public, &[&row.body, "\n", resolution]),
            None => quick_grams(&mut public, &[&row.body]),
        }
        SearchDocument {
            id: row.id,
            title,
            public,
        }
    }
}

/// What `domain::search::grams` makes of the concatenated `parts`, for the generator's own texts,
/// without its allocations. NFKC and lower-casing act on them character by
/// character: ASCII and full-width ASCII fold to lower-case ASCII, and every other
/// character they use is left alone (a test checks this against it).
fn quick_grams(out: &mut String, parts: &[&str]) {
    let fold = |c: char| -> char {
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        };
        c.to_ascii_lowercase()
    };
    let mut previous: Option<char> = None;
    let mut run = 0usize;
    let close_run = |out: &mut String, previous: Option<char>, run: usize| {
        if run == 1 {
            if let Some(p) = previous {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(p);
            }
        }
    };
    for c in parts.iter().flat_map(|p| p.chars()).map(fold) {
        if c.is_alphanumeric() {
            if let Some(p) = previous.filter(|_| run > 0) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(p);
                out.push(c);
            }
            run += 1;
            previous = Some(c);
        } else {
            close_run(out, previous, run);
            run = 0;
            previous = None;
        }
    }
    close_run(out, previous, run);
}

/// A stored time (UTC, whole seconds) with its SQLite text rendered in advance.
/// diesel would format every timestamp on the writer's thread, which is the
/// bottleneck; the producer's thread has time to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, diesel::expression::AsExpression)]
#[diesel(sql_type = Timestamp)]
struct Stamp {
    at: NaiveDateTime,
    /// `YYYY-MM-DD HH:MM:SS`, as diesel writes a `NaiveDateTime` without fraction.
    text: [u8; 19],
}

impl Stamp {
    fn new(at: NaiveDateTime) -> Stamp {
        use chrono::Timelike;
        let at = at.with_nanosecond(0).unwrap_or(at);
        let mut text = *b"0000-00-00 00:00:00";
        let mut put = |pos: usize, digits: usize, mut n: u32| {
            for i in (0..digits).rev() {
                text[pos + i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, at.year().clamp(0, 9999) as u32);
        put(5, 2, at.month());
        put(8, 2, at.day());
        put(11, 2, at.hour());
        put(14, 2, at.minute());
        put(17, 2, at.second());
        Stamp { at, text }
    }
}

impl ToSql<Timestamp, Sqlite> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        let text = std::str::from_utf8(&self.text)?;
        out.set_value(text);
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        ToSql::<Timestamp, Pg>::to_sql(&self.at, out)
    }
}

/// Counts kept by the producer.
struct Tally {
    per_state: [usize; 7],
}

fn state_index(state: State) -> usize {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

/// The column changes an event makes, as `consultations::transition_changes` does.
enum Change {
    File,
    Schedule {
        hearing_at: NaiveDateTime,
        place: &'static str,
    },
    Assign {
        to: i64,
    },
    Nothing,
    Resolve {
        resolution: String,
    },
    Reopen,
    Close {
        rating: Option<i16>,
    },
    Withdraw {
        duplicate_of: Option<i64>,
    },
}

/// One consultation being walked through the workflow. Events at or after the end
/// of history do not happen, and nothing after them either.
struct Life<'c> {
    ctx: &'c Ctx,
    id: i64,
    priority: Priority,
    state: State,
    version: i32,
    stopped: bool,
    last: NaiveDateTime,
    clock: SlaClock,
    events: Vec<EventRow>,
    assignee: Option<i64>,
    hearing_at: Option<NaiveDateTime>,
    hearing_place: Option<&'static str>,
    resolution: Option<String>,
    duplicate_of: Option<i64>,
    rating: Option<i16>,
    first_response_at: Option<NaiveDateTime>,
    resolved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    assigned_at: Option<NaiveDateTime>,
    reopen_count: i32,
}

impl<'c> Life<'c> {
    fn new(ctx: &'c Ctx, id: i64, priority: Priority, filed: NaiveDateTime) -> Life<'c> {
        Life {
            ctx,
            id,
            priority,
            state: State::Received,
            version: 0,
            stopped: false,
            last: filed,
            clock: SlaClock::default(),
            events: Vec::with_capacity(8),
            assignee: None,
            hearing_at: None,
            hearing_place: None,
            resolution: None,
            duplicate_of: None,
            rating: None,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            assigned_at: None,
            reopen_count: 0,
        }
    }

    /// Fires `event` at local time `at` unless history has ended by then. The state
    /// it leads to is read from the workflow table.
    fn fire(
        &mut self,
        event: Event,
        actor: Option<i64>,
        at: NaiveDateTime,
        change: Change,
        payload: String,
    ) -> bool {
        let at = if self.version == 0 {
            at
        } else {
            at.max(self.last + Duration::seconds(1))
        };
        if self.stopped || at >= self.ctx.end {
            self.stopped = true;
            return false;
        }
        let row = transition(event);
        let from = if event == Event::File {
            None
        } else {
            debug_assert!(
                row.from.contains(&self.state),
                "{event:?} from {:?}",
                self.state
            );
            Some(self.state)
        };
        let at_utc = self.ctx.utc(at);
        let now = at_utc.and_utc();
        let ctx = self.ctx;
        self.clock = match from {
            None => ctx.sla.on_file(&ctx.calendar, self.priority, now),
            Some(from) => ctx.sla.on_event(
                &ctx.calendar,
                self.clock,
                self.priority,
                Step {
                    event,
                    from,
                    to: row.to,
                },
                now,
            ),
        };
        match change {
            Change::File | Change::Nothing => {}
            Change::Schedule { hearing_at, place } => {
                self.hearing_at = Some(hearing_at);
                self.hearing_place = Some(place);
                self.first_response_at.get_or_insert(at_utc);
            }
            Change::Assign { to } => {
                self.assignee = Some(to);
                self.first_response_at.get_or_insert(at_utc);
                self.assigned_at.get_or_insert(at_utc);
            }
            Change::Resolve { resolution } => {
                self.resolution = Some(resolution);
                self.resolved_at = Some(at_utc);
            }
            Change::Reopen => {
                self.resolved_at = None;
                self.reopen_count += 1;
            }
            Change::Close { rating } => {
                self.rating = rating;
                self.closed_at = Some(at_utc);
            }
            Change::Withdraw { duplicate_of } => {
                self.duplicate_of = duplicate_of;
                self.closed_at = Some(at_utc);
            }
        }
        self.version += 1;
        self.state = row.to;
        self.last = at;
        self.events.push(EventRow {
            consultation_id: self.id,
            event: event.as_str(),
            actor_id: actor,
            from_state: from.map(State::as_str),
            to_state: row.to.as_str(),
            payload,
            version: self.version,
            created_at: Stamp::new(at_utc),
        });
        true
    }

    /// Whether the walk may go on.
    fn alive(&self) -> bool {
        !self.stopped && !self.state.is_terminal()
    }
}

/// Who acts on one consultation.
#[derive(Clone, Copy)]
struct Cast {
    requester: i64,
    dx: i64,
    se: i64,
    /// Another SE, for hand-overs (the same one when there is only one).
    other_se: i64,
}

struct Producer<'a> {
    ctx: &'a Ctx,
    people: &'a People,
    search_index: bool,
    rng: StdRng,
    next_id: i64,
    next_seq: HashMap<i32, i64>,
    /// The latest consultation of each division: what a duplicate duplicates.
    latest: HashMap<i64, (i64, String)>,
    tally: Tally,
}

impl<'a> Producer<'a> {
    fn new(
        ctx: &'a Ctx,
        people: &'a People,
        seed: u64,
        first_id: i64,
        first_seq: HashMap<i32, i64>,
    ) -> Producer<'a> {
        Producer {
            ctx,
            people,
            search_index: true,
            rng: StdRng::seed_from_u64(seed),
            next_id: first_id,
            next_seq: first_seq,
            latest: HashMap::new(),
            tally: Tally { per_state: [0; 7] },
        }
    }

    /// Generates every planned consultation and sends them in batches.
    /// Freeing a batch's strings is left to this thread too: the writer sends spent
    /// batches back on `spent`.
    fn run(
        &mut self,
        plan: &Plan,
        tx: mpsc::SyncSender<Batch>,
        spent: mpsc::Receiver<Batch>,
    ) -> Tally {
        let total: usize = plan.days.iter().map(|(_, n)| *n as usize).sum();
        let mut done = 0usize;
        let mut batch = Batch::new();
        let mut times = Vec::new();
        for (day, count) in &plan.days {
            times.clear();
            for _ in 0..*count {
                times.push(office_time(&mut self.rng));
            }
            times.sort_unstable();
            for time in &times {
                // The newest few are steered into states chance left out, so that
                // even a small history shows every state.
                let remaining = total - done;
                let missing: Vec<State> = State::ALL
                    .iter()
                    .copied()
                    .filter(|s| self.tally.per_state[state_index(*s)] == 0)
                    .collect();
                let target = (remaining <= missing.len()).then(|| missing[0]);
                self.consultation(day.and_time(*time), target, &mut batch);
                done += 1;
                if batch.consultations.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Batch::new());
                    // Batches may be written concurrently (PostgreSQL): a duplicate
                    // only ever names a consultation of its own batch.
                    self.latest.clear();
                    spent.try_iter().for_each(drop);
                    if tx.send(full).is_err() {
                        return std::mem::replace(&mut self.tally, Tally { per_state: [0; 7] });
                    }
                }
            }
        }
        if !batch.consultations.is_empty() {
            let _ = tx.send(batch);
        }
        std::mem::replace(&mut self.tally, Tally { per_state: [0; 7] })
    }

    fn consultation(&mut self, filed: NaiveDateTime, target: Option<State>, batch: &mut Batch) {
        let ctx = self.ctx;
        let id = self.next_id;
        self.next_id += 1;
        let fy = fiscal_year(filed.date());
        let seq = self.next_seq.entry(fy).or_insert(1);
        let number = consultation_number(fy, *seq);
        *seq += 1;
        let rng = &mut self.rng;
        let (requester, division) = self.people.requester(rng);
        let ses = &self.people.ses;
        let se = rng.gen_range(0..ses.len());
        let other_se = if ses.len() > 1 {
            (se + 1 + rng.gen_range(0..ses.len() - 1)) % ses.len()
        } else {
            se
        };
        let cast = Cast {
            requester,
            dx: pick(rng, &self.people.dx),
            se: ses[se],
            other_se: ses[other_se],
        };
        let category = match rng.gen_range(0..100) {
            0..=34 => Category::LowCodeApp,
            35..=54 => Category::EApplication,
            55..=66 => Category::Rpa,
            67..=74 => Category::AiOcr,
            75..=84 => Category::DataUse,
            _ => Category::Other,
        };
        let priority = match rng.gen_range(0..100) {
            0..=69 => Priority::Normal,
            70..=84 => Priority::High,
            85..=94 => Priority::Low,
            _ => Priority::Urgent,
        };
        let words = Words {
            category,
            subject: pick(rng, SUBJECTS),
            object: pick(rng, OBJECTS),
            tool: pick(rng, tools(category)),
            goal: pick(rng, GOALS),
        };
        let mut title = String::with_capacity(96);
        fill(&mut title, pick(rng, TITLES), &words, rng);
        let mut body = String::with_capacity(512);
        fill(&mut body, pick(rng, SITUATIONS), &words, rng);
        fill(&mut body, pick(rng, PROBLEMS), &words, rng);
        if rng.gen_bool(0.4) {
            fill(&mut body, pick(rng, PROBLEMS), &words, rng);
        }
        fill(&mut body, pick(rng, ASKS), &words, rng);
        if rng.gen_ratio(1, 40) {
            body.push_str(pick(rng, RARE));
        }
        let contact = rng
            .gen_bool(0.8)
            .then(|| format!("内線 {}", rng.gen_range(2000..9000)));
        let desired_by = rng
            .gen_bool(0.4)
            .then(|| filed.date() + Duration::days(rng.gen_range(14..120)));

        let mut life = Life::new(ctx, id, priority, filed);
        let mut payload = String::with_capacity(64 + title.len());
        payload.push_str("{\"number\":");
        push_json_str(&mut payload, &number);
        payload.push_str(",\"title\":");
        push_json_str(&mut payload, &title);
        payload.push('}');
        life.fire(
            Event::File,
            Some(cast.requester),
            filed,
            Change::File,
            payload,
        );
        let duplicate = self.latest.get(&division).cloned();
        match target {
            None => walk(&mut self.rng, &mut life, cast, &words, duplicate),
            Some(target) => steer(&mut self.rng, &mut life, cast, &words, target),
        }
        self.latest.insert(division, (id, number.clone()));
        self.tally.per_state[state_index(life.state)] += 1;

        let clock = life.clock;
        let stored = |t: Option<DateTime<Utc>>| t.map(|t| Stamp::new(t.naive_utc()));
        let due_at = stored(clock.due_at);
        // Notices for due times already past went out back then.
        let reminded = due_at.filter(|d| d.at - ctx.remind_before <= ctx.end_utc);
        let breached = due_at.filter(|d| d.at <= ctx.end_utc);
        batch.consultations.push(ConsultationRow {
            id,
            number,
            fiscal_year: fy,
            title,
            body,
            category: category.as_str(),
            priority: priority.as_str(),
            department_id: division,
            requester_id: cast.requester,
            contact,
            desired_by,
            state: life.state.as_str(),
            assignee_id: life.assignee,
            hearing_at: life.hearing_at.map(|t| Stamp::new(ctx.utc(t))),
            hearing_place: life.hearing_place,
            resolution: life.resolution,
            system_id: None,
            duplicate_of: life.duplicate_of,
            rating: life.rating,
            version: life.version,
            created_at: Stamp::new(ctx.utc(filed)),
            updated_at: Stamp::new(ctx.utc(life.last)),
            first_response_at: life.first_response_at.map(Stamp::new),
            resolved_at: life.resolved_at.map(Stamp::new),
            closed_at: life.closed_at.map(Stamp::new),
            hearing_due_at: stored(clock.hearing_due_at),
            resolution_due_at: stored(clock.resolution_due_at),
            due_at,
            sla_paused_at: stored(clock.paused_at),
            reminded_due_at: reminded,
            breached_due_at: breached,
            assigned_at: life.assigned_at.map(Stamp::new),
            reopen_count: life.reopen_count,
        });
        batch.events.append(&mut life.events);
        if self.search_index {
            if let Some(row) = batch.consultations.last() {
                batch.search.push(SearchDocument::of(row));
            }
        }
    }
}

fn message_payload(message: &str) -> String {
    let mut p = String::with_capacity(16 + message.len());
    p.push_str("{\"message\":");
    push_json_str(&mut p, message);
    p.push('}');
    p
}

fn reason_payload(reason: &str) -> String {
    let mut p = String::with_capacity(16 + reason.len());
    p.push_str("{\"reason\":");
    push_json_str(&mut p, reason);
    p.push('}');
    p
}

fn withdraw_payload(reason: &str, duplicate_of: Option<i64>) -> String {
    let mut p = String::with_capacity(40 + reason.len());
    p.push_str("{\"duplicate_of\":");
    push_json_opt_int(&mut p, duplicate_of);
    p.push_str(",\"reason\":");
    push_json_str(&mut p, reason);
    p.push('}');
    p
}

fn assign_payload(to: i64, previous: Option<i64>, reason: Option<&str>) -> String {
    let mut p = String::with_capacity(64);
    p.push_str("{\"assignee_id\":");
    push_int(&mut p, to);
    p.push_str(",\"previous_assignee_id\":");
    push_json_opt_int(&mut p, previous);
    p.push_str(",\"reason\":");
    match reason {
        Some(r) => push_json_str(&mut p, r),
        None => p.push_str("null"),
    }
    p.push('}');
    p
}

fn rfc3339(ctx: &Ctx, local: NaiveDateTime) -> String {
    // As `DateTime<Utc>::to_rfc3339` writes whole seconds.
    format!("{}+00:00", ctx.utc(local).format("%Y-%m-%dT%H:%M:%S"))
}

fn schedule(
    rng: &mut StdRng,
    life: &mut Life,
    actor: i64,
    at: NaiveDateTime,
    hearing_at: NaiveDateTime,
) -> bool {
    let place = pick(rng, PLACES);
    let mut p = String::with_capacity(128);
    p.push_str("{\"hearing_at\":");
    push_json_str(&mut p, &rfc3339(life.ctx, hearing_at));
    p.push_str(",\"hearing_place\":");
    push_json_str(&mut p, place);
    p.push_str(",\"previous_hearing_at\":");
    match life.hearing_at {
        Some(previous) => push_json_str(&mut p, &rfc3339(life.ctx, previous)),
        None => p.push_str("null"),
    }
    p.push('}');
    life.fire(
        Event::ScheduleHearing,
        Some(actor),
        at,
        Change::Schedule { hearing_at, place },
        p,
    )
}

/// A hearing slot `n` business days after `t`.
fn hearing_slot(ctx: &Ctx, rng: &mut StdRng, t: NaiveDateTime, n: u32) -> NaiveDateTime {
    const SLOTS: &[(u32, u32)] = &[(9, 30), (10, 0), (13, 30), (14, 0), (15, 30), (16, 0)];
    let (h, m) = pick(rng, SLOTS);
    ctx.days
        .after(t.date(), n.max(1))
        .and_hms_opt(h, m, 0)
        .unwrap_or(t)
}

fn resolve(rng: &mut StdRng, life: &mut Life, words: &Words, at: NaiveDateTime) -> bool {
    let mut resolution = String::with_capacity(200);
    fill(&mut resolution, pick(rng, RESOLUTIONS), words, rng);
    let mut p = String::with_capacity(resolution.len() + 40);
    p.push_str("{\"resolution\":");
    push_json_str(&mut p, &resolution);
    p.push_str(",\"system_id\":null}");
    let actor = life.assignee;
    life.fire(Event::Resolve, actor, at, Change::Resolve { resolution }, p)
}

fn close(life: &mut Life, actor: Option<i64>, at: NaiveDateTime, rating: Option<i16>) -> bool {
    let mut p = String::from("{\"rating\":");
    push_json_opt_int(&mut p, rating.map(i64::from));
    p.push('}');
    life.fire(Event::Close, actor, at, Change::Close { rating }, p)
}

fn rating(rng: &mut StdRng) -> i16 {
    match rng.gen_range(0..100) {
        0..=39 => 5,
        40..=74 => 4,
        75..=89 => 3,
        90..=95 => 2,
        _ => 1,
    }
}

/// Business days of work a consultation of this category takes.
fn work_days(rng: &mut StdRng, category: Category) -> u32 {
    let hi = match category {
        Category::LowCodeApp => 45,
        Category::Rpa | Category::AiOcr => 35,
        Category::EApplication | Category::DataUse => 25,
        Category::Other => 15,
    };
    skewed(rng, 1, hi)
}

/// The natural course of a consultation, cut off where history ends.
fn walk(
    rng: &mut StdRng,
    life: &mut Life,
    cast: Cast,
    words: &Words,
    duplicate: Option<(i64, String)>,
) {
    let ctx = life.ctx;
    let filed = life.last;
    // Withdrawn before anyone looked: solved in the division, or a duplicate.
    let r: f64 = rng.gen();
    if r < 0.03 {
        let n = rng.gen_range(0..3);
        let at = later(ctx, rng, filed, n);
        let reason = pick(rng, WITHDRAW_BY_REQUESTER);
        life.fire(
            Event::Withdraw,
            Some(cast.requester),
            at,
            Change::Withdraw { duplicate_of: None },
            withdraw_payload(reason, None),
        );
        return;
    }
    if r < 0.05 {
        let n = rng.gen_range(1..4);
        let at = later(ctx, rng, filed, n);
        let (duplicate_of, reason) = match &duplicate {
            Some((id, number)) => (
                Some(*id),
                format!("同じ内容の相談（{number}）と重複しているため、そちらで対応します。"),
            ),
            None => (
                None,
                "DX推進課の相談対象外のため、情報システム課へ引き継ぎました。".to_string(),
            ),
        };
        life.fire(
            Event::Withdraw,
            Some(cast.dx),
            at,
            Change::Withdraw { duplicate_of },
            withdraw_payload(&reason, duplicate_of),
        );
        return;
    }
    // Triage: most get a hearing within the SLA, some late; simple ones skip it.
    let triage = match life.priority {
        Priority::Urgent => 0,
        Priority::High => rng.gen_range(0..2),
        Priority::Normal => rng.gen_range(0..3),
        Priority::Low => rng.gen_range(1..5),
    } + if rng.gen_ratio(1, 10) {
        rng.gen_range(2..6)
    } else {
        0
    };
    let mut t = later(ctx, rng, filed, triage);
    let self_claim = rng.gen_bool(0.4);
    if rng.gen_bool(0.8) {
        let scheduler = if rng.gen_bool(0.7) { cast.dx } else { cast.se };
        let n = skewed(rng, 2, 10);
        let mut hearing = hearing_slot(ctx, rng, t, n);
        if !schedule(rng, life, scheduler, t, hearing) {
            return;
        }
        if rng.gen_ratio(1, 12) {
            // Rescheduled before it took place.
            let at = later(ctx, rng, t, 1).min(hearing - Duration::minutes(30));
            let n = rng.gen_range(2..6);
            let moved = hearing_slot(ctx, rng, hearing, n);
            if at > t && schedule(rng, life, cast.dx, at, moved) {
                t = at;
                hearing = moved;
            }
        }
        if rng.gen_ratio(1, 30) {
            let n = rng.gen_range(1..4);
            let at = later(ctx, rng, t, n);
            let reason = pick(rng, WITHDRAW_BY_REQUESTER);
            life.fire(
                Event::Withdraw,
                Some(cast.requester),
                at,
                Change::Withdraw { duplicate_of: None },
                withdraw_payload(reason, None),
            );
            return;
        }
        // Assigned after the hearing took place.
        let after = rng.gen_range(0..3);
        let at = if after == 0 {
            let minutes = rng.gen_range(60..240);
            hearing + Duration::minutes(minutes)
        } else {
            later(ctx, rng, hearing, after)
        };
        let actor = if self_claim { cast.se } else { cast.dx };
        if !life.fire(
            Event::Assign,
            Some(actor),
            at,
            Change::Assign { to: cast.se },
            assign_payload(cast.se, None, None),
        ) {
            return;
        }
    } else {
        let n = rng.gen_range(0..2);
        let at = later(ctx, rng, t, n);
        let actor = if self_claim { cast.se } else { cast.dx };
        let reason = pick(rng, SKIP_HEARING);
        if !life.fire(
            Event::Assign,
            Some(actor),
            at,
            Change::Assign { to: cast.se },
            assign_payload(cast.se, None, Some(reason)),
        ) {
            return;
        }
    }
    work(rng, life, cast, words);
}

/// From assigned: questions, hand-overs, resolution, and what the requester does then.
fn work(rng: &mut StdRng, life: &mut Life, cast: Cast, words: &Words) {
    let ctx = life.ctx;
    let mut rounds = 0;
    let mut ask_chance = 0.25;
    while life.alive() && rounds < 4 {
        rounds += 1;
        let mut t = life.last;
        if rng.gen_bool(ask_chance) {
            ask_chance = 0.1;
            let n = skewed(rng, 1, 6);
            let at = later(ctx, rng, t, n);
            let assignee = life.assignee;
            if !life.fire(
                Event::RequestInfo,
                assignee,
                at,
                Change::Nothing,
                message_payload(pick(rng, REQUEST_INFO)),
            ) {
                return;
            }
            if rng.gen_ratio(1, 16) {
                // No answer: the DX office closes the file after a few weeks.
                let n = rng.gen_range(15..30);
                let at = later(ctx, rng, at, n);
                life.fire(
                    Event::Withdraw,
                    Some(cast.dx),
                    at,
                    Change::Withdraw { duplicate_of: None },
                    withdraw_payload(
                        "回答をいただけない状態が続いているため、いったん取り下げます。",
                        None,
                    ),
                );
                return;
            }
            let n = skewed(rng, 1, 10);
            let at = later(ctx, rng, at, n);
            if !life.fire(
                Event::ProvideInfo,
                Some(cast.requester),
                at,
                Change::Nothing,
                message_payload(pick(rng, PROVIDE_INFO)),
            ) {
                return;
            }
            t = at;
        }
        if cast.other_se != cast.se && rng.gen_ratio(1, 20) {
            let previous = life.assignee;
            let to = if previous == Some(cast.se) {
                cast.other_se
            } else {
                cast.se
            };
            let n = rng.gen_range(1..5);
            let at = later(ctx, rng, t, n);
            if !life.fire(
                Event::Assign,
                Some(cast.dx),
                at,
                Change::Assign { to },
                assign_payload(to, previous, Some(pick(rng, HANDOVER))),
            ) {
                return;
            }
            t = at;
        }
        if rng.gen_ratio(1, 50) {
            let n = rng.gen_range(1..10);
            let at = later(ctx, rng, t, n);
            life.fire(
                Event::Withdraw,
                Some(cast.requester),
                at,
                Change::Withdraw { duplicate_of: None },
                withdraw_payload(pick(rng, WITHDRAW_BY_REQUESTER), None),
            );
            return;
        }
        let days = if rounds == 1 {
            work_days(rng, words.category)
        } else {
            skewed(rng, 1, 8)
        };
        let at = later(ctx, rng, t, days);
        if !resolve(rng, life, words, at) {
            return;
        }
        let resolved = at;
        let window_ends = resolved + ctx.reopen_window;
        let r: f64 = rng.gen();
        // The last round ends one way or the other: no consultation stays open for years.
        if r < 0.05 && rounds < 4 {
            let n = rng.gen_range(1..5);
            let at = later(ctx, rng, resolved, n);
            if at <= window_ends {
                if !life.fire(
                    Event::Reopen,
                    Some(cast.requester),
                    at,
                    Change::Reopen,
                    reason_payload(pick(rng, REOPEN)),
                ) {
                    return;
                }
                continue;
            }
        }
        let n = skewed(rng, 0, 8);
        let by_requester = later(ctx, rng, resolved, n);
        if r < 0.78 && by_requester <= window_ends {
            close(life, Some(cast.requester), by_requester, Some(rating(rng)));
        } else {
            // Nobody answered: the worker closes it when the reopen window ends.
            let secs = rng.gen_range(1..120);
            let at = window_ends + Duration::seconds(secs);
            close(life, None, at, None);
        }
    }
}

/// A short path to `target`, squeezed between filing and the end of history.
fn steer(rng: &mut StdRng, life: &mut Life, cast: Cast, words: &Words, target: State) {
    let ctx = life.ctx;
    let path: &[Event] = match target {
        State::Received => &[],
        State::Hearing => &[Event::ScheduleHearing],
        State::Assigned => &[Event::ScheduleHearing, Event::Assign],
        State::Waiting => &[Event::ScheduleHearing, Event::Assign, Event::RequestInfo],
        State::Resolved => &[Event::ScheduleHearing, Event::Assign, Event::Resolve],
        State::Closed => &[
            Event::ScheduleHearing,
            Event::Assign,
            Event::Resolve,
            Event::Close,
        ],
        State::Withdrawn => &[Event::Withdraw],
    };
    let start = life.last;
    let span = (ctx.end - start)
        .num_seconds()
        .max(2 * path.len() as i64 + 2);
    let step = span / (path.len() as i64 + 1);
    for (i, event) in path.iter().enumerate() {
        let at = start + Duration::seconds(step * (i as i64 + 1));
        let ok = match event {
            Event::ScheduleHearing => {
                let hearing = hearing_slot(ctx, rng, at, 2);
                schedule(rng, life, cast.dx, at, hearing)
            }
            Event::Assign => life.fire(
                Event::Assign,
                Some(cast.dx),
                at,
                Change::Assign { to: cast.se },
                assign_payload(cast.se, None, None),
            ),
            Event::RequestInfo => life.fire(
                Event::RequestInfo,
                Some(cast.se),
                at,
                Change::Nothing,
                message_payload(pick(rng, REQUEST_INFO)),
            ),
            Event::Resolve => resolve(rng, life, words, at),
            Event::Close => close(life, Some(cast.requester), at, Some(rating(rng))),
            _ => life.fire(
                Event::Withdraw,
                Some(cast.requester),
                at,
                Change::Withdraw { duplicate_of: None },
                withdraw_payload(pick(rng, WITHDRAW_BY_REQUESTER), None),
            ),
        };
        if !ok {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------
// Writing.

/// Writes batches as they come and hands each back on `spent` to be freed on the
/// producer's thread. Returns the number of events.
fn write_batches(
    conn: &mut DbConn,
    url: &str,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    let saved = drop_stats_indexes(conn)?;
    let written = match conn {
        DbConn::Sqlite(c) => write_sqlite(c, rx, spent),
        DbConn::Postgresql(c) => write_postgres(c, url, rx, spent),
    };
    // Put back even after a failure: the rows written so far stay.
    let started = Instant::now();
    for definition in &saved {
        conn.batch_execute(definition)?;
    }
    log::info!(
        "dashboard indexes rebuilt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    written
}

/// The dashboard's covering indexes (migration `dashboard`). Kept up to date row by
/// row they cut the SQLite load from ~38k to ~14k consultations/s (their keys arrive
/// in random order); built once after the load they take a few seconds.
const STATS_INDEXES: [&str; 2] = ["consultations_filed_stats", "consultations_resolved_stats"];

#[derive(QueryableByName)]
struct IndexDefinition {
    #[diesel(sql_type = Text)]
    definition: String,
}

/// Drops the dashboard's indexes and returns the statements that create them again,
/// as the database itself states them (so the migration stays their only source).
fn drop_stats_indexes(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let names = STATS_INDEXES.map(|n| format!("'{n}'")).join(", ");
    let saved: Vec<IndexDefinition> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(format!(
            "SELECT sql AS definition FROM sqlite_master WHERE type = 'index' AND name IN ({names})"
        ))
        .load(c)?,
        DbConn::Postgresql(c) => diesel::sql_query(format!(
            "SELECT indexdef AS definition FROM pg_indexes WHERE indexname IN ({names})"
        ))
        .load(c)?,
    };
    for name in STATS_INDEXES {
        conn.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    Ok(saved.into_iter().map(|d| d.definition).collect())
}

/// Batches per SQLite transaction. FTS5 writes a new index segment at every commit,
/// so commits are grouped (the data itself would be as fast in smaller ones).
const SQLITE_BATCHES_PER_COMMIT: usize = 5;

/// FTS5 settings for a bulk load: no incremental merging (one `optimize` at the end
/// instead) and a pending-terms buffer big enough for a whole transaction.
const FTS_BULK: &str = "INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 0); \
     INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 268435456);";
/// FTS5's defaults, put back afterwards.
const FTS_DEFAULTS: &str = "INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 4); \
     INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 1048576);";

fn write_sqlite(
    c: &mut SqliteConnection,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    // Foreign keys are off for the reason `insert_prepared` gives; synchronous = OFF
    // risks the file only if the machine itself fails during the load.
    c.batch_execute(
        "PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
    )?;
    let mut events = 0;
    let mut searched = false;
    let started = Instant::now();
    let result = (|| {
        let mut open = 0;
        for batch in rx.iter() {
            if open == 0 {
                c.batch_execute("BEGIN IMMEDIATE")?;
            }
            if !batch.search.is_empty() && !searched {
                searched = true;
                c.batch_execute(FTS_BULK)?;
            }
            events += batch.events.len();
            write_sqlite_batch(c, &batch)?;
            open += 1;
            if open == SQLITE_BATCHES_PER_COMMIT {
                c.batch_execute("COMMIT")?;
                open = 0;
            }
            let _ = spent.send(batch);
        }
        if open > 0 {
            c.batch_execute("COMMIT")?;
        }
        log::info!(
            "rows written after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if searched {
            let merging = Instant::now();
            c.batch_execute("INSERT INTO search_fts (search_fts) VALUES ('optimize');")?;
            log::info!(
                "search index merged in {:.1} s",
                merging.elapsed().as_secs_f64()
            );
        }
        Ok::<_, diesel::result::Error>(())
    })();
    if result.is_err() {
        // Dropping the receiver (on return) stops the producer at its next batch.
        let _ = c.batch_execute("ROLLBACK");
    }
    let restored = c.batch_execute(if searched { FTS_DEFAULTS } else { "" });
    c.batch_execute(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -2000; \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    result?;
    restored?;
    Ok(events)
}

fn write_sqlite_batch(c: &mut SqliteConnection, batch: &Batch) -> QueryResult<()> {
    insert_prepared::<_, SQLITE_CONSULTATIONS>(
        c,
        &batch.consultations,
        |c, rows| {
            diesel::insert_or_ignore_into(consultations::table)
                .values(rows)
                .execute(c)
        },
        |c, rows| {
            diesel::insert_or_ignore_into(consultations::table)
                .values(rows)
                .execute(c)
        },
    )?;
    insert_prepared::<_, SQLITE_EVENTS>(
        c,
        &batch.events,
        |c, rows| {
            diesel::insert_or_ignore_into(consultation_events::table)
                .values(rows)
                .execute(c)
        },
        |c, rows| {
            diesel::insert_or_ignore_into(consultation_events::table)
                .values(rows)
                .execute(c)
        },
    )?;
    for chunk in batch.search.chunks(SQLITE_SEARCH) {
        let mut sql = String::from("INSERT INTO search_fts (rowid, title, body, staff) VALUES ");
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, '')"
            } else {
                ", (?, ?, ?, '')"
            });
        }
        let mut query = diesel::sql_query(sql).into_boxed::<Sqlite>();
        for d in chunk {
            query = query
                .bind::<BigInt, _>(d.id)
                .bind::<Text, _>(&d.title)
                .bind::<Text, _>(&d.public);
        }
        query.execute(c)?;
    }
    Ok(())
}

/// PostgreSQL does the heavy work of a load in its backend (index maintenance,
/// `to_tsvector`, GIN), so batches are written over this many connections at once.
/// Batches are independent: nothing in one refers to a row of another that may not
/// be committed yet (see `Producer::run`).
const POSTGRES_WRITERS: usize = 2;

fn write_postgres(
    c: &mut PgConnection,
    url: &str,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    let rx = std::sync::Mutex::new(Some(rx));
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..POSTGRES_WRITERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut own = PgConnection::establish(url)
                        .map_err(|e| GenerateError::Failed(format!("cannot connect: {e}")))?;
                    postgres_writer(&mut own, &rx, &spent)
                })
            })
            .collect();
        let mut events = postgres_writer(c, &rx, &spent);
        for helper in helpers {
            let written = helper
                .join()
                .map_err(|_| GenerateError::Failed("a writer thread panicked".into()))
                .and_then(|r| r);
            events = match (events, written) {
                (Ok(a), Ok(b)) => Ok(a + b),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        events
    })
}

/// Takes batches from the shared receiver until it is closed, one transaction each.
fn postgres_writer(
    c: &mut PgConnection,
    rx: &std::sync::Mutex<Option<mpsc::Receiver<Batch>>>,
    spent: &mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    // Losing the last commits in a crash is acceptable for generated data.
    c.batch_execute("SET synchronous_commit = off;")?;
    let mut events = 0;
    let result = (|| {
        loop {
            let next = match rx.lock() {
                Ok(rx) => rx.as_ref().map(|rx| rx.recv()),
                Err(_) => break,
            };
            let Some(Ok(batch)) = next else { break };
            events += batch.events.len();
            c.transaction::<_, diesel::result::Error, _>(|c| write_postgres_batch(c, &batch))?;
            let _ = spent.send(batch);
        }
        Ok::<_, diesel::result::Error>(())
    })();
    if result.is_err() {
        // Close the channel: the other writers stop, and the producer at its next batch.
        if let Ok(mut rx) = rx.lock() {
            rx.take();
        }
    }
    c.batch_execute("SET synchronous_commit = on;")?;
    result?;
    Ok(events)
}

fn write_postgres_batch(c: &mut PgConnection, batch: &Batch) -> QueryResult<()> {
    diesel::copy_from(consultations::table)
        .from_insertable(&batch.consultations)
        .execute(c)?;
    diesel::copy_from(consultation_events::table)
        .from_insertable(&batch.events)
        .execute(c)?;
    if !batch.search.is_empty() {
        // The same expressions as `db::search::index`.
        diesel::sql_query(
            "INSERT INTO search_documents (consultation_id, title_tsv, public_tsv, staff_tsv) \
             SELECT u.id, to_tsvector('simple', u.t), \
                    to_tsvector('simple', u.t) || to_tsvector('simple', u.p), \
                    to_tsvector('simple', '') \
             FROM unnest($1, $2, $3) AS u(id, t, p)",
        )
        .bind::<Array<BigInt>, _>(batch.search.iter().map(|d| d.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            batch
                .search
                .iter()
                .map(|d| d.title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            batch
                .search
                .iter()
                .map(|d| d.public.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(c)?;
    }
    Ok(())
}

/// Rows per SQLite statement: fixed, so that diesel prepares each statement once and
/// only binds new values (SQLite allows 32,766 parameters per statement).
const SQLITE_CONSULTATIONS: usize = 250;
const SQLITE_EVENTS: usize = 1000;
const SQLITE_SEARCH: usize = 200;

/// Inserts `rows` in statements of exactly `N` rows (prepared once and cached), and
/// the remainder in one last statement.
///
/// The statements are `INSERT OR IGNORE` and foreign keys are not enforced during
/// the load: a multi-row `INSERT` that may abort makes SQLite copy every page it
/// touches into a statement journal, which costs a third of the load. The rows are
/// consistent by construction, and a row a constraint would have refused is not
/// silently lost: each statement must report all its rows inserted.
fn insert_prepared<T, const N: usize>(
    c: &mut SqliteConnection,
    rows: &[T],
    full: impl Fn(&mut SqliteConnection, &[T; N]) -> QueryResult<usize>,
    rest: impl Fn(&mut SqliteConnection, &[T]) -> QueryResult<usize>,
) -> QueryResult<()> {
    let check = |inserted: usize, expected: usize| {
        if inserted == expected {
            Ok(())
        } else {
            Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "a constraint refused {} generated rows",
                    expected - inserted
                )
                .into(),
            ))
        }
    };
    let mut chunks = rows.chunks_exact(N);
    for chunk in &mut chunks {
        if let Ok(array) = <&[T; N]>::try_from(chunk) {
            check(full(c, array)?, N)?;
        }
    }
    let remainder = chunks.remainder();
    if !remainder.is_empty() {
        check(rest(c, remainder)?, remainder.len())?;
    }
    Ok(())
}

/// When a history generated now ends: the start of today in the configured zone.
pub fn today(settings: &Settings) -> NaiveDate {
    Utc::now().with_timezone(&settings.timezone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::grams;
    use crate::domain::workflow::{check_transition, Actor, Rules, Subject, TransitionInput};

    fn ctx(as_of: NaiveDate) -> Ctx {
        let settings = Settings::defaults(std::path::Path::new("/tmp"));
        Ctx::new(&settings, as_of)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn business_days_skip_weekends_holidays_and_the_year_end() {
        let days = BusinessDays::new(date(2025, 12, 20), date(2026, 1, 31));
        // Fri Dec 26 + 1 → Mon Jan 5 (Dec 29 – Jan 3 closed, Jan 4 Sunday).
        assert_eq!(days.after(date(2025, 12, 26), 1), date(2026, 1, 5));
        // From Saturday, Monday is the first business day.
        assert_eq!(days.after(date(2026, 1, 10), 1), date(2026, 1, 13)); // Jan 12 成人の日
        assert_eq!(days.after(date(2026, 1, 13), 3), date(2026, 1, 16));
    }

    #[test]
    fn the_organisation_has_the_size_of_a_city() {
        let org = Org::build(7);
        let count = |kind: &str| org.departments.iter().filter(|d| d.kind == kind).count();
        assert_eq!(count("bureau") + count("ward"), 40);
        assert!(
            (330..=360).contains(&count("division")),
            "{}",
            count("division")
        );
        assert!(
            (1350..=1700).contains(&count("section")),
            "{}",
            count("section")
        );
        assert_eq!(org.users.len(), STAFF);
        let codes: std::collections::HashSet<&str> =
            org.departments.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes.len(), org.departments.len(), "codes are unique");
        let emails: std::collections::HashSet<&str> =
            org.users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(emails.len(), org.users.len(), "e-mails are unique");
        for (i, d) in org.departments.iter().enumerate() {
            if let Some(p) = d.parent {
                assert!(p < i, "parents come first");
            }
        }
        assert!(org.departments.iter().filter(|d| d.dx).count() >= 4);
    }

    struct Generated {
        rows: Vec<ConsultationRow>,
        events: Vec<EventRow>,
        tally: Tally,
        ctx_end: NaiveDateTime,
    }

    fn people() -> People {
        let requesters: Vec<(i64, i64)> = (0..200).map(|i| (1000 + i, 10 + i % 20)).collect();
        People {
            cumulative: (1..=requesters.len()).map(|i| i as f64).collect(),
            requesters,
            known_requester: Some((999, 10)),
            dx: vec![1, 2, 3],
            ses: (100..110).collect(),
        }
    }

    fn run(count: usize, seed: u64, as_of: NaiveDate) -> Generated {
        let ctx = ctx(as_of);
        let people = people();
        let plan = Plan::new(&ctx, count, seed);
        let (tx, rx) = mpsc::sync_channel(1_000);
        let mut producer = Producer::new(&ctx, &people, seed, 1, HashMap::new());
        let (_spent_tx, spent_rx) = mpsc::channel();
        let tally = producer.run(&plan, tx, spent_rx);
        let mut rows = Vec::new();
        let mut events = Vec::new();
        for mut b in rx.try_iter() {
            rows.append(&mut b.consultations);
            events.append(&mut b.events);
        }
        Generated {
            rows,
            events,
            tally,
            ctx_end: ctx.end_utc,
        }
    }

    fn role_of(id: i64) -> Role {
        match id {
            1..=3 => Role::DxOffice,
            100..=110 => Role::Helpdesk,
            _ => Role::Requester,
        }
    }

    #[test]
    fn timelines_follow_the_workflow_table_with_allowed_actors() {
        let g = run(5_000, 42, date(2026, 6, 15));
        assert_eq!(g.rows.len(), 5_000);
        assert!(
            g.tally.per_state.iter().all(|n| *n > 0),
            "{:?}",
            g.tally.per_state
        );
        let rules = Rules::default();
        let mut events = g.events.iter().peekable();
        let mut numbers = std::collections::HashSet::new();
        for row in &g.rows {
            assert!(numbers.insert(row.number.clone()), "{} twice", row.number);
            let mut subject = Subject {
                id: row.id,
                state: State::Received,
                requester_id: row.requester_id,
                assignee_id: None,
                resolved_at: None,
            };
            let mut version = 0;
            let mut last = None;
            while let Some(e) = events.next_if(|e| e.consultation_id == row.id) {
                version += 1;
                assert_eq!(e.version, version);
                assert!(e.created_at.at < g.ctx_end, "nothing happens after the end");
                if let Some(last) = last {
                    assert!(e.created_at > last, "{} events in order", row.number);
                }
                last = Some(e.created_at);
                let event = Event::parse(e.event).expect("event");
                if event == Event::File {
                    assert_eq!(e.from_state, None);
                    assert_eq!(e.to_state, "received");
                    continue;
                }
                assert_eq!(e.from_state, Some(subject.state.as_str()), "{}", row.number);
                let payload: serde_json::Value =
                    serde_json::from_str(&e.payload).expect("payload is JSON");
                let text = |k: &str| payload[k].as_str().map(str::to_string);
                let input = TransitionInput {
                    hearing_at: text("hearing_at"),
                    hearing_place: text("hearing_place"),
                    assignee_id: payload["assignee_id"].as_i64(),
                    reason: text("reason"),
                    message: text("message"),
                    resolution: text("resolution"),
                    rating: payload["rating"].as_i64(),
                    duplicate_of: payload["duplicate_of"].as_i64(),
                    ..Default::default()
                };
                let actor = match e.actor_id {
                    Some(id) => Actor::User {
                        id,
                        role: role_of(id),
                    },
                    None => Actor::System,
                };
                let now = e.created_at.at.and_utc();
                let (to, _) = check_transition(&rules, &subject, actor, event, &input, now)
                    .unwrap_or_else(|err| {
                        panic!("{} {}: {err:?} ({:?})", row.number, e.event, e.payload)
                    });
                assert_eq!(to.as_str(), e.to_state);
                subject.state = to;
                if let Some(a) = input.assignee_id {
                    subject.assignee_id = Some(a);
                }
                match event {
                    Event::Resolve => subject.resolved_at = Some(now),
                    Event::Reopen => subject.resolved_at = None,
                    _ => {}
                }
            }
            assert_eq!(row.version, version, "{}", row.number);
            assert_eq!(row.state, subject.state.as_str(), "{}", row.number);
            assert_eq!(Some(row.updated_at), last);
            assert_eq!(row.assignee_id, subject.assignee_id);
            let open = matches!(row.state, "received" | "hearing" | "assigned");
            assert_eq!(row.due_at.is_some(), open, "{} {}", row.number, row.state);
            if row.state == "closed" && row.rating.is_some() {
                assert!((1..=5).contains(&row.rating.unwrap_or(0)));
            }
            if matches!(row.state, "closed" | "withdrawn") {
                assert!(row.closed_at.is_some());
            }
            if row.state == "waiting" {
                assert!(row.sla_paused_at.is_some());
            }
        }
        assert!(events.next().is_none(), "no stray events");
    }

    #[test]
    fn a_tiny_history_still_shows_every_state() {
        for n in [7usize, 20, 100] {
            let g = run(n, 3, date(2026, 11, 28));
            assert_eq!(g.rows.len(), n);
            assert!(
                g.tally.per_state.iter().all(|c| *c > 0),
                "{n}: {:?}",
                g.tally.per_state
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let a = run(500, 9, date(2026, 5, 1));
        let b = run(500, 9, date(2026, 5, 1));
        let key = |g: &Generated| {
            g.rows
                .iter()
                .map(|r| (r.number.clone(), r.title.clone(), r.state, r.updated_at.at))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        let c = run(500, 10, date(2026, 5, 1));
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn numbers_follow_filing_order_within_each_fiscal_year() {
        let g = run(3_000, 5, date(2026, 11, 28));
        let mut last: HashMap<i32, (i64, NaiveDateTime)> = HashMap::new();
        for r in &g.rows {
            let seq: i64 = r
                .number
                .rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if let Some((prev, at)) = last.get(&r.fiscal_year) {
                assert_eq!(seq, prev + 1);
                assert!(r.created_at.at >= *at);
            } else {
                assert_eq!(seq, 1);
            }
            last.insert(r.fiscal_year, (seq, r.created_at.at));
        }
        assert_eq!(last.len(), FISCAL_YEARS as usize);
    }

    #[test]
    fn quick_grams_agree_with_the_search_index() {
        let g = run(20_000, 13, date(2026, 11, 28));
        for row in &g.rows {
            let document = SearchDocument::of(row);
            assert_eq!(document.title, grams(&row.title), "{}", row.title);
            let public = match &row.resolution {
                Some(r) => grams(&format!("{}\n{r}", row.body)),
                None => grams(&row.body),
            };
            assert_eq!(document.public, public, "{}", row.body);
        }
        for text in [
            "ＲＰＡ　と AI-OCR",
            "a",
            "",
            "申",
            "（kintone）の集計",
            "x1 y",
        ] {
            let mut quick = String::new();
            quick_grams(&mut quick, &[text]);
            assert_eq!(quick, grams(text), "{text}");
        }
    }

    #[test]
    fn texts_contain_the_terms_people_search_for() {
        let g = run(3_000, 11, date(2026, 11, 28));
        for term in [
            "電子申請",
            "給付金",
            "会議録",
            "申請書",
            "RPA",
            "kintone",
            "AI-OCR",
            "受付業務",
            "集計",
        ] {
            let hits = g
                .rows
                .iter()
                .filter(|r| r.title.contains(term) || r.body.contains(term))
                .count();
            assert!(hits > 10, "{term}: {hits}");
        }
    }
}
