//! `ApiJson<T>`: the JSON body extractor of the API. Malformed JSON is 400, a body
//! over the limit 413, and valid JSON of the wrong shape (anything but an object,
//! or a field of the wrong type) 422 naming the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::AppError;
use super::AppState;

/// A parsed JSON body and its canonical form (for idempotency hashing).
pub struct ApiJson<T> {
    pub value: T,
    pub canonical: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.max_body_bytes)
            .unwrap_or(256 * 1024);
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes: Bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::payload_too_large(limit)
                } else {
                    AppError::bad_request("error.malformed_json").arg("reason", e)
                }
            })?;
            if !is_json {
                return Err(AppError::bad_request("error.content_type"));
            }
            let json: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| AppError::bad_request("error.malformed_json").arg("reason", e))?;
            // Every body of the API is an object. serde would also read a struct
            // from an array of its fields in order (`[null, null]` as an empty
            // edit, `["title","body","rpa"]` as a filing): refuse that.
            if !json.is_object() {
                return Err(AppError::invalid_field("body", "validation.type"));
            }
            let canonical = json.to_string();
            let value = serde_path_to_error::deserialize(json).map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." {
                    "body".to_string()
                } else {
                    field
                };
                AppError::invalid_field(&field, "validation.type")
            })?;
            Ok(ApiJson { value, canonical })
        })
    }
}
