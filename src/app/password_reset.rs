//! An admin's password reset: a one-time link mailed to the user (through the
//! outbox, in their language) that sets a new password. The token is random,
//! kept only as a digest, works once, until `DIGICON_PASSWORD_RESET_HOURS`
//! have passed, and only while it is the user's newest link. Setting the
//! password ends every session of the user.

use chrono::{DateTime, Utc};
use diesel::Connection;
use rand::RngCore;

use super::directory::{check_new_password, person, Person};
use super::{stored, App, Caller, Error, Result};
use crate::db::password_resets::{self, NewPasswordReset, PasswordReset};
use crate::db::users::{self, UserChanges};
use crate::db::{sessions, DbConn};
use crate::domain::ids::UserId;
use crate::domain::{password, FieldErrors, Role};

/// The catalog key of the page for a dead link.
const DEAD_LINK: &str = "error.reset_link_dead";

/// Mails a user a new reset link (older ones stop working); admins only. Returns
/// when the link expires.
pub fn request(app: &App, conn: &mut DbConn, caller: &Caller, id: UserId) -> Result<DateTime<Utc>> {
    caller.require(&[Role::Admin])?;
    let user = users::find(conn, id.0)?.ok_or(Error::NotFound)?;
    if user.is_directory_account() {
        return Err(Error::Conflict("error.directory_account"));
    }
    if !user.active {
        return Err(Error::Conflict("error.inactive_account"));
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let now = Utc::now();
    let expires_at = now + app.password_reset_ttl;
    conn.transaction(|conn| {
        password_resets::use_all(conn, user.id, stored(now))?;
        password_resets::insert(
            conn,
            &NewPasswordReset {
                user_id: user.id,
                token_hash: &password::token_digest(&token),
                created_at: stored(now),
                expires_at: stored(expires_at),
            },
        )?;
        app.notifier
            .password_reset(conn, &user, &token, stored(expires_at))
    })?;
    log::info!(
        "password reset link for user {} requested by {}",
        user.id,
        caller.id
    );
    Ok(expires_at)
}

/// The user a link sets the password of, while it works.
pub fn open(conn: &mut DbConn, token: &str) -> Result<Person> {
    let (_, person) = live(conn, token)?;
    Ok(person)
}

/// Sets the password through a link, which then stops working; the user's
/// sessions end.
pub fn complete(
    conn: &mut DbConn,
    token: &str,
    new: &str,
    confirmation: Option<&str>,
) -> Result<Person> {
    let (reset, (user, department)) = live(conn, token)?;
    let mut errors = FieldErrors::new();
    check_new_password(&mut errors, new, confirmation);
    errors.into_result()?;
    let hash = password::hash(new).map_err(Error::Internal)?;
    // The transaction's first statement writes, so a second post of the link
    // waits for the first (SQLite) and then finds it used.
    conn.transaction(|conn| {
        let now = stored(Utc::now());
        if password_resets::use_one(conn, reset.id, now)? == 0 {
            return Err(Error::Gone(DEAD_LINK));
        }
        password_resets::use_all(conn, user.id, now)?;
        users::update(
            conn,
            user.id,
            &UserChanges {
                password_hash: Some(hash),
                updated_at: Some(now),
                ..Default::default()
            },
        )?;
        sessions::end_all(conn, user.id, None, now)?;
        log::info!("password of user {} set through a reset link", user.id);
        Ok((user, department))
    })
}

/// The link and its user, or `Gone` when it is unknown, used, expired, or its
/// account can no longer take a password here.
fn live(conn: &mut DbConn, token: &str) -> Result<(PasswordReset, Person)> {
    let reset = password_resets::find_by_hash(conn, &password::token_digest(token))?
        .filter(|r| r.used_at.is_none() && r.expires_at > stored(Utc::now()))
        .ok_or(Error::Gone(DEAD_LINK))?;
    let user = users::find(conn, reset.user_id)?
        .filter(|u| u.active && !u.is_directory_account())
        .ok_or(Error::Gone(DEAD_LINK))?;
    Ok((reset, person(conn, user)?))
}
