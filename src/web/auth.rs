//! Authentication: `POST /api/v1/auth/token` signs in and issues an HS256 JWT that
//! names a session (`app::sessions`); the `CurrentUser` extractor accepts it as
//! `Authorization: Bearer` (or the pages' cookie) while that session is open.
//! Sign-in attempts are throttled by `login_limits`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{delete, post, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::UserView;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::AppState;
use crate::app::{directory_sign_in, password_reset, sessions};
use crate::domain::ids::UserId;
use crate::domain::Role;
use crate::i18n::Locale;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The session the token belongs to.
    sid: String,
    iat: i64,
    exp: i64,
}

/// Signing and checking of tokens with the shared secret, so that any instance
/// accepts a token another issued.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &str) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// A token for a user's session, valid until `expires_at`.
    pub fn issue(
        &self,
        user_id: i64,
        session: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<String, AppError> {
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session.to_string(),
            iat: Utc::now().timestamp(),
            exp: expires_at.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// The user id and session of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Option<(i64, String)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some((data.claims.sub.parse().ok()?, data.claims.sid))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    #[schema(required = true, value_type = String)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub token: String,
    pub expires_at: String,
    pub user: UserView,
}

/// Exchange an e-mail address and password for a bearer token.
#[utoipa::path(
    post, path = "/api/v1/auth/token", tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the directory's department matches no department here"),
        (status = 503, body = Problem, description = "the city's directory cannot be reached; local accounts still sign in"),
        (status = 429, body = Problem, description = "too many attempts; see Retry-After"),
    )
)]
#[post("/api/v1/auth/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<TokenRequest>,
) -> Result<HttpResponse, AppError> {
    let email = body.value.email.unwrap_or_default();
    let password = body.value.password.unwrap_or_default();
    let signed_in = sign_in(&state, &req, email, password).await?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        token: signed_in.token,
        expires_at: state.format_time(signed_in.expires_at.naive_utc()),
        user: signed_in.user,
    }))
}

/// A new session and its token.
pub struct SignedIn {
    pub user: UserView,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Checks an e-mail address and password under the sign-in limits and opens a
/// session. Unknown addresses and wrong passwords cost the same and get the same
/// answer. The API's token and the pages' login both come here.
pub async fn sign_in(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    email: String,
    password: String,
) -> Result<SignedIn, AppError> {
    let email = email.trim().to_lowercase();
    let client = state.trusted_proxies.client_of(req);
    state
        .login_limits
        .check(&email, client)
        .map_err(|seconds| AppError::too_many_requests("error.too_many_logins", seconds))?;
    let ttl = Duration::hours(state.settings.token_ttl_hours);
    let account = email.clone();
    let (app, pool) = (state.app.clone(), state.pool.clone());
    // The use case takes its own connections: none is held while the directory
    // is asked.
    let signed_in =
        web::block(move || directory_sign_in::sign_in(&app, &pool, &account, &password, ttl))
            .await??
            .map(|(person, session, expires_at)| (UserView::from(person), session, expires_at));
    state
        .login_limits
        .record(&email, client, signed_in.is_some());
    let (user, session, expires_at) =
        signed_in.ok_or_else(|| AppError::unauthorized("error.bad_credentials"))?;
    let token = state.jwt.issue(user.id, &session, expires_at)?;
    Ok(SignedIn {
        user,
        token,
        expires_at,
    })
}

/// End this session: the token (or cookie) stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    state
        .call(&user, |_, conn, caller| sessions::end(conn, caller))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Log out everywhere: every session of the caller ends, this one too.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
#[delete("/api/v1/me/sessions")]
pub async fn end_my_sessions(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    state
        .call(&user, |_, conn, caller| {
            sessions::end_everywhere(conn, caller)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Log a user out everywhere (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[delete("/api/v1/users/{id}/sessions")]
pub async fn end_user_sessions(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state
        .call(&user, move |_, conn, caller| {
            sessions::end_everywhere_for(conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetResponse {
    /// When the mailed link stops working.
    pub expires_at: String,
}

/// Mail a user a one-time link to set a new password (admins). Older links stop
/// working; the link works once, until `expires_at`.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "auth", security(("bearer" = [])),
    responses((status = 202, body = PasswordResetResponse), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "a directory or deactivated account")))]
#[post("/api/v1/users/{id}/password-reset")]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let expires_at = state
        .call(&user, move |app, conn, caller| {
            password_reset::request(app, conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(PasswordResetResponse {
        expires_at: state.format_time(expires_at.naive_utc()),
    }))
}

/// The authenticated caller, loaded fresh each request so a deactivated account
/// loses access at once.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub department_id: i64,
    pub locale: Locale,
    /// The session the request came with.
    pub session: String,
}

/// The bearer token of the API, or the session cookie of the pages.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    header.or_else(|| {
        req.cookie(super::pages::SESSION_COOKIE)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// Whether a request would change something through the API on the strength of
/// the pages' session cookie alone. The pages' own scripts only read the API; a
/// write needs the `Authorization` header, which a browser never adds by itself.
/// Without this, a form on any page of the same site (a sibling subdomain: the
/// cookie is `SameSite=Lax`) could post to the bodyless writes, such as
/// `POST /api/v1/auth/logout` or an outbox retry, which carry no CSRF token and
/// need no JSON content type.
fn cookie_write_to_api(req: &HttpRequest) -> bool {
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    !safe
        && req.path().starts_with("/api/")
        && req.headers().get(AUTHORIZATION).is_none()
        && req.cookie(super::pages::SESSION_COOKIE).is_some()
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let cookie_write = cookie_write_to_api(req);
        let request = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            if cookie_write {
                return Err(AppError::unauthorized("error.bearer_required"));
            }
            let token = token.ok_or_else(|| AppError::unauthorized("error.token_missing"))?;
            let (user_id, session) = state
                .jwt
                .verify(&token)
                .ok_or_else(|| AppError::unauthorized("error.token_invalid"))?;
            let sid = session.clone();
            let user = state
                .run(move |_, conn| sessions::resume(conn, &sid))
                .await?
                .filter(|u| u.id == user_id)
                .ok_or_else(|| AppError::unauthorized("error.token_invalid"))?;
            let current = CurrentUser {
                id: user.id,
                name: user.name,
                email: user.email,
                role: user.role,
                department_id: user.department_id,
                locale: Locale::parse(&user.locale).unwrap_or_default(),
                session,
            };
            // Error pages render after the handler; they show the same header.
            request.extensions_mut().insert(current.clone());
            Ok(current)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_accepted_by_keys_with_the_same_secret_only() {
        let keys = JwtKeys::new("secret one");
        let token = keys
            .issue(42, "s1", Utc::now() + Duration::hours(1))
            .expect("issued");
        assert_eq!(keys.verify(&token), Some((42, "s1".to_string())));
        assert_eq!(
            JwtKeys::new("secret one").verify(&token),
            Some((42, "s1".to_string()))
        );
        assert_eq!(JwtKeys::new("secret two").verify(&token), None);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = JwtKeys::new("secret");
        let token = keys
            .issue(42, "s1", Utc::now() - Duration::minutes(5))
            .expect("issued");
        assert_eq!(keys.verify(&token), None);
    }
}
