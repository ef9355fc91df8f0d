//! Operations for admins: the outbox (failed mail and its retry).

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::consultations::parse_limit;
use super::error::{AppError, Kind, Problem};
use super::AppState;
use crate::db::outbox::{self, OutboxRow};
use crate::db::{self};
use crate::domain::Role;

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
    user.require(&[Role::Admin])?;
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("pending" | "sending" | "sent" | "failed")) => Some(s.to_string()),
        Some(other) => return Err(AppError::invalid_parameter("status", other)),
    };
    let limit = parse_limit(params.limit.as_deref())?;
    let after = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::invalid_parameter("cursor", c))?,
        ),
    };
    let rows = state
        .db(move |conn| Ok(outbox::list(conn, status.as_deref(), after, limit + 1)?))
        .await?;
    let mut rows = rows;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(OutboxPage {
        items: rows
            .into_iter()
            .map(|r| OutboxView::new(&state, r))
            .collect(),
        next_cursor,
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
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let id = id.into_inner();
    let row = state
        .db(move |conn| {
            let row = outbox::find(conn, id)?.ok_or_else(AppError::not_found)?;
            if outbox::retry_failed(conn, id, db::now())? == 0 {
                return Err(
                    AppError::new(Kind::Conflict, "error.not_failed").arg("status", row.status)
                );
            }
            outbox::find(conn, id)?.ok_or_else(AppError::not_found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(OutboxView::new(&state, row)))
}
