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
use crate::db::{self, dashboard, departments, stats, users, DbConn};
use crate::domain::fiscal::{fiscal_year, fiscal_year_bounds};
use crate::domain::rollup::{self, Facts};
use crate::domain::Role;
use crate::reports::dashboard::{compute, divisions, Dashboard, Input, Stat};

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

/// The desk's two streams side by side for a fiscal year (default: this one),
/// within the caller's scope, from the rollups.
pub fn helpdesk(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    fiscal_year_wanted: Option<i32>,
) -> Result<crate::reports::helpdesk::HelpdeskReport> {
    caller.require(REPORT_ROLES)?;
    let year = fiscal_year_wanted
        .unwrap_or_else(|| fiscal_year(Utc::now().with_timezone(&app.timezone).date_naive()));
    let rows = match &caller.scope {
        Scope::All => stats::read(conn, &[year], None)?,
        Scope::Departments(ids) => stats::read(conn, &[year], Some(ids))?,
    };
    let mut report = crate::reports::helpdesk::compute(year, &rows);
    let ids = report
        .by_se
        .iter()
        .filter_map(|r| r.key.parse::<i64>().ok());
    let names = users::names(conn, ids.collect::<Vec<_>>())?;
    for row in &mut report.by_se {
        row.name = row
            .key
            .parse::<i64>()
            .ok()
            .and_then(|id| names.get(&id).cloned());
    }
    Ok(report)
}

/// The dashboard of a fiscal year for the caller, from the rollups of the
/// divisions it covers. A scope that is not whole divisions (a section) is
/// counted on the spot from its consultations, which are few.
pub fn dashboard(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    params: &DashboardParams,
) -> Result<Dashboard> {
    caller.require(REPORT_ROLES)?;
    let zone = app.timezone;
    let year = params
        .fiscal_year
        .unwrap_or_else(|| fiscal_year(Utc::now().with_timezone(&zone).date_naive()));
    let years = [year - 1, year, rollup::NOW];
    let covered = covered(conn, caller, params.department.as_ref())?;
    let key = (year, covered.clone());
    if let Some(cached) = app.dashboards.get(&key) {
        return Ok(cached);
    }
    let units = dashboard::units(conn)?;
    let division_of = divisions(&units);
    let per_division_measures = [rollup::FILED, rollup::RESOLVED, rollup::OPEN_STATE];
    let (rollups, per_division) = match &covered {
        None => (
            stats::read(conn, &years, None)?,
            stats::by_division(conn, &[year, rollup::NOW], &per_division_measures)?,
        ),
        Some(ids) => {
            let whole_divisions = ids
                .iter()
                .all(|id| division_of.get(id).is_some_and(|d| ids.contains(d)));
            let rows = if whole_divisions {
                let divisions: Vec<i64> = ids
                    .iter()
                    .copied()
                    .filter(|id| division_of.get(id) == Some(id))
                    .collect();
                stats::read(conn, &years, Some(&divisions))?
            } else {
                counted_on_the_spot(conn, &zone, &years, ids, &division_of)?
            };
            let per_division = rows
                .iter()
                .filter(|s| per_division_measures.contains(&s.measure.as_str()))
                .cloned()
                .collect();
            (rows, per_division)
        }
    };
    let ses = rollups
        .iter()
        .filter(|s| s.measure == rollup::RESOLVED_SE || s.measure == rollup::OPEN_SE)
        .filter_map(|s| s.key.parse::<i64>().ok());
    let people = users::names(conn, ses)?;
    let computed = compute(Input {
        fiscal_year: year,
        now: db::now(),
        stats: rollups,
        per_division,
        units,
        people,
    });
    app.dashboards.put(key, &computed);
    Ok(computed)
}

/// Dashboards computed in the last moments, by fiscal year and the departments
/// they cover: a city's managers open the same few dashboards, and the whole
/// city's takes ~10 ms of CPU to sum (DIGICON_DASHBOARD_CACHE_MS, 0 = off).
pub struct DashboardCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<HashMap<DashboardKey, (std::time::Instant, Dashboard)>>,
}

type DashboardKey = (i32, dashboard::Departments);

impl DashboardCache {
    /// Entries kept at most; more are dropped all at once.
    const MAX_ENTRIES: usize = 256;

    pub fn new(ttl: std::time::Duration) -> DashboardCache {
        DashboardCache {
            ttl,
            entries: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &DashboardKey) -> Option<Dashboard> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, d)| d.clone())
    }

    /// Forgets every dashboard (after a reorganisation recounted the rollups).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    fn put(&self, key: DashboardKey, dashboard: &Dashboard) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (std::time::Instant::now(), dashboard.clone()));
        }
    }
}

/// The rollups of some departments' consultations, counted from the rows.
fn counted_on_the_spot(
    conn: &mut DbConn,
    zone: &Tz,
    years: &[i32],
    ids: &[i64],
    division_of: &HashMap<i64, i64>,
) -> Result<Vec<Stat>> {
    let fiscal: Vec<i32> = years
        .iter()
        .copied()
        .filter(|y| *y != rollup::NOW)
        .collect();
    let (from, _) = fiscal_range(zone, fiscal[0]);
    let (_, until) = fiscal_range(zone, fiscal[fiscal.len() - 1]);
    let mut all = Facts::default();
    for c in dashboard::in_years(conn, &fiscal, from, until, ids)? {
        let division = division_of
            .get(&c.department_id)
            .copied()
            .unwrap_or(c.department_id);
        for (slot, (n, total)) in Facts::of(&stats::counted(&c, division), zone).0 {
            // Only the divisions' rows: the whole organisation's are not this scope's.
            if slot.1 == rollup::WHOLE || !years.contains(&slot.0) {
                continue;
            }
            let entry = all.0.entry(slot).or_default();
            entry.0 += n;
            entry.1 += total;
        }
    }
    Ok(stats::as_stats(all))
}

/// Keeps the dashboard's rollups in step with one consultation's change, in the
/// change's transaction (`before`: `None` for a filing).
pub fn count(
    app: &App,
    conn: &mut DbConn,
    before: Option<&Consultation>,
    after: &Consultation,
) -> diesel::QueryResult<()> {
    let delta = change(app, conn, before, after)?;
    stats::add(conn, &delta)
}

/// What a change adds to the rollups, to be written with `stats::add` (filing
/// reads it early and writes it last: the rollup rows are shared by the day's
/// filings).
pub fn change(
    app: &App,
    conn: &mut DbConn,
    before: Option<&Consultation>,
    after: &Consultation,
) -> diesel::QueryResult<Facts> {
    let division = match departments::find(conn, after.department_id)? {
        Some(department) => departments::division_of(conn, &department)?,
        None => after.department_id,
    };
    let facts = |c: &Consultation| Facts::of(&stats::counted(c, division), &app.timezone);
    Ok(Facts::change(before.map(facts).as_ref(), &facts(after)))
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
