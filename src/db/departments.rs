//! The department tree: bureau or ward → division → section.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Role;

use super::consultations::Scope;
use super::schema::departments;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = departments)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `bureau`, `ward`, `division` or `section`.
    pub kind: String,
    pub parent_id: Option<i64>,
    /// Managers of the DX office see every division.
    pub is_dx_office: bool,
    pub active: bool,
    #[schema(value_type = String)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = departments)]
pub struct NewDepartment<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub parent_id: Option<i64>,
    pub is_dx_office: bool,
    pub created_at: NaiveDateTime,
}

/// The kind a new department gets from its parent when none is given.
pub fn default_kind(parent: Option<&Department>) -> &'static str {
    match parent.map(|p| p.kind.as_str()) {
        None => "bureau",
        Some("bureau") | Some("ward") => "division",
        Some(_) => "section",
    }
}

pub fn insert(conn: &mut DbConn, new: &NewDepartment) -> QueryResult<Department> {
    let id: i64 = diesel::insert_into(departments::table)
        .values(new)
        .returning(departments::id)
        .get_result(conn)?;
    find(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Department>> {
    departments::table
        .find(id)
        .select(Department::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<Department>> {
    // No stored code holds NUL, and PostgreSQL refuses one in a parameter.
    if code.contains('\0') {
        return Ok(None);
    }
    departments::table
        .filter(departments::code.eq(code))
        .select(Department::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Department>> {
    departments::table
        .order(departments::code.asc())
        .select(Department::as_select())
        .load(conn)
}

#[derive(Debug, AsChangeset, Default)]
#[diesel(table_name = departments)]
pub struct DepartmentChanges {
    pub name: Option<String>,
    pub active: Option<bool>,
}

pub fn update(conn: &mut DbConn, id: i64, changes: &DepartmentChanges) -> QueryResult<usize> {
    diesel::update(departments::table.find(id))
        .set(changes)
        .execute(conn)
}

/// A department and every unit below it.
pub fn subtree_ids(conn: &mut DbConn, root: i64) -> QueryResult<Vec<i64>> {
    let edges: Vec<(i64, Option<i64>)> = departments::table
        .select((departments::id, departments::parent_id))
        .load(conn)?;
    let mut ids = vec![root];
    let mut next = 0;
    while next < ids.len() {
        let parent = ids[next];
        ids.extend(
            edges
                .iter()
                .filter(|(_, p)| *p == Some(parent))
                .map(|(id, _)| *id),
        );
        next += 1;
    }
    Ok(ids)
}

/// The division a department belongs to: itself, or the nearest division above a
/// section. A bureau-level department is its own "division".
pub fn division_of(conn: &mut DbConn, department: &Department) -> QueryResult<i64> {
    let mut current = department.clone();
    // The tree is shallow; the bound guards against a cycle made by hand in the database.
    for _ in 0..8 {
        if current.kind != "section" {
            return Ok(current.id);
        }
        match current.parent_id {
            Some(parent) => match find(conn, parent)? {
                Some(p) => current = p,
                None => return Ok(current.id),
            },
            None => return Ok(current.id),
        }
    }
    Ok(current.id)
}

/// Which consultations a user sees (DESIGN.md "Users and roles"): staff everything;
/// a manager their department and the units below it, or everything in the DX
/// office; a requester their division and its sections.
pub fn visibility_scope(conn: &mut DbConn, role: Role, department_id: i64) -> QueryResult<Scope> {
    if role.is_staff() {
        return Ok(Scope::All);
    }
    let department = find(conn, department_id)?.ok_or(diesel::result::Error::NotFound)?;
    let root = match role {
        Role::Manager if department.is_dx_office => return Ok(Scope::All),
        Role::Manager => department.id,
        _ => division_of(conn, &department)?,
    };
    Ok(Scope::Departments(subtree_ids(conn, root)?))
}
