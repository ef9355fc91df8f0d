//! The consultation pages: the list (and, for staff, the queue), filing, and the
//! consultation page. Each handler reads its form into the same input the API
//! takes, calls the same `app::consultations` use case, and renders the result;
//! the action forms come from the use case's actions, never from per-page lists.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeZone};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{base, check_csrf, page_locale, redirect, render, render_status};
use crate::app::consultations::detail::{detail, Detail};
use crate::app::consultations::{self as use_case, list as listing, Entry};
use crate::app::idempotency::Idempotency;
use crate::db;
use crate::domain::consultation::{CommentInput, NewConsultationInput};
use crate::domain::ids::ConsultationId;
use crate::domain::queue::{Sort, View};
use crate::domain::workflow::{Field, TransitionInput};
use crate::domain::{Category, Priority, State};
use crate::i18n::{format_datetime, t, Locale};
use crate::web::auth::CurrentUser;
use crate::web::error::{AppError, Kind};
use crate::web::params::{encode_cursor, parse_list};
use crate::web::AppState;

type Form = super::form::PageForm;

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

fn wire<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

#[get("/consultations")]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let filter = parse_list(req.query_string())?;
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
    let queue = state
        .call(&user, move |_, conn, caller| {
            listing::queue(conn, caller, filter)
        })
        .await?;
    let (listed, names, snippets) = (queue.listed, queue.names, queue.snippets);
    let departments = state.departments().await?;
    let now = db::now();
    let rows: Vec<Value> = listed
        .items
        .iter()
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
                "due": time(&state, locale, c.due_at),
                "overdue": c.due_at.is_some_and(|d| d < now),
                "snippet": snippets.get(&c.id).map(|(before, hit, after)| {
                    json!({"before": before, "hit": hit, "after": after})
                }),
            })
        })
        .collect();
    let view = listed.view;
    let mut data = base(&req, Some(&user), locale, "nav.consultations");
    let heading_key = match view {
        Some(v) => format!("queue.heading.{}", v.as_str()),
        None => "queue.heading.division".to_string(),
    };
    data["heading"] = json!(t(locale, &heading_key, &[]));
    data["title"] = data["heading"].clone();
    data["view"] = json!(view);
    data["q"] = json!(get("q"));
    data["tabs"] = match view {
        Some(current) => json!(View::ALL
            .iter()
            .map(|v| json!({"view": v, "href": format!("/consultations?view={}", v.as_str()), "label": label(locale, "queue.tab", v.as_str()), "current": *v == current}))
            .collect::<Vec<_>>()),
        None => Value::Null,
    };
    data["states"] = json!(options(
        &wire(State::ALL, State::as_str),
        "state",
        get("state").as_deref(),
        locale
    ));
    data["categories"] = json!(options(
        &wire(Category::ALL, Category::as_str),
        "category",
        get("category").as_deref(),
        locale
    ));
    data["priorities"] = json!(options(
        &wire(Priority::ALL, Priority::as_str),
        "priority",
        get("priority").as_deref(),
        locale
    ));
    data["sorts"] = json!(options(
        &[
            Sort::CreatedDesc.as_str(),
            Sort::Created.as_str(),
            Sort::Due.as_str(),
            Sort::Updated.as_str()
        ],
        "sort",
        Some(listed.sort.as_str()),
        locale
    ));
    // Rendered apart and kept: ~2,000 options would otherwise be copied and walked
    // by handlebars on every request.
    data["department_options"] = json!(departments
        .options_html(&state.pages, get("department").as_deref())
        .map_err(AppError::internal)?);
    data["rows"] = json!(rows);
    let sort = listed.sort;
    data["next_page"] = json!(listed.next.map(|cursor| {
        let mut pairs: Vec<(String, String)> = query_pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        pairs.push(("cursor".into(), encode_cursor(sort, &cursor)));
        if !pairs.iter().any(|(k, _)| k == "sort") {
            pairs.push(("sort".into(), sort.as_str().into()));
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
    let locale = page_locale(req, Some(user));
    let departments = state
        .call(user, |_, conn, caller| use_case::filing_form(conn, caller))
        .await?;
    let mut data = base(req, Some(user), locale, "page.title.new");
    data["flash"] = flash;
    data["draft"] = json!({
        "title": draft.get("title"), "current_work": draft.get("current_work"), "wish": draft.get("wish"),
        "desired_by": draft.get("desired_by"), "contact": draft.get("contact"),
        "requester": draft.get("requester"), "requester_id": draft.get("requester_id"),
    });
    data["idempotency_key"] = json!(draft
        .get("idempotency_key")
        .cloned()
        .unwrap_or_else(new_token));
    data["categories"] = json!(options(
        &wire(Category::ALL, Category::as_str),
        "category",
        draft.get("category").map(String::as_str),
        locale
    ));
    data["priorities"] = json!(options(
        &wire(Priority::ALL, Priority::as_str),
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

/// Whether a refusal is shown on the form it came from (with what was typed), or
/// as an error page.
fn shown_on_form(error: &AppError) -> bool {
    matches!(
        error.kind,
        Kind::Unprocessable | Kind::Conflict | Kind::Forbidden
    )
}

/// The filing form as the API's input: "what you do today" and "what you wish"
/// become the body.
fn filing_input(form: &HashMap<String, String>, locale: Locale) -> NewConsultationInput {
    let field = |name: &str| value(form, name);
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
    NewConsultationInput {
        title: field("title"),
        body,
        category: field("category"),
        priority: field("priority"),
        // An unreadable number becomes one no department has, so the user sees why.
        department_id: field("department_id").map(|d| d.parse().unwrap_or(-1)),
        desired_by: field("desired_by"),
        contact: field("contact"),
        requester_id: field("requester_id").map(|d| d.parse().unwrap_or(-1)),
    }
}

/// The form's idempotency key (made when the form was drawn), so that a double
/// submit files once, with the hash of what the form said.
fn form_idempotency(form: &HashMap<String, String>) -> Option<Idempotency> {
    let key = form
        .get("idempotency_key")
        .filter(|k| !k.is_empty() && k.len() <= Idempotency::MAX_KEY_LEN)?;
    let fields: BTreeMap<&String, &String> = form
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "_csrf" | "idempotency_key"))
        .collect();
    Some(Idempotency {
        key: key.clone(),
        request_hash: format!("{:x}", Sha256::digest(format!("{fields:?}").as_bytes())),
    })
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
    let draft = form.into_inner();
    let mut input = filing_input(&draft, locale);
    let named = value(&draft, "requester").filter(|_| input.requester_id.is_none());
    let key = form_idempotency(&draft);
    let result = state
        .call(&user, move |app, conn, caller| {
            // On behalf, without script: the person found from what was typed.
            if let Some(text) = named {
                input.requester_id =
                    Some(crate::app::inquiries::resolve_asker(conn, caller, &text)?);
            }
            use_case::file(app, conn, caller, &input, key.as_ref())
        })
        .await;
    match result {
        Ok(filed) => Ok(redirect(&format!(
            "/consultations/{}",
            filed.shown.consultation.id
        ))),
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
fn field_kind(field: Field) -> &'static str {
    match field {
        Field::HearingAt => "datetime",
        Field::HearingPlace => "text",
        Field::AssigneeId | Field::Rating => "select",
        Field::DuplicateOf | Field::SystemId => "number",
        _ => "textarea",
    }
}

/// A timeline entry as the page shows it.
fn timeline_item(state: &AppState, locale: Locale, d: &Detail, entry: &Entry) -> Value {
    let name_of = |id: Option<i64>| match id {
        Some(id) => d.names.get(&id).cloned().unwrap_or_default(),
        None => t(locale, "timeline.system", &[]),
    };
    match entry {
        Entry::Event(e) => {
            let payload: Value = serde_json::from_str(&e.payload).unwrap_or_default();
            let mut details = vec![];
            let mut detail = |key: &str, value: Option<String>| {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    details.push(json!({"label": t(locale, key, &[]), "value": v}));
                }
            };
            let text = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
            detail(
                "field.hearing_at",
                text("hearing_at")
                    .and_then(|h| chrono::DateTime::parse_from_rfc3339(&h).ok())
                    .map(|h| format_datetime(locale, &h.with_timezone(&state.settings.timezone))),
            );
            detail("field.hearing_place", text("hearing_place"));
            detail(
                "field.assignee",
                payload
                    .get("assignee_id")
                    .and_then(Value::as_i64)
                    .map(|id| name_of(Some(id))),
            );
            for key in ["reason", "message", "resolution"] {
                detail(&format!("field.{key}"), text(key));
            }
            detail(
                "field.rating",
                payload
                    .get("rating")
                    .and_then(Value::as_i64)
                    .map(|r| format!("{r} / 5")),
            );
            for key in ["duplicate_of", "system_id"] {
                detail(
                    &format!("field.{key}"),
                    payload
                        .get(key)
                        .and_then(Value::as_i64)
                        .map(|d| d.to_string()),
                );
            }
            // Events brought over from kintone say so, with the record they came from.
            if let Some(imported) = payload.get("imported") {
                let part = |k: &str| imported.get(k).and_then(Value::as_str).unwrap_or_default();
                details.push(json!({
                    "label": t(locale, "detail.origin", &[]),
                    "value": t(locale, "timeline.imported", &[("app", part("app").to_string()), ("record", part("record").to_string())]),
                }));
            }
            json!({
                "kind": "event", "event": e.event, "label": label(locale, "timeline", &e.event),
                "actor": name_of(e.actor_id), "at": time(state, locale, Some(e.created_at)),
                "at_iso": state.format_time(e.created_at), "details": details, "body": Value::Null,
            })
        }
        Entry::Comment(n) => json!({
            "kind": "comment", "event": "comment", "label": t(locale, "timeline.comment", &[]),
            "actor": name_of(Some(n.author_id)), "at": time(state, locale, Some(n.created_at)),
            "at_iso": state.format_time(n.created_at), "details": [], "body": n.body,
        }),
    }
}

async fn detail_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    id: ConsultationId,
    flash: Value,
    drafts: Drafts,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let d = state
        .call(user, move |app, conn, caller| detail(app, conn, caller, id))
        .await?;
    let c = &d.consultation;
    let name_of = |id: i64| d.names.get(&id).cloned().unwrap_or_default();
    let assignee_options = |selected: Option<&String>| -> Vec<Value> {
        d.assignees
            .iter()
            .map(|u| json!({"value": u.id, "label": u.name, "selected": selected.map(String::as_str) == Some(u.id.to_string().as_str())}))
            .collect()
    };
    let actions: Vec<Value> = d
        .actions
        .iter()
        .map(|action| {
            let event = action.event.as_str();
            let draft_here = drafts.event.as_deref() == Some(event);
            // What the consultation waits on is answered first: its form is open.
            let awaited = d.awaiting_reply.is_some() && action.event == crate::domain::Event::ProvideInfo;
            let fields: Vec<Value> = action
                .fields
                .iter()
                .map(|(field, required)| {
                    let name = field.as_str();
                    let value = if draft_here { drafts.fields.get(name).cloned() } else { None };
                    let options = match field {
                        Field::AssigneeId => assignee_options(value.as_ref()),
                        Field::Rating => std::iter::once(json!({"value": "", "label": t(locale, "detail.no_rating", &[]), "selected": false}))
                            .chain((1..=5).rev().map(|r| json!({"value": r, "label": format!("{r} / 5"), "selected": value.as_deref() == Some(r.to_string().as_str())})))
                            .collect(),
                        _ => vec![],
                    };
                    let label_key = if *field == Field::AssigneeId { "field.assignee".to_string() } else { format!("field.{name}") };
                    json!({
                        "id": format!("{event}-{name}"),
                        "name": name,
                        "label": t(locale, &label_key, &[]),
                        "kind": field_kind(*field),
                        "required": required,
                        "value": value,
                        "options": options,
                    })
                })
                .collect();
            json!({
                "event": event,
                "label": label(locale, "event", event),
                "submit": label(locale, "event", event),
                "fields": fields,
                "open": draft_here || awaited,
            })
        })
        .collect();
    let take_it = d.take_it.then(|| {
        // Taking a consultation before its hearing says why, as the rules ask.
        let reason = if c.state == State::Received {
            t(locale, "detail.take_it_reason", &[])
        } else {
            String::new()
        };
        json!({"assignee_id": user.id, "reason": reason})
    });
    let mut timeline = vec![];
    let mut internal_notes = vec![];
    for entry in &d.timeline {
        let item = timeline_item(state, locale, &d, entry);
        match entry {
            Entry::Comment(n) if n.internal => internal_notes.push(item),
            _ => timeline.push(item),
        }
    }
    let mut data = base(req, Some(user), locale, "nav.consultations");
    data["title"] = json!(format!("{} {}", c.number, c.title));
    data["flash"] = flash;
    data["c"] = json!({
        "id": c.id, "number": c.number, "title": c.title, "body": c.body, "version": c.version,
        "state": c.state,
        "state_label": if d.awaiting_reply.is_some() { t(locale, "detail.waiting_on_you", &[]) } else { label(locale, "state", c.state.as_str()) },
        "priority": c.priority, "priority_label": label(locale, "priority", c.priority.as_str()),
        "category_label": label(locale, "category", c.category.as_str()),
        "department": d.department, "requester": name_of(c.requester_id),
        "assignee": c.assignee_id.map(name_of).unwrap_or_else(|| t(locale, "detail.unassigned", &[])),
        "created_at": time(state, locale, Some(c.created_at)),
        "hearing_at": time(state, locale, c.hearing_at), "hearing_place": c.hearing_place,
        "due": time(state, locale, c.due_at), "overdue": c.due_at.is_some_and(|d| d < db::now()),
        "desired_by": c.desired_by.map(|d| d.format("%Y-%m-%d").to_string()), "contact": c.contact,
        "resolution": c.resolution, "rating": c.rating, "system_id": c.system_id,
    });
    data["awaiting_reply"] = json!(d.awaiting_reply.as_ref().map(|(by, message)| json!({
        "text": t(locale, "detail.question_from", &[("name", by.map(name_of).unwrap_or_default())]),
        "message": message,
    })));
    data["comment_label"] = json!(t(
        locale,
        if d.comment_to_staff {
            "detail.comment_to_staff"
        } else {
            "detail.comment"
        },
        &[],
    ));
    data["has_actions"] = json!(!actions.is_empty() || take_it.is_some());
    data["actions"] = json!(actions);
    data["take_it"] = json!(take_it);
    data["timeline"] = json!(timeline);
    data["can_comment"] = json!(d.comment_form);
    data["show_internal"] = json!(d.notes);
    data["internal_notes"] = json!(internal_notes);
    data["drafts"] = json!({"comment": drafts.comment, "internal_note": drafts.internal_note});
    data["can_withdraw_duplicate"] = json!(d.may_withdraw_as_duplicate);
    let similar = match &d.similar {
        listing::Suggestions::Found(found) => found.as_slice(),
        listing::Suggestions::Unavailable => &[],
    };
    data["similar_unavailable"] = json!(matches!(d.similar, listing::Suggestions::Unavailable));
    data["similar"] = json!(similar
        .iter()
        .map(|s| json!({
            "id": s.id, "number": s.number, "title": s.title, "state": s.state,
            "state_label": label(locale, "state", s.state.as_str()), "resolution": s.resolution,
            "duplicate_reason": t(locale, "similar.duplicate_reason", &[("number", s.number.clone())]),
        }))
        .collect::<Vec<_>>());
    if status == StatusCode::CONFLICT {
        // Say who changed it, so the user knows what to reload for.
        let name = d
            .last_actor
            .map(name_of)
            .unwrap_or_else(|| t(locale, "timeline.system", &[]));
        data["flash"] = json!({"kind": "error", "error": "stale", "message": t(locale, "flash.stale", &[("name", name)]), "fields": []});
    }
    render_status(state, req, "consultation", data, status)
}

#[get("/consultations/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
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

#[post("/consultations/{id}/events")]
pub async fn fire(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    let locale = page_locale(&req, Some(&user));
    let input = transition_input(&state, &form);
    let event = input.event.clone();
    let result = state
        .call(&user, move |app, conn, caller| {
            use_case::fire(app, conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/consultations/{id}"))),
        Err(e) if shown_on_form(&e) => {
            let drafts = Drafts {
                event,
                fields: form.into_inner(),
                ..Default::default()
            };
            let status = e.status();
            detail_page(
                &state,
                &req,
                &user,
                id,
                error_flash(&e, locale),
                drafts,
                status,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[post("/consultations/{id}/comments")]
pub async fn comment(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<ConsultationId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    let locale = page_locale(&req, Some(&user));
    let input = CommentInput {
        body: form.get("body").cloned(),
        internal: Some(form.get("internal").is_some_and(|v| v == "true")),
    };
    let typed = input.clone();
    let result = state
        .call(&user, move |app, conn, caller| {
            use_case::comment(app, conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/consultations/{id}"))),
        Err(e) if e.kind == Kind::Unprocessable => {
            let mut drafts = Drafts::default();
            if typed.internal == Some(true) {
                drafts.internal_note = typed.body;
            } else {
                drafts.comment = typed.body;
            }
            detail_page(
                &state,
                &req,
                &user,
                id,
                error_flash(&e, locale),
                drafts,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}
