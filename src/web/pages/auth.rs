//! Logging in and out of the pages, the start page, and the language switch.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Duration;
use serde_json::json;

use super::{
    base, check_csrf, expired_session_cookie, home_of, page_locale, redirect, render_status,
    session_cookie, LANG_COOKIE,
};
use crate::db::{self, users};
use crate::i18n::Locale;
use crate::web::auth::{authenticate, CurrentUser};
use crate::web::error::AppError;
use crate::web::AppState;

type Form = web::Form<HashMap<String, String>>;

/// Only a path on this site: never an absolute URL (an open redirect).
fn safe_next(next: Option<&String>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .cloned()
}

#[get("/")]
pub async fn start(user: Option<CurrentUser>) -> HttpResponse {
    match user {
        Some(user) => redirect(home_of(user.role)),
        None => redirect("/login"),
    }
}

fn login_page(
    state: &AppState,
    req: &HttpRequest,
    email: &str,
    next: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, None);
    let mut data = base(req, None, locale, "page.title.login");
    data["email"] = json!(email);
    data["next"] = json!(next);
    if let Some(message) = error {
        data["flash"] =
            json!({"kind": "error", "error": "invalid", "message": message, "fields": []});
    }
    let status = if data["flash"].is_null() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNAUTHORIZED
    };
    render_status(state, req, "login", data, status)
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[get("/login")]
pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_ref()).unwrap_or_default();
    login_page(&state, &req, "", &next, None)
}

#[post("/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let email = form.get("email").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let next = safe_next(form.get("next"));
    match authenticate(&state, &req, email.clone(), password).await {
        Ok(user) => {
            let (token, _) = state
                .jwt
                .issue(user.id, Duration::hours(state.settings.token_ttl_hours))?;
            let target = next.unwrap_or_else(|| home_of(user.role).to_string());
            let mut response = redirect(&target);
            response
                .add_cookie(&session_cookie(&state, &req, &token))
                .map_err(AppError::internal)?;
            Ok(response)
        }
        Err(e) => {
            let locale = page_locale(&req, None);
            let message = e.problem(locale).detail;
            login_page(
                &state,
                &req,
                &email,
                next.as_deref().unwrap_or_default(),
                Some(message),
            )
        }
    }
}

#[post("/logout")]
pub async fn logout(req: HttpRequest, form: Form) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let mut response = redirect("/login");
    response
        .add_cookie(&expired_session_cookie())
        .map_err(AppError::internal)?;
    Ok(response)
}

/// Switches the language: saved on the user when signed in, and in a cookie.
#[post("/settings/language")]
pub async fn language(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Option<CurrentUser>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = form
        .get("locale")
        .and_then(|l| Locale::parse(l))
        .ok_or_else(|| AppError::invalid_field("locale", "validation.choice"))?;
    if let Some(user) = user {
        state
            .db(move |conn| {
                users::update(
                    conn,
                    user.id,
                    &users::UserChanges {
                        locale: Some(locale.as_str().to_string()),
                        updated_at: Some(db::now()),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })
            .await?;
    }
    let target = safe_next(form.get("next")).unwrap_or_else(|| "/".into());
    let mut response = redirect(&target);
    response
        .add_cookie(
            &actix_web::cookie::Cookie::build(LANG_COOKIE, locale.as_str())
                .path("/")
                .same_site(actix_web::cookie::SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(365))
                .finish(),
        )
        .map_err(AppError::internal)?;
    Ok(response)
}
