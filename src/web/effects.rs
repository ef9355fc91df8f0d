//! The effects report's endpoints: a fiscal year's report as JSON, its tables as
//! CSV (UTF-8 with BOM) and XLSX, closing and reopening a year, and the targets'
//! settings. Each calls one `app::effects` use case.

use std::sync::Arc;

use actix_web::{get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::export::{csv_stream, Fetch};
use super::json::ApiJson;
use super::AppState;
use crate::app::effects::{self, Report};
use crate::domain::savings::{Progress, Targets, TargetsInput};
use crate::i18n::{t, Locale};
use crate::reports::annual::{summary, table, YearFigures, YearLine, TABLES};
use crate::reports::export::{workbook, Row};

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportParams {
    /// The fiscal year (April–March), e.g. `2025`; the current one when absent.
    pub fiscal_year: Option<String>,
    /// The CSV's table: `summary` (default), `years`, `bureaus`, `systems`, `other_effects`.
    pub table: Option<String>,
}

impl ReportParams {
    /// The year as a number (400 when it is not one); the use case checks its range.
    pub fn year(&self) -> Result<Option<i64>, AppError> {
        match self.fiscal_year.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| AppError::invalid_parameter("fiscal_year", v)),
        }
    }
}

/// A close or reopen, as the command line and the pages record it.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearEventView {
    /// `close` or `reopen`.
    pub action: String,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub at: String,
}

/// A fiscal year's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub figures: YearFigures,
    /// Closed by the DX office: the figures are frozen.
    pub closed: bool,
    pub closed_at: Option<String>,
    pub history: Vec<YearEventView>,
    /// From the start year to this one.
    pub years: Vec<YearLine>,
    /// 効果額 (yen) from the start year to this one.
    pub cumulative_amount: i64,
    pub previous: Option<YearLine>,
    pub targets: Targets,
    pub hours_progress: Progress,
    pub amount_progress: Option<Progress>,
}

impl ReportView {
    pub fn new(state: &AppState, r: Report) -> ReportView {
        ReportView {
            closed: r.closed_at.is_some(),
            closed_at: r.closed_at.map(|at| state.format_time(at)),
            history: r
                .history
                .into_iter()
                .map(|e| YearEventView {
                    action: e.action,
                    actor: e.actor,
                    reason: e.reason,
                    at: state.format_time(e.at),
                })
                .collect(),
            figures: r.figures,
            years: r.years,
            cumulative_amount: r.cumulative_amount,
            previous: r.previous,
            targets: r.targets,
            hours_progress: r.hours_progress,
            amount_progress: r.amount_progress,
        }
    }
}

/// The effects of a fiscal year as the city publishes them: in-house rate over
/// the systems in operation, hours and money pro rata by month, cumulative 効果額,
/// progress toward the targets. A closed year's figures never change.
#[utoipa::path(get, path = "/api/v1/effects/report", tag = "effects", params(ReportParams), security(("bearer" = [])),
    responses((status = 200, body = ReportView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem, description = "a fiscal year outside 2000–2100")))]
#[get("/api/v1/effects/report")]
pub async fn report(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    let year = params.year()?;
    let found = state
        .call(&user, move |app, conn, caller| {
            effects::report(app, conn, caller, year)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ReportView::new(&state, found)))
}

/// A report's table by name, localised.
pub fn report_table(locale: Locale, name: &str, r: &Report) -> Option<(Vec<String>, Vec<Row>)> {
    let lines = summary(
        locale,
        &r.figures,
        r.cumulative_amount,
        r.targets.start_fiscal_year,
        &r.hours_progress,
        r.amount_progress.as_ref(),
    );
    table(locale, name, &r.figures, &r.years, &lines)
}

async fn load(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    params: &ReportParams,
) -> Result<Report, AppError> {
    let year = params.year()?;
    state
        .call(user, move |app, conn, caller| {
            effects::report(app, conn, caller, year)
        })
        .await
}

/// One table of the report as CSV (UTF-8 with BOM; text that looks like a formula
/// is quoted).
#[utoipa::path(get, path = "/api/v1/effects/report.csv", tag = "effects", params(ReportParams), security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/effects/report.csv")]
pub async fn report_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    let name = params.table.clone().unwrap_or_else(|| "summary".into());
    if !TABLES.contains(&name.as_str()) {
        return Err(AppError::invalid_parameter("table", &name));
    }
    let found = load(&state, &user, &params).await?;
    let (headers, rows) = report_table(user.locale, &name, &found)
        .ok_or_else(|| AppError::invalid_parameter("table", &name))?;
    let fetch: Fetch<()> = Arc::new(move |_, _| Ok((rows.clone(), None)));
    let filename = format!("effects-{}-{name}.csv", found.figures.fiscal_year);
    Ok(csv_stream(state, &filename, headers, fetch))
}

/// Every table of the report as one Excel workbook, a sheet each.
#[utoipa::path(get, path = "/api/v1/effects/report.xlsx", tag = "effects", params(ReportParams), security(("bearer" = [])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/api/v1/effects/report.xlsx")]
pub async fn report_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    let found = load(&state, &user, &params).await?;
    let locale = user.locale;
    let sheets = TABLES
        .iter()
        .filter_map(|name| {
            report_table(locale, name, &found).map(|(headers, rows)| {
                (
                    t(locale, &format!("report.sheet.{name}"), &[]),
                    headers,
                    rows,
                )
            })
        })
        .collect::<Vec<_>>();
    let bytes = web::block(move || workbook(&sheets))
        .await
        .map_err(AppError::from)?
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"effects-{}.xlsx\"",
                found.figures.fiscal_year
            ),
        ))
        .body(bytes))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct YearInput {
    pub fiscal_year: Option<i64>,
    /// Reopening only: why (kept in the year's record).
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// Close a fiscal year (the DX office): its figures as they are now are kept and
/// shown from then on, whatever happens to the ledger.
#[utoipa::path(post, path = "/api/v1/effects/close", tag = "effects", request_body = YearInput, security(("bearer" = [])),
    responses((status = 200, body = YearFigures), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "the year is closed already"),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/effects/close")]
pub async fn close(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<YearInput>,
) -> Result<HttpResponse, AppError> {
    let year = body.value.fiscal_year;
    let figures = state
        .call(&user, move |app, conn, caller| {
            effects::close(app, conn, Some(caller), year)
        })
        .await?;
    Ok(HttpResponse::Ok().json(figures))
}

/// Reopen a closed fiscal year (admins; the reason is recorded).
#[utoipa::path(post, path = "/api/v1/effects/reopen", tag = "effects", request_body = YearInput, security(("bearer" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "the year is not closed"),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/effects/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<YearInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.value;
    state
        .call(&user, move |_, conn, caller| {
            effects::reopen(
                conn,
                Some(caller),
                input.fiscal_year,
                input.reason.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The targets and the start year of the cumulative amount (admins).
#[utoipa::path(get, path = "/api/v1/effects/settings", tag = "effects", security(("bearer" = [])),
    responses((status = 200, body = Targets), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/effects/settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let targets = state
        .call(&user, |app, conn, caller| {
            effects::settings(app, conn, caller)
        })
        .await?;
    Ok(HttpResponse::Ok().json(targets))
}

/// Set the targets (hours a year and cumulative 効果額, by a fiscal year) and the
/// start year (admins).
#[utoipa::path(put, path = "/api/v1/effects/settings", tag = "effects", request_body = TargetsInput, security(("bearer" = [])),
    responses((status = 200, body = Targets), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[put("/api/v1/effects/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<TargetsInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.value;
    let targets = state
        .call(&user, move |_, conn, caller| {
            effects::save_settings(conn, caller, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(targets))
}
