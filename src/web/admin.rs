//! Operations for admins: the outbox (failed mail and its retry).

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::params::{parse_id_cursor, parse_limit};
use super::AppState;
use crate::app::outbox;
use crate::db::outbox::OutboxRow;
use crate::domain::ids::MessageId;

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
