//! Signing in with the city's directory beside local passwords.
//!
//! The order, for an e-mail address (or whatever `{login}` of `LDAP_USER_FILTER`
//! means) and a password:
//! 1. an account here marked `local` signs in with its password here only, so
//!    local accounts (the break-glass admin, say) keep working while the
//!    directory is down;
//! 2. an account marked `directory`, and an unknown login, go to the directory
//!    when `LDAP_URL` is set; without it they are refused like a wrong password;
//! 3. a directory that accepts the password creates the account (role requester)
//!    or updates its name and department (its role is kept); the department is
//!    the one whose code is the value of `LDAP_DEPARTMENT_ATTRIBUTE`.
//!
//! A refusal by the directory also verifies the decoy hash, so it costs at least
//! what a wrong local password costs; a directory that cannot be reached is
//! [`Error::DirectoryUnavailable`], never a refusal of the password.

use chrono::{DateTime, Duration, Utc};

use super::directory::{self, Person};
use super::ldap::{Bind, DirectoryEntry};
use super::{sessions, App, Error, Result};
use crate::db::users::{self, NewUser, UserChanges};
use crate::db::{self, departments, DbConn, Pool, PooledConn};
use crate::domain::{password, Role};

/// A new session for the active user these credentials prove (`None`: refused),
/// with its id and end. Takes pooled connections only around its database work,
/// so a slow or silent directory holds none of them while it is asked: an outage
/// of the directory cannot starve local sign-ins and everything else of the pool.
pub fn sign_in(
    app: &App,
    pool: &Pool,
    login: &str,
    password: &str,
    ttl: Duration,
) -> Result<Option<(Person, String, DateTime<Utc>)>> {
    let Some(person) = authenticate(app, pool, login, password)? else {
        return Ok(None);
    };
    let (session, expires_at) = sessions::start(&mut *connection(pool)?, person.0.id, ttl)?;
    Ok(Some((person, session, expires_at)))
}

fn authenticate(app: &App, pool: &Pool, login: &str, password: &str) -> Result<Option<Person>> {
    let known = users::find_by_email(&mut *connection(pool)?, login)?;
    let Some(ldap) = &app.directory else {
        // Directory accounts have no usable hash here: refused at the same cost.
        return directory::authenticate(&mut *connection(pool)?, login, password);
    };
    if known.as_ref().is_some_and(|u| !u.is_directory_account()) {
        return directory::authenticate(&mut *connection(pool)?, login, password);
    }
    match ldap.check(login, password) {
        Err(unreachable) => {
            log::warn!("directory sign-in: {}", unreachable.0);
            Err(Error::DirectoryUnavailable(unreachable.0))
        }
        Ok(Bind::Refused) => {
            password::verify(password, password::decoy_hash());
            Ok(None)
        }
        Ok(Bind::Accepted(entry)) => {
            let mut conn = connection(pool)?;
            match provision(&mut conn, login, &entry) {
                // Two first sign-ins at once: the later finds the account the
                // earlier made.
                Err(Error::Conflict(RACE)) => provision(&mut conn, login, &entry),
                other => other,
            }
        }
    }
}

/// The catalog key of a first sign-in that lost the race to create its account.
const RACE: &str = "error.directory_sign_in_again";

fn connection(pool: &Pool) -> Result<PooledConn> {
    pool.get()
        .map_err(|e| Error::Unavailable(format!("connection pool: {e}")))
}

/// The account of a directory entry, created or brought up to date. Each write
/// is one statement (no transaction whose read turns into a write, which SQLite
/// refuses to a second writer at once instead of letting it wait).
fn provision(conn: &mut DbConn, login: &str, entry: &DirectoryEntry) -> Result<Option<Person>> {
    let email = entry
        .email
        .as_deref()
        .unwrap_or(login)
        .trim()
        .to_lowercase();
    let mut department = None;
    for code in &entry.departments {
        if let Some(d) = departments::find_by_code(conn, code)?.filter(|d| d.active) {
            department = Some(d);
            break;
        }
    }
    let Some(department) = department else {
        log::warn!(
            "directory sign-in of {}: department {:?} matches no active department code",
            entry.dn,
            entry.departments
        );
        return Err(Error::Refused("error.directory_department"));
    };
    let name = entry.name.clone().unwrap_or_else(|| email.clone());
    let now = db::now();
    let user = match users::find_by_email(conn, &email)? {
        Some(user) if !user.is_directory_account() => {
            // Another login led to the address of a local account: the two stay apart.
            log::warn!(
                "directory sign-in of {}: {email} is a local account",
                entry.dn
            );
            return Err(Error::Refused("error.directory_local_account"));
        }
        Some(user) => {
            users::update(
                conn,
                user.id,
                &UserChanges {
                    name: Some(name),
                    department_id: Some(department.id),
                    updated_at: Some(now),
                    ..Default::default()
                },
            )?;
            users::find(conn, user.id)?.ok_or(Error::NotFound)?
        }
        None => {
            let user = users::insert_directory_account(
                conn,
                &NewUser {
                    email: &email,
                    name: &name,
                    // Not a PHC string: no password verifies against it.
                    password_hash: "directory",
                    role: Role::Requester,
                    department_id: department.id,
                    locale: "ja",
                    created_at: now,
                    updated_at: now,
                },
            )
            .map_err(|e| {
                if db::is_unique_violation(&e) {
                    Error::Conflict(RACE)
                } else {
                    e.into()
                }
            })?;
            log::info!("directory sign-in created {email} in {}", department.code);
            users::find(conn, user.id)?.ok_or(Error::NotFound)?
        }
    };
    Ok(user.active.then_some((user, department)))
}
