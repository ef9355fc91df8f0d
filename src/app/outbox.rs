//! The outbox for admins: what was sent, what failed and why, and sending a
//! failed message again.

use super::{Caller, Error, Result};
use crate::db::outbox::{self, OutboxRow};
use crate::db::{self, DbConn};
use crate::domain::ids::MessageId;
use crate::domain::Role;

/// Delivery states a message may be listed by.
pub const STATUSES: &[&str] = &["pending", "sending", "sent", "failed"];

/// Messages by id after a cursor, optionally of one status; admins only.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<OutboxRow>, Option<i64>)> {
    caller.require(&[Role::Admin])?;
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(Error::bad_parameter("status", s));
    }
    let mut rows = outbox::list(conn, status, after, limit + 1)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next))
}

/// Queues a failed message again; admins only.
pub fn retry(conn: &mut DbConn, caller: &Caller, id: MessageId) -> Result<OutboxRow> {
    let id = id.0;
    caller.require(&[Role::Admin])?;
    let row = outbox::find(conn, id)?.ok_or(Error::NotFound)?;
    if outbox::retry_failed(conn, id, db::now())? == 0 {
        return Err(Error::NotFailed { status: row.status });
    }
    outbox::find(conn, id)?.ok_or(Error::NotFound)
}
