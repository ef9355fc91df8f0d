//! Authentication: `POST /api/v1/auth/token` issues an HS256 JWT; the `CurrentUser`
//! extractor accepts it as `Authorization: Bearer`. Login attempts are rate-limited
//! per account and per client address.

use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{post, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::UserView;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::AppState;
use crate::app::directory;
use crate::db::users;
use crate::domain::Role;
use crate::i18n::Locale;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
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

    pub fn issue(&self, user_id: i64, ttl: Duration) -> Result<(String, DateTime<Utc>), AppError> {
        let now = Utc::now();
        let expires_at = now + ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, expires_at))
    }

    /// The user id of a valid, unexpired token.
    pub fn user_id(&self, token: &str) -> Option<i64> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .and_then(|data| data.claims.sub.parse().ok())
    }
}

/// Keyed token buckets for login attempts.
pub struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LoginLimits {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> LoginLimits {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds)` to wait when either the address or the account is over its limit.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), u64> {
        // Forget idle keys now and then so the maps stay small.
        if self.per_account.len() > 10_000 {
            self.per_account.retain_recent();
            self.per_address.retain_recent();
        }
        let wait = |not_until: governor::NotUntil<_>| {
            not_until.wait_time_from(self.clock.now()).as_secs().max(1)
        };
        if let Some(address) = address {
            self.per_address.check_key(&address).map_err(wait)?;
        }
        self.per_account
            .check_key(&account.to_string())
            .map_err(wait)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub email: Option<String>,
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
    let user = authenticate(&state, &req, email, password).await?;
    let (token, expires_at) = state
        .jwt
        .issue(user.id, Duration::hours(state.settings.token_ttl_hours))?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        token,
        expires_at: state.format_time(expires_at.naive_utc()),
        user,
    }))
}

/// Checks an e-mail address and password under the login rate limits. Unknown
/// addresses and wrong passwords cost the same and get the same answer.
pub async fn authenticate(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    email: String,
    password: String,
) -> Result<UserView, AppError> {
    let email = email.trim().to_lowercase();
    state
        .login_limits
        .check(&email, req.peer_addr().map(|a| a.ip()))
        .map_err(|seconds| AppError::too_many_requests("error.too_many_logins", seconds))?;
    state
        .run(move |_, conn| directory::authenticate(conn, &email, &password))
        .await?
        .map(UserView::from)
        .ok_or_else(|| AppError::unauthorized("error.bad_credentials"))
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
}

/// The bearer token of the API, or the session cookie of the pages. A cookie
/// alone cannot be used cross-site against the API: its writes require
/// `application/json`, which a foreign form cannot send.
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

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let request = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let token = token.ok_or_else(|| AppError::unauthorized("error.token_missing"))?;
            let user_id = state
                .jwt
                .user_id(&token)
                .ok_or_else(|| AppError::unauthorized("error.token_invalid"))?;
            let user = state
                .db(move |conn| Ok(users::find(conn, user_id)?))
                .await?
                .filter(|u| u.active)
                .ok_or_else(|| AppError::unauthorized("error.token_invalid"))?;
            let role = user.role;
            let current = CurrentUser {
                id: user.id,
                name: user.name,
                email: user.email,
                role,
                department_id: user.department_id,
                locale: Locale::parse(&user.locale).unwrap_or_default(),
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
        let (token, _) = keys.issue(42, Duration::hours(1)).expect("issued");
        assert_eq!(keys.user_id(&token), Some(42));
        assert_eq!(JwtKeys::new("secret one").user_id(&token), Some(42));
        assert_eq!(JwtKeys::new("secret two").user_id(&token), None);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = JwtKeys::new("secret");
        let (token, _) = keys.issue(42, Duration::minutes(-5)).expect("issued");
        assert_eq!(keys.user_id(&token), None);
    }

    #[test]
    fn login_limits_count_per_account() {
        let limits = LoginLimits::new(2, 100);
        assert!(limits.check("a@x", None).is_ok());
        assert!(limits.check("a@x", None).is_ok());
        assert!(limits.check("a@x", None).is_err());
        assert!(limits.check("b@x", None).is_ok());
    }
}
