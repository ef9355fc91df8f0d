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
//! What it guarantees (the tests in `tests/api/generate.rs` and `tests.rs` here check it):
//! - every timeline follows [`WORKFLOW`](crate::domain::workflow::WORKFLOW): each
//!   event's from/to states are read from the table, and each actor is one the table
//!   allows (requester, DX office, the assignee, or the system closing after the
//!   reopen window); nothing happens on or after the end of history;
//! - a consultation's `version` is its number of events, `updated_at` its last event,
//!   and its columns are what the events left (assignee, hearing, resolution, rating…):
//!   each event's column changes and stored payload come from
//!   [`effects::apply`](crate::domain::effects::apply), the function the desk fires
//!   events with;
//! - SLA columns come from the configured [`SlaPolicy`](crate::domain::sla::SlaPolicy) and business calendar, as
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
//!
//! The parts, in the order a run uses them:
//! - `calendar`: business days, office hours, and on which days the consultations
//!   are filed;
//! - `organisation` (with the names in `city`): the bureaus, divisions, sections
//!   and staff, written once and read back as the people who file and work;
//! - `producer` builds each consultation's rows (`rows`) from its texts (`texts`)
//!   and its life in the workflow (`life`);
//! - `writer` hands the batches to the bulk writer of the backend, `sqlite` or
//!   `postgres`.

mod calendar;
mod city;
mod inquiries;
mod life;
mod organisation;
mod postgres;
mod producer;
mod rows;
mod sqlite;
#[cfg(test)]
mod tests;
mod texts;
mod writer;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::{consultation_counters, consultations};
use crate::db::DbConn;
use crate::domain::State;
use crate::settings::Settings;

use calendar::{Ctx, Plan};
use organisation::{ensure_organisation, People};
use producer::{state_index, Producer};
use rows::Batch;
use writer::write_batches;

pub use organisation::KNOWN_USERS;

/// The password of every generated user.
pub const PASSWORD: &str = "generated-pass-2025";
/// The domain of every generated user's e-mail address.
pub const EMAIL_DOMAIN: &str = "gen.digicon.local";
/// How many staff the generated city has.
pub const STAFF: usize = 8_000;
/// How many fiscal years of history, ending with the current one.
pub const FISCAL_YEARS: i32 = 10;

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
    /// Helpdesk inquiries to add (`None`: 3.5 per consultation, as the desk sees).
    pub inquiries: Option<usize>,
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
    /// Helpdesk inquiries and their events, and the seconds they took.
    pub inquiries: (usize, usize, f64),
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
        let (inquiries, inquiry_events, inquiry_seconds) = self.inquiries;
        out.push_str(&format!(
            "generated {inquiries} helpdesk inquiries with {inquiry_events} events in {inquiry_seconds:.1} s\n"
        ));
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
        let written = write_batches(
            conn,
            &settings.database_url,
            &settings.timezone,
            rx,
            spent_tx,
        );
        let tally = producer
            .join()
            .map_err(|_| GenerateError::Failed("the generator thread panicked".into()))?;
        Ok::<_, GenerateError>((tally, written?))
    })?;

    let inquiries_started = Instant::now();
    let inquiry_count = options.inquiries.unwrap_or(options.consultations * 7 / 2);
    let before: Option<i64> = crate::db::schema::inquiries::table
        .select(diesel::dsl::max(crate::db::schema::inquiries::id))
        .first(conn)?;
    let inquiry_events = inquiries::generate_inquiries(
        conn,
        inquiry_count,
        options.seed,
        options.as_of,
        settings.timezone,
    )?;
    crate::db::stats::add_inquiries(conn, &settings.timezone, before.unwrap_or(0))?;
    let inquiry_seconds = inquiries_started.elapsed().as_secs_f64();
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
        inquiries: (inquiry_count, inquiry_events, inquiry_seconds),
        seconds: started.elapsed().as_secs_f64(),
    })
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

/// When a history generated now ends: the start of today in the configured zone.
pub fn today(settings: &Settings) -> NaiveDate {
    Utc::now().with_timezone(&settings.timezone).date_naive()
}
