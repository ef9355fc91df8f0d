//! Reading an uploaded CSV file for `app::reorg`: a city's 8,000 staff make a
//! file of about a megabyte, more than the usual body limit, so these bodies get
//! their own limit. The API takes the file as the body; the admin pages post it
//! as a multipart `file` (the preview) or as the `content` of the confirm form.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use super::error::AppError;

/// The largest import file (and confirm form) taken.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// The whole body, refused past [`MAX_BYTES`].
pub async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::bad_request("error.malformed_form"))?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(AppError::payload_too_large(MAX_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A page's import post: its text fields, and the file when one was uploaded.
#[derive(Debug, Default)]
pub struct ImportForm {
    pub fields: HashMap<String, String>,
    pub file: Option<Vec<u8>>,
}

fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl ImportForm {
    /// Reads a multipart upload or an urlencoded confirm form.
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<ImportForm, AppError> {
        match content_type(req).as_str() {
            "multipart/form-data" => {
                let payload: Payload = payload.into_inner();
                Self::multipart(Multipart::new(req.headers(), payload)).await
            }
            "application/x-www-form-urlencoded" => {
                let body = read_body(payload).await?;
                let fields = super::pages::form::parse(&body)
                    .ok_or_else(|| AppError::bad_request("error.malformed_form"))?;
                Ok(ImportForm { fields, file: None })
            }
            _ => Err(AppError::bad_request("error.malformed_form")),
        }
    }

    async fn multipart(mut parts: Multipart) -> Result<ImportForm, AppError> {
        let mut form = ImportForm::default();
        let mut total = 0usize;
        while let Some(part) = parts.next().await {
            let mut part = part.map_err(|_| AppError::bad_request("error.malformed_form"))?;
            let name = part.name().unwrap_or_default().to_string();
            let mut value = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(|_| AppError::bad_request("error.malformed_form"))?;
                total += chunk.len();
                if total > MAX_BYTES {
                    return Err(AppError::payload_too_large(MAX_BYTES));
                }
                value.extend_from_slice(&chunk);
            }
            if name == "file" {
                form.file = Some(value);
            } else {
                let text = String::from_utf8(value)
                    .map_err(|_| AppError::bad_request("error.malformed_form"))?;
                form.fields.insert(name, text);
            }
        }
        Ok(form)
    }
}
