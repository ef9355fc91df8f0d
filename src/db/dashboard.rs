//! What the dashboard reads besides its rollups (`db::stats`): the department
//! tree, and for a scope the rollups do not cover, the consultations to count on
//! the spot.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::consultations::Consultation;
use super::schema::{consultations, departments};
use super::DbConn;
use crate::domain::rollup::OPEN_STATES;
use crate::reports::dashboard::Unit;

/// Departments whose consultations count; `None` for the whole organisation.
pub type Departments = Option<Vec<i64>>;

/// Every consultation of some departments filed in the fiscal years, resolved
/// within `[from, until)` or open now: the dashboard of a scope its rollups do not
/// cover (a section), counted on the spot.
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
                .or(c::resolved_at.ge(from).and(c::resolved_at.lt(until)))
                .or(c::state.eq_any(OPEN_STATES)),
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
