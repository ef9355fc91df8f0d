//! The rows a generated consultation becomes, as the writers take them: the
//! consultation, its events, its search entry, in batches. Everything costly to
//! prepare (search bigrams, the SQLite text of each timestamp) is prepared here on
//! the producer's thread, because the writer's thread is the bottleneck.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

use crate::db::schema::{consultation_events, consultations};

#[derive(Insertable)]
#[diesel(table_name = consultations)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct ConsultationRow {
    pub(super) id: i64,
    pub(super) number: String,
    pub(super) fiscal_year: i32,
    pub(super) title: String,
    pub(super) body: String,
    pub(super) category: &'static str,
    pub(super) priority: &'static str,
    pub(super) department_id: i64,
    pub(super) requester_id: i64,
    pub(super) contact: Option<String>,
    pub(super) desired_by: Option<NaiveDate>,
    pub(super) state: &'static str,
    pub(super) assignee_id: Option<i64>,
    pub(super) hearing_at: Option<Stamp>,
    pub(super) hearing_place: Option<String>,
    pub(super) resolution: Option<String>,
    pub(super) system_id: Option<i64>,
    pub(super) duplicate_of: Option<i64>,
    pub(super) rating: Option<i16>,
    pub(super) version: i32,
    pub(super) created_at: Stamp,
    pub(super) updated_at: Stamp,
    pub(super) first_response_at: Option<Stamp>,
    pub(super) resolved_at: Option<Stamp>,
    pub(super) closed_at: Option<Stamp>,
    pub(super) hearing_due_at: Option<Stamp>,
    pub(super) resolution_due_at: Option<Stamp>,
    pub(super) due_at: Option<Stamp>,
    pub(super) sla_paused_at: Option<Stamp>,
    pub(super) reminded_due_at: Option<Stamp>,
    pub(super) breached_due_at: Option<Stamp>,
    pub(super) assigned_at: Option<Stamp>,
    pub(super) reopen_count: i32,
}

#[derive(Insertable)]
#[diesel(table_name = consultation_events)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct EventRow {
    pub(super) consultation_id: i64,
    pub(super) event: &'static str,
    pub(super) actor_id: Option<i64>,
    pub(super) from_state: Option<&'static str>,
    pub(super) to_state: &'static str,
    pub(super) payload: String,
    pub(super) version: i32,
    pub(super) created_at: Stamp,
}

/// Consultations per batch handed from the producer to the writer (one transaction).
pub(super) const BATCH: usize = 10_000;

/// What the producer hands the writer: whole consultations with all their events.
pub(super) struct Batch {
    pub(super) consultations: Vec<ConsultationRow>,
    pub(super) events: Vec<EventRow>,
    pub(super) search: Vec<SearchDocument>,
}

impl Batch {
    pub(super) fn new() -> Batch {
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
pub(super) struct SearchDocument {
    pub(super) id: i64,
    pub(super) title: String,
    pub(super) public: String,
}

impl SearchDocument {
    pub(super) fn of(row: &ConsultationRow) -> SearchDocument {
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
pub(super) fn quick_grams(out: &mut String, parts: &[&str]) {
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
pub(super) struct Stamp {
    pub(super) at: NaiveDateTime,
    /// `YYYY-MM-DD HH:MM:SS`, as diesel writes a `NaiveDateTime` without fraction.
    pub(super) text: [u8; 19],
}

impl Stamp {
    pub(super) fn new(at: NaiveDateTime) -> Stamp {
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
