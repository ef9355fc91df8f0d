//! Creating departments and users: the same checks for `digicon department add`,
//! `digicon user add` and the admin API.

use diesel::QueryResult;

use crate::db::departments::{self, Department, NewDepartment};
use crate::db::users::{self, NewUser, User};
use crate::db::{self, DbConn};
use crate::domain::directory::{NewDepartmentInput, NewUserInput};
use crate::domain::{password, FieldErrors};

#[derive(Debug)]
pub enum DirectoryError {
    Invalid(FieldErrors),
    Failed(String),
}

impl From<diesel::result::Error> for DirectoryError {
    fn from(e: diesel::result::Error) -> Self {
        DirectoryError::Failed(format!("database: {e}"))
    }
}

fn invalid(field: &str, key: &'static str) -> DirectoryError {
    let mut errors = FieldErrors::new();
    errors.add(field, key);
    DirectoryError::Invalid(errors)
}

/// Creates a department under an existing parent (or at the top).
pub fn add_department(
    conn: &mut DbConn,
    input: &NewDepartmentInput,
) -> Result<Department, DirectoryError> {
    let fields = input.parse().map_err(DirectoryError::Invalid)?;
    let parent = match input.parent_id {
        Some(id) => Some(
            departments::find(conn, id)?
                .ok_or_else(|| invalid("parent_id", "validation.unknown_department"))?,
        ),
        None => None,
    };
    if departments::find_by_code(conn, &fields.code)?.is_some() {
        return Err(invalid("code", "validation.taken"));
    }
    let kind = fields
        .kind
        .clone()
        .unwrap_or_else(|| departments::default_kind(parent.as_ref()).to_string());
    departments::insert(
        conn,
        &NewDepartment {
            code: &fields.code,
            name: &fields.name,
            kind: &kind,
            parent_id: parent.map(|p| p.id),
            is_dx_office: fields.is_dx_office,
            created_at: db::now(),
        },
    )
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            invalid("code", "validation.taken")
        } else {
            e.into()
        }
    })
}

/// Creates a user; the password is hashed with argon2id.
pub fn add_user(conn: &mut DbConn, input: &NewUserInput) -> Result<User, DirectoryError> {
    let fields = input.parse().map_err(DirectoryError::Invalid)?;
    let department_id = input
        .department_id
        .ok_or_else(|| invalid("department_id", "validation.required"))?;
    if departments::find(conn, department_id)?.is_none() {
        return Err(invalid("department_id", "validation.unknown_department"));
    }
    if users::find_by_email(conn, &fields.email)?.is_some() {
        return Err(invalid("email", "validation.taken"));
    }
    let hash = password::hash(&fields.password).map_err(DirectoryError::Failed)?;
    let now = db::now();
    users::insert(
        conn,
        &NewUser {
            email: &fields.email,
            name: &fields.name,
            password_hash: &hash,
            role: fields.role,
            department_id,
            locale: &fields.locale,
            created_at: now,
            updated_at: now,
        },
    )
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            invalid("email", "validation.taken")
        } else {
            e.into()
        }
    })
}

/// The id of a department by its code.
pub fn department_id_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<i64>> {
    Ok(departments::find_by_code(conn, code)?.map(|d| d.id))
}
