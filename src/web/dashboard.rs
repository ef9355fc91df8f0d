//! `GET /api/v1/dashboard`: the aggregates of the dashboard page for managers, the
//! DX office and admins, scoped to what the caller may see.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use futures_util::future::try_join3;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::AppState;
use crate::db::consultations::Scope;
use crate::db::{self, dashboard, departments, users, DbConn};
use crate::domain::fiscal::{fiscal_year, fiscal_year_bounds};
use crate::domain::Role;
use crate::reports::dashboard::{compute, Dashboard, Input};

/// Who may see dashboards and exports.
pub const REPORT_ROLES: &[Role] = &[Role::Manager, Role::DxOffice, Role::Admin];

/// `?fiscal_year=` (default: the current one) and `?department=` (an id or code; the
/// department and the units below it).
#[derive(Debug, Default, Clone)]
pub struct DashboardParams {
    pub fiscal_year: Option<i32>,
    pub department: Option<String>,
}

impl DashboardParams {
    pub fn parse(query: &str) -> Result<DashboardParams, AppError> {
        let mut params = DashboardParams::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_ref() {
                "fiscal_year" => {
                    params.fiscal_year = Some(
                        value
                            .parse::<i32>()
                            .ok()
                            .filter(|y| (2000..=2200).contains(y))
                            .ok_or_else(|| AppError::invalid_parameter("fiscal_year", value))?,
                    )
                }
                "department" => params.department = Some(value.to_string()),
                _ => {}
            }
        }
        Ok(params)
    }
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
    user: &CurrentUser,
    department: Option<&str>,
) -> Result<dashboard::Departments, AppError> {
    let scope = user.scope(conn)?;
    let Some(wanted) = department else {
        return Ok(match scope {
            Scope::All => None,
            Scope::Departments(ids) => Some(ids),
        });
    };
    let found = match wanted.parse::<i64>() {
        Ok(id) => departments::find(conn, id)?,
        Err(_) => departments::find_by_code(conn, wanted)?,
    };
    match found {
        Some(d) if scope.contains(d.id) => Ok(Some(departments::subtree_ids(conn, d.id)?)),
        _ => Err(AppError::not_found()),
    }
}

/// The dashboard for the caller; 403 for requesters and SEs.
pub async fn load(
    state: &AppState,
    user: CurrentUser,
    params: DashboardParams,
) -> Result<Dashboard, AppError> {
    user.require(REPORT_ROLES)?;
    let zone = state.settings.timezone;
    let now = db::now();
    let year = params
        .fiscal_year
        .unwrap_or_else(|| fiscal_year(Utc::now().with_timezone(&zone).date_naive()));
    let department = params.department;
    let departments = state
        .db(move |conn| covered(conn, &user, department.as_deref()))
        .await?;
    let (from, until) = fiscal_range(&zone, year);
    let (previous_from, _) = fiscal_range(&zone, year - 1);
    // The two large scans run side by side on two pooled connections.
    let (for_filed, for_resolved) = (departments.clone(), departments.clone());
    let (filed, resolved, (open, previous_filed, previous_resolved, units)) = try_join3(
        state.db(move |conn| Ok(dashboard::filed(conn, year, &for_filed)?)),
        state.db(move |conn| Ok(dashboard::resolved(conn, from, until, &for_resolved)?)),
        state.db(move |conn| {
            Ok((
                dashboard::open(conn, &departments)?,
                dashboard::count_filed(conn, year - 1, &departments)?,
                dashboard::count_resolved(conn, previous_from, from, &departments)?,
                dashboard::units(conn)?,
            ))
        }),
    )
    .await?;
    let ids: Vec<i64> = resolved
        .iter()
        .filter_map(|r| r.assignee_id)
        .chain(open.iter().filter_map(|r| r.assignee_id))
        .collect();
    let people = state.db(move |conn| Ok(users::names(conn, ids)?)).await?;
    let input = Input {
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
    };
    Ok(compute(input))
}

/// The dashboard's aggregates for one fiscal year, scoped to the caller.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "reports", security(("bearer" = [])),
    params(("fiscal_year" = Option<i32>, Query, description = "April–March year, default the current one"),
           ("department" = Option<String>, Query, description = "id or code: that department and the units below it")),
    responses((status = 200, body = Dashboard), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/dashboard")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = DashboardParams::parse(req.query_string())?;
    Ok(HttpResponse::Ok().json(load(&state, user, params).await?))
}
