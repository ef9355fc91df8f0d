//! The system ledger endpoints: list, similar names, register, read, edit, and
//! the effects, each one `app::ledger` use case rendered as JSON.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::params::{parse_id_cursor, parse_limit, SystemListParams};
use super::AppState;
use crate::app::ledger::{self, Registration, Similar};
use crate::db::systems::System;
use crate::domain::ids::SystemId;
use crate::domain::ledger::{
    missing_fields, review_overdue, BuiltBy, Phase, Platform, SystemInput,
};
use crate::domain::savings::OtherEffect;
use crate::domain::State;
use crate::reports::ledger::Effects;

/// A ledger entry as the API shows it. Times are RFC 3339 in the display zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemView {
    pub id: i64,
    pub name: String,
    pub department_id: i64,
    pub platform: Platform,
    pub phase: Phase,
    pub built_by: BuiltBy,
    pub workflow_before: Option<String>,
    pub workflow_after: Option<String>,
    pub hours_saved_per_year: Option<i64>,
    /// Yen a year.
    pub cost_saved_per_year: Option<i64>,
    pub holds_personal_data: bool,
    pub manual_location: Option<String>,
    pub owner_id: i64,
    /// `YYYY-MM-DD`.
    pub review_on: Option<String>,
    pub production_at: Option<String>,
    /// Send it back with every change; a stale one gets 409.
    pub version: i32,
    pub created_at: String,
    pub updated_at: String,
    /// Fields a production system should have and lacks.
    pub missing_fields: Vec<String>,
    pub review_overdue: bool,
    /// Missing fields or an overdue review.
    pub flagged: bool,
    /// Confirmed by the DX office; only confirmed entries count in the effects.
    pub verified: bool,
    /// Yen, once: a vendor's estimate of building it, avoided by building in-house.
    pub development_cost_avoided: Option<i64>,
    /// Effects that are not hours.
    pub other_effects: Vec<OtherEffect>,
    /// The consultations it came from (single resource only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consultations: Option<Vec<LinkedConsultation>>,
    /// Its changes, oldest first (single resource only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<SystemHistoryItem>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedConsultation {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub state: State,
}

/// One change: `register`, `phase` (from → to) or `update`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemHistoryItem {
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_phase: Option<String>,
    pub to_phase: String,
    /// The fields on `register`; `{"field": [before, after]}` otherwise.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemPage {
    pub items: Vec<SystemView>,
    pub next_cursor: Option<String>,
}

impl SystemView {
    pub fn new(state: &AppState, s: System, today: NaiveDate) -> SystemView {
        let fields = s.fields();
        let missing: Vec<String> = missing_fields(&fields)
            .into_iter()
            .map(str::to_string)
            .collect();
        let overdue = review_overdue(&fields, today);
        SystemView {
            id: s.id,
            flagged: overdue || !missing.is_empty(),
            missing_fields: missing,
            review_overdue: overdue,
            verified: s.verified,
            development_cost_avoided: s.development_cost_avoided,
            other_effects: s.other_effects(),
            name: s.name,
            department_id: s.department_id,
            platform: s.platform,
            phase: s.phase,
            built_by: s.built_by,
            workflow_before: s.workflow_before,
            workflow_after: s.workflow_after,
            hours_saved_per_year: s.hours_saved_per_year,
            cost_saved_per_year: s.cost_saved_per_year,
            holds_personal_data: s.holds_personal_data,
            manual_location: s.manual_location,
            owner_id: s.owner_id,
            review_on: s.review_on.map(|d| d.to_string()),
            production_at: s.production_at.map(|t| state.format_time(t)),
            version: s.version,
            created_at: state.format_time(s.created_at),
            updated_at: state.format_time(s.updated_at),
            consultations: None,
            history: None,
        }
    }
}

/// Ledger entries the caller may see, filtered.
#[utoipa::path(get, path = "/api/v1/systems", tag = "systems", params(SystemListParams), security(("bearer" = [])),
    responses((status = 200, body = SystemPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/systems")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let filter = params.filter()?;
    let limit = parse_limit(params.limit.as_deref())? as usize;
    let after = parse_id_cursor(params.cursor.as_deref())?;
    let (rows, next) = state
        .call(&user, move |app, conn, caller| {
            ledger::list(app, conn, caller, &filter, limit, after)
        })
        .await?;
    let today = state.app.today();
    Ok(HttpResponse::Ok().json(SystemPage {
        items: rows
            .into_iter()
            .map(|s| SystemView::new(&state, s, today))
            .collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SimilarSystemParams {
    /// The proposed name.
    pub name: Option<String>,
    /// What it does (compared with the entries' workflow after).
    pub description: Option<String>,
    /// An entry to leave out (the one being edited).
    pub exclude: Option<i64>,
}

/// An existing system whose name or description is like the proposed one.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarSystem {
    pub id: i64,
    pub name: String,
    pub department_id: i64,
    pub department: String,
    pub platform: Platform,
    pub phase: Phase,
    /// 0.0 to 1.0.
    pub score: f64,
}

impl From<Similar> for SimilarSystem {
    fn from(found: Similar) -> SimilarSystem {
        SimilarSystem {
            id: found.system.id,
            name: found.system.name,
            department_id: found.system.department_id,
            department: found.department,
            platform: found.system.platform,
            phase: found.system.phase,
            score: found.score,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarSystemList {
    pub items: Vec<SimilarSystem>,
}

/// Existing systems like a proposed one, to check before registering.
#[utoipa::path(get, path = "/api/v1/systems/similar", tag = "systems", params(SimilarSystemParams), security(("bearer" = [])),
    responses((status = 200, body = SimilarSystemList), (status = 401, body = Problem)))]
#[get("/api/v1/systems/similar")]
pub async fn similar(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SimilarSystemParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let found = state
        .call(&user, move |_, conn, _| {
            ledger::similar(
                conn,
                params.name.as_deref().unwrap_or_default(),
                params.description.as_deref(),
                params.exclude,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(SimilarSystemList {
        items: found.into_iter().map(SimilarSystem::from).collect(),
    }))
}

/// Register a system in the ledger. With `Idempotency-Key`, a retry of the same
/// request returns the entry the first one registered.
#[utoipa::path(post, path = "/api/v1/systems", tag = "systems", request_body = SystemInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = SystemView, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the key was used with a different body"),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/systems")]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    body: ApiJson<SystemInput>,
) -> Result<HttpResponse, AppError> {
    let key = super::consultations::idempotency(&req, &body.canonical)?;
    let input = body.value;
    let registration = state
        .call(&user, move |_, conn, caller| {
            ledger::register(conn, caller, &input, key.as_ref(), false)
        })
        .await?;
    let Registration::Registered { system, replayed } = registration else {
        return Err(AppError::internal(
            "similar systems reported without a check",
        ));
    };
    let mut response = HttpResponse::Created();
    response.insert_header(("Location", format!("/api/v1/systems/{}", system.id)));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(SystemView::new(&state, system, state.app.today())))
}

/// One entry with its history and the consultations it came from.
#[utoipa::path(get, path = "/api/v1/systems/{id}", tag = "systems", security(("bearer" = [])),
    responses((status = 200, body = SystemView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/systems/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SystemId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let entry = state
        .call(&user, move |_, conn, caller| ledger::get(conn, caller, id))
        .await?;
    let mut view = SystemView::new(&state, entry.system, state.app.today());
    view.consultations = Some(
        entry
            .consultations
            .into_iter()
            .map(|c| LinkedConsultation {
                id: c.id,
                number: c.number,
                title: c.title,
                state: c.state,
            })
            .collect(),
    );
    view.history = Some(
        entry
            .history
            .into_iter()
            .map(|e| SystemHistoryItem {
                event: e.event,
                actor_id: e.actor_id,
                from_phase: e.from_phase,
                to_phase: e.to_phase,
                payload: serde_json::from_str(&e.payload).unwrap_or_default(),
                created_at: state.format_time(e.created_at),
            })
            .collect(),
    );
    Ok(HttpResponse::Ok().json(view))
}

/// Edit an entry or move its phase (`{"version", "phase": "production", ...}`).
#[utoipa::path(patch, path = "/api/v1/systems/{id}", tag = "systems", request_body = SystemInput, security(("bearer" = [])),
    responses((status = 200, body = SystemView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "a field is invalid, the phase may not move so, or production lacks the manual")))]
#[patch("/api/v1/systems/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SystemId>,
    body: ApiJson<SystemInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let system = state
        .call(&user, move |_, conn, caller| {
            ledger::edit(conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SystemView::new(&state, system, state.app.today())))
}

/// Hours and cost saved, systems by phase, the in-house rate, staff equivalent and
/// progress toward the annual target, with breakdowns; scoped to the caller.
#[utoipa::path(get, path = "/api/v1/systems/effects", tag = "systems", params(SystemListParams), security(("bearer" = [])),
    responses((status = 200, body = Effects), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/systems/effects")]
pub async fn effects_report(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let filter = params.filter()?;
    let report = state
        .call(&user, move |app, conn, caller| {
            ledger::effects_of(app, conn, caller, &filter)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
