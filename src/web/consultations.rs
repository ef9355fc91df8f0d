//! The consultation endpoints: list, file, read, edit, transitions, timeline and
//! comments. Visibility is part of every query: what the caller may not see does
//! not exist for them (404).

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Kind, Problem};
use super::json::ApiJson;
use super::AppState;
use crate::db::comments;
use crate::db::consultations::{
    self, AssigneeFilter, Change, Consultation, Cursor, FileError, Filing, ListQuery, Sort,
};
use crate::db::{self, departments, events, search, users, DbConn};
use crate::desk::Fire;
use crate::domain::consultation::{ConsultationEditInput, NewConsultationInput, TEXT_MAX_CHARS};
use crate::domain::fiscal::fiscal_year;
use crate::domain::workflow::{allowed_events, role_may_fire, TransitionInput};
use crate::domain::{Category, Event, FieldErrors, Priority, Role, State};
use diesel::Connection;

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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationPage {
    pub items: Vec<ConsultationView>,
    pub next_cursor: Option<String>,
}

fn view_for(state: &AppState, user: &CurrentUser, c: Consultation) -> ConsultationView {
    let allowed = allowed_events(&state.desk.rules, &c.subject(), user.actor(), Utc::now());
    ConsultationView::new(state, c, Some(allowed))
}

/// `?limit=`: 1 to 200, default 50.
pub fn parse_limit(value: Option<&str>) -> Result<i64, AppError> {
    match value {
        None | Some("") => Ok(50),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| AppError::invalid_parameter("limit", v)),
    }
}

/// The list's query parameters, for the OpenAPI document (they are parsed by hand
/// because `state` may repeat).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[allow(dead_code)]
pub struct ListParams {
    /// Repeatable, or comma-separated: `received`, `hearing`, `assigned`, `waiting`,
    /// `resolved`, `closed`, `withdrawn`.
    state: Option<Vec<String>>,
    /// `me`, `none` or a user id.
    assignee: Option<String>,
    /// A department id or code; includes the units below it.
    department: Option<String>,
    category: Option<Category>,
    priority: Option<Priority>,
    /// Only consultations past their running due time.
    overdue: Option<bool>,
    /// Text to find (Japanese too) in the title, body, resolution and comments;
    /// staff also search internal notes.
    q: Option<String>,
    fiscal_year: Option<i32>,
    /// `created`, `-created` (default), `due`, `updated`, `relevance` (default with `q`).
    sort: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub(crate) enum DepartmentParam {
    Id(i64),
    Code(String),
}

pub(crate) struct ParsedList {
    pub states: Vec<State>,
    pub assignee: Option<String>,
    pub department: Option<DepartmentParam>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub overdue: bool,
    pub text: Option<String>,
    pub fiscal_year: Option<i32>,
    pub sort: Sort,
    pub limit: i64,
    pub after: Option<Cursor>,
    /// Whether `sort` was given (pages pick another default).
    pub sort_given: bool,
}

pub(crate) fn sort_name(sort: Sort) -> &'static str {
    match sort {
        Sort::Created => "created",
        Sort::CreatedDesc => "-created",
        Sort::Due => "due",
        Sort::Updated => "updated",
        Sort::Relevance => "relevance",
    }
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

pub(crate) fn encode_cursor(sort: Sort, cursor: &Cursor) -> String {
    let key = match cursor.key {
        Some(k) => k.format(CURSOR_TIME).to_string(),
        None if cursor.in_title => "title".into(),
        None => "-".into(),
    };
    URL_SAFE_NO_PAD.encode(format!("{}|{}|{}", sort_name(sort), key, cursor.id))
}

fn decode_cursor(sort: Sort, value: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('|');
    let (s, key, id) = (parts.next()?, parts.next()?, parts.next()?);
    if s != sort_name(sort) || parts.next().is_some() {
        return None;
    }
    let in_title = key == "title";
    let key = match key {
        "-" | "title" => None,
        k => Some(NaiveDateTime::parse_from_str(k, CURSOR_TIME).ok()?),
    };
    Some(Cursor {
        key,
        id: id.parse().ok()?,
        in_title,
    })
}

pub(crate) fn parse_list(query: &str) -> Result<ParsedList, AppError> {
    let mut parsed = ParsedList {
        states: vec![],
        assignee: None,
        department: None,
        category: None,
        priority: None,
        overdue: false,
        text: None,
        fiscal_year: None,
        sort: Sort::CreatedDesc,
        limit: 50,
        after: None,
        sort_given: false,
    };
    let mut cursor = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        // An empty value (a form's "any" option) means no filter.
        if value.is_empty() {
            continue;
        }
        let bad = || AppError::invalid_parameter(&name, &value);
        match name.as_ref() {
            "state" => {
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    parsed.states.push(State::parse(part).ok_or_else(bad)?);
                }
            }
            "assignee" => {
                if value != "me" && value != "none" && value.parse::<i64>().is_err() {
                    return Err(bad());
                }
                parsed.assignee = Some(value.clone());
            }
            "department" => {
                parsed.department = Some(match value.parse::<i64>() {
                    Ok(id) => DepartmentParam::Id(id),
                    Err(_) if !value.is_empty() => DepartmentParam::Code(value.clone()),
                    Err(_) => return Err(bad()),
                })
            }
            "category" => parsed.category = Some(Category::parse(&value).ok_or_else(bad)?),
            "priority" => parsed.priority = Some(Priority::parse(&value).ok_or_else(bad)?),
            "overdue" => {
                parsed.overdue = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad()),
                }
            }
            "q" => parsed.text = Some(value.clone()).filter(|v| !v.is_empty()),
            "fiscal_year" => {
                parsed.fiscal_year = Some(
                    value
                        .parse::<i32>()
                        .ok()
                        .filter(|y| (2000..=2200).contains(y))
                        .ok_or_else(bad)?,
                )
            }
            "sort" => {
                parsed.sort = Sort::parse(&value).ok_or_else(bad)?;
                parsed.sort_given = true;
            }
            "limit" => parsed.limit = parse_limit(Some(&value))?,
            "cursor" => cursor = Some(value.clone()).filter(|v| !v.is_empty()),
            // Unknown parameters are ignored, as clients may be newer than the server.
            _ => {}
        }
    }
    if parsed.text.is_some() && !parsed.sort_given {
        parsed.sort = Sort::Relevance;
    }
    if let Some(c) = cursor {
        parsed.after = Some(
            decode_cursor(parsed.sort, &c)
                .ok_or_else(|| AppError::invalid_parameter("cursor", &c))?,
        );
    }
    Ok(parsed)
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
    let params = parse_list(req.query_string())?;
    let sort = params.sort;
    let app = state.clone();
    let page = state
        .db(move |conn| {
            let query = build_query(conn, &user, params)?;
            let (rows, next) = consultations::list(conn, &query)?;
            Ok(ConsultationPage {
                items: rows
                    .into_iter()
                    .map(|c| ConsultationView::new(&app, c, None))
                    .collect(),
                next_cursor: next.map(|c| encode_cursor(sort, &c)),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The list query for the caller: their scope, and the filters resolved to ids.
pub(crate) fn build_query(
    conn: &mut DbConn,
    user: &CurrentUser,
    params: ParsedList,
) -> Result<ListQuery, AppError> {
    let scope = user.scope(conn)?;
    let departments = match &params.department {
        None => None,
        Some(DepartmentParam::Id(id)) => Some(departments::subtree_ids(conn, *id)?),
        Some(DepartmentParam::Code(code)) => match departments::find_by_code(conn, code)? {
            Some(d) => Some(departments::subtree_ids(conn, d.id)?),
            None => Some(vec![]),
        },
    };
    let assignee = match params.assignee.as_deref() {
        None => None,
        Some("me") => Some(AssigneeFilter::User(user.id)),
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(id) => Some(AssigneeFilter::User(id.parse().unwrap_or_default())),
    };
    Ok(ListQuery {
        scope,
        states: params.states,
        assignee,
        departments,
        category: params.category,
        priority: params.priority,
        overdue_at: params.overdue.then(db::now),
        text: params.text,
        include_staff_text: user.role.is_staff(),
        fiscal_year: params.fiscal_year,
        sort: params.sort,
        limit: params.limit,
        after: params.after,
    })
}

pub(crate) enum Filed {
    Created(Consultation),
    Replayed(Consultation),
}

/// Files for the caller, or replays the filing an idempotency key already made.
pub(crate) fn file_for(
    conn: &mut DbConn,
    app: &AppState,
    user: &CurrentUser,
    fields: &crate::domain::consultation::NewConsultationFields,
    key: Option<&str>,
    hash: &str,
) -> Result<Filed, AppError> {
    let replay = |conn: &mut DbConn, key: &str| -> Result<Option<Filed>, AppError> {
        match consultations::find_idempotency(conn, user.id, key)? {
            Some((_, stored)) if stored != hash => {
                Err(AppError::new(Kind::Conflict, "error.idempotency_mismatch"))
            }
            Some((id, _)) => Ok(consultations::find(conn, id)?.map(Filed::Replayed)),
            None => Ok(None),
        }
    };
    if let Some(key) = key {
        if let Some(found) = replay(conn, key)? {
            return Ok(found);
        }
    }
    let department_id = filing_department(conn, user, fields.department_id)?;
    let now = Utc::now();
    let local_date = now.with_timezone(&app.settings.timezone).date_naive();
    let filing = Filing {
        fields,
        department_id,
        requester_id: user.id,
        fiscal_year: fiscal_year(local_date),
        idempotency: key.map(|k| (k, hash)),
        now: db::now(),
        hearing_due_at: None,
    };
    match app.desk.file(conn, fields, filing, now) {
        Ok(c) => Ok(Filed::Created(c)),
        Err(FileError::KeyTaken) => replay(conn, key.unwrap_or_default())?
            .ok_or_else(|| AppError::internal("idempotency key vanished")),
        Err(FileError::Db(e)) => Err(e.into()),
    }
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
    if !role_may_fire(Event::File, user.actor()) {
        return Err(AppError::from_workflow(
            crate::domain::workflow::WorkflowError::Forbidden,
            Event::File,
        ));
    }
    let fields = body.value.parse()?;
    let (key, hash) = idempotency(&req, &body.canonical)?;
    let caller = user.clone();
    let app = state.clone();
    let filed = state
        .db(move |conn| file_for(conn, &app, &caller, &fields, key.as_deref(), &hash))
        .await?;
    let (consultation, replayed) = match filed {
        Filed::Created(c) => (c, false),
        Filed::Replayed(c) => (c, true),
    };
    let location = format!("/api/v1/consultations/{}", consultation.id);
    let view = view_for(&state, &user, consultation);
    let mut response = HttpResponse::Created();
    response.insert_header(("Location", location));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(view))
}

/// The `Idempotency-Key` header, if any, and the hash of the request's canonical body.
pub(crate) fn idempotency(
    req: &HttpRequest,
    canonical: &str,
) -> Result<(Option<String>, String), AppError> {
    let key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| AppError::invalid_parameter("Idempotency-Key", "…"))?
                .to_string(),
        ),
    };
    Ok((key, format!("{:x}", Sha256::digest(canonical.as_bytes()))))
}

/// The department a consultation is filed for: the requester's own division by
/// default; staff filing on behalf of a division must name it.
fn filing_department(
    conn: &mut DbConn,
    user: &CurrentUser,
    requested: Option<i64>,
) -> Result<i64, AppError> {
    match requested {
        Some(id) => {
            if departments::find(conn, id)?.is_none() {
                return Err(AppError::invalid_field(
                    "department_id",
                    "validation.unknown_department",
                ));
            }
            if !user.scope(conn)?.contains(id) {
                return Err(AppError::invalid_field(
                    "department_id",
                    "validation.department_out_of_scope",
                ));
            }
            Ok(id)
        }
        None if user.role == Role::Requester => {
            let department = departments::find(conn, user.department_id)?
                .ok_or_else(|| AppError::internal("user without department"))?;
            Ok(departments::division_of(conn, &department)?)
        }
        None => Err(AppError::invalid_field(
            "department_id",
            "validation.required",
        )),
    }
}

/// A consultation the caller may see, or 404.
fn visible(conn: &mut DbConn, user: &CurrentUser, id: i64) -> Result<Consultation, AppError> {
    let scope = user.scope(conn)?;
    consultations::find_visible(conn, id, &scope)?.ok_or_else(AppError::not_found)
}

/// One consultation with what the caller may do now.
#[utoipa::path(get, path = "/api/v1/consultations/{id}", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = ConsultationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/consultations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let caller = user.clone();
    let consultation = state.db(move |conn| visible(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(view_for(&state, &user, consultation)))
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
    id: web::Path<i64>,
    body: ApiJson<ConsultationEditInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (version, edit) = body.value.parse()?;
    let caller = user.clone();
    let consultation = state
        .db(move |conn| {
            let current = visible(conn, &caller, id)?;
            let may_edit = matches!(caller.role, Role::DxOffice | Role::Admin)
                || current.assignee_id == Some(caller.id);
            if !may_edit {
                return Err(AppError::forbidden());
            }
            if current.version != version {
                return Err(AppError::stale_version(current.version));
            }
            if current.state.is_terminal() {
                return Err(AppError::new(Kind::Unprocessable, "error.terminal")
                    .arg("state", current.state.as_str()));
            }
            let (changes, payload) = consultations::edit_changes(&current, &edit);
            if payload["changes"].as_object().is_some_and(|m| m.is_empty()) {
                return Ok(current);
            }
            let to_state = current.state;
            conn.transaction(|conn| {
                let updated = consultations::apply(
                    conn,
                    Change {
                        consultation: &current,
                        expected_version: version,
                        event: "update",
                        actor_id: Some(caller.id),
                        to_state,
                        changes,
                        payload,
                        now: db::now(),
                    },
                )?
                .ok_or_else(|| AppError::stale_version(version + 1))?;
                search::index(conn, updated.id)?;
                Ok(updated)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view_for(&state, &user, consultation)))
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
    id: web::Path<i64>,
    body: ApiJson<TransitionInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let request = body.value;
    let mut errors = FieldErrors::new();
    let event = match request.event.as_deref().map(str::trim) {
        None | Some("") => {
            errors.add("event", "validation.required");
            None
        }
        Some(e) => {
            let event = Event::parse(e);
            if event.is_none() {
                errors.add("event", "validation.choice");
            }
            event
        }
    };
    if request.version.is_none() {
        errors.add("version", "validation.required");
    }
    errors.into_result()?;
    let (event, version) = match (event, request.version) {
        (Some(e), Some(v)) => (e, v),
        _ => return Err(AppError::invalid(FieldErrors::new())),
    };
    let caller = user.clone();
    let app = state.clone();
    let consultation = state
        .db(move |conn| {
            let scope = caller.scope(conn)?;
            app.desk.fire(
                conn,
                &Fire {
                    scope: &scope,
                    actor: caller.actor(),
                    id,
                    version,
                    event,
                    input: &request,
                    now: Utc::now(),
                },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(view_for(&state, &user, consultation)))
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
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let app = state.clone();
    let items = state
        .db(move |conn| {
            visible(conn, &user, id)?;
            let mut items: Vec<(NaiveDateTime, TimelineItem)> = events::for_consultation(conn, id)?
                .into_iter()
                .map(|e| {
                    (
                        e.created_at,
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
                            created_at: app.format_time(e.created_at),
                        },
                    )
                })
                .collect();
            for c in comments::for_consultation(conn, id, user.role.is_staff())? {
                items.push((
                    c.created_at,
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
                        created_at: app.format_time(c.created_at),
                    },
                ));
            }
            // Stable: events before comments made in the same instant.
            items.sort_by_key(|(at, _)| *at);
            Ok(items.into_iter().map(|(_, item)| item).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Timeline {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentInput {
    pub body: Option<String>,
    /// An internal note (DX office and helpdesk only).
    pub internal: Option<bool>,
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

/// Comment publicly, or (staff) add an internal note.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/comments", tag = "consultations", request_body = CommentInput,
    security(("bearer" = [])),
    responses((status = 201, body = CommentView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/consultations/{id}/comments")]
pub async fn comment(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<CommentInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let internal = input.internal.unwrap_or(false);
    let mut errors = FieldErrors::new();
    let text = errors.required_text("body", input.body.as_deref(), TEXT_MAX_CHARS);
    let app = state.clone();
    let comment = state
        .db(move |conn| {
            let consultation = visible(conn, &user, id)?;
            crate::desk::Desk::may_comment(user.role, internal)?;
            errors.into_result()?;
            let text = text.unwrap_or_default();
            let author = users::find(conn, user.id)?.ok_or_else(AppError::not_found)?;
            Ok(app
                .desk
                .comment(conn, &consultation, &author, &text, internal, db::now())?)
        })
        .await?;
    Ok(HttpResponse::Created().json(CommentView {
        id: comment.id,
        consultation_id: comment.consultation_id,
        author_id: comment.author_id,
        body: comment.body,
        internal: comment.internal,
        created_at: state.format_time(comment.created_at),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_sort() {
        let cursor = Cursor {
            key: NaiveDateTime::parse_from_str("2025-04-01T00:00:00.123456", CURSOR_TIME).ok(),
            id: 42,
            in_title: false,
        };
        let encoded = encode_cursor(Sort::Due, &cursor);
        assert_eq!(decode_cursor(Sort::Due, &encoded), Some(cursor));
        assert_eq!(decode_cursor(Sort::Created, &encoded), None);
        assert_eq!(decode_cursor(Sort::Due, "garbage"), None);
        let empty = Cursor {
            key: None,
            id: 7,
            in_title: false,
        };
        assert_eq!(
            decode_cursor(Sort::Due, &encode_cursor(Sort::Due, &empty)),
            Some(empty)
        );
        let among_titles = Cursor {
            key: None,
            id: 9,
            in_title: true,
        };
        assert_eq!(
            decode_cursor(
                Sort::Relevance,
                &encode_cursor(Sort::Relevance, &among_titles)
            ),
            Some(among_titles)
        );
    }

    #[test]
    fn list_parameters_accept_repeats_and_commas_and_refuse_garbage() {
        let parsed =
            parse_list("state=received&state=hearing,assigned&sort=due&limit=10").expect("valid");
        assert_eq!(
            parsed.states,
            vec![State::Received, State::Hearing, State::Assigned]
        );
        assert_eq!(parsed.sort, Sort::Due);
        assert_eq!(parsed.limit, 10);
        for bad in [
            "state=open",
            "limit=0",
            "limit=201",
            "sort=size",
            "overdue=maybe",
            "assignee=x",
            "cursor=zz",
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }
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
    let text = format!(
        "{}\n{}",
        params.title.as_deref().unwrap_or_default(),
        params.body.as_deref().unwrap_or_default()
    );
    let items = state
        .db(move |conn| similar_to(conn, &user, &text, None))
        .await?;
    Ok(HttpResponse::Ok().json(SimilarList { items }))
}

/// The similar consultations the caller may see.
pub(crate) fn similar_to(
    conn: &mut DbConn,
    user: &CurrentUser,
    text: &str,
    exclude: Option<i64>,
) -> Result<Vec<SimilarItem>, AppError> {
    let scope = user.scope(conn)?;
    let ids = search::similar(conn, text, &scope, exclude, 5)?;
    let mut items = vec![];
    for id in ids {
        if let Some(c) = consultations::find_visible(conn, id, &scope)? {
            items.push(SimilarItem {
                id: c.id,
                number: c.number,
                title: c.title,
                state: c.state,
                resolution: c.resolution,
            });
        }
    }
    Ok(items)
}
