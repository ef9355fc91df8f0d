//! The page of an admin's one-time password reset link: a form for the new
//! password. The link itself is the credential, so nobody needs to be signed in;
//! `app::password_reset` decides whether it still works.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL, REFERRER_POLICY};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{base, check_csrf, page_locale, render_status};
use crate::app::password_reset;
use crate::web::error::{AppError, Kind};
use crate::web::AppState;

type Form = super::form::PageForm;

fn page(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
    done: bool,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, None);
    let mut data = base(req, None, locale, "page.title.password_reset");
    data["name"] = json!(name);
    data["done"] = json!(done);
    data["flash"] = flash;
    let mut response = render_status(state, req, "password_reset", data, status)?;
    // The address holds the token: no cache keeps the page, no link passes it on.
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}

#[get("/password-reset/{token}")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let (user, _) = state
        .run(move |_, conn| password_reset::open(conn, &token))
        .await?;
    page(&state, &req, &user.name, false, Value::Null, StatusCode::OK)
}

#[post("/password-reset/{token}")]
pub async fn set(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let token = token.into_inner();
    let password = form.get("password").cloned().unwrap_or_default();
    let confirmation = form.get("password_confirmation").cloned();
    let result = state
        .run(move |_, conn| {
            password_reset::complete(conn, &token, &password, confirmation.as_deref())
        })
        .await;
    match result {
        Ok((user, _)) => page(&state, &req, &user.name, true, Value::Null, StatusCode::OK),
        Err(e) if e.kind == Kind::Unprocessable => {
            let locale = page_locale(&req, None);
            let flash = super::consultations::labelled_error_flash(&e, locale, "field");
            page(&state, &req, "", false, flash, e.status())
        }
        Err(e) => Err(e),
    }
}
