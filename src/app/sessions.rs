//! Sign-in sessions. Every token names a session; a request is let in only while
//! its session is open. Logging out ends the caller's session; "log out
//! everywhere" (by the user, or by an admin for them), a password change or
//! reset, and a deactivation end all of a user's sessions.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;

use super::{stored, Caller, Error, Result};
use crate::db::sessions;
use crate::db::users::{self, User};
use crate::db::DbConn;
use crate::domain::ids::UserId;
use crate::domain::Role;

/// How long expired sessions are kept before they are forgotten (for the record
/// of who was signed in when).
pub const KEEP_EXPIRED: Duration = Duration::days(30);

/// A new session for a user who just proved who they are: its id and its end.
pub fn start(conn: &mut DbConn, user_id: i64, ttl: Duration) -> Result<(String, DateTime<Utc>)> {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let now = Utc::now();
    let expires_at = now + ttl;
    sessions::start(conn, &id, user_id, stored(now), stored(expires_at))?;
    Ok((id, expires_at))
}

/// The user of an open session, if it is still open and the user still active.
pub fn resume(conn: &mut DbConn, session_id: &str) -> Result<Option<User>> {
    Ok(sessions::user_of(conn, session_id, stored(Utc::now()))?)
}

/// Ends the caller's own session (logging out).
pub fn end(conn: &mut DbConn, caller: &Caller) -> Result<()> {
    if let Some(id) = &caller.session {
        sessions::end(conn, id, caller.id, stored(Utc::now()))?;
    }
    Ok(())
}

/// Ends every session of the caller, this one included.
pub fn end_everywhere(conn: &mut DbConn, caller: &Caller) -> Result<usize> {
    Ok(sessions::end_all(
        conn,
        caller.id,
        None,
        stored(Utc::now()),
    )?)
}

/// Ends every session of a user; admins only.
pub fn end_everywhere_for(conn: &mut DbConn, caller: &Caller, user: UserId) -> Result<usize> {
    caller.require(&[Role::Admin])?;
    users::find(conn, user.0)?.ok_or(Error::NotFound)?;
    Ok(sessions::end_all(conn, user.0, None, stored(Utc::now()))?)
}
