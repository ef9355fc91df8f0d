//! Users and departments: signing in, one's own preferences, and the admin's
//! management of both. The command line (`digicon user add`, `department add`)
//! and the demo loader use [`add_user`] and [`add_department`], the same checks
//! the admin's API and pages go through.

use std::collections::HashMap;

use super::{Caller, Error, Result};
use crate::db::departments::{self, Department, DepartmentChanges, NewDepartment};
use crate::db::sessions;
use crate::db::users::{self, NewUser, User, UserChanges};
use crate::db::{self, DbConn};
use crate::domain::directory::{
    parse_locale, DepartmentUpdate, MeUpdate, NewDepartmentInput, NewUserInput, UserUpdate,
};
use crate::domain::ids::{DepartmentId, UserId};
use crate::domain::{password, FieldErrors, Role};
use crate::notify::OPTIONAL_KINDS;

/// The one role that manages the directory.
const ADMIN: &[Role] = &[Role::Admin];

/// A user with their department.
pub type Person = (User, Department);

/// The active user with this e-mail address and password. Unknown addresses
/// verify a decoy hash, so they cost the same as a wrong password.
pub fn authenticate(conn: &mut DbConn, email: &str, password: &str) -> Result<Option<Person>> {
    let user = users::find_by_email(conn, email)?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::decoy_hash().to_string());
    let matches = password::verify(password, &hash);
    match user.filter(|u| matches && u.active) {
        Some(user) => Ok(Some(person(conn, user)?)),
        None => Ok(None),
    }
}

pub(crate) fn person(conn: &mut DbConn, user: User) -> Result<Person> {
    let department = departments::find(conn, user.department_id)?
        .ok_or_else(|| Error::internal(format!("user {} has no department", user.id)))?;
    Ok((user, department))
}

/// The caller.
pub fn me(conn: &mut DbConn, caller: &Caller) -> Result<Person> {
    let user = users::find(conn, caller.id)?.ok_or(Error::NotFound)?;
    person(conn, user)
}

/// Changes the caller's language, the optional mail they do not want, and their
/// password (which needs the current one, and ends their other sessions).
pub fn update_me(conn: &mut DbConn, caller: &Caller, input: &MeUpdate) -> Result<Person> {
    let mut errors = FieldErrors::new();
    let password_hash = match input.password.as_deref() {
        None => None,
        Some(new) => {
            let user = users::find(conn, caller.id)?.ok_or(Error::NotFound)?;
            if user.is_directory_account() {
                return Err(Error::invalid_field(
                    "password",
                    "validation.directory_password",
                ));
            }
            let current = input.current_password.as_deref().unwrap_or_default();
            if !password::verify(current, &user.password_hash) {
                errors.add("current_password", "validation.wrong_password");
            }
            check_new_password(&mut errors, new, input.password_confirmation.as_deref());
            Some(new)
        }
    };
    let locale = input
        .locale
        .as_deref()
        .map(|l| parse_locale(&mut errors, Some(l)));
    let opt_out = input.mail_opt_out.as_ref().map(|kinds| {
        if kinds.iter().any(|k| !OPTIONAL_KINDS.contains(&k.as_str())) {
            errors.add("mail_opt_out", "validation.mail_kind");
        }
        let mut kinds = kinds.clone();
        kinds.sort();
        kinds.dedup();
        kinds.join(",")
    });
    errors.into_result()?;
    let password_hash = match password_hash {
        Some(new) => Some(password::hash(new).map_err(Error::Internal)?),
        None => None,
    };
    let now = db::now();
    if password_hash.is_some() {
        // Whoever else knew the old password is signed out; this session stays.
        sessions::end_all(conn, caller.id, caller.session.as_deref(), now)?;
    }
    users::update(
        conn,
        caller.id,
        &UserChanges {
            locale,
            mail_opt_out: opt_out,
            password_hash,
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    me(conn, caller)
}

/// A new password's problems, and whether its confirmation (when given) matches.
pub fn check_new_password(errors: &mut FieldErrors, new: &str, confirmation: Option<&str>) {
    if let Some(problem) = password::problem(new) {
        errors.add("password", problem);
    }
    if confirmation.is_some_and(|c| c != new) {
        errors.add("password_confirmation", "validation.password_mismatch");
    }
}

/// Users by id after a cursor, with their departments; admins only.
pub fn list_users(
    conn: &mut DbConn,
    caller: &Caller,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<Person>, Option<i64>)> {
    caller.require(ADMIN)?;
    let mut rows = users::list(conn, after, limit + 1)?;
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|u| u.id)
    });
    let departments: HashMap<i64, Department> = departments::list(conn)?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let people = rows
        .into_iter()
        .map(|u| {
            let department = departments
                .get(&u.department_id)
                .cloned()
                .ok_or_else(|| Error::internal(format!("user {} has no department", u.id)))?;
            Ok((u, department))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((people, next.flatten()))
}

/// One user; admins only.
pub fn get_user(conn: &mut DbConn, caller: &Caller, id: UserId) -> Result<Person> {
    caller.require(ADMIN)?;
    let user = users::find(conn, id.0)?.ok_or(Error::NotFound)?;
    person(conn, user)
}

/// Creates a user; admins only.
pub fn create_user(conn: &mut DbConn, caller: &Caller, input: &NewUserInput) -> Result<Person> {
    caller.require(ADMIN)?;
    let user = add_user(conn, input)?;
    person(conn, user)
}

/// Creates a user (the password hashed with argon2id). For the command line and
/// the demo, whose operator is trusted; everyone else goes through [`create_user`].
pub fn add_user(conn: &mut DbConn, input: &NewUserInput) -> Result<User> {
    let fields = input.parse()?;
    let department_id = input
        .department_id
        .ok_or_else(|| Error::invalid_field("department_id", "validation.required"))?;
    if departments::find(conn, department_id)?.is_none() {
        return Err(Error::invalid_field(
            "department_id",
            "validation.unknown_department",
        ));
    }
    if users::find_by_email(conn, &fields.email)?.is_some() {
        return Err(Error::invalid_field("email", "validation.taken"));
    }
    let hash = password::hash(&fields.password).map_err(Error::Internal)?;
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
            Error::invalid_field("email", "validation.taken")
        } else {
            e.into()
        }
    })
}

/// Edits or deactivates a user; admins only.
pub fn update_user(
    conn: &mut DbConn,
    caller: &Caller,
    id: UserId,
    input: &UserUpdate,
) -> Result<Person> {
    caller.require(ADMIN)?;
    let id = id.0;
    let user = users::find(conn, id)?.ok_or(Error::NotFound)?;
    let edit = input.parse()?;
    if edit.password.is_some() && user.is_directory_account() {
        // It would be stored and never asked for: the directory checks it.
        return Err(Error::invalid_field(
            "password",
            "validation.directory_password",
        ));
    }
    if id == caller.id && edit.active == Some(false) {
        // Nobody would be left to switch the account back on.
        return Err(Error::invalid_field(
            "active",
            "validation.self_deactivation",
        ));
    }
    if let Some(d) = edit.department_id {
        if departments::find(conn, d)?.is_none() {
            return Err(Error::invalid_field(
                "department_id",
                "validation.unknown_department",
            ));
        }
    }
    let password_hash = match edit.password.as_deref() {
        Some(p) => Some(password::hash(p).map_err(Error::Internal)?),
        None => None,
    };
    if password_hash.is_some() || edit.active == Some(false) {
        // A reset password or a deactivated account signs its sessions out.
        sessions::end_all(conn, id, None, db::now())?;
    }
    users::update(
        conn,
        id,
        &UserChanges {
            name: edit.name,
            role: edit.role,
            department_id: edit.department_id,
            locale: edit.locale,
            active: edit.active,
            password_hash,
            mail_opt_out: None,
            auth_source: None,
            updated_at: Some(db::now()),
        },
    )?;
    let user = users::find(conn, id)?.ok_or(Error::NotFound)?;
    person(conn, user)
}

/// The department tree, ordered by code; admins only.
pub fn list_departments(conn: &mut DbConn, caller: &Caller) -> Result<Vec<Department>> {
    caller.require(ADMIN)?;
    Ok(departments::list(conn)?)
}

/// Every user and department, for the admin's users page; admins only.
pub fn users_overview(conn: &mut DbConn, caller: &Caller) -> Result<(Vec<User>, Vec<Department>)> {
    caller.require(ADMIN)?;
    Ok((users::list(conn, None, 10_000)?, departments::list(conn)?))
}

/// Creates a department; admins only.
pub fn create_department(
    conn: &mut DbConn,
    caller: &Caller,
    input: &NewDepartmentInput,
) -> Result<Department> {
    caller.require(ADMIN)?;
    add_department(conn, input)
}

/// Creates a department under an existing parent (or at the top). For the command
/// line and the demo; everyone else goes through [`create_department`].
pub fn add_department(conn: &mut DbConn, input: &NewDepartmentInput) -> Result<Department> {
    let fields = input.parse()?;
    let parent =
        match input.parent_id {
            Some(id) => Some(departments::find(conn, id)?.ok_or_else(|| {
                Error::invalid_field("parent_id", "validation.unknown_department")
            })?),
            None => None,
        };
    if departments::find_by_code(conn, &fields.code)?.is_some() {
        return Err(Error::invalid_field("code", "validation.taken"));
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
            Error::invalid_field("code", "validation.taken")
        } else {
            e.into()
        }
    })
}

/// Renames or deactivates a department; admins only.
pub fn update_department(
    conn: &mut DbConn,
    caller: &Caller,
    id: DepartmentId,
    input: &DepartmentUpdate,
) -> Result<Department> {
    caller.require(ADMIN)?;
    let id = id.0;
    departments::find(conn, id)?.ok_or(Error::NotFound)?;
    let name = input.parse_name()?;
    if name.is_some() || input.active.is_some() {
        departments::update(
            conn,
            id,
            &DepartmentChanges {
                name,
                active: input.active,
            },
        )?;
    }
    departments::find(conn, id)?.ok_or(Error::NotFound)
}

/// The id of a department by its code (the command line names departments so).
pub fn department_id_by_code(conn: &mut DbConn, code: &str) -> Result<Option<i64>> {
    Ok(departments::find_by_code(conn, code)?.map(|d| d.id))
}
