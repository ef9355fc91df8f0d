//! Staff accounts.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::users;
use super::DbConn;
use crate::domain::Role;

/// `auth_source` of an account whose password is its hash here.
pub const LOCAL: &str = "local";
/// `auth_source` of an account whose password the directory checks.
pub const DIRECTORY: &str = "directory";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub department_id: i64,
    pub locale: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Comma-separated kinds of optional mail the user does not want.
    pub mail_opt_out: String,
    /// `local` (the hash here) or `directory` (LDAP checks the password).
    pub auth_source: String,
}

impl User {
    pub fn is_directory_account(&self) -> bool {
        self.auth_source == DIRECTORY
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub department_id: i64,
    pub locale: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset, Default)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub department_id: Option<i64>,
    pub locale: Option<String>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    pub mail_opt_out: Option<String>,
    /// `local` or `directory`.
    pub auth_source: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, new: &NewUser) -> QueryResult<User> {
    let id: i64 = diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)?;
    find(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The names of the users with these ids (pages and reports name many people).
pub fn names(
    conn: &mut DbConn,
    ids: impl IntoIterator<Item = i64>,
) -> QueryResult<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names = HashMap::new();
    // Bounded statements: SQLite limits the parameters of one statement.
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::name))
            .load(conn)?;
        names.extend(rows);
    }
    Ok(names)
}

/// E-mail addresses are stored lower-cased, so look-ups are case-insensitive.
pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    // No stored address holds NUL, and PostgreSQL refuses one in a parameter.
    if email.contains('\0') {
        return Ok(None);
    }
    users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Users ordered by id, after a cursor id.
pub fn list(conn: &mut DbConn, after_id: Option<i64>, limit: i64) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::id.gt(after_id.unwrap_or(0)))
        .order(users::id.asc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}

pub fn update(conn: &mut DbConn, id: i64, changes: &UserChanges) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Inserts an account whose password the directory checks, in one statement.
pub fn insert_directory_account(conn: &mut DbConn, new: &NewUser) -> QueryResult<User> {
    let id: i64 = diesel::insert_into(users::table)
        .values((new, users::auth_source.eq(DIRECTORY)))
        .returning(users::id)
        .get_result(conn)?;
    find(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Active users with a role, optionally only in some departments.
pub fn with_role(
    conn: &mut DbConn,
    role: Role,
    departments: Option<&[i64]>,
) -> QueryResult<Vec<User>> {
    let mut query = users::table
        .filter(users::role.eq(role))
        .filter(users::active.eq(true))
        .order(users::id.asc())
        .select(User::as_select())
        .into_boxed();
    if let Some(ids) = departments {
        query = query.filter(users::department_id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// Active users whose name or e-mail contains `text` (case-insensitive for
/// ASCII), names first in id order, at most `limit`: the asker lookup of the
/// helpdesk's quick record.
pub fn search(conn: &mut DbConn, text: &str, limit: i64) -> QueryResult<Vec<User>> {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{}%", escaped.to_lowercase());
    users::table
        .filter(users::active.eq(true))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(LOWER(name) LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(" ESCAPE '\\' OR LOWER(email) LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern)
                .sql(" ESCAPE '\\')"),
        )
        .order(users::id.asc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}
