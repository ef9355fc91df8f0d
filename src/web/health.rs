//! `/healthz` (the process answers) and `/readyz` (database reachable, migrations applied).

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::db;

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "the process is up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "database reachable and migrations applied"),
    (status = 503, description = "not ready"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let check = web::block(move || -> Result<bool, String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        db::migrations_applied(&mut conn).map_err(|e| e.to_string())
    })
    .await;
    match check {
        Ok(Ok(true)) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(Ok(false)) => {
            HttpResponse::ServiceUnavailable().json(json!({ "status": "migrations pending" }))
        }
        Ok(Err(e)) => {
            log::warn!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "database unreachable" }))
        }
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "database unreachable" }))
        }
    }
}
