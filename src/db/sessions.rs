//! Sign-in sessions: a token names its session, and a request is let in only
//! while the session is open, so a session ends when its user logs out, changes
//! their password or is logged out everywhere, not only when the token expires.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{sessions, users};
use super::users::User;
use super::DbConn;

pub fn start(
    conn: &mut DbConn,
    id: &str,
    user_id: i64,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

/// The user of an open, unexpired session of an active user.
pub fn user_of(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<Option<User>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(users::active.eq(true))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Ends one session of a user (whoever else's it is, nothing happens).
pub fn end(conn: &mut DbConn, id: &str, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)
}

/// Ends every open session of a user but `keep` (the one asking, if any).
pub fn end_all(
    conn: &mut DbConn,
    user_id: i64,
    keep: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let open = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null());
    match keep {
        Some(id) => diesel::update(open.filter(sessions::id.ne(id)))
            .set(sessions::ended_at.eq(now))
            .execute(conn),
        None => diesel::update(open)
            .set(sessions::ended_at.eq(now))
            .execute(conn),
    }
}

/// Forgets sessions that expired before `cutoff`, a batch at a time.
pub fn forget_expired(conn: &mut DbConn, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let old: Vec<String> = sessions::table
        .filter(sessions::expires_at.lt(cutoff))
        .select(sessions::id)
        .limit(batch)
        .load(conn)?;
    diesel::delete(sessions::table.filter(sessions::id.eq_any(old))).execute(conn)
}
