//! The rows the dashboard is computed from (`reports::dashboard`): three index
//! range scans of `consultations` that read only the columns the aggregates need
//! (covered by the indexes of the `dashboard` migration).
//!
//! Times are read as Unix seconds computed by the database: diesel parses each
//! SQLite timestamp text with a format string, which at the ~1M timestamps of a
//! large city's fiscal year took most of a second; seconds decode for free.

use chrono::{DateTime, NaiveDateTime};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

use super::schema::{consultations, departments};
use super::DbConn;
use crate::reports::dashboard::{FiledRow, OpenRow, ResolvedRow, Unit, OPEN_STATES};

/// Departments whose consultations count; `None` for the whole organisation.
pub type Departments = Option<Vec<i64>>;

macro_rules! in_departments {
    ($query:expr, $departments:expr) => {{
        let mut query = $query.into_boxed();
        if let Some(ids) = $departments {
            query = query.filter(consultations::department_id.eq_any(ids.clone()));
        }
        query
    }};
}

/// A timestamp column as Unix seconds, in the backend's dialect.
fn epoch(conn: &DbConn, column: &str) -> SqlLiteral<Nullable<BigInt>> {
    sql(&match conn {
        DbConn::Sqlite(_) => format!("unixepoch(consultations.{column})"),
        DbConn::Postgresql(_) => {
            format!("CAST(EXTRACT(EPOCH FROM consultations.{column}) AS BIGINT)")
        }
    })
}

fn time(seconds: Option<i64>) -> Option<NaiveDateTime> {
    seconds
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|t| t.naive_utc())
}

/// Consultations filed in the fiscal year.
pub fn filed(
    conn: &mut DbConn,
    fiscal_year: i32,
    departments: &Departments,
) -> QueryResult<Vec<FiledRow>> {
    use consultations::dsl as c;
    #[allow(clippy::type_complexity)]
    let rows: Vec<(Option<i64>, i64, String, String, Option<i64>, Option<i64>)> = in_departments!(
        c::consultations.filter(c::fiscal_year.eq(fiscal_year)),
        departments
    )
    .select((
        epoch(conn, "created_at"),
        c::department_id,
        c::category,
        c::state,
        epoch(conn, "hearing_at"),
        epoch(conn, "assigned_at"),
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(created_at, department_id, category, state, hearing_at, assigned_at)| {
                Some(FiledRow {
                    created_at: time(created_at)?,
                    department_id,
                    category,
                    state,
                    hearing_at: time(hearing_at),
                    assigned_at: time(assigned_at),
                })
            },
        )
        .collect())
}

/// Consultations resolved in `[from, until)` (UTC).
pub fn resolved(
    conn: &mut DbConn,
    from: NaiveDateTime,
    until: NaiveDateTime,
    departments: &Departments,
) -> QueryResult<Vec<ResolvedRow>> {
    use consultations::dsl as c;
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        Option<i64>,
        i64,
        String,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i16>,
        i32,
    )> = in_departments!(
        c::consultations
            .filter(c::resolved_at.ge(from))
            .filter(c::resolved_at.lt(until)),
        departments
    )
    .select((
        epoch(conn, "resolved_at"),
        c::department_id,
        c::category,
        c::assignee_id,
        epoch(conn, "assigned_at"),
        epoch(conn, "resolution_due_at"),
        c::rating,
        c::reopen_count,
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(
                resolved_at,
                department_id,
                category,
                assignee_id,
                assigned_at,
                due,
                rating,
                reopen_count,
            )| {
                Some(ResolvedRow {
                    resolved_at: time(resolved_at)?,
                    department_id,
                    category,
                    assignee_id,
                    assigned_at: time(assigned_at),
                    resolution_due_at: time(due),
                    rating,
                    reopen_count,
                })
            },
        )
        .collect())
}

/// Consultations open now.
pub fn open(conn: &mut DbConn, departments: &Departments) -> QueryResult<Vec<OpenRow>> {
    use consultations::dsl as c;
    let states: Vec<&str> = OPEN_STATES.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(NaiveDateTime, i64, String, Option<i64>)> = in_departments!(
        c::consultations.filter(c::state.eq_any(states)),
        departments
    )
    .select((c::created_at, c::department_id, c::state, c::assignee_id))
    .load(conn)?;
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

/// How many were filed in a fiscal year.
pub fn count_filed(
    conn: &mut DbConn,
    fiscal_year: i32,
    departments: &Departments,
) -> QueryResult<i64> {
    use consultations::dsl as c;
    in_departments!(
        c::consultations.filter(c::fiscal_year.eq(fiscal_year)),
        departments
    )
    .count()
    .get_result(conn)
}

/// How many were resolved in `[from, until)`.
pub fn count_resolved(
    conn: &mut DbConn,
    from: NaiveDateTime,
    until: NaiveDateTime,
    departments: &Departments,
) -> QueryResult<i64> {
    use consultations::dsl as c;
    in_departments!(
        c::consultations
            .filter(c::resolved_at.ge(from))
            .filter(c::resolved_at.lt(until)),
        departments
    )
    .count()
    .get_result(conn)
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
