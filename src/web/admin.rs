//! Operations for admins: the outbox (failed mail and its retry), and the
//! reorganisation's CSV imports.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Kind, Problem};
use super::import_upload::read_body;
use super::params::{parse_id_cursor, parse_limit};
use super::AppState;
use crate::app::outbox;
use crate::app::reorg::{self, ImportReport, Importing};
use crate::db::outbox::OutboxRow;
use crate::domain::ids::MessageId;
use crate::i18n::t;

/// A queued message without its bodies.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub kind: String,
    pub consultation_id: Option<i64>,
    pub recipient_email: String,
    pub subject: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl OutboxView {
    fn new(state: &AppState, row: OutboxRow) -> OutboxView {
        OutboxView {
            id: row.id,
            kind: row.kind,
            consultation_id: row.consultation_id,
            recipient_email: row.recipient_email,
            subject: row.subject,
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: state.format_time(row.next_attempt_at),
            last_error: row.last_error,
            created_at: state.format_time(row.created_at),
            sent_at: row.sent_at.map(|t| state.format_time(t)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    pub items: Vec<OutboxView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OutboxParams {
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Queued and sent mail, e.g. `?status=failed`.
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "admin", params(OutboxParams), security(("bearer" = [])),
    responses((status = 200, body = OutboxPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/admin/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<OutboxParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let limit = parse_limit(params.limit.as_deref())?;
    let after = parse_id_cursor(params.cursor.as_deref())?;
    let status = params.status.filter(|s| !s.is_empty());
    let (rows, next) = state
        .call(&user, move |_, conn, caller| {
            outbox::list(conn, caller, status.as_deref(), after, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(OutboxPage {
        items: rows
            .into_iter()
            .map(|r| OutboxView::new(&state, r))
            .collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

/// Send a failed message again.
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = OutboxView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "the message has not failed")))]
#[post("/api/v1/admin/outbox/{id}/retry")]
pub async fn retry_outbox(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<MessageId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let row = state
        .call(&user, move |_, conn, caller| {
            outbox::retry(conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(OutboxView::new(&state, row)))
}

/// `?dry_run=true` plans the file and changes nothing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportParams {
    /// `true` or `false` (default).
    pub dry_run: Option<String>,
}

/// The file's report, or 422 with every problem (line, column, message) and
/// nothing changed.
async fn import(
    state: web::Data<AppState>,
    user: CurrentUser,
    what: Importing,
    params: ImportParams,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let dry_run = match params.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(AppError::invalid_parameter("dry_run", other)),
    };
    let file = read_body(body).await?;
    let report = state
        .call(&user, move |app, conn, caller| {
            reorg::import(app, conn, caller, what, &file, dry_run)
        })
        .await?;
    if report.applied {
        state.departments.clear();
    }
    if report.problems.is_empty() {
        return Ok(HttpResponse::Ok().json(report));
    }
    let problems: Vec<serde_json::Value> = report
        .problems
        .iter()
        .map(|p| {
            serde_json::json!({"line": p.line, "field": p.field, "message": t(user.locale, &p.message, &[])})
        })
        .collect();
    Err(AppError::new(Kind::Unprocessable, "import.has_problems")
        .with("problems", problems.into())
        .with("report", serde_json::to_value(&report).unwrap_or_default()))
}

/// Import departments from a CSV file (the April reorganisation): header
/// `action,code,name,kind,parent,merge_into`; actions `create`, `update`, `move`,
/// `merge`, `deactivate`. UTF-8 (with or without BOM) or Shift_JIS; all rows or none.
#[utoipa::path(post, path = "/api/v1/admin/import/departments", tag = "admin", params(ImportParams),
    request_body(content_type = "text/csv", content = String), security(("bearer" = [])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem, description = "problems, each with its line and column; nothing changed")))]
#[post("/api/v1/admin/import/departments")]
pub async fn import_departments(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ImportParams>,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    import(
        state,
        user,
        Importing::Departments,
        params.into_inner(),
        body,
    )
    .await
}

/// Import users from a CSV file: header `action,email,name,role,department,locale`;
/// actions `create` (no password: directory sign-in or a reset link), `update`,
/// `transfer`, `deactivate`. UTF-8 (with or without BOM) or Shift_JIS; all rows or none.
#[utoipa::path(post, path = "/api/v1/admin/import/users", tag = "admin", params(ImportParams),
    request_body(content_type = "text/csv", content = String), security(("bearer" = [])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem, description = "problems, each with its line and column; nothing changed")))]
#[post("/api/v1/admin/import/users")]
pub async fn import_users(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ImportParams>,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    import(state, user, Importing::Users, params.into_inner(), body).await
}
