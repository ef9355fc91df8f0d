//! The consultation pages: the list (and, for staff, the queue), filing, and the
//! consultation page. Its action forms come from `allowed_events` and the workflow
//! table's required fields, never from per-page lists.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeZone, Utc};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{base, check_csrf, page_locale, redirect, render, render_status};
use crate::db::consultations::{self, Scope, Sort};
use crate::db::{self, comments, departments, events, users};
use crate::desk::Fire;
use crate::domain::consultation::NewConsultationInput;
use crate::domain::search::{snippet, Query};
use crate::domain::workflow::{allowed_events, transition, Field, TransitionInput};
use crate::domain::{Category, Event, Priority, Role, State};
use crate::i18n::{format_datetime, t, Locale};
use crate::web::auth::CurrentUser;
use crate::web::consultations::{
    build_query, encode_cursor, file_for, parse_list, similar_to, Filed,
};
use crate::web::error::{AppError, Kind};
use crate::web::AppState;

type Form = web::Form<HashMap<String, String>>;

fn label(locale: Locale, prefix: &str, value: &str) -> String {
    t(locale, &format!("{prefix}.{value}"), &[])
}

pub(crate) fn options(
    values: &[&str],
    prefix: &str,
    selected: Option<&str>,
    locale: Locale,
) -> Vec<Value> {
    values
        .iter()
        .map(|v| json!({"value": v, "label": label(locale, prefix, v), "selected": Some(*v) == selected}))
        .collect()
}

pub(crate) fn time(state: &AppState, locale: Locale, at: Option<NaiveDateTime>) -> Option<String> {
    at.map(|at| format_datetime(locale, &state.settings.timezone.from_utc_datetime(&at)))
}

/// The views of the staff queue.
const VIEWS: &[&str] = &["unassigned", "mine", "waiting", "overdue", "all"];

#[get("/consultations")]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let mut params = parse_list(req.query_string())?;
    let query_pairs: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        query_pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let staff = user.role.is_staff();
    let view = match get("view") {
        Some(v) if staff && VIEWS.contains(&v.as_str()) => Some(v),
        Some(v) if staff => return Err(AppError::invalid_parameter("view", &v)),
        _ if staff => Some("all".to_string()),
        _ => None,
    };
    let mut default_states = vec![];
    match view.as_deref() {
        Some("unassigned") => {
            params.assignee = Some("none".into());
            default_states = vec![State::Received, State::Hearing];
        }
        Some("mine") => {
            params.assignee = Some("me".into());
            default_states = vec![
                State::Hearing,
                State::Assigned,
                State::Waiting,
                State::Resolved,
            ];
        }
        Some("waiting") => default_states = vec![State::Waiting],
        Some("overdue") => params.overdue = true,
        _ => {}
    }
    if params.states.is_empty() {
        params.states = default_states;
    }
    if !params.sort_given && view.as_deref().is_some_and(|v| v != "all") {
        params.sort = Sort::Due;
    }
    let sort = params.sort;
    let selected_state = get("state");
    let selected_department = get("department");
    let selected_category = get("category");
    let selected_priority = get("priority");
    let q = get("q");
    let search = q.as_deref().and_then(Query::parse);
    let app = state.clone();
    let caller = user.clone();
    let (rows, next, names) = state
        .db(move |conn| {
            let query = build_query(conn, &caller, params)?;
            let (rows, next) = consultations::list(conn, &query)?;
            let names = users::names(conn, rows.iter().filter_map(|c| c.assignee_id))?;
            Ok((rows, next, names))
        })
        .await?;
    let departments = state.departments().await?;
    let now = db::now();
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id,
                "number": c.number,
                "title": c.title,
                "state": c.state,
                "state_label": label(locale, "state", c.state.as_str()),
                "department": departments.name(c.department_id).unwrap_or_default(),
                "assignee": c.assignee_id.and_then(|id| names.get(&id).cloned()).unwrap_or_default(),
                "priority": c.priority,
                "priority_label": label(locale, "priority", c.priority.as_str()),
                "due": time(&app, locale, c.due_at),
                "overdue": c.due_at.is_some_and(|d| d < now),
                "snippet": search.as_ref().and_then(|query| {
                    snippet(&c.body, query, 24)
                        .or_else(|| c.resolution.as_deref().and_then(|r| snippet(r, query, 24)))
                        .map(|(before, hit, after)| json!({"before": before, "hit": hit, "after": after}))
                }),
            })
        })
        .collect();
    let mut data = base(&req, Some(&user), locale, "nav.consultations");
    let heading_key = match view.as_deref() {
        Some(v) => format!("queue.heading.{v}"),
        None => "queue.heading.division".to_string(),
    };
    data["heading"] = json!(t(locale, &heading_key, &[]));
    data["title"] = data["heading"].clone();
    data["view"] = json!(view);
    data["q"] = json!(q);
    data["tabs"] = if staff {
        json!(VIEWS
            .iter()
            .map(|v| json!({"view": v, "href": format!("/consultations?view={v}"), "label": label(locale, "queue.tab", v), "current": view.as_deref() == Some(*v)}))
            .collect::<Vec<_>>())
    } else {
        Value::Null
    };
    let state_values: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
    data["states"] = json!(options(
        &state_values,
        "state",
        selected_state.as_deref(),
        locale
    ));
    let category_values: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    data["categories"] = json!(options(
        &category_values,
        "category",
        selected_category.as_deref(),
        locale
    ));
    let priority_values: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    data["priorities"] = json!(options(
        &priority_values,
        "priority",
        selected_priority.as_deref(),
        locale
    ));
    data["sorts"] = json!(options(
        &["-created", "created", "due", "updated"],
        "sort",
        Some(crate::web::consultations::sort_name(sort)),
        locale
    ));
    // Rendered apart and kept: ~2,000 options would otherwise be copied and walked
    // by handlebars on every request.
    data["department_options"] = json!(departments
        .options_html(&state.pages, selected_department.as_deref())
        .map_err(AppError::internal)?);
    data["rows"] = json!(rows);
    data["next_page"] = json!(next.map(|cursor| {
        let mut pairs: Vec<(String, String)> = query_pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        pairs.push(("cursor".into(), encode_cursor(sort, &cursor)));
        if !pairs.iter().any(|(k, _)| k == "sort") {
            pairs.push((
                "sort".into(),
                crate::web::consultations::sort_name(sort).into(),
            ));
        }
        format!(
            "/consultations?{}",
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        )
    }));
    render(&state, &req, "consultations", data)
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn new_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    draft: &HashMap<String, String>,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    if !matches!(user.role, Role::Requester | Role::DxOffice | Role::Admin) {
        return Err(AppError::forbidden());
    }
    let locale = page_locale(req, Some(user));
    let departments = if user.role == Role::Requester {
        vec![]
    } else {
        state.db(|conn| Ok(departments::list(conn)?)).await?
    };
    let mut data = base(req, Some(user), locale, "page.title.new");
    data["flash"] = flash;
    data["draft"] = json!({
        "title": draft.get("title"), "current_work": draft.get("current_work"), "wish": draft.get("wish"),
        "desired_by": draft.get("desired_by"), "contact": draft.get("contact"),
    });
    data["idempotency_key"] = json!(draft
        .get("idempotency_key")
        .cloned()
        .unwrap_or_else(new_token));
    let category_values: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    data["categories"] = json!(options(
        &category_values,
        "category",
        draft.get("category").map(String::as_str),
        locale
    ));
    let priority_values: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    data["priorities"] = json!(options(
        &priority_values,
        "priority",
        Some(
            draft
                .get("priority")
                .map(String::as_str)
                .unwrap_or("normal")
        ),
        locale
    ));
    let chosen = draft.get("department_id").cloned();
    data["departments"] = json!(departments
        .iter()
        .filter(|d| d.active && d.kind != "bureau" && !d.is_dx_office)
        .map(|d| json!({"value": d.id, "label": d.name, "selected": chosen.as_deref() == Some(d.id.to_string().as_str())}))
        .collect::<Vec<_>>());
    render_status(state, req, "new_consultation", data, status)
}

#[get("/consultations/new")]
pub async fn new_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    new_page(
        &state,
        &req,
        &user,
        &HashMap::new(),
        Value::Null,
        StatusCode::OK,
    )
    .await
}

/// A flash message for an error, with its field messages.
fn error_flash(error: &AppError, locale: Locale) -> Value {
    labelled_error_flash(error, locale, "field")
}

/// A flash message for an error, naming each field by its label under `prefix`.
pub(crate) fn labelled_error_flash(error: &AppError, locale: Locale, prefix: &str) -> Value {
    let problem = error.problem(locale);
    let kind = match error.kind {
        Kind::Conflict => "stale",
        Kind::Forbidden => "forbidden",
        Kind::Unprocessable if error.extra.contains_key("allowed_events") => "illegal",
        _ => "invalid",
    };
    let fields: Vec<String> = problem
        .errors
        .unwrap_or_default()
        .into_iter()
        .map(|(field, messages)| {
            format!(
                "{}: {}",
                t(locale, &format!("{prefix}.{field}"), &[]),
                messages.join(", ")
            )
        })
        .collect();
    json!({"kind": "error", "error": kind, "message": problem.detail, "fields": fields})
}

#[post("/consultations")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let body = match (field("current_work"), field("wish")) {
        (None, None) => None,
        (today, wish) => Some(format!(
            "{}\n{}\n\n{}\n{}",
            t(locale, "new.body_today", &[]),
            today.unwrap_or_default(),
            t(locale, "new.body_wish", &[]),
            wish.unwrap_or_default()
        )),
    };
    let input = NewConsultationInput {
        title: field("title"),
        body,
        category: field("category"),
        priority: field("priority"),
        department_id: field("department_id").and_then(|d| d.parse().ok()),
        desired_by: field("desired_by"),
        contact: field("contact"),
    };
    let draft = form.into_inner();
    let fields = match input.parse() {
        Ok(fields) => fields,
        Err(errors) => {
            let flash = error_flash(&AppError::invalid(errors), locale);
            return new_page(
                &state,
                &req,
                &user,
                &draft,
                flash,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let key = draft
        .get("idempotency_key")
        .cloned()
        .filter(|k| !k.is_empty() && k.len() <= 200);
    let hash = format!("{:x}", Sha256::digest(format!("{fields:?}").as_bytes()));
    let app = state.clone();
    let caller = user.clone();
    let result = state
        .db(move |conn| file_for(conn, &app, &caller, &fields, key.as_deref(), &hash))
        .await;
    match result {
        Ok(Filed::Created(c) | Filed::Replayed(c)) => {
            Ok(redirect(&format!("/consultations/{}", c.id)))
        }
        Err(e) if matches!(e.kind, Kind::Unprocessable | Kind::Conflict) => {
            let flash = error_flash(&e, locale);
            new_page(
                &state,
                &req,
                &user,
                &draft,
                flash,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// What the user typed into a form that failed, to show it again.
#[derive(Default)]
struct Drafts {
    event: Option<String>,
    fields: HashMap<String, String>,
    comment: Option<String>,
    internal_note: Option<String>,
}

/// Input kinds of the action fields.
fn field_kind(name: &str) -> &'static str {
    match name {
        "hearing_at" => "datetime",
        "hearing_place" => "text",
        "assignee_id" | "rating" => "select",
        "duplicate_of" | "system_id" => "number",
        _ => "textarea",
    }
}

/// The fields of an event's form: the table's required ones, then its optional ones.
fn action_fields(event: Event, state: State, user: &CurrentUser) -> Vec<(&'static str, bool)> {
    let row = transition(event);
    let mut fields: Vec<(&'static str, bool)> = row
        .requires
        .iter()
        .chain(
            row.requires_when_from
                .iter()
                .filter(|(s, _)| *s == state)
                .map(|(_, f)| f),
        )
        .map(|f| (f.as_str(), true))
        .collect();
    let optional: &[Field] = match event {
        Event::Assign => &[Field::Reason],
        _ => &[],
    };
    for f in optional {
        if !fields.iter().any(|(name, _)| *name == f.as_str()) {
            fields.push((f.as_str(), false));
        }
    }
    match event {
        Event::Close => fields.push(("rating", false)),
        Event::Resolve => fields.push(("system_id", false)),
        Event::Withdraw if user.role != Role::Requester => fields.push(("duplicate_of", false)),
        _ => {}
    }
    fields
}

async fn detail_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    id: i64,
    flash: Value,
    drafts: Drafts,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let caller = user.clone();
    let (c, timeline, notes, names, department, similar) = state
        .db(move |conn| {
            let scope = caller.scope(conn)?;
            let c =
                consultations::find_visible(conn, id, &scope)?.ok_or_else(AppError::not_found)?;
            let timeline = events::for_consultation(conn, id)?;
            let notes = comments::for_consultation(conn, id, caller.role.is_staff())?;
            let ids = timeline
                .iter()
                .filter_map(|e| e.actor_id)
                .chain(notes.iter().map(|n| n.author_id))
                .chain([c.requester_id])
                .chain(c.assignee_id);
            let names = users::names(conn, ids)?;
            let department = departments::find(conn, c.department_id)?
                .map(|d| d.name)
                .unwrap_or_default();
            // Staff triaging a new consultation see what it may duplicate.
            let similar =
                if caller.role.is_staff() && matches!(c.state, State::Received | State::Hearing) {
                    similar_to(
                        conn,
                        &caller,
                        &format!("{}\n{}", c.title, c.body),
                        Some(c.id),
                    )?
                } else {
                    vec![]
                };
            Ok((c, timeline, notes, names, department, similar))
        })
        .await?;
    let now = Utc::now();
    let current_state = c.state;
    let allowed = allowed_events(&state.desk.rules, &c.subject(), user.actor(), now);
    // The SEs are listed only where an action asks for an assignee.
    let helpdesk = if allowed.iter().any(|event| {
        action_fields(*event, current_state, user)
            .iter()
            .any(|(name, _)| *name == "assignee_id")
    }) {
        state
            .db(|conn| Ok(users::with_role(conn, Role::Helpdesk, None)?))
            .await?
    } else {
        vec![]
    };
    let name_of = |id: Option<i64>| match id {
        Some(id) => names.get(&id).cloned().unwrap_or_default(),
        None => t(locale, "timeline.system", &[]),
    };
    let helpdesk_options = |selected: Option<&String>| -> Vec<Value> {
        helpdesk
            .iter()
            .filter(|u| user.role != Role::Helpdesk || u.id == user.id || c.assignee_id == Some(user.id))
            .map(|u| json!({"value": u.id, "label": u.name, "selected": selected.map(String::as_str) == Some(u.id.to_string().as_str())}))
            .collect()
    };
    let actions: Vec<Value> = allowed
        .iter()
        .map(|event| {
            let draft_here = drafts.event.as_deref() == Some(event.as_str());
            let fields: Vec<Value> = action_fields(*event, current_state, user)
                .into_iter()
                .map(|(name, required)| {
                    let value = if draft_here { drafts.fields.get(name).cloned() } else { None };
                    let options = match name {
                        "assignee_id" => helpdesk_options(value.as_ref()),
                        "rating" => std::iter::once(json!({"value": "", "label": t(locale, "detail.no_rating", &[]), "selected": false}))
                            .chain((1..=5).rev().map(|r| json!({"value": r, "label": format!("{r} / 5"), "selected": value.as_deref() == Some(r.to_string().as_str())})))
                            .collect(),
                        _ => vec![],
                    };
                    let label_key = if name == "assignee_id" { "field.assignee".to_string() } else { format!("field.{name}") };
                    json!({
                        "id": format!("{}-{}", event.as_str(), name),
                        "name": name,
                        "label": t(locale, &label_key, &[]),
                        "kind": field_kind(name),
                        "required": required,
                        "value": value,
                        "options": options,
                    })
                })
                .collect();
            json!({
                "event": event.as_str(),
                "label": label(locale, "event", event.as_str()),
                "submit": label(locale, "event", event.as_str()),
                "fields": fields,
                "open": draft_here,
            })
        })
        .collect();
    let take_it = (user.role == Role::Helpdesk
        && allowed.contains(&Event::Assign)
        && c.assignee_id != Some(user.id))
    .then(|| {
        let reason = if current_state == State::Received {
            t(locale, "detail.take_it_reason", &[])
        } else {
            String::new()
        };
        json!({"assignee_id": user.id, "reason": reason})
    });
    let mut items: Vec<(NaiveDateTime, Value)> = timeline
        .iter()
        .map(|e| {
            let payload: Value = serde_json::from_str(&e.payload).unwrap_or_default();
            let mut details = vec![];
            let mut detail = |key: &str, value: Option<String>| {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    details.push(json!({"label": t(locale, key, &[]), "value": v}));
                }
            };
            let text = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
            detail("field.hearing_at", text("hearing_at").and_then(|h| chrono::DateTime::parse_from_rfc3339(&h).ok()).map(|h| format_datetime(locale, &h.with_timezone(&state.settings.timezone))));
            detail("field.hearing_place", text("hearing_place"));
            detail("field.assignee", payload.get("assignee_id").and_then(Value::as_i64).map(|id| name_of(Some(id))));
            for key in ["reason", "message", "resolution"] {
                detail(&format!("field.{key}"), text(key));
            }
            detail("field.rating", payload.get("rating").and_then(Value::as_i64).map(|r| format!("{r} / 5")));
            detail("field.duplicate_of", payload.get("duplicate_of").and_then(Value::as_i64).map(|d| d.to_string()));
            detail("field.system_id", payload.get("system_id").and_then(Value::as_i64).map(|d| d.to_string()));
            (
                e.created_at,
                json!({
                    "kind": "event", "event": e.event, "label": label(locale, "timeline", &e.event),
                    "actor": name_of(e.actor_id), "at": time(state, locale, Some(e.created_at)),
                    "at_iso": state.format_time(e.created_at), "details": details, "body": Value::Null,
                }),
            )
        })
        .collect();
    let mut internal_notes = vec![];
    for n in &notes {
        let item = json!({
            "kind": "comment", "event": "comment", "label": t(locale, "timeline.comment", &[]),
            "actor": name_of(Some(n.author_id)), "at": time(state, locale, Some(n.created_at)),
            "at_iso": state.format_time(n.created_at), "details": [], "body": n.body,
        });
        if n.internal {
            internal_notes.push(item);
        } else {
            items.push((n.created_at, item));
        }
    }
    items.sort_by_key(|(at, _)| *at);
    let mut data = base(req, Some(user), locale, "nav.consultations");
    data["title"] = json!(format!("{} {}", c.number, c.title));
    data["flash"] = flash;
    data["c"] = json!({
        "id": c.id, "number": c.number, "title": c.title, "body": c.body, "version": c.version,
        "state": c.state, "state_label": label(locale, "state", c.state.as_str()),
        "priority": c.priority, "priority_label": label(locale, "priority", c.priority.as_str()),
        "category_label": label(locale, "category", c.category.as_str()),
        "department": department, "requester": name_of(Some(c.requester_id)),
        "assignee": c.assignee_id.map(|id| name_of(Some(id))).unwrap_or_else(|| t(locale, "detail.unassigned", &[])),
        "created_at": time(state, locale, Some(c.created_at)),
        "hearing_at": time(state, locale, c.hearing_at), "hearing_place": c.hearing_place,
        "due": time(state, locale, c.due_at), "overdue": c.due_at.is_some_and(|d| d < db::now()),
        "desired_by": c.desired_by.map(|d| d.format("%Y-%m-%d").to_string()), "contact": c.contact,
        "resolution": c.resolution, "rating": c.rating, "system_id": c.system_id,
    });
    data["has_actions"] = json!(!actions.is_empty() || take_it.is_some());
    data["actions"] = json!(actions);
    data["take_it"] = json!(take_it);
    data["timeline"] = json!(items.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
    data["can_comment"] = json!(user.role != Role::Manager);
    data["show_internal"] = json!(user.role.is_staff());
    data["internal_notes"] = json!(internal_notes);
    data["drafts"] = json!({"comment": drafts.comment, "internal_note": drafts.internal_note});
    data["can_withdraw_duplicate"] =
        json!(allowed.contains(&Event::Withdraw) && user.role != Role::Requester);
    data["similar"] = json!(similar
        .iter()
        .map(|s| json!({
            "id": s.id, "number": s.number, "title": s.title, "state": s.state,
            "state_label": label(locale, "state", s.state.as_str()), "resolution": s.resolution,
            "duplicate_reason": t(locale, "similar.duplicate_reason", &[("number", s.number.clone())]),
        }))
        .collect::<Vec<_>>());
    render_status(state, req, "consultation", data, status)
}

#[get("/consultations/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    detail_page(
        &state,
        &req,
        &user,
        id.into_inner(),
        Value::Null,
        Drafts::default(),
        StatusCode::OK,
    )
    .await
}

/// A form's value, `None` when blank.
pub(crate) fn value(form: &HashMap<String, String>, name: &str) -> Option<String> {
    form.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The form of an action as the API's transition input. A `datetime-local` value is
/// read in the display zone; an unreadable number becomes an id nothing has.
fn transition_input(state: &AppState, form: &HashMap<String, String>) -> TransitionInput {
    let number = |name: &str| value(form, name).map(|v| v.parse::<i64>().unwrap_or(-1));
    let hearing_at = value(form, "hearing_at").map(|raw| {
        NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|local| {
                state
                    .settings
                    .timezone
                    .from_local_datetime(&local)
                    .earliest()
            })
            .map(|at| at.to_rfc3339())
            .unwrap_or(raw)
    });
    TransitionInput {
        event: value(form, "event"),
        version: value(form, "version").and_then(|v| v.parse().ok()),
        hearing_at,
        hearing_place: value(form, "hearing_place"),
        assignee_id: number("assignee_id"),
        reason: value(form, "reason"),
        message: value(form, "message"),
        resolution: value(form, "resolution"),
        system_id: number("system_id"),
        new_system: None,
        rating: number("rating"),
        duplicate_of: number("duplicate_of"),
    }
}

/// The flash for a stale form names who changed the consultation.
async fn stale_flash(
    state: &web::Data<AppState>,
    id: i64,
    locale: Locale,
) -> Result<Value, AppError> {
    let name = state
        .db(move |conn| {
            let last = events::for_consultation(conn, id)?.into_iter().last();
            Ok(match last.and_then(|e| e.actor_id) {
                Some(actor) => users::find(conn, actor)?.map(|u| u.name),
                None => None,
            })
        })
        .await?
        .unwrap_or_else(|| t(locale, "timeline.system", &[]));
    Ok(
        json!({"kind": "error", "error": "stale", "message": t(locale, "flash.stale", &[("name", name)]), "fields": []}),
    )
}

#[post("/consultations/{id}/events")]
pub async fn fire(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    let locale = page_locale(&req, Some(&user));
    let input = transition_input(&state, &form);
    let event = input.event.as_deref().and_then(Event::parse);
    let (Some(event), Some(version)) = (event, input.version) else {
        return Err(AppError::bad_request("error.invalid_parameter")
            .arg("name", "event")
            .arg("value", "…"));
    };
    let app = state.clone();
    let caller = user.clone();
    let result = state
        .db(move |conn| {
            let scope: Scope = caller.scope(conn)?;
            app.desk.fire(
                conn,
                &Fire {
                    scope: &scope,
                    actor: caller.actor(),
                    id,
                    version,
                    event,
                    input: &input,
                    now: Utc::now(),
                },
            )
        })
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/consultations/{id}"))),
        Err(e)
            if matches!(
                e.kind,
                Kind::Conflict | Kind::Unprocessable | Kind::Forbidden
            ) =>
        {
            let flash = if e.kind == Kind::Conflict {
                stale_flash(&state, id, locale).await?
            } else {
                error_flash(&e, locale)
            };
            let drafts = Drafts {
                event: Some(event.as_str().to_string()),
                fields: form.into_inner(),
                ..Default::default()
            };
            let status = StatusCode::from_u16(e.problem(locale).status)
                .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            detail_page(&state, &req, &user, id, flash, drafts, status).await
        }
        Err(e) => Err(e),
    }
}

#[post("/consultations/{id}/comments")]
pub async fn comment(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    let locale = page_locale(&req, Some(&user));
    let internal = form.get("internal").is_some_and(|v| v == "true");
    let body = value(&form, "body");
    let app = state.clone();
    let caller = user.clone();
    let text = body.clone();
    let result = state
        .db(move |conn| {
            let scope = caller.scope(conn)?;
            let c =
                consultations::find_visible(conn, id, &scope)?.ok_or_else(AppError::not_found)?;
            crate::desk::Desk::may_comment(caller.role, internal)?;
            let text =
                text.ok_or_else(|| AppError::invalid_field("body", "validation.required"))?;
            let author = users::find(conn, caller.id)?.ok_or_else(AppError::not_found)?;
            app.desk
                .comment(conn, &c, &author, &text, internal, db::now())?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => Ok(redirect(&format!("/consultations/{id}"))),
        Err(e) if e.kind == Kind::Unprocessable => {
            let flash = error_flash(&e, locale);
            let mut drafts = Drafts::default();
            if internal {
                drafts.internal_note = body;
            } else {
                drafts.comment = body;
            }
            detail_page(
                &state,
                &req,
                &user,
                id,
                flash,
                drafts,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}
