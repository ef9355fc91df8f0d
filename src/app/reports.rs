//! Dashboards and exports, for managers, the DX office and admins, always within
//! the caller's scope.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::consultations::list::{query_for, DepartmentRef, ListFilter};
use super::{App, Caller, Error, Result};
use crate::db::consultations::{self, Consultation, Cursor, ListQuery, Scope};
use crate::db::schema;
use crate::db::{self, dashboard, departments, users, DbConn, Pool};
use crate::domain::fiscal::{fiscal_year, fiscal_year_bounds};
use crate::domain::Role;
use crate::reports::dashboard::{compute, Dashboard, Input};

/// Who may see dashboards and export the consultation list.
pub const REPORT_ROLES: &[Role] = &[Role::Manager, Role::DxOffice, Role::Admin];

/// Whether a role sees the dashboard (for the navigation).
pub fn sees_reports(role: Role) -> bool {
    REPORT_ROLES.contains(&role)
}

/// Which year and which part of the organisation a dashboard covers.
#[derive(Debug, Default, Clone)]
pub struct DashboardParams {
    /// Default: the current fiscal year.
    pub fiscal_year: Option<i32>,
    /// A department and the units below it; default: the caller's whole scope.
    pub department: Option<DepartmentRef>,
}

/// UTC start of a local date in the display zone.
fn start_of(zone: &Tz, date: NaiveDate) -> NaiveDateTime {
    zone.from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or_else(|| date.and_time(chrono::NaiveTime::MIN))
}

/// A fiscal year as a UTC range `[from, until)`.
fn fiscal_range(zone: &Tz, fiscal_year: i32) -> (NaiveDateTime, NaiveDateTime) {
    let (first, last) = fiscal_year_bounds(fiscal_year);
    (
        start_of(zone, first),
        start_of(zone, last.succ_opt().unwrap_or(last)),
    )
}

/// The departments the report covers: the caller's scope, narrowed to a requested
/// department's subtree; a department outside the scope does not exist for them.
fn covered(
    conn: &mut DbConn,
    caller: &Caller,
    department: Option<&DepartmentRef>,
) -> Result<dashboard::Departments> {
    let Some(wanted) = department else {
        return Ok(match &caller.scope {
            Scope::All => None,
            Scope::Departments(ids) => Some(ids.clone()),
        });
    };
    let found = match wanted {
        DepartmentRef::Id(id) => departments::find(conn, *id)?,
        DepartmentRef::Code(code) => departments::find_by_code(conn, code)?,
    };
    match found {
        Some(d) if caller.scope.contains(d.id) => Ok(Some(departments::subtree_ids(conn, d.id)?)),
        _ => Err(Error::NotFound),
    }
}

fn connection(pool: &Pool) -> Result<db::PooledConn> {
    pool.get()
        .map_err(|e| Error::Unavailable(format!("connection pool: {e}")))
}

/// The dashboard of a fiscal year for the caller. The two large scans run side
/// by side on two pooled connections.
pub fn dashboard(
    app: &App,
    pool: &Pool,
    caller: &Caller,
    params: &DashboardParams,
) -> Result<Dashboard> {
    caller.require(REPORT_ROLES)?;
    let zone = app.timezone;
    let now = db::now();
    let year = params
        .fiscal_year
        .unwrap_or_else(|| fiscal_year(Utc::now().with_timezone(&zone).date_naive()));
    let departments = covered(&mut *connection(pool)?, caller, params.department.as_ref())?;
    let (from, until) = fiscal_range(&zone, year);
    let (previous_from, _) = fiscal_range(&zone, year - 1);
    let (filed, resolved, rest) = std::thread::scope(|s| {
        let filed = s.spawn(|| -> Result<_> {
            Ok(dashboard::filed(
                &mut *connection(pool)?,
                year,
                &departments,
            )?)
        });
        let resolved = s.spawn(|| -> Result<_> {
            Ok(dashboard::resolved(
                &mut *connection(pool)?,
                from,
                until,
                &departments,
            )?)
        });
        let rest = (|| -> Result<_> {
            let conn = &mut *connection(pool)?;
            Ok((
                dashboard::open(conn, &departments)?,
                dashboard::count_filed(conn, year - 1, &departments)?,
                dashboard::count_resolved(conn, previous_from, from, &departments)?,
                dashboard::units(conn)?,
            ))
        })();
        (joined(filed), joined(resolved), rest)
    });
    let (filed, resolved) = (filed?, resolved?);
    let (open, previous_filed, previous_resolved, units) = rest?;
    let ids: Vec<i64> = resolved
        .iter()
        .filter_map(|r| r.assignee_id)
        .chain(open.iter().filter_map(|r| r.assignee_id))
        .collect();
    let people = users::names(&mut *connection(pool)?, ids)?;
    Ok(compute(Input {
        fiscal_year: year,
        now,
        zone,
        filed,
        resolved,
        open,
        previous_filed,
        previous_resolved,
        units,
        people,
    }))
}

/// A scan's result from its thread.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .map_err(|_| Error::internal("a dashboard scan panicked"))?
}

/// The consultation list the caller exports, and the names its rows show.
pub struct Export {
    pub query: ListQuery,
    pub departments: HashMap<i64, String>,
    pub people: HashMap<i64, String>,
}

/// The export of the consultation list with its filters; the pages are then read
/// with [`export_page`].
pub fn consultation_export(
    conn: &mut DbConn,
    caller: &Caller,
    filter: ListFilter,
) -> Result<Export> {
    caller.require(REPORT_ROLES)?;
    let (query, _) = query_for(conn, caller, filter)?;
    let (departments, people) = names(conn)?;
    Ok(Export {
        query,
        departments,
        people,
    })
}

/// The next page of an export after `after`.
pub fn export_page(
    conn: &mut DbConn,
    export: &Export,
    after: Option<Cursor>,
) -> Result<(Vec<Consultation>, Option<Cursor>)> {
    let page = ListQuery {
        after,
        ..export.query.clone()
    };
    Ok(consultations::list(conn, &page)?)
}

/// Every department's and user's name by id, for the rows of an export.
pub fn names(conn: &mut DbConn) -> Result<(HashMap<i64, String>, HashMap<i64, String>)> {
    use schema::{departments, users};
    let departments: Vec<(i64, String)> = departments::table
        .select((departments::id, departments::name))
        .load(conn)?;
    let people: Vec<(i64, String)> = users::table.select((users::id, users::name)).load(conn)?;
    Ok((
        departments.into_iter().collect(),
        people.into_iter().collect(),
    ))
}
