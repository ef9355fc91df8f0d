//! One error type for every handler. It renders `application/problem+json`
//! (`type`, `title`, `status`, `detail`, and `errors` per field for validation
//! failures) in the caller's language. Policy: a client error says exactly what to
//! fix; a server error logs its whole cause and shows the client nothing internal;
//! a database that is away, busy, locked or out of disk (no connection within the
//! pool's timeout, or `db::is_unavailable`) is 503 with `Retry-After`, because the
//! same request may succeed in a few seconds.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app;
use crate::domain::FieldErrors;
use crate::i18n::{t, Locale};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl Kind {
    fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::Gone => StatusCode::GONE,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad_request",
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Gone => "gone",
            Kind::PayloadTooLarge => "payload_too_large",
            Kind::UnsupportedMediaType => "unsupported_media_type",
            Kind::Unprocessable => "unprocessable",
            Kind::TooManyRequests => "too_many_requests",
            Kind::Unavailable => "unavailable",
            Kind::Internal => "internal",
        }
    }
}

/// A catalog key and the values for its placeholders. Values that are themselves
/// catalog keys (state names, say) are stored as keys and translated when rendered.
#[derive(Debug, Clone)]
pub struct Message {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

/// Boxed so that `Result<T, AppError>` stays small on the happy path.
#[derive(Debug)]
pub struct AppError(Box<ErrorDetails>);

#[derive(Debug)]
pub struct ErrorDetails {
    pub kind: Kind,
    pub detail: Message,
    pub errors: FieldErrors,
    /// Extra members of the problem object (e.g. `allowed_events`).
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub retry_after: Option<u64>,
    /// Logged, never shown.
    pub cause: Option<String>,
}

/// The problem+json body, for the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Messages per field, for validation failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

impl AppError {
    pub fn new(kind: Kind, key: &'static str) -> AppError {
        AppError(Box::new(ErrorDetails {
            kind,
            detail: Message { key, args: vec![] },
            errors: FieldErrors::new(),
            extra: serde_json::Map::new(),
            retry_after: None,
            cause: None,
        }))
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> AppError {
        self.detail.args.push((name, value.to_string()));
        self
    }

    pub fn with(mut self, member: &str, value: serde_json::Value) -> AppError {
        self.extra.insert(member.to_string(), value);
        self
    }

    pub fn bad_request(key: &'static str) -> AppError {
        AppError::new(Kind::BadRequest, key)
    }

    pub fn invalid_parameter(name: &str, value: &str) -> AppError {
        AppError::bad_request("error.invalid_parameter")
            .arg("name", name)
            .arg("value", value)
    }

    pub fn unauthorized(key: &'static str) -> AppError {
        AppError::new(Kind::Unauthorized, key)
    }

    pub fn forbidden() -> AppError {
        AppError::new(Kind::Forbidden, "error.forbidden")
    }

    pub fn not_found() -> AppError {
        AppError::new(Kind::NotFound, "error.not_found")
    }

    pub fn stale_version(current: i32) -> AppError {
        AppError::new(Kind::Conflict, "error.stale_version")
            .arg("current", current)
            .with("current_version", current.into())
    }

    pub fn payload_too_large(limit: usize) -> AppError {
        AppError::new(Kind::PayloadTooLarge, "error.payload_too_large").arg("limit", limit)
    }

    pub fn invalid(errors: FieldErrors) -> AppError {
        let mut e = AppError::new(Kind::Unprocessable, "error.validation");
        e.errors = errors;
        e
    }

    pub fn invalid_field(field: &str, key: &'static str) -> AppError {
        let mut errors = FieldErrors::new();
        errors.add(field, key);
        AppError::invalid(errors)
    }

    pub fn illegal_transition(state: &str, event: &str, allowed: &[&str]) -> AppError {
        let allowed_names: Vec<&str> = allowed.to_vec();
        let list = if allowed_names.is_empty() {
            "error.none".to_string()
        } else {
            allowed_names.join(", ")
        };
        AppError::new(Kind::Unprocessable, "error.illegal_transition")
            .arg("state", state)
            .arg("event", event)
            .arg("allowed", list)
            .with("state", state.into())
            .with("allowed_events", allowed_names.into())
    }

    pub fn too_many_requests(key: &'static str, retry_after: u64) -> AppError {
        let mut e = AppError::new(Kind::TooManyRequests, key).arg("seconds", retry_after);
        e.retry_after = Some(retry_after);
        e
    }

    /// 503 with `Retry-After`: the database is busy or away for the moment.
    pub fn unavailable(cause: impl fmt::Display) -> AppError {
        let mut e = AppError::new(Kind::Unavailable, "error.unavailable");
        e.cause = Some(cause.to_string());
        e.retry_after = Some(5);
        e
    }

    pub fn internal(cause: impl fmt::Display) -> AppError {
        let mut e = AppError::new(Kind::Internal, "error.internal");
        e.cause = Some(cause.to_string());
        e
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The problem+json body in a language.
    pub fn problem(&self, locale: Locale) -> Problem {
        let args: Vec<(&str, String)> = self
            .detail
            .args
            .iter()
            .map(|(name, value)| (*name, translate_value(locale, value)))
            .collect();
        let errors = (!self.errors.is_empty()).then(|| {
            self.errors
                .0
                .iter()
                .map(|(field, keys)| {
                    (
                        field.clone(),
                        keys.iter().map(|k| t(locale, k, &[])).collect(),
                    )
                })
                .collect()
        });
        Problem {
            problem_type: format!("urn:digicon:problem:{}", self.kind.slug()),
            title: t(locale, &format!("error.{}.title", self.kind.slug()), &[]),
            status: self.kind.status().as_u16(),
            detail: t(locale, self.detail.key, &args),
            errors,
        }
    }

    pub fn render(&self, locale: Locale) -> HttpResponse {
        let mut body = match serde_json::to_value(self.problem(locale)) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        let mut response = HttpResponse::build(self.kind.status());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.kind == Kind::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.body(serde_json::Value::Object(body).to_string())
    }
}

/// Placeholder values that name a catalog entry ("error.none") are translated too.
fn translate_value(locale: Locale, value: &str) -> String {
    if value.starts_with("error.") {
        t(locale, value, &[])
    } else {
        value.to_string()
    }
}

impl std::ops::Deref for AppError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for AppError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.slug(), self.detail.key)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    /// Rendered in Japanese here; [`localize`] re-renders it in the caller's language.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        if matches!(self.kind, Kind::Internal | Kind::Unavailable) {
            log::error!("{self}");
        }
        self.render(Locale::Ja)
    }
}

/// The one mapping of the use cases' refusals to HTTP.
impl From<app::Error> for AppError {
    fn from(e: app::Error) -> Self {
        match e {
            app::Error::NotFound => AppError::not_found(),
            app::Error::Forbidden => AppError::forbidden(),
            app::Error::ForbiddenEvent(event) => {
                AppError::new(Kind::Forbidden, "error.forbidden_event").arg("event", event)
            }
            app::Error::Stale { current } => AppError::stale_version(current),
            app::Error::NotAllowed {
                state,
                event,
                allowed,
            } => AppError::illegal_transition(state, event, &allowed),
            app::Error::Terminal(state) => {
                AppError::new(Kind::Unprocessable, "error.terminal").arg("state", state)
            }
            app::Error::Invalid(errors) => AppError::invalid(errors),
            app::Error::BadParameter { name, value } => AppError::invalid_parameter(&name, &value),
            app::Error::TooLarge => {
                AppError::new(Kind::PayloadTooLarge, "error.attachment_too_large")
            }
            app::Error::UnsupportedType => {
                AppError::new(Kind::UnsupportedMediaType, "error.attachment_type")
            }
            app::Error::IdempotencyMismatch => {
                AppError::new(Kind::Conflict, "error.idempotency_mismatch")
            }
            app::Error::NotFailed { status } => {
                AppError::new(Kind::Conflict, "error.not_failed").arg("status", status)
            }
            app::Error::Conflict(key) => AppError::new(Kind::Conflict, key),
            app::Error::Unavailable(cause) => AppError::unavailable(cause),
            app::Error::DirectoryUnavailable(cause) => {
                let mut e = AppError::unavailable(cause);
                e.detail.key = "error.directory_unavailable";
                e.retry_after = Some(30);
                e
            }
            app::Error::Refused(key) => AppError::new(Kind::Forbidden, key),
            app::Error::Gone(key) => AppError::new(Kind::Gone, key),
            app::Error::Internal(cause) => AppError::internal(cause),
        }
    }
}

/// A database that is away, busy or full is a 503 with `Retry-After` (the
/// request may be repeated as it is); any other database error is a fault.
impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        app::Error::from(e).into()
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::unavailable(format!("connection pool: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal(format!("blocking task: {e}"))
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        AppError::invalid(errors)
    }
}

/// Middleware body: re-renders an `AppError` response in the language the request
/// asked for, so handlers never need to know it.
pub fn localize(locale: Locale, response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let rendered = response
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .filter(|_| locale != Locale::Ja)
        .map(|e| e.render(locale));
    match rendered {
        Some(new) => response.into_response(new),
        None => response,
    }
}

/// The locale of a request for error messages: `Accept-Language`.
pub fn request_locale(req: &ServiceRequest) -> Locale {
    super::accept_language(req.headers())
}
