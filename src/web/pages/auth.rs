//! Logging in and out of the pages, the start page, and the language switch.

use std::borrow::Cow;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use percent_encoding::percent_decode_str;
use serde_json::json;
use url::{Position, Url};

use super::{
    base, check_csrf, expired_session_cookie, home_of, page_locale, redirect, render_status,
    session_cookie, LANG_COOKIE,
};
use crate::app::{directory, sessions};
use crate::domain::directory::MeUpdate;
use crate::i18n::Locale;
use crate::web::auth::{sign_in, CurrentUser};
use crate::web::error::AppError;
use crate::web::AppState;

type Form = super::form::PageForm;

/// Where to send the browser after signing in or switching language: a path on
/// this site, or `None` (the caller's default) for anything else, so that a link
/// to our login page cannot forward a fresh session to another site.
///
/// Parsed with the `url` crate (the WHATWG URL standard browsers follow) against
/// the public URL, and kept only if the origin stays the same. Before that, what
/// a browser or proxy may read differently is refused outright: control
/// characters (browsers drop tab and line breaks, so `/\t/evil` is `//evil`),
/// backslashes (read as `/`), `//` in the path, and all of these behind percent
/// encoding, once or twice (`%09`, `%5c`, `%2f%2f`, `%252f`).
fn safe_next(next: Option<&String>, public_url: &str) -> Option<String> {
    let next = next?;
    if !next.starts_with('/') {
        return None;
    }
    let (path, rest) = next.split_at(next.find(['?', '#']).unwrap_or(next.len()));
    let mut path = Cow::Borrowed(path);
    let mut rest = Cow::Borrowed(rest);
    // Three rounds of decoding are more than any legitimate link carries; a value
    // that still changes after them is refused.
    for round in 0..=3 {
        if path.contains("//") || [&path, &rest].iter().any(|s| s.chars().any(unsafe_char)) {
            return None;
        }
        let decoded_path = percent_decode_str(&path).decode_utf8_lossy().into_owned();
        let decoded_rest = percent_decode_str(&rest).decode_utf8_lossy().into_owned();
        if decoded_path == *path && decoded_rest == *rest {
            break;
        }
        if round == 3 {
            return None;
        }
        path = Cow::Owned(decoded_path);
        rest = Cow::Owned(decoded_rest);
    }
    let base = Url::parse(public_url).ok()?;
    let target = base.join(next).ok()?;
    if target.origin() != base.origin() {
        return None;
    }
    let relative = &target[Position::BeforePath..];
    (relative.starts_with('/') && !relative.starts_with("//") && !relative.contains('\\'))
        .then(|| relative.to_string())
}

/// Control characters (C0 and DEL) and the backslash.
fn unsafe_char(c: char) -> bool {
    c < ' ' || c == '\x7f' || c == '\\'
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
    error: Option<&AppError>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, None);
    let mut data = base(req, None, locale, "page.title.login");
    data["email"] = json!(email);
    data["next"] = json!(next);
    let mut status = actix_web::http::StatusCode::OK;
    if let Some(e) = error {
        // A directory that is down says so (503), not "wrong password".
        let message = e.problem(locale).detail;
        data["flash"] =
            json!({"kind": "error", "error": "invalid", "message": message, "fields": []});
        status = e.status();
    }
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
    let next = safe_next(query.next.as_ref(), &state.settings.public_url).unwrap_or_default();
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
    let next = safe_next(form.get("next"), &state.settings.public_url);
    match sign_in(&state, &req, email.clone(), password).await {
        Ok(signed_in) => {
            let target = next.unwrap_or_else(|| home_of(signed_in.user.role).to_string());
            let mut response = redirect(&target);
            response
                .add_cookie(&session_cookie(&state, &req, &signed_in.token))
                .map_err(AppError::internal)?;
            Ok(response)
        }
        Err(e) => login_page(
            &state,
            &req,
            &email,
            next.as_deref().unwrap_or_default(),
            Some(&e),
        ),
    }
}

/// Logging out ends the session on the server, not only the cookie.
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Option<CurrentUser>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    if let Some(user) = user {
        state
            .call(&user, |_, conn, caller| sessions::end(conn, caller))
            .await?;
    }
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
        let change = MeUpdate {
            locale: Some(locale.as_str().to_string()),
            ..Default::default()
        };
        state
            .call(&user, move |_, conn, caller| {
                directory::update_me(conn, caller, &change)
            })
            .await?;
    }
    let target =
        safe_next(form.get("next"), &state.settings.public_url).unwrap_or_else(|| "/".into());
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

async fn account_page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    flash: serde_json::Value,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let (me, _) = state
        .call(user, |_, conn, caller| directory::me(conn, caller))
        .await?;
    let mut data = base(req, Some(user), locale, "page.title.account");
    data["flash"] = flash;
    data["directory"] = json!(me.is_directory_account());
    data["changed"] = json!(req.query_string() == "changed=1");
    render_status(state, req, "account", data, status)
}

/// One's own account: a new password, and logging out everywhere.
#[get("/account")]
pub async fn account(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    account_page(
        &state,
        &req,
        &user,
        serde_json::Value::Null,
        actix_web::http::StatusCode::OK,
    )
    .await
}

#[post("/account/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let change = MeUpdate {
        password: Some(form.get("password").cloned().unwrap_or_default()),
        current_password: form.get("current_password").cloned(),
        password_confirmation: form.get("password_confirmation").cloned(),
        ..Default::default()
    };
    let result = state
        .call(&user, move |_, conn, caller| {
            directory::update_me(conn, caller, &change)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect("/account?changed=1")),
        Err(e) if e.kind == crate::web::error::Kind::Unprocessable => {
            let locale = page_locale(&req, Some(&user));
            let flash = super::consultations::labelled_error_flash(&e, locale, "field");
            account_page(&state, &req, &user, flash, e.status()).await
        }
        Err(e) => Err(e),
    }
}

/// Log out everywhere, this browser too.
#[post("/account/sessions/end")]
pub async fn end_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    state
        .call(&user, |_, conn, caller| {
            sessions::end_everywhere(conn, caller)
        })
        .await?;
    let mut response = redirect("/login");
    response
        .add_cookie(&expired_session_cookie())
        .map_err(AppError::internal)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://digicon.city.example";

    fn next(value: &str) -> Option<String> {
        safe_next(Some(&value.to_string()), PUBLIC)
    }

    #[test]
    fn paths_on_this_site_are_kept() {
        for path in [
            "/",
            "/consultations/42",
            "/consultations?view=mine&state=received",
            "/systems?platform=rpa#list",
            "/consultations?q=%E7%94%B3%E8%AB%8B",
            "/@someone",
        ] {
            assert_eq!(next(path).as_deref(), Some(path), "{path:?}");
        }
        assert_eq!(
            next("/consultations?q=申請").as_deref(),
            Some("/consultations?q=%E7%94%B3%E8%AB%8B"),
            "sent as the browser would"
        );
        assert_eq!(
            next("/a/../consultations").as_deref(),
            Some("/consultations")
        );
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for value in [
            "",
            "evil.example",
            "https://evil.example/",
            "HTTPS://evil.example/",
            "http:evil.example",
            "javascript:alert(1)",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\0/evil.example",
            "/\x7f/evil.example",
            "/x?\u{1b}",
            "/%09/evil.example",
            "/%2f%2fevil.example",
            "/%2F/evil.example",
            "/%5cevil.example",
            "/%5C%5Cevil.example",
            "/%252f%252fevil.example",
            "/%25252f%25252fevil.example",
            "/%2525252fevil.example",
            "/.//evil.example",
            "/x/..//evil.example",
            "/consultations?next=%2F%09%2Fevil.example",
        ] {
            assert_eq!(next(value), None, "{value:?}");
        }
    }

    #[test]
    fn an_unusable_public_url_refuses_everything() {
        assert_eq!(
            safe_next(Some(&"/consultations".to_string()), "not a url"),
            None
        );
        assert_eq!(safe_next(None, PUBLIC), None);
    }
}
