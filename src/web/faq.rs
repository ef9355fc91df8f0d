//! The FAQ endpoints: list and read (any user), write (helpdesk, DX office,
//! admin), suggestions for a draft question, and "this solved it".

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::AppState;
use crate::app::faq as use_case;
use crate::db::faq::FaqArticle;
use crate::domain::faq::FaqInput;
use crate::domain::inquiry::{InquiryState, Topic};

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqView {
    pub id: i64,
    pub title: String,
    pub question: String,
    pub answer: String,
    pub topic: Topic,
    /// The answered inquiry it was published from.
    pub source_inquiry_id: Option<i64>,
    pub version: i32,
    pub created_at: String,
    pub updated_at: String,
}

impl FaqView {
    fn new(state: &AppState, a: FaqArticle) -> Self {
        FaqView {
            id: a.id,
            title: a.title,
            question: a.question,
            answer: a.answer,
            topic: a.topic,
            source_inquiry_id: a.source_inquiry_id,
            version: a.version,
            created_at: state.format_time(a.created_at),
            updated_at: state.format_time(a.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqList {
    pub items: Vec<FaqView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FaqParams {
    pub topic: Option<String>,
    /// Words to find (Japanese too); the best matches first.
    pub q: Option<String>,
}

fn topic(value: Option<&str>) -> Result<Option<Topic>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Topic::parse(v)
            .map(Some)
            .ok_or_else(|| AppError::invalid_parameter("topic", v)),
    }
}

/// FAQ articles, most recently updated first (or, with `q`, best match first).
#[utoipa::path(get, path = "/api/v1/faq", tag = "faq", params(FaqParams), security(("bearer" = [])),
    responses((status = 200, body = FaqList), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/faq")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<FaqParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let topic = topic(params.topic.as_deref())?;
    let articles = state
        .call(&user, move |_, conn, _| {
            use_case::list(conn, topic, params.q.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(FaqList {
        items: articles
            .into_iter()
            .map(|a| FaqView::new(&state, a))
            .collect(),
        next_cursor: None,
    }))
}

/// Write an article, or publish an answered inquiry as one (`source_inquiry_id`).
#[utoipa::path(post, path = "/api/v1/faq", tag = "faq", request_body = FaqInput, security(("bearer" = [])),
    responses((status = 201, body = FaqView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/faq")]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<FaqInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.value;
    let article = state
        .call(&user, move |_, conn, caller| {
            use_case::create(conn, caller, &input)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/faq/{}", article.id)))
        .json(FaqView::new(&state, article)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// The question being typed.
    pub text: Option<String>,
}

/// An answered inquiry offered as a suggestion.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnsweredInquiry {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub answer: Option<String>,
    pub state: InquiryState,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqSuggestions {
    pub articles: Vec<FaqView>,
    pub inquiries: Vec<AnsweredInquiry>,
}

/// FAQ articles and answered inquiries (that the caller may see) like a draft.
#[utoipa::path(get, path = "/api/v1/faq/suggest", tag = "faq", params(SuggestParams), security(("bearer" = [])),
    responses((status = 200, body = FaqSuggestions), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/faq/suggest")]
pub async fn suggest(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SuggestParams>,
) -> Result<HttpResponse, AppError> {
    let text = params.into_inner().text.unwrap_or_default();
    let found = state
        .call(&user, move |_, conn, caller| {
            use_case::suggest(conn, caller, &text)
        })
        .await?;
    Ok(HttpResponse::Ok().json(FaqSuggestions {
        articles: found
            .articles
            .into_iter()
            .map(|a| FaqView::new(&state, a))
            .collect(),
        inquiries: found
            .inquiries
            .into_iter()
            .map(|i| AnsweredInquiry {
                id: i.id,
                number: i.number,
                subject: i.subject,
                answer: i.answer,
                state: i.state,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SolvedInput {
    /// The article that answered the question, or
    pub faq_id: Option<i64>,
    /// the answered inquiry that did.
    pub inquiry_id: Option<i64>,
}

/// "This solved it": counted as a deflected inquiry.
#[utoipa::path(post, path = "/api/v1/faq/solved", tag = "faq", request_body = SolvedInput, security(("bearer" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/faq/solved")]
pub async fn solved(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<SolvedInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.value;
    state
        .call(&user, move |app, conn, caller| {
            use_case::solved(app, conn, caller, input.faq_id, input.inquiry_id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One article.
#[utoipa::path(get, path = "/api/v1/faq/{id}", tag = "faq", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the article")),
    responses((status = 200, body = FaqView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/faq/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let article = state
        .call(&user, move |_, conn, _| use_case::get(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(FaqView::new(&state, article)))
}

/// Rewrite an article (every field, with `version`).
#[utoipa::path(patch, path = "/api/v1/faq/{id}", tag = "faq", request_body = FaqInput, security(("bearer" = [])),
    params(("id" = i64, Path, description = "the article")),
    responses((status = 200, body = FaqView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/faq/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<FaqInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let article = state
        .call(&user, move |_, conn, caller| {
            use_case::update(conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(FaqView::new(&state, article)))
}
