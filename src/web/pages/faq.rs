//! The FAQ pages: the list with its search, an article (with "this solved it",
//! and for the helpdesk its edit form), publishing an answered inquiry, and a
//! new article. Each calls the same `app::faq` use case as the API.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::consultations::{labelled_error_flash, options, value};
use super::{base, check_csrf, page_locale, redirect, render_status};
use crate::app::faq as use_case;
use crate::domain::faq::FaqInput;
use crate::domain::inquiry::Topic;
use crate::i18n::t;
use crate::web::auth::CurrentUser;
use crate::web::error::{AppError, Kind};
use crate::web::AppState;

type Form = super::form::PageForm;

fn may_write(user: &CurrentUser) -> bool {
    use_case::may_write(user.role)
}

#[get("/faq")]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let q = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let text = q.clone();
    let articles = state
        .call(&user, move |_, conn, _| {
            use_case::list(conn, None, text.as_deref())
        })
        .await?;
    let mut data = base(&req, Some(&user), locale, "faq.heading");
    data["q"] = json!(q);
    data["may_write"] = json!(may_write(&user));
    data["articles"] = json!(articles
        .iter()
        .map(|a| json!({
            "id": a.id,
            "title": a.title,
            "topic_label": t(locale, &format!("inquiry.topic.{}", a.topic.as_str()), &[]),
        }))
        .collect::<Vec<_>>());
    render_status(&state, &req, "faq_list", data, StatusCode::OK)
}

#[get("/faq/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let thanked = req.query_string().contains("solved=1");
    let flash = if thanked {
        json!({"kind": "notice", "error": "", "message": t(page_locale(&req, Some(&user)), "faq.solved_notice", &[]), "fields": []})
    } else {
        Value::Null
    };
    article_page(&state, &req, &user, id.into_inner(), flash, StatusCode::OK).await
}

async fn article_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    id: i64,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let article = state
        .call(user, move |_, conn, _| use_case::get(conn, id))
        .await?;
    let topics: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
    let mut data = base(req, Some(user), locale, "faq.heading");
    data["title"] = json!(article.title);
    data["may_write"] = json!(may_write(user));
    data["topics"] = json!(options(
        &topics,
        "inquiry.topic",
        Some(article.topic.as_str()),
        locale
    ));
    data["article"] = json!({
        "id": article.id,
        "title": article.title,
        "question": article.question,
        "answer": article.answer,
        "version": article.version,
        "topic_label": t(locale, &format!("inquiry.topic.{}", article.topic.as_str()), &[]),
        "source_inquiry_id": article.source_inquiry_id,
    });
    data["flash"] = flash;
    render_status(state, req, "faq_article", data, status)
}

fn faq_input(form: &std::collections::HashMap<String, String>) -> FaqInput {
    FaqInput {
        version: value(form, "version").and_then(|v| v.parse().ok()),
        title: value(form, "title"),
        question: value(form, "question"),
        answer: value(form, "answer"),
        topic: value(form, "topic"),
        source_inquiry_id: value(form, "source_inquiry_id").map(|v| v.parse().unwrap_or(-1)),
    }
}

/// A new article, or an answered inquiry published as one (the inquiry page's
/// button sends only its id).
#[post("/faq")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let input = faq_input(&form);
    let article = state
        .call(&user, move |_, conn, caller| {
            use_case::create(conn, caller, &input)
        })
        .await?;
    Ok(redirect(&format!("/faq/{}", article.id)))
}

#[post("/faq/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    let locale = page_locale(&req, Some(&user));
    let input = faq_input(&form);
    let result = state
        .call(&user, move |_, conn, caller| {
            use_case::update(conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/faq/{id}"))),
        Err(e) if matches!(e.kind, Kind::Unprocessable | Kind::Conflict) => {
            let status = e.status();
            let flash = labelled_error_flash(&e, locale, "inquiry.field");
            article_page(&state, &req, &user, id, flash, status).await
        }
        Err(e) => Err(e),
    }
}

/// "This solved it": counted, and the asker is told nothing was sent.
#[post("/faq/{id}/solved")]
pub async fn solved(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    state
        .call(&user, move |app, conn, caller| {
            use_case::solved(app, conn, caller, Some(id), None)
        })
        .await?;
    Ok(redirect(&format!("/faq/{id}?solved=1")))
}
