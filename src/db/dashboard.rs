//! What the dashboard reads besides its rollups (`db::stats`): the open
//! consultations (the backlog, which is bounded by the work in hand, not by the
//! table), the department tree, and for a scope the rollups do not cover, the
//! consultations to count on the spot.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::consultations::Consultation;
use super::schema::{consultations, departments};
use super::DbConn;
use crate::domain::State;
use crate::reports::dashboard::{OpenRow, Unit, OPEN_STATES};

/// Departments whose consultations count; `None` for the whole organisation.
pub type Departments = Option<Vec<i64>>;

/// Consultations open now.
pub fn open(conn: &mut DbConn, departments: &Departments) -> QueryResult<Vec<OpenRow>> {
    use consultations::dsl as c;
    let mut query = c::consultations
        .filter(c::state.eq_any(OPEN_STATES))
        .select((c::created_at, c::department_id, c::state, c::assignee_id))
        .into_boxed();
    if let Some(ids) = departments {
        query = query.filter(c::department_id.eq_any(ids.clone()));
    }
    let rows: Vec<(NaiveDateTime, i64, State, Option<i64>)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(created_at, department_id, state, assignee_id)| OpenRow {
            created_at,
            department_id,
            state,
            assignee_id,
        })
        .collect())
}

/// Every consultation of some departments filed in the fiscal years or resolved
/// within `[from, until)`: the dashboard of a scope its rollups do not cover (a
/// section), counted on the spot.
pub fn in_years(
    conn: &mut DbConn,
    years: &[i32],
    from: NaiveDateTime,
    until: NaiveDateTime,
    departments: &[i64],
) -> QueryResult<Vec<Consultation>> {
    use consultations::dsl as c;
    c::consultations
        .filter(c::department_id.eq_any(departments.to_vec()))
        .filter(
            c::fiscal_year
                .eq_any(years.to_vec())
                .or(c::resolved_at.ge(from).and(c::resolved_at.lt(until))),
        )
        .select(Consultation::as_select())
        .load(conn)
}

/// The whole department tree (a few thousand rows at most).
pub fn units(conn: &mut DbConn) -> QueryResult<Vec<Unit>> {
    let rows: Vec<(i64, String, String, String, Option<i64>)> = departments::table
        .select((
            departments::id,
            departments::code,
            departments::name,
            departments::kind,
            departments::parent_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name, kind, parent_id)| Unit {
            id,
            code,
            name,
            kind,
            parent_id,
        })
        .collect())
}
