//! The helpdesk inquiry endpoints: list, ask, read, transitions, timeline and
//! comments. Each parses, calls one `app::inquiries` use case and renders JSON.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::consultations::{idempotency, CommentParts, EventParts, TimelineItem};
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::params::parse_limit;
use super::AppState;
use crate::app::inquiries::{
    self as use_case, InquiryAssignee, InquiryEntry, InquiryFilter, InquiryView as QueueView,
    ShownInquiry,
};
use crate::db::inquiries::{Inquiry, InquiryComment};
use crate::domain::consultation::CommentInput;
use crate::domain::inquiry::{
    Channel, InquiryEvent, InquiryState, InquiryTransitionInput, NewInquiryInput, Topic,
};
use crate::domain::Priority;

/// An inquiry as the API shows it. Times are RFC 3339 in the display zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryView {
    pub id: i64,
    /// `HD-2025-00123`
    pub number: String,
    pub fiscal_year: i32,
    pub subject: String,
    pub question: String,
    pub topic: Topic,
    pub channel: Channel,
    pub priority: Priority,
    pub state: InquiryState,
    /// Send it back with every change; a stale one gets 409.
    pub version: i32,
    pub department_id: i64,
    /// The person who asked, who gets every answer.
    pub asker_id: i64,
    /// Who recorded it (the asker, or the SE who took the call).
    pub filed_by: i64,
    pub assignee_id: Option<i64>,
    pub answer: Option<String>,
    pub helped: Option<bool>,
    /// The consultation it was escalated into.
    pub consultation_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    /// When the first answer is due (SLA).
    pub first_answer_due_at: Option<String>,
    pub first_answered_at: Option<String>,
    pub answered_at: Option<String>,
    pub closed_at: Option<String>,
    /// What the caller may do now (single resource only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_events: Option<Vec<InquiryEvent>>,
}

impl InquiryView {
    pub fn new(state: &AppState, i: Inquiry, allowed: Option<Vec<InquiryEvent>>) -> Self {
        let time = |t: Option<NaiveDateTime>| t.map(|t| state.format_time(t));
        InquiryView {
            id: i.id,
            number: i.number,
            fiscal_year: i.fiscal_year,
            subject: i.subject,
            question: i.question,
            topic: i.topic,
            channel: i.channel,
            priority: i.priority,
            state: i.state,
            version: i.version,
            department_id: i.department_id,
            asker_id: i.asker_id,
            filed_by: i.filed_by,
            assignee_id: i.assignee_id,
            answer: i.answer,
            helped: i.helped,
            consultation_id: i.consultation_id,
            created_at: state.format_time(i.created_at),
            updated_at: state.format_time(i.updated_at),
            first_answer_due_at: time(i.first_answer_due_at),
            first_answered_at: time(i.first_answered_at),
            answered_at: time(i.answered_at),
            closed_at: time(i.closed_at),
            allowed_events: allowed,
        }
    }

    fn shown(state: &AppState, shown: ShownInquiry) -> Self {
        InquiryView::new(state, shown.inquiry, Some(shown.allowed_events))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryPageView {
    pub items: Vec<InquiryView>,
    pub next_cursor: Option<String>,
}

/// The inquiry list's query parameters (parsed by [`parse_inquiry_list`], as
/// `state` may repeat).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct InquiryListParams {
    /// Repeatable, or comma-separated: `open`, `waiting`, `answered`, `closed`, `escalated`.
    state: Option<Vec<String>>,
    /// `me`, `none` or a user id.
    assignee: Option<String>,
    topic: Option<Topic>,
    channel: Option<Channel>,
    /// Only inquiries past their first-answer due time and still unanswered.
    overdue: Option<bool>,
    /// Words the subject or question contains (looked for among the newest 10,000).
    q: Option<String>,
    fiscal_year: Option<i32>,
    /// Staff queue views: `unassigned`, `mine`, `waiting`, `overdue`, `all`.
    view: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

fn encode_cursor((at, id): (NaiveDateTime, i64)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.format(CURSOR_TIME)))
}

fn decode_cursor(value: &str) -> Option<(NaiveDateTime, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
    let (at, id) = text.split_once('|')?;
    Some((
        NaiveDateTime::parse_from_str(at, CURSOR_TIME).ok()?,
        id.parse().ok()?,
    ))
}

/// The inquiry list's filters from a query string; unreadable values are a 400.
pub fn parse_inquiry_list(query: &str) -> Result<InquiryFilter, AppError> {
    let mut filter = InquiryFilter {
        limit: 50,
        ..Default::default()
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        let bad = || AppError::invalid_parameter(&name, &value);
        match name.as_ref() {
            "state" => {
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    filter
                        .states
                        .push(InquiryState::parse(part).ok_or_else(bad)?);
                }
            }
            "assignee" => {
                filter.assignee = Some(match value.as_str() {
                    "me" => InquiryAssignee::Me,
                    "none" => InquiryAssignee::Nobody,
                    id => InquiryAssignee::User(id.parse().map_err(|_| bad())?),
                })
            }
            "topic" => filter.topic = Some(Topic::parse(&value).ok_or_else(bad)?),
            "channel" => filter.channel = Some(Channel::parse(&value).ok_or_else(bad)?),
            "overdue" => {
                filter.overdue = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad()),
                }
            }
            "q" => filter.text = Some(value.clone()),
            "fiscal_year" => {
                filter.fiscal_year = Some(
                    value
                        .parse::<i32>()
                        .ok()
                        .filter(|y| (2000..=2200).contains(y))
                        .ok_or_else(bad)?,
                )
            }
            "view" => filter.view = Some(QueueView::parse(&value).ok_or_else(bad)?),
            "limit" => filter.limit = parse_limit(Some(&value))?,
            "cursor" => filter.after = Some(decode_cursor(&value).ok_or_else(bad)?),
            _ => {}
        }
    }
    Ok(filter)
}

/// Inquiries the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/inquiries", tag = "inquiries", params(InquiryListParams), security(("bearer" = [])),
    responses((status = 200, body = InquiryPageView), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/inquiries")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let filter = parse_inquiry_list(req.query_string())?;
    let page = state
        .call(&user, move |_, conn, caller| {
            use_case::list(conn, caller, filter)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InquiryPageView {
        next_cursor: page.next.map(encode_cursor),
        items: page
            .items
            .into_iter()
            .map(|i| InquiryView::new(&state, i, None))
            .collect(),
    }))
}

/// Ask the helpdesk, or (helpdesk, DX office, admin) record a question asked by
/// phone, visit, mail, chat or at a training; with `answer` it is answered at once.
#[utoipa::path(post, path = "/api/v1/inquiries", tag = "inquiries", request_body = NewInquiryInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = InquiryView, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the key was used with a different body"),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/inquiries")]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    body: ApiJson<NewInquiryInput>,
) -> Result<HttpResponse, AppError> {
    let key = idempotency(&req, &body.canonical)?;
    let input = body.value;
    let asked = state
        .call(&user, move |app, conn, caller| {
            use_case::ask(app, conn, caller, &input, key.as_ref())
        })
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        "Location",
        format!("/api/v1/inquiries/{}", asked.shown.inquiry.id),
    ));
    if asked.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(InquiryView::shown(&state, asked.shown)))
}

/// One inquiry with what the caller may do now.
#[utoipa::path(get, path = "/api/v1/inquiries/{id}", tag = "inquiries", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the inquiry")),
    responses((status = 200, body = InquiryView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/inquiries/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let shown = state
        .call(&user, move |app, conn, caller| {
            use_case::get(app, conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InquiryView::shown(&state, shown)))
}

/// Fire an event of the inquiry table (`escalate` files the consultation it becomes).
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/transitions", tag = "inquiries", request_body = InquiryTransitionInput,
    params(("id" = i64, Path, description = "the inquiry")),
    security(("bearer" = [])),
    responses((status = 200, body = InquiryView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the caller may not fire the event"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "stale version"),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "the state does not allow the event, or a field is missing")))]
#[post("/api/v1/inquiries/{id}/transitions")]
pub async fn transition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<InquiryTransitionInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let shown = state
        .call(&user, move |app, conn, caller| {
            use_case::fire(app, conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InquiryView::shown(&state, shown)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryTimeline {
    pub items: Vec<TimelineItem>,
    pub next_cursor: Option<String>,
}

fn timeline_item(state: &AppState, entry: InquiryEntry) -> TimelineItem {
    match entry {
        InquiryEntry::Event(e) => TimelineItem::event(
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
        InquiryEntry::Comment(c) => TimelineItem::comment(
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

/// The timeline, oldest first; internal notes only for staff.
#[utoipa::path(get, path = "/api/v1/inquiries/{id}/events", tag = "inquiries", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the inquiry")),
    responses((status = 200, body = InquiryTimeline), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/inquiries/{id}/events")]
pub async fn timeline(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let entries = state
        .call(&user, move |_, conn, caller| {
            use_case::timeline(conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InquiryTimeline {
        items: entries
            .into_iter()
            .map(|e| timeline_item(&state, e))
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryCommentView {
    pub id: i64,
    pub inquiry_id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: String,
}

impl InquiryCommentView {
    fn new(state: &AppState, c: InquiryComment) -> Self {
        InquiryCommentView {
            id: c.id,
            inquiry_id: c.inquiry_id,
            author_id: c.author_id,
            body: c.body,
            internal: c.internal,
            created_at: state.format_time(c.created_at),
        }
    }
}

/// Comment publicly, or (staff) add an internal note.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/comments", tag = "inquiries", request_body = CommentInput,
    params(("id" = i64, Path, description = "the inquiry")),
    security(("bearer" = [])),
    responses((status = 201, body = InquiryCommentView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/inquiries/{id}/comments")]
pub async fn comment(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<CommentInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let added = state
        .call(&user, move |app, conn, caller| {
            use_case::comment(app, conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Created().json(InquiryCommentView::new(&state, added)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AskerParams {
    /// Part of a name or e-mail address.
    pub q: Option<String>,
}

/// Someone a question may be recorded for.
#[derive(Debug, Serialize, ToSchema)]
pub struct AskerView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub department_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AskerList {
    pub items: Vec<AskerView>,
}

/// Up to ten people whose name or e-mail contains `q`: the quick record's asker
/// lookup (helpdesk, DX office, admin).
#[utoipa::path(get, path = "/api/v1/inquiries/askers", tag = "inquiries", params(AskerParams), security(("bearer" = [])),
    responses((status = 200, body = AskerList), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
#[get("/api/v1/inquiries/askers")]
pub async fn askers(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<AskerParams>,
) -> Result<HttpResponse, AppError> {
    let text = params.into_inner().q.unwrap_or_default();
    let found = state
        .call(&user, move |_, conn, caller| {
            use_case::find_askers(conn, caller, &text)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AskerList {
        items: found
            .into_iter()
            .map(|p| AskerView {
                id: p.id,
                name: p.name,
                email: p.email,
                department_id: p.department_id,
            })
            .collect(),
    }))
}
