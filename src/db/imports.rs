//! Writing imported kintone records in bulk: multi-row `INSERT`s on the inner
//! connection of each backend (the multi-backend connection cannot batch), rows
//! with ids reserved beforehand so events point at their record without a round
//! trip, counters moved past imported numbers, and the record keys that make a
//! second run import nothing twice. Everything runs inside the caller's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::{
    comments, consultation_counters, consultation_events, consultations, departments, inquiries,
    inquiry_comments, inquiry_counters, inquiry_events, kintone_records, system_events, systems,
    users,
};
use super::DbConn;
use crate::domain::Role;

/// `kintone_records.app` of the Digicon app's records (consultations).
pub const DIGICON_APP: &str = "digicon";
/// `kintone_records.app` of the helpdesk app's records (inquiries).
pub const HELPDESK_APP: &str = "helpdesk";

/// Inserts rows in statements of `$per`, on whichever backend `$conn` is.
macro_rules! bulk {
    ($conn:expr, $table:expr, $rows:expr, $per:expr) => {{
        for chunk in $rows.chunks($per) {
            match $conn {
                DbConn::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c)?,
                DbConn::Postgresql(c) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
    }};
}

/// Takes the write lock (SQLite) or the import lock (PostgreSQL) first, so that
/// the reads that decide what to write stay true until the commit: SQLite could
/// not upgrade a read transaction once another connection has written, and two
/// imports at once would both find a record not yet imported.
pub fn lock(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => {
            diesel::sql_query("UPDATE kintone_records SET app = app WHERE 0").execute(c)?;
            // The indexes of 100,000 new consultations and their events do not fit
            // SQLite's default 2 MB page cache (256 MB, as `generate` uses; it is
            // the connection of a command that exits after).
            diesel::sql_query("PRAGMA cache_size = -262144").execute(c)?;
        }
        DbConn::Postgresql(c) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(4242019)").execute(c)?;
        }
    }
    Ok(())
}

/// A user as the import looks them up.
#[derive(Debug, Clone, Queryable)]
pub struct DirectoryUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub department_id: i64,
}

/// Every user, for looking up kintone's user fields.
pub fn users(conn: &mut DbConn) -> QueryResult<Vec<DirectoryUser>> {
    users::table
        .order(users::id.asc())
        .select((
            users::id,
            users::email,
            users::name,
            users::role,
            users::department_id,
        ))
        .load(conn)
}

/// Every active department: id, code and name.
pub fn departments(conn: &mut DbConn) -> QueryResult<Vec<(i64, String, String)>> {
    departments::table
        .filter(departments::active.eq(true))
        .order(departments::id.asc())
        .select((departments::id, departments::code, departments::name))
        .load(conn)
}

/// The records of an app imported before: record number → the row it became.
pub fn imported(conn: &mut DbConn, app: &str) -> QueryResult<HashMap<String, i64>> {
    Ok(kintone_records::table
        .filter(kintone_records::app.eq(app))
        .select((kintone_records::record_number, kintone_records::target_id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// Which of `numbers` a consultation (or, with `inquiry`, an inquiry) already has.
pub fn numbers_taken(
    conn: &mut DbConn,
    numbers: &[String],
    inquiry: bool,
) -> QueryResult<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in numbers.chunks(500) {
        let found: Vec<String> = if inquiry {
            inquiries::table
                .filter(inquiries::number.eq_any(chunk))
                .select(inquiries::number)
                .load(conn)?
        } else {
            consultations::table
                .filter(consultations::number.eq_any(chunk))
                .select(consultations::number)
                .load(conn)?
        };
        taken.extend(found);
    }
    Ok(taken)
}

/// The consultations among `ids` already linked to a ledger system, with it.
pub fn linked_systems(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let mut linked = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, Option<i64>)> = consultations::table
            .filter(consultations::id.eq_any(chunk))
            .filter(consultations::system_id.is_not_null())
            .select((consultations::id, consultations::system_id))
            .load(conn)?;
        linked.extend(rows.into_iter().filter_map(|(id, s)| Some((id, s?))));
    }
    Ok(linked)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Reserves `count` new ids of `table` (`consultations` or `inquiries`). SQLite
/// follows explicit ids itself and the write lock is held; PostgreSQL's sequence
/// hands them out (not necessarily consecutive while others insert).
pub fn reserve_ids(conn: &mut DbConn, table: &'static str, count: usize) -> QueryResult<Vec<i64>> {
    if count == 0 {
        return Ok(vec![]);
    }
    match conn {
        DbConn::Sqlite(c) => {
            let max = diesel::sql_query(format!("SELECT COALESCE(MAX(id), 0) AS id FROM {table}"))
                .get_result::<Id>(c)?
                .id;
            Ok((max + 1..=max + count as i64).collect())
        }
        DbConn::Postgresql(c) => Ok(diesel::sql_query(format!(
            "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id \
             FROM generate_series(1, {count}) ORDER BY 1"
        ))
        .load::<Id>(c)?
        .into_iter()
        .map(|r| r.id)
        .collect()),
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = consultations, treat_none_as_default_value = false)]
pub struct ConsultationRow {
    pub id: i64,
    pub number: String,
    pub fiscal_year: i32,
    pub title: String,
    pub body: String,
    pub category: &'static str,
    pub priority: &'static str,
    pub department_id: i64,
    pub requester_id: i64,
    pub contact: Option<String>,
    pub desired_by: Option<NaiveDate>,
    pub state: &'static str,
    pub assignee_id: Option<i64>,
    pub hearing_at: Option<NaiveDateTime>,
    pub hearing_place: Option<String>,
    pub resolution: Option<String>,
    pub duplicate_of: Option<i64>,
    pub rating: Option<i16>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub assigned_at: Option<NaiveDateTime>,
    pub reopen_count: i32,
    pub filed_by: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = consultation_events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub consultation_id: i64,
    pub event: &'static str,
    pub actor_id: Option<i64>,
    pub from_state: Option<&'static str>,
    pub to_state: &'static str,
    pub payload: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = comments, treat_none_as_default_value = false)]
pub struct CommentRow {
    pub consultation_id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = inquiries, treat_none_as_default_value = false)]
pub struct InquiryRow {
    pub id: i64,
    pub number: String,
    pub fiscal_year: i32,
    pub subject: String,
    pub question: String,
    pub topic: &'static str,
    pub channel: &'static str,
    pub priority: &'static str,
    pub department_id: i64,
    pub asker_id: i64,
    pub filed_by: i64,
    pub state: &'static str,
    pub assignee_id: Option<i64>,
    pub answer: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_answered_at: Option<NaiveDateTime>,
    pub answered_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// The consultation it was escalated into.
    pub consultation_id: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = inquiry_events, treat_none_as_default_value = false)]
pub struct InquiryEventRow {
    pub inquiry_id: i64,
    pub event: &'static str,
    pub actor_id: Option<i64>,
    pub from_state: Option<&'static str>,
    pub to_state: &'static str,
    pub payload: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = inquiry_comments, treat_none_as_default_value = false)]
pub struct InquiryCommentRow {
    pub inquiry_id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = systems, treat_none_as_default_value = false)]
pub struct SystemRow {
    pub name: String,
    pub department_id: i64,
    pub platform: &'static str,
    pub phase: &'static str,
    pub built_by: &'static str,
    pub workflow_before: Option<String>,
    pub workflow_after: Option<String>,
    pub hours_saved_per_year: Option<i64>,
    pub cost_saved_per_year: Option<i64>,
    pub holds_personal_data: bool,
    pub manual_location: Option<String>,
    pub owner_id: i64,
    pub review_on: Option<NaiveDate>,
    pub production_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub verified: bool,
    pub other_effects: String,
}

/// A consultation stream's rows of one import.
#[derive(Debug, Default)]
pub struct ConsultationRows {
    pub consultations: Vec<ConsultationRow>,
    pub events: Vec<EventRow>,
    pub comments: Vec<CommentRow>,
}

/// Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535
/// parameters for the widest row.
const ROWS_PER_STATEMENT: usize = 500;

pub fn insert_consultations(conn: &mut DbConn, rows: &ConsultationRows) -> QueryResult<()> {
    bulk!(
        conn,
        consultations::table,
        rows.consultations,
        ROWS_PER_STATEMENT
    );
    bulk!(
        conn,
        consultation_events::table,
        rows.events,
        ROWS_PER_STATEMENT
    );
    bulk!(conn, comments::table, rows.comments, ROWS_PER_STATEMENT);
    Ok(())
}

/// An inquiry stream's rows of one import.
#[derive(Debug, Default)]
pub struct InquiryRows {
    pub inquiries: Vec<InquiryRow>,
    pub events: Vec<InquiryEventRow>,
    pub comments: Vec<InquiryCommentRow>,
}

pub fn insert_inquiries(conn: &mut DbConn, rows: &InquiryRows) -> QueryResult<()> {
    bulk!(conn, inquiries::table, rows.inquiries, ROWS_PER_STATEMENT);
    bulk!(conn, inquiry_events::table, rows.events, ROWS_PER_STATEMENT);
    bulk!(
        conn,
        inquiry_comments::table,
        rows.comments,
        ROWS_PER_STATEMENT
    );
    Ok(())
}

/// Registers one ledger entry with its first history row and links the
/// consultations that led to it. Returns its id. (The ledger is small: row by row.)
pub fn insert_system(
    conn: &mut DbConn,
    row: &SystemRow,
    history: String,
    consultation_ids: &[i64],
) -> QueryResult<i64> {
    let id: i64 = diesel::insert_into(systems::table)
        .values(row)
        .returning(systems::id)
        .get_result(conn)?;
    diesel::insert_into(system_events::table)
        .values((
            system_events::system_id.eq(id),
            system_events::event.eq("register"),
            system_events::actor_id.eq(None::<i64>),
            system_events::from_phase.eq(None::<String>),
            system_events::to_phase.eq(row.phase),
            system_events::payload.eq(history),
            system_events::created_at.eq(row.created_at),
        ))
        .execute(conn)?;
    if !consultation_ids.is_empty() {
        diesel::update(consultations::table.filter(consultations::id.eq_any(consultation_ids)))
            .set(consultations::system_id.eq(id))
            .execute(conn)?;
    }
    Ok(id)
}

/// Moves each fiscal year's counter of consultations (or inquiries) to at least
/// the given sequence, so later numbers never collide with imported ones.
pub fn advance_counters(
    conn: &mut DbConn,
    highest: &HashMap<i32, i64>,
    inquiry: bool,
) -> QueryResult<()> {
    for (&year, &seq) in highest {
        macro_rules! advance {
            ($t:ident) => {{
                let last: Option<i64> = $t::table
                    .find(year)
                    .select($t::last_seq)
                    .first(conn)
                    .optional()?;
                match last {
                    Some(last) if last >= seq => {}
                    Some(_) => {
                        diesel::update($t::table.find(year))
                            .set($t::last_seq.eq(seq))
                            .execute(conn)?;
                    }
                    None => {
                        diesel::insert_into($t::table)
                            .values(($t::fiscal_year.eq(year), $t::last_seq.eq(seq)))
                            .execute(conn)?;
                    }
                }
            }};
        }
        if inquiry {
            advance!(inquiry_counters)
        } else {
            advance!(consultation_counters)
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = kintone_records)]
pub struct RecordKey {
    pub app: &'static str,
    pub record_number: String,
    pub target_id: i64,
    pub imported_at: NaiveDateTime,
}

/// Remembers which row each kintone record became.
pub fn remember(conn: &mut DbConn, keys: &[RecordKey]) -> QueryResult<()> {
    bulk!(conn, kintone_records::table, keys, ROWS_PER_STATEMENT);
    Ok(())
}
