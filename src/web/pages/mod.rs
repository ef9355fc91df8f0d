//! Server-rendered pages for people, beside the JSON API. Templates live in
//! `views/pages` and `views/partials`, every visible string comes from the message
//! catalogs through the `t` helper, and forms carry a CSRF token checked against a
//! cookie (double submit) besides the SameSite session cookie.

pub mod admin;
pub mod admin_import;
pub mod auth;
pub mod consultations;
pub mod dashboard;
pub mod effects;
pub mod faq;
pub mod form;
pub mod inquiries;
pub mod other_effects;
pub mod password_reset;
pub mod systems;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use rand::RngCore;
use serde_json::{json, Value};

use super::auth::CurrentUser;
use super::error::AppError;
use super::AppState;
use crate::app::caller::Menu;
use crate::domain::Role;
use crate::i18n::{t, Locale};

pub const SESSION_COOKIE: &str = "digicon_session";
pub const CSRF_COOKIE: &str = "digicon_csrf";
pub const LANG_COOKIE: &str = "digicon_lang";

/// Strict: only our own scripts, styles and images; no inline script at all.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The page templates, embedded so the binary runs from anywhere.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../../views/partials/layout.hbs")),
    (
        "department_options",
        include_str!("../../../views/partials/department_options.hbs"),
    ),
    ("login", include_str!("../../../views/pages/login.hbs")),
    ("account", include_str!("../../../views/pages/account.hbs")),
    (
        "password_reset",
        include_str!("../../../views/pages/password_reset.hbs"),
    ),
    (
        "consultations",
        include_str!("../../../views/pages/consultations.hbs"),
    ),
    (
        "consultation",
        include_str!("../../../views/pages/consultation.hbs"),
    ),
    (
        "new_consultation",
        include_str!("../../../views/pages/new_consultation.hbs"),
    ),
    (
        "admin_users",
        include_str!("../../../views/pages/admin_users.hbs"),
    ),
    (
        "admin_departments",
        include_str!("../../../views/pages/admin_departments.hbs"),
    ),
    (
        "admin_import",
        include_str!("../../../views/pages/admin_import.hbs"),
    ),
    ("error", include_str!("../../../views/pages/error.hbs")),
    (
        "inquiries",
        include_str!("../../../views/pages/inquiries.hbs"),
    ),
    ("inquiry", include_str!("../../../views/pages/inquiry.hbs")),
    (
        "helpdesk_report",
        include_str!("../../../views/pages/helpdesk_report.hbs"),
    ),
    (
        "faq_list",
        include_str!("../../../views/pages/faq_list.hbs"),
    ),
    (
        "faq_article",
        include_str!("../../../views/pages/faq_article.hbs"),
    ),
    (
        "new_inquiry",
        include_str!("../../../views/pages/new_inquiry.hbs"),
    ),
    ("chart", include_str!("../../../views/partials/chart.hbs")),
    (
        "dashboard",
        include_str!("../../../views/pages/dashboard.hbs"),
    ),
    ("systems", include_str!("../../../views/pages/systems.hbs")),
    ("system", include_str!("../../../views/pages/system.hbs")),
    (
        "system_form",
        include_str!("../../../views/pages/system_form.hbs"),
    ),
    (
        "systems_effects",
        include_str!("../../../views/pages/systems_effects.hbs"),
    ),
    (
        "effects_report",
        include_str!("../../../views/pages/effects_report.hbs"),
    ),
    (
        "effects_settings",
        include_str!("../../../views/pages/effects_settings.hbs"),
    ),
];

/// `{{t "key" name=value}}`: the catalog entry in the page's language.
fn t_helper(
    h: &Helper,
    _: &Handlebars,
    ctx: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let key = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
    let locale = ctx
        .data()
        .get("locale")
        .and_then(Value::as_str)
        .and_then(Locale::parse)
        .unwrap_or_default();
    let args: Vec<(&str, String)> = h
        .hash()
        .iter()
        .map(|(name, value)| {
            let text = match value.value() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (*name, text)
        })
        .collect();
    out.write(&handlebars::html_escape(&t(locale, key, &args)))?;
    Ok(())
}

pub fn registry() -> Result<Handlebars<'static>, String> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.register_helper("t", Box::new(t_helper));
    for (name, source) in TEMPLATES {
        h.register_template_string(name, *source)
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    Ok(h)
}

/// A fresh random token for the CSRF cookie.
fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The request's CSRF token: the cookie's, or a new one that `render` will set.
pub fn csrf_token(req: &HttpRequest) -> String {
    if let Some(existing) = req.cookie(CSRF_COOKIE).map(|c| c.value().to_string()) {
        return existing;
    }
    if let Some(made) = req.extensions().get::<NewCsrf>() {
        return made.0.clone();
    }
    let token = new_token();
    req.extensions_mut().insert(NewCsrf(token.clone()));
    token
}

#[derive(Clone)]
struct NewCsrf(String);

/// A posted form must carry the token of its cookie.
pub fn check_csrf(req: &HttpRequest, submitted: Option<&String>) -> Result<(), AppError> {
    let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_string());
    match (cookie, submitted) {
        (Some(expected), Some(given))
            if !expected.is_empty() && constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(AppError::new(
            super::error::Kind::Forbidden,
            "page.csrf_failed",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether cookies must be `Secure`: the public URL or this request is HTTPS.
fn secure(state: &AppState, req: &HttpRequest) -> bool {
    state.settings.public_url.starts_with("https://") || req.connection_info().scheme() == "https"
}

pub fn session_cookie(state: &AppState, req: &HttpRequest, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state, req))
        .max_age(actix_web::cookie::time::Duration::hours(
            state.settings.token_ttl_hours,
        ))
        .finish()
}

pub fn expired_session_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    cookie.make_removal();
    cookie
}

/// The language of a page: the user's setting when signed in, else the language
/// cookie, else `Accept-Language`.
pub fn page_locale(req: &HttpRequest, user: Option<&CurrentUser>) -> Locale {
    if let Some(user) = user {
        return user.locale;
    }
    req.cookie(LANG_COOKIE)
        .and_then(|c| Locale::parse(c.value()))
        .unwrap_or_else(|| super::accept_language(req.headers()))
}

/// The role's home page.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Requester | Role::Manager => "/consultations",
        Role::Helpdesk => "/consultations?view=mine",
        Role::DxOffice => "/consultations?view=unassigned",
        Role::Admin => "/admin/users",
    }
}

/// Data every page has: language, the user and the navigation, the CSRF token.
pub fn base(
    req: &HttpRequest,
    user: Option<&CurrentUser>,
    locale: Locale,
    title_key: &str,
) -> Value {
    let user_json = user.map(|u| {
        let menu = Menu::of(u.role);
        json!({
            "name": u.name,
            "role": u.role.as_str(),
            "role_label": t(locale, &format!("role.{}", u.role.as_str()), &[]),
            "is_admin": menu.admin,
            "can_file": menu.new_consultation,
            "sees_reports": menu.dashboard,
        })
    });
    json!({
        "locale": locale.as_str(),
        "title": t(locale, title_key, &[]),
        "user": user_json,
        "csrf": csrf_token(req),
        "path": req.uri().to_string(),
        "flash": Value::Null,
    })
}

/// Renders a page with the security headers and, when new, the CSRF cookie.
pub fn render(
    state: &AppState,
    req: &HttpRequest,
    template: &str,
    data: Value,
) -> Result<HttpResponse, AppError> {
    render_status(state, req, template, data, actix_web::http::StatusCode::OK)
}

pub fn render_status(
    state: &AppState,
    req: &HttpRequest,
    template: &str,
    data: Value,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    // The page, then the layout around it, both from one owned context: handlebars
    // copies the whole context into every partial, and a `{{#> layout}}` wrapper
    // (or a context converted from a borrowed value) made that several copies per page.
    let failed = |e: handlebars::RenderError| AppError::internal(format!("page {template}: {e}"));
    let mut context = Context::from(data);
    let page = state
        .pages
        .render_with_context(template, &context)
        .map_err(failed)?;
    if let Some(fields) = context.data_mut().as_object_mut() {
        fields.insert("body".into(), Value::String(page));
    }
    let body = state
        .pages
        .render_with_context("layout", &context)
        .map_err(failed)?;
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    if let Some(made) = req.extensions().get::<NewCsrf>() {
        response.cookie(
            Cookie::build(CSRF_COOKIE, made.0.clone())
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure(state, req))
                .finish(),
        );
    }
    Ok(response.body(body))
}

/// A `303 See Other` after a successful form post.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")),
        ))
        .finish()
}

/// Whether a path is a page (HTML) rather than the API or a health check.
pub fn is_page_path(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
        || path.starts_with("/assets/"))
}

/// The HTML rendering of an error on a page path: 401 goes to the login page,
/// everything else gets an error page in the user's language.
pub fn error_page(
    state: &AppState,
    req: &HttpRequest,
    error: &AppError,
    locale: Locale,
) -> HttpResponse {
    if error.kind == super::error::Kind::Unauthorized {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        return redirect(&format!(
            "/login?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ));
    }
    let user = req.extensions().get::<CurrentUser>().cloned();
    let locale = user.as_ref().map(|u| u.locale).unwrap_or(locale);
    let problem = error.problem(locale);
    let mut data = base(
        req,
        user.as_ref(),
        locale,
        &format!("error.{}.title", error_slug(error)),
    );
    data["status"] = json!(problem.status);
    data["detail"] = json!(problem.detail);
    data["title"] = json!(problem.title);
    let status = actix_web::http::StatusCode::from_u16(problem.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    render_status(state, req, "error", data, status)
        .unwrap_or_else(|_| HttpResponse::build(status).finish())
}

fn error_slug(error: &AppError) -> &'static str {
    use super::error::Kind;
    match error.kind {
        Kind::NotFound => "not_found",
        Kind::Forbidden => "forbidden",
        Kind::Conflict => "conflict",
        Kind::Gone => "gone",
        Kind::BadRequest => "bad_request",
        Kind::PayloadTooLarge => "payload_too_large",
        Kind::UnsupportedMediaType => "unsupported_media_type",
        Kind::Unprocessable => "unprocessable",
        Kind::TooManyRequests => "too_many_requests",
        Kind::Unauthorized => "unauthorized",
        Kind::Unavailable => "unavailable",
        Kind::Internal => "internal",
    }
}
