//! `GET /api/v1/dashboard`: the aggregates of the dashboard page for managers, the
//! DX office and admins, scoped to what the caller may see.

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::params::parse_dashboard;
use super::AppState;
use crate::app::reports::{self, DashboardParams};
use crate::reports::dashboard::Dashboard;

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
