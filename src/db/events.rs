//! The append-only timeline. Rows are only ever inserted; the unique
//! `(consultation_id, version)` makes two writers of one version impossible.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::consultation_events;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultation_events)]
pub struct EventRow {
    pub id: i64,
    pub consultation_id: i64,
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_state: Option<String>,
    pub to_state: String,
    /// JSON object with the event's fields.
    pub payload: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = consultation_events)]
pub struct NewEvent<'a> {
    pub consultation_id: i64,
    pub event: &'a str,
    pub actor_id: Option<i64>,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub payload: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

pub fn append(conn: &mut DbConn, event: &NewEvent) -> QueryResult<i64> {
    diesel::insert_into(consultation_events::table)
        .values(event)
        .returning(consultation_events::id)
        .get_result(conn)
}

pub fn for_consultation(conn: &mut DbConn, consultation_id: i64) -> QueryResult<Vec<EventRow>> {
    consultation_events::table
        .filter(consultation_events::consultation_id.eq(consultation_id))
        .order(consultation_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)
}

/// How many events of one kind a consultation has had (for calendar SEQUENCE).
pub fn count_of(conn: &mut DbConn, consultation_id: i64, event: &str) -> QueryResult<i64> {
    consultation_events::table
        .filter(consultation_events::consultation_id.eq(consultation_id))
        .filter(consultation_events::event.eq(event))
        .count()
        .get_result(conn)
}
