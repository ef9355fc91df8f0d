//! The consultation endpoints: list, file, read, edit, transitions, timeline,
//! comments and similar drafts. Each parses, calls one `app::consultations` use
//! case and renders its result as JSON.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::params::{encode_cursor, parse_list, ListParams};
use super::AppState;
use crate::app::consultations::{self as use_case, list as listing, Entry, Shown};
use crate::app::idempotency::Idempotency;
use crate::db::comments::Comment;
use crate::db::consultations::Consultation;
use crate::domain::consultation::{CommentInput, ConsultationEditInput, NewConsultationInput};
use crate::domain::ids::ConsultationId;
use crate::domain::workflow::TransitionInput;
use crate::domain::{Category, Event, Priority, State};

/// A consultation as the API shows it. Times are RFC 3339 in the display zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationView {
    pub id: i64,
    /// `DX-2025-0001`
    pub number: String,
    pub fiscal_year: i32,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    pub state: State,
    /// Send it back with every change; a stale one gets 409.
    pub version: i32,
    pub department_id: i64,
    pub requester_id: i64,
    /// Who typed it: the requester, or the DX office filing on their behalf.
    pub filed_by: i64,
    pub assignee_id: Option<i64>,
    pub contact: Option<String>,
    pub desired_by: Option<String>,
    pub hearing_at: Option<String>,
    pub hearing_place: Option<String>,
    pub resolution: Option<String>,
    pub system_id: Option<i64>,
    pub duplicate_of: Option<i64>,
    pub rating: Option<i16>,
    pub created_at: String,
    pub updated_at: String,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    /// When the hearing is due (SLA).
    pub hearing_due_at: Option<String>,
    /// When the resolution is due (SLA).
    pub resolution_due_at: Option<String>,
    /// The due time running now, if any.
    pub due_at: Option<String>,
    /// What the caller may do now (single resource only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_events: Option<Vec<Event>>,
}

impl ConsultationView {
    pub fn new(state: &AppState, c: Consultation, allowed: Option<Vec<Event>>) -> Self {
        let time = |t: Option<NaiveDateTime>| t.map(|t| state.format_time(t));
        ConsultationView {
            id: c.id,
            number: c.number,
            fiscal_year: c.fiscal_year,
            title: c.title,
            body: c.body,
            category: c.category,
            priority: c.priority,
            state: c.state,
            version: c.version,
            department_id: c.department_id,
            requester_id: c.requester_id,
            filed_by: c.filed_by.unwrap_or(c.requester_id),
            assignee_id: c.assignee_id,
            contact: c.contact,
            desired_by: c.desired_by.map(|d| d.format("%Y-%m-%d").to_string()),
            hearing_at: time(c.hearing_at),
            hearing_place: c.hearing_place,
            resolution: c.resolution,
            system_id: c.system_id,
            duplicate_of: c.duplicate_of,
            rating: c.rating,
            created_at: state.format_time(c.created_at),
            updated_at: state.format_time(c.updated_at),
            first_response_at: time(c.first_response_at),
            resolved_at: time(c.resolved_at),
            closed_at: time(c.closed_at),
            hearing_due_at: time(c.hearing_due_at),
            resolution_due_at: time(c.resolution_due_at),
            due_at: time(c.due_at),
            allowed_events: allowed,
        }
    }

    fn shown(state: &AppState, shown: Shown) -> Self {
        ConsultationView::new(state, shown.consultation, Some(shown.allowed_events))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationPage {
    pub items: Vec<ConsultationView>,
    pub next_cursor: Option<String>,
}

/// Consultations the caller may see, filtered and sorted.
#[utoipa::path(get, path = "/api/v1/consultations", tag = "consultations", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = ConsultationPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/consultations")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let filter = parse_list(req.query_string())?;
    let listed = state
        .call(&user, move |_, conn, caller| {
            listing::list(conn, caller, filter)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsultationPage {
        next_cursor: listed.next.map(|c| encode_cursor(listed.sort, &c)),
        items: listed
            .items
            .into_iter()
            .map(|c| ConsultationView::new(&state, c, None))
            .collect(),
    }))
}

/// The `Idempotency-Key` header, if any, with the hash of the request's canonical body.
pub(crate) fn idempotency(
    req: &HttpRequest,
    canonical: &str,
) -> Result<Option<Idempotency>, AppError> {
    let Some(header) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = header
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= Idempotency::MAX_KEY_LEN)
        .ok_or_else(|| AppError::invalid_parameter("Idempotency-Key", "…"))?;
    Ok(Some(Idempotency {
        key: key.to_string(),
        request_hash: format!("{:x}", Sha256::digest(canonical.as_bytes())),
    }))
}

/// File a consultation. With `Idempotency-Key`, a retry of the same request returns
/// the consultation the first one created.
#[utoipa::path(post, path = "/api/v1/consultations", tag = "consultations", request_body = NewConsultationInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = ConsultationView, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the key was used with a different body"),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/consultations")]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    body: ApiJson<NewConsultationInput>,
) -> Result<HttpResponse, AppError> {
    let key = idempotency(&req, &body.canonical)?;
    let input = body.value;
    let filed = state
        .call(&user, move |app, conn, caller| {
            use_case::file(app, conn, caller, &input, key.as_ref())
        })
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        "Location",
        format!("/api/v1/consultations/{}", filed.shown.consultation.id),
    ));
    if filed.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(ConsultationView::shown(&state, filed.shown)))
}

/// One consultation with what the caller may do now.
#[utoipa::path(get, path = "/api/v1/consultations/{id}", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = ConsultationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/consultations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let shown = state
        .call(&user, move |app, conn, caller| {
            use_case::get(app, conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsultationView::shown(&state, shown)))
}

/// Edit title, category or priority (DX office, admin, or the assignee).
#[utoipa::path(patch, path = "/api/v1/consultations/{id}", tag = "consultations", request_body = ConsultationEditInput,
    security(("bearer" = [])),
    responses((status = 200, body = ConsultationView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/consultations/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
    body: ApiJson<ConsultationEditInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let shown = state
        .call(&user, move |app, conn, caller| {
            use_case::edit(app, conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsultationView::shown(&state, shown)))
}

/// Fire a workflow event.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/transitions", tag = "consultations", request_body = TransitionInput,
    security(("bearer" = [])),
    responses((status = 200, body = ConsultationView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the caller's role may not fire the event"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "stale version"),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "the state does not allow the event, or a field is missing")))]
#[post("/api/v1/consultations/{id}/transitions")]
pub async fn transition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
    body: ApiJson<TransitionInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let shown = state
        .call(&user, move |app, conn, caller| {
            use_case::fire(app, conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsultationView::shown(&state, shown)))
}

/// One entry of the timeline: a workflow event, an edit, or a comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineItem {
    pub id: i64,
    /// `event` or `comment`.
    pub kind: String,
    /// The workflow event, `update` for an edit, or `comment`.
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// The consultation's version after the event.
    pub version: Option<i32>,
    /// Comments only: an internal note, shown to staff only.
    pub internal: Option<bool>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: String,
}

/// A timeline event as the API shows it, of either stream.
pub(crate) struct EventParts {
    pub id: i64,
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_state: Option<String>,
    pub to_state: String,
    pub version: i32,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// A comment or internal note as the API shows it, of either stream.
pub(crate) struct CommentParts {
    pub id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

impl TimelineItem {
    pub(crate) fn event(state: &AppState, e: EventParts) -> TimelineItem {
        TimelineItem {
            id: e.id,
            kind: "event".into(),
            event: e.event,
            actor_id: e.actor_id,
            from_state: e.from_state,
            to_state: Some(e.to_state),
            version: Some(e.version),
            internal: None,
            payload: serde_json::from_str(&e.payload).unwrap_or_default(),
            created_at: state.format_time(e.created_at),
        }
    }

    pub(crate) fn comment(state: &AppState, c: CommentParts) -> TimelineItem {
        TimelineItem {
            id: c.id,
            kind: "comment".into(),
            event: "comment".into(),
            actor_id: Some(c.author_id),
            from_state: None,
            to_state: None,
            version: None,
            internal: Some(c.internal),
            payload: serde_json::json!({ "body": c.body, "internal": c.internal }),
            created_at: state.format_time(c.created_at),
        }
    }

    fn new(state: &AppState, entry: Entry) -> TimelineItem {
        match entry {
            Entry::Event(e) => TimelineItem::event(
                state,
                EventParts {
                    id: e.id,
                    event: e.event,
                    actor_id: e.actor_id,
                    from_state: e.from_state,
                    to_state: e.to_state,
                    version: e.version,
                    payload: e.payload,
                    created_at: e.created_at,
                },
            ),
            Entry::Comment(c) => TimelineItem::comment(
                state,
                CommentParts {
                    id: c.id,
                    author_id: c.author_id,
                    body: c.body,
                    internal: c.internal,
                    created_at: c.created_at,
                },
            ),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub items: Vec<TimelineItem>,
    pub next_cursor: Option<String>,
}

/// The timeline, oldest first; internal notes only for staff.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/events", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Timeline), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/consultations/{id}/events")]
pub async fn timeline(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let entries = state
        .call(&user, move |_, conn, caller| {
            use_case::timeline(conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Timeline {
        items: entries
            .into_iter()
            .map(|e| TimelineItem::new(&state, e))
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: i64,
    pub consultation_id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: String,
}

impl CommentView {
    fn new(state: &AppState, added: Comment) -> CommentView {
        CommentView {
            id: added.id,
            consultation_id: added.consultation_id,
            author_id: added.author_id,
            body: added.body,
            internal: added.internal,
            created_at: state.format_time(added.created_at),
        }
    }
}

/// Comment publicly, or (staff) add an internal note.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/comments", tag = "consultations", request_body = CommentInput,
    security(("bearer" = [])),
    responses((status = 201, body = CommentView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/consultations/{id}/comments")]
pub async fn comment(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
    body: ApiJson<CommentInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let added = state
        .call(&user, move |app, conn, caller| {
            use_case::comment(app, conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Created().json(CommentView::new(&state, added)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SimilarParams {
    pub title: Option<String>,
    pub body: Option<String>,
}

/// A consultation like the one being written, with its resolution if it has one.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarItem {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub state: State,
    pub resolution: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarList {
    pub items: Vec<SimilarItem>,
    /// `false` when the search ran out of time before it could look anything up
    /// (the list is then empty); try again.
    pub complete: bool,
}

/// Up to five open or resolved consultations that look like a draft, so the
/// requester can read an existing answer instead of filing again.
#[utoipa::path(get, path = "/api/v1/consultations/similar", tag = "consultations", params(SimilarParams), security(("bearer" = [])),
    responses((status = 200, body = SimilarList), (status = 401, body = Problem)))]
#[get("/api/v1/consultations/similar")]
pub async fn similar(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SimilarParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let suggestions = state
        .call(&user, move |_, conn, caller| {
            listing::similar(
                conn,
                caller,
                params.title.as_deref().unwrap_or_default(),
                params.body.as_deref().unwrap_or_default(),
                None,
            )
        })
        .await?;
    let (found, complete) = match suggestions {
        listing::Suggestions::Found(found) => (found, true),
        listing::Suggestions::Unavailable => (vec![], false),
    };
    Ok(HttpResponse::Ok().json(SimilarList {
        complete,
        items: found
            .into_iter()
            .map(|c| SimilarItem {
                id: c.id,
                number: c.number,
                title: c.title,
                state: c.state,
                resolution: c.resolution,
            })
            .collect(),
    }))
}
