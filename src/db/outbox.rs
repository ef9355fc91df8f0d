//! The outbox: mail rendered and stored in the transaction of the change that
//! caused it, then claimed and delivered by the worker. A row is `pending`,
//! `sending` (claimed, with a lease), `sent` or `failed`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};
use serde::Serialize;

use super::schema::outbox;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub consultation_id: Option<i64>,
    pub recipient_id: Option<i64>,
    pub recipient_email: String,
    pub locale: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub calendar: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// A rendered message, ready to queue.
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
pub struct NewOutbox {
    pub kind: &'static str,
    pub consultation_id: Option<i64>,
    pub recipient_id: Option<i64>,
    pub recipient_email: String,
    pub locale: &'static str,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub calendar: Option<String>,
    pub status: &'static str,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Queues the messages of one event in one statement (an intake mail goes to
/// every DX office member, and filing speed depends on it).
pub fn insert_all(conn: &mut DbConn, messages: &[NewOutbox]) -> QueryResult<usize> {
    if messages.is_empty() {
        return Ok(0);
    }
    // Multi-row inserts are backend syntax, which the MultiConnection does not cover.
    let insert = diesel::insert_into(outbox::table).values(messages);
    match conn {
        DbConn::Sqlite(conn) => insert.execute(conn),
        DbConn::Postgresql(conn) => insert.execute(conn),
    }
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

// A person's mail goes out in order: nobody whose mail another lane or worker
// holds (an unexpired claim) gets a second lane.
const CLAIM_POSTGRES: &str = "UPDATE outbox SET status = 'sending', claimed_until = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox \
       WHERE ((status = 'pending' AND next_attempt_at <= $2) OR (status = 'sending' AND claimed_until < $2)) \
         AND recipient_email NOT IN (SELECT recipient_email FROM outbox \
           WHERE status = 'sending' AND claimed_until >= $2) \
       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id";

// SQLite has one writer at a time, so the plain UPDATE is already exclusive.
const CLAIM_SQLITE: &str = "UPDATE outbox SET status = 'sending', claimed_until = ?1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox \
       WHERE ((status = 'pending' AND next_attempt_at <= ?2) OR (status = 'sending' AND claimed_until < ?2)) \
         AND recipient_email NOT IN (SELECT recipient_email FROM outbox \
           WHERE status = 'sending' AND claimed_until >= ?2) \
       ORDER BY id LIMIT ?3) \
     RETURNING id";

/// Claims up to `limit` messages that are due, or whose previous claim expired (a
/// worker died mid-send), until `lease_until`. Concurrent workers never claim the
/// same row: PostgreSQL skips rows another transaction has locked.
pub fn claim(
    conn: &mut DbConn,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Vec<OutboxRow>> {
    let ids: Vec<ClaimedId> = match conn {
        DbConn::Postgresql(c) => diesel::sql_query(CLAIM_POSTGRES)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(c)?,
        DbConn::Sqlite(c) => diesel::sql_query(CLAIM_SQLITE)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(c)?,
    };
    if ids.is_empty() {
        return Ok(vec![]);
    }
    outbox::table
        .filter(outbox::id.eq_any(ids.into_iter().map(|c| c.id).collect::<Vec<_>>()))
        .order(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Extends the claims this worker still holds (it is alive and sending).
pub fn renew(conn: &mut DbConn, ids: &[i64], lease_until: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq("sending")),
    )
    .set(outbox::claimed_until.eq(Some(lease_until)))
    .execute(conn)
}

/// Gives back claimed messages that were not tried (the worker is stopping):
/// due at once, the claim's attempt not counted.
pub fn release(conn: &mut DbConn, ids: &[i64]) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq("sending")),
    )
    .set((
        outbox::status.eq("pending"),
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::attempts.eq(outbox::attempts - 1),
    ))
    .execute(conn)
}

/// Kinds of mail whose body is a credential (a one-time link): once sent, the
/// body is emptied, so the database keeps no usable copy of it.
pub const SECRET_KINDS: &[&str] = &["password_reset"];

pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    let marked = diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq("sent"),
            outbox::sent_at.eq(Some(now)),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::kind.eq_any(SECRET_KINDS)),
    )
    .set((outbox::body_text.eq(""), outbox::body_html.eq("")))
    .execute(conn)?;
    Ok(marked)
}

/// Puts a message back for another attempt at `next_attempt_at`.
pub fn mark_retry(
    conn: &mut DbConn,
    id: i64,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq("pending"),
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
}

pub fn mark_failed(conn: &mut DbConn, id: i64, error: &str) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq("failed"),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
}

/// Sends a failed message again from scratch. Only failed messages can be retried.
pub fn retry_failed(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id).filter(outbox::status.eq("failed")))
        .set((
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<OutboxRow>> {
    outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

/// Messages by id, optionally of one status, after a cursor id.
pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = outbox::table
        .filter(outbox::id.gt(after_id.unwrap_or(0)))
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(outbox::status.eq(status.to_string()));
    }
    query.load(conn)
}

/// Messages not yet sent or failed, for the worker's idle check and metrics.
pub fn count_unsent(conn: &mut DbConn) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::status.eq_any(["pending", "sending"]))
        .count()
        .get_result(conn)
}

/// Drops every unsent message (the demo loader's history is news to nobody).
pub fn delete_unsent(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(outbox::table.filter(outbox::status.eq("pending"))).execute(conn)
}
