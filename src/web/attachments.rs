//! Attachment endpoints: upload (multipart, streamed to a temporary file while it
//! is hashed, never held whole in memory), list, and download. The use cases in
//! `app::attachments` decide who may and what is taken.

use std::io::Write;

use actix_multipart::Multipart;
use actix_web::{get, post, web, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::AppState;
use crate::app::attachments::{self as use_case, Upload};
use crate::app::Error;
use crate::db::attachments::{Attachment, Ticket};

/// Bytes kept for sniffing a file's kind.
const HEAD_BYTES: usize = 8192;

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    pub consultation_id: Option<i64>,
    pub inquiry_id: Option<i64>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// Staff only.
    pub internal: bool,
    pub uploaded_by: i64,
    pub created_at: String,
    /// Where to download it.
    pub href: String,
}

impl AttachmentView {
    fn new(state: &AppState, a: Attachment) -> Self {
        AttachmentView {
            href: format!("/api/v1/attachments/{}", a.id),
            id: a.id,
            consultation_id: a.consultation_id,
            inquiry_id: a.inquiry_id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            internal: a.internal,
            uploaded_by: a.uploaded_by,
            created_at: state.format_time(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    pub items: Vec<AttachmentView>,
}

/// Streams every `file` part to a temporary file (stopping at the file limit:
/// what is over it is read and dropped, so the client gets its answer); an
/// `internal` part marks them staff-only.
pub async fn receive(state: &AppState, mut form: Multipart) -> Result<Vec<Upload>, AppError> {
    let limit = state.settings.attachments.file_bytes;
    let mut uploads = vec![];
    let mut internal = false;
    let mut too_large = false;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| AppError::invalid_parameter("file", &e.to_string()))?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "internal" {
            let mut value = vec![];
            while let Some(chunk) = field.next().await {
                let chunk =
                    chunk.map_err(|e| AppError::invalid_parameter("internal", &e.to_string()))?;
                if value.len() < 16 {
                    value.extend_from_slice(&chunk);
                }
            }
            internal = value == b"true";
            continue;
        }
        if name != "file" {
            while field.next().await.is_some() {}
            continue;
        }
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .unwrap_or("file")
            .to_string();
        let (path, mut file) = state
            .app
            .files
            .temp()
            .map_err(|e| AppError::internal(format!("temporary file: {e}")))?;
        let (mut size, mut hash, mut head) = (0u64, Sha256::new(), Vec::new());
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::invalid_parameter("file", &e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                too_large = true;
                continue;
            }
            if head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hash.update(&chunk);
            file.write_all(&chunk)
                .map_err(|e| AppError::internal(format!("writing an upload: {e}")))?;
        }
        drop(file);
        uploads.push(Upload {
            temp: path,
            name: filename,
            size,
            sha256: format!("{:x}", hash.finalize()),
            head,
            internal: false,
        });
    }
    if too_large || uploads.is_empty() {
        for upload in &uploads {
            let _ = std::fs::remove_file(&upload.temp);
        }
        return Err(if too_large {
            Error::TooLarge.into()
        } else {
            Error::invalid_field("file", "validation.required").into()
        });
    }
    for upload in &mut uploads {
        upload.internal = internal;
    }
    Ok(uploads)
}

async fn attach_all(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    ticket: Ticket,
    form: Multipart,
) -> Result<HttpResponse, AppError> {
    let uploads = receive(state, form).await?;
    let added = state
        .call(user, move |app, conn, caller| {
            let mut added = vec![];
            let mut pending = uploads.into_iter();
            while let Some(upload) = pending.next() {
                match use_case::attach(app, conn, caller, ticket, upload) {
                    Ok(a) => added.push(a),
                    Err(e) => {
                        // The files after a refused one are not kept either.
                        for rest in pending {
                            let _ = std::fs::remove_file(&rest.temp);
                        }
                        return Err(e);
                    }
                }
            }
            Ok(added)
        })
        .await?;
    Ok(HttpResponse::Created().json(AttachmentList {
        items: added
            .into_iter()
            .map(|a| AttachmentView::new(state, a))
            .collect(),
    }))
}

/// Attach files (multipart `file` parts; `internal=true` for staff-only files).
#[utoipa::path(post, path = "/api/v1/consultations/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the consultation")),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = AttachmentList), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/consultations/{id}/attachments")]
pub async fn attach_to_consultation(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: Multipart,
) -> Result<HttpResponse, AppError> {
    attach_all(&state, &user, Ticket::Consultation(id.into_inner()), form).await
}

/// Attach files to an inquiry (as for consultations).
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the inquiry")),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = AttachmentList), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/inquiries/{id}/attachments")]
pub async fn attach_to_inquiry(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: Multipart,
) -> Result<HttpResponse, AppError> {
    attach_all(&state, &user, Ticket::Inquiry(id.into_inner()), form).await
}

/// A consultation's files the caller may see.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the consultation")),
    responses((status = 200, body = AttachmentList), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/consultations/{id}/attachments")]
pub async fn list_for_consultation(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let ticket = Ticket::Consultation(id.into_inner());
    let found = state
        .call(&user, move |_, conn, caller| {
            use_case::list(conn, caller, ticket)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AttachmentList {
        items: found
            .into_iter()
            .map(|a| AttachmentView::new(&state, a))
            .collect(),
    }))
}

/// `filename*` of RFC 6266 / 5987: UTF-8, percent-encoded.
fn encoded(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Download a file: visible exactly as its ticket (404 otherwise; internal
/// files to staff only), always as an attachment, never rendered inline.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the attachment")),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/attachments/{id}")]
pub async fn download(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (attachment, path) = state
        .call(&user, move |app, conn, caller| {
            use_case::download(app, conn, caller, id)
        })
        .await?;
    // At most one file's limit (20 MB by default) is read at once.
    let bytes = web::block(move || std::fs::read(path))
        .await?
        .map_err(|e| AppError::internal(format!("reading an attachment: {e}")))?;
    let ascii: String = attachment
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", attachment.content_type.as_str()))
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
                encoded(&attachment.name)
            ),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(bytes))
}
