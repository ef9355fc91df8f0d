//! `GET /api/v1/dashboard`: the aggregates of the dashboard page for managers, the
//! DX office and admins, scoped to what the caller may see; and its tables as CSV
//! (UTF-8 with BOM) and XLSX.

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::export::{csv_stream, Fetch};
use super::params::parse_dashboard;
use super::AppState;
use crate::app::reports::{self, DashboardParams};
use crate::i18n::t;
use crate::reports::dashboard::Dashboard;
use crate::reports::dashboard_tables;
use crate::reports::export::workbook;
use std::sync::Arc;

/// The dashboard for the caller, from the rollups.
pub async fn load(
    state: &AppState,
    user: &CurrentUser,
    params: DashboardParams,
) -> Result<Dashboard, AppError> {
    state
        .call(user, move |app, conn, caller| {
            reports::dashboard(app, conn, caller, &params)
        })
        .await
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
    let params = parse_dashboard(req.query_string())?;
    Ok(HttpResponse::Ok().json(load(&state, &user, params).await?))
}

/// The `?table=` of a dashboard CSV (`months` when absent), or 400.
fn table_name(req: &HttpRequest) -> Result<String, AppError> {
    let name = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "table")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "months".into());
    if dashboard_tables::TABLES.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(AppError::invalid_parameter("table", &name))
    }
}

/// One table of the dashboard as CSV (UTF-8 with BOM), scoped like the dashboard.
#[utoipa::path(get, path = "/api/v1/export/dashboard.csv", tag = "reports", security(("bearer" = [])),
    params(("fiscal_year" = Option<i32>, Query, description = "April–March year, default the current one"),
           ("department" = Option<String>, Query, description = "id or code: that department and the units below it"),
           ("table" = Option<String>, Query, description = "months (default), backlog, ages, stages, divisions, categories, states, ses")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/export/dashboard.csv")]
pub async fn dashboard_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = parse_dashboard(req.query_string())?;
    let name = table_name(&req)?;
    let d = load(&state, &user, params).await?;
    let (headers, rows) = dashboard_tables::table(user.locale, &d, &name)
        .ok_or_else(|| AppError::invalid_parameter("table", &name))?;
    let fetch: Fetch<()> = Arc::new(move |_, _| Ok((rows.clone(), None)));
    let filename = format!("dashboard-{}-{name}.csv", d.fiscal_year);
    Ok(csv_stream(state, &filename, headers, fetch))
}

/// Every table of the dashboard as one Excel workbook, a sheet each.
#[utoipa::path(get, path = "/api/v1/export/dashboard.xlsx", tag = "reports", security(("bearer" = [])),
    params(("fiscal_year" = Option<i32>, Query, description = "April–March year, default the current one"),
           ("department" = Option<String>, Query, description = "id or code: that department and the units below it")),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
#[get("/api/v1/export/dashboard.xlsx")]
pub async fn dashboard_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let params = parse_dashboard(req.query_string())?;
    let d = load(&state, &user, params).await?;
    let locale = user.locale;
    let sheets: Vec<_> = dashboard_tables::TABLES
        .iter()
        .filter_map(|name| {
            dashboard_tables::table(locale, &d, name).map(|(headers, rows)| {
                (
                    t(locale, &format!("dashboard.sheet.{name}"), &[]),
                    headers,
                    rows,
                )
            })
        })
        .collect();
    let bytes = web::block(move || workbook(&sheets))
        .await
        .map_err(AppError::from)?
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"dashboard-{}.xlsx\"", d.fiscal_year),
        ))
        .body(bytes))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HelpdeskParams {
    /// April–March year, default the current one.
    pub fiscal_year: Option<String>,
}

/// A `fiscal_year` parameter: 2000–2200, or a 400 naming it.
pub fn report_year(value: Option<&str>) -> Result<Option<i32>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|y| (2000..=2200).contains(y))
            .map(Some)
            .ok_or_else(|| AppError::invalid_parameter("fiscal_year", v)),
    }
}

/// Consultations and helpdesk inquiries side by side for one fiscal year, with
/// inquiries by topic, channel and SE, first-answer time, escalations and
/// deflections; scoped to the caller.
#[utoipa::path(get, path = "/api/v1/dashboard/helpdesk", tag = "reports", params(HelpdeskParams), security(("bearer" = [])),
    responses((status = 200, body = crate::reports::helpdesk::HelpdeskReport), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/dashboard/helpdesk")]
pub async fn helpdesk(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<HelpdeskParams>,
) -> Result<HttpResponse, AppError> {
    let year = report_year(params.fiscal_year.as_deref())?;
    let report = state
        .call(&user, move |app, conn, caller| {
            reports::helpdesk(app, conn, caller, year)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
