//! The helpdesk pages: the inquiry list (for staff, the queue with its views),
//! "ask the helpdesk" (for staff also the one-screen quick record of a call),
//! and the inquiry page with its actions. Each reads its form into the API's
//! input, calls the same `app::inquiries` use case and renders the result.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::consultations::{labelled_error_flash, options, time, value};
use super::{base, check_csrf, page_locale, redirect, render_status};
use crate::app::inquiries::{self as use_case, InquiryEntry, InquiryView as QueueView};
use crate::db;
use crate::domain::consultation::CommentInput;
use crate::domain::inquiry::{
    may_answer, may_ask_on_behalf, Channel, InquiryEvent, InquiryTransitionInput, NewInquiryInput,
    Topic,
};
use crate::i18n::{t, Locale};
use crate::web::auth::CurrentUser;
use crate::web::error::{AppError, Kind};
use crate::web::inquiries::parse_inquiry_list;
use crate::web::AppState;

type Form = super::form::PageForm;

fn label(locale: Locale, prefix: &str, value: &str) -> String {
    t(locale, &format!("{prefix}.{value}"), &[])
}

fn flash(error: &AppError, locale: Locale) -> Value {
    labelled_error_flash(error, locale, "inquiry.field")
}

#[get("/inquiries")]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let mut filter = parse_inquiry_list(req.query_string())?;
    let staff = use_case::works_the_queue(user.role);
    if staff && filter.view.is_none() {
        filter.view = Some(QueueView::Unassigned);
    }
    let view = filter.view.filter(|_| staff);
    let q = filter.text.clone();
    let page = state
        .call(&user, move |_, conn, caller| {
            use_case::list(conn, caller, filter)
        })
        .await?;
    let departments = state.departments().await?;
    let now = db::now();
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            let unanswered =
                i.first_answered_at.is_none() && matches!(i.state.as_str(), "open" | "waiting");
            json!({
                "id": i.id,
                "number": i.number,
                "subject": i.subject,
                "state": i.state,
                "state_label": label(locale, "inquiry.state", i.state.as_str()),
                "topic_label": label(locale, "inquiry.topic", i.topic.as_str()),
                "channel_label": label(locale, "inquiry.channel", i.channel.as_str()),
                "department": departments.name(i.department_id).unwrap_or_default(),
                "due": if unanswered { time(&state, locale, i.first_answer_due_at) } else { None },
                "overdue": unanswered && i.first_answer_due_at.is_some_and(|d| d < now),
            })
        })
        .collect();
    let mut data = base(&req, Some(&user), locale, "inquiry.heading");
    data["rows"] = json!(rows);
    data["q"] = json!(q);
    data["view"] = json!(view.map(|v| v.as_str()));
    data["staff"] = json!(staff);
    data["tabs"] = match view {
        Some(current) => json!(QueueView::ALL
            .iter()
            .map(|v| json!({
                "href": format!("/inquiries?view={}", v.as_str()),
                "label": label(locale, "inquiry.tab", v.as_str()),
                "current": *v == current,
            }))
            .collect::<Vec<_>>()),
        None => Value::Null,
    };
    render_status(&state, &req, "inquiries", data, StatusCode::OK)
}

#[get("/inquiries/new")]
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
}

/// "Ask the helpdesk", or for staff the quick record: asker, channel, topic,
/// subject, question, answer and "answered now", in the order they are typed.
fn new_page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    draft: &HashMap<String, String>,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let quick = may_ask_on_behalf(user.role);
    let mut data = base(
        req,
        Some(user),
        locale,
        if quick {
            "inquiry.quick.heading"
        } else {
            "inquiry.ask.heading"
        },
    );
    let wire = |all: &[Topic]| all.iter().map(|t| t.as_str()).collect::<Vec<_>>();
    let channels: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    data["quick"] = json!(quick);
    data["may_answer"] = json!(may_answer(user.role));
    data["topics"] = json!(options(
        &wire(Topic::ALL),
        "inquiry.topic",
        draft.get("topic").map(String::as_str),
        locale
    ));
    data["channels"] = json!(options(
        &channels,
        "inquiry.channel",
        Some(draft.get("channel").map(String::as_str).unwrap_or("phone")),
        locale
    ));
    // Every field the form shows, as typed (templates are strict).
    let typed: HashMap<&str, &str> = ["asker", "asker_id", "subject", "question", "answer"]
        .into_iter()
        .map(|k| (k, draft.get(k).map(String::as_str).unwrap_or_default()))
        .collect();
    data["draft"] = json!(typed);
    // A fresh form answers now unless the SE unticked it.
    data["answered_now"] = json!(draft.is_empty() || draft.contains_key("answered_now"));
    data["flash"] = flash;
    render_status(state, req, "new_inquiry", data, status)
}

#[post("/inquiries")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let draft = form.into_inner();
    let typed = draft.clone();
    let result = state
        .call(&user, move |app, conn, caller| {
            let field = |name: &str| value(&typed, name);
            // The asker by id (picked from the suggestions) or by what was typed.
            let asker_id = match (field("asker_id"), field("asker")) {
                (Some(id), _) => Some(id.parse().unwrap_or(-1)),
                (None, Some(text)) => Some(use_case::resolve_asker(conn, caller, &text)?),
                (None, None) => None,
            };
            let answer = field("answer").filter(|_| typed.contains_key("answered_now"));
            let input = NewInquiryInput {
                subject: field("subject"),
                question: field("question"),
                topic: field("topic"),
                asker_id,
                channel: field("channel").filter(|_| asker_id.is_some()),
                priority: None,
                answer,
            };
            use_case::ask(app, conn, caller, &input, None)
        })
        .await;
    match result {
        Ok(asked) => Ok(redirect(&format!("/inquiries/{}", asked.shown.inquiry.id))),
        Err(e) if matches!(e.kind, Kind::Unprocessable | Kind::Forbidden) => new_page(
            &state,
            &req,
            &user,
            &draft,
            flash(&e, locale),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e),
    }
}

#[get("/inquiries/{id}")]
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
        StatusCode::OK,
    )
    .await
}

async fn detail_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    id: i64,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let detail = state
        .call(user, move |app, conn, caller| {
            use_case::detail(app, conn, caller, id)
        })
        .await?;
    let (shown, entries, names) = (detail.shown, detail.timeline, detail.names);
    let i = &shown.inquiry;
    let name = |id: Option<i64>| match id {
        Some(id) => names.get(&id).cloned().unwrap_or_default(),
        None => t(locale, "timeline.system", &[]),
    };
    let timeline: Vec<Value> = entries
        .iter()
        .map(|entry| match entry {
            InquiryEntry::Event(e) => {
                let payload: Value = serde_json::from_str(&e.payload).unwrap_or_default();
                let text = ["answer", "message"]
                    .iter()
                    .find_map(|k| payload.get(*k).and_then(Value::as_str))
                    .map(str::to_string);
                // Events brought over from kintone say so, with their record.
                let origin = payload.get("imported").map(|imported| {
                    let part = |k: &str| {
                        imported.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
                    };
                    t(locale, "timeline.imported", &[("app", part("app")), ("record", part("record"))])
                });
                json!({
                    "label": label(locale, "inquiry.event", &e.event),
                    "actor": name(e.actor_id),
                    "at": time(state, locale, Some(e.created_at)),
                    "text": text,
                    "origin": origin,
                })
            }
            InquiryEntry::Comment(c) => json!({
                "label": t(locale, if c.internal { "inquiry.internal_note" } else { "inquiry.comment" }, &[]),
                "actor": name(Some(c.author_id)),
                "at": time(state, locale, Some(c.created_at)),
                "text": c.body,
                "internal": c.internal,
            }),
        })
        .collect();
    let actions: Vec<Value> = shown
        .allowed_events
        .iter()
        .map(|event| {
            let field = match event {
                InquiryEvent::Answer => Some("answer"),
                InquiryEvent::AskBack | InquiryEvent::Reply => Some("message"),
                _ => None,
            };
            json!({
                "event": event.as_str(),
                "label": label(locale, "inquiry.event", event.as_str()),
                "field": field,
                "field_label": field.map(|f| t(locale, &format!("inquiry.field.{f}"), &[])),
                "close": *event == InquiryEvent::Close,
            })
        })
        .collect();
    let mut data = base(req, Some(user), locale, "inquiry.heading");
    data["title"] = json!(format!("{} {}", i.number, i.subject));
    data["inquiry"] = json!({
        "id": i.id,
        "number": i.number,
        "subject": i.subject,
        "question": i.question,
        "answer": i.answer,
        "state": i.state,
        "state_label": label(locale, "inquiry.state", i.state.as_str()),
        "topic_label": label(locale, "inquiry.topic", i.topic.as_str()),
        "channel_label": label(locale, "inquiry.channel", i.channel.as_str()),
        "asker": name(Some(i.asker_id)),
        "filed_by": (i.filed_by != i.asker_id).then(|| name(Some(i.filed_by))),
        "assignee": i.assignee_id.map(|id| name(Some(id))),
        "created_at": time(state, locale, Some(i.created_at)),
        "due": time(state, locale, i.first_answer_due_at.filter(|_| i.first_answered_at.is_none())),
        "consultation_id": i.consultation_id,
        "version": i.version,
    });
    data["actions"] = json!(actions);
    data["timeline"] = json!(timeline);
    data["may_note"] = json!(crate::domain::consultation::may_comment(user.role, true));
    data["may_publish"] = json!(crate::app::faq::may_write(user.role) && i.answer.is_some());
    data["may_comment"] = json!(crate::domain::consultation::may_comment(user.role, false));
    data["flash"] = flash;
    render_status(state, req, "inquiry", data, status)
}

#[post("/inquiries/{id}/events")]
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
    let input = InquiryTransitionInput {
        event: value(&form, "event"),
        version: value(&form, "version").and_then(|v| v.parse().ok()),
        answer: value(&form, "answer"),
        message: value(&form, "message"),
        helped: value(&form, "helped").map(|v| v == "true"),
    };
    let result = state
        .call(&user, move |app, conn, caller| {
            use_case::fire(app, conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(shown) => Ok(redirect(&match shown.inquiry.consultation_id {
            // An escalation continues on the consultation it became.
            Some(c) if shown.inquiry.state.as_str() == "escalated" => format!("/consultations/{c}"),
            _ => format!("/inquiries/{id}"),
        })),
        Err(e)
            if matches!(
                e.kind,
                Kind::Unprocessable | Kind::Conflict | Kind::Forbidden
            ) =>
        {
            let status = e.status();
            detail_page(&state, &req, &user, id, flash(&e, locale), status).await
        }
        Err(e) => Err(e),
    }
}

#[post("/inquiries/{id}/comments")]
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
    let input = CommentInput {
        body: form.get("body").cloned(),
        internal: Some(form.get("internal").is_some_and(|v| v == "true")),
    };
    let result = state
        .call(&user, move |app, conn, caller| {
            use_case::comment(app, conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/inquiries/{id}"))),
        Err(e) if e.kind == Kind::Unprocessable => {
            detail_page(
                &state,
                &req,
                &user,
                id,
                flash(&e, locale),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}
