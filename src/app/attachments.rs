//! Attaching files to consultations and inquiries, listing and downloading them.
//! Who may attach is who may comment (internal files: staff, like internal
//! notes); who may download is who may see the ticket (internal files: staff).
//! The bytes arrive in a temporary file (the web layer streams them, stopping
//! at [`Limits::file_bytes`]); here they are checked and kept.

use std::path::PathBuf;

use diesel::Connection;

use super::{App, Caller, Error, Result};
use crate::db::attachments::{self, Attachment, NewAttachment, Ticket};
use crate::db::{consultations, inquiries, DbConn};
use crate::domain::attachment::{clean_name, sniff, Limits, Refused};
use crate::domain::consultation::may_comment;

/// A file as it arrived: where it waits, what it was called, its size and hash,
/// and its first bytes (for its kind).
#[derive(Debug)]
pub struct Upload {
    pub temp: PathBuf,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub head: Vec<u8>,
    /// Attached to an internal note: staff only.
    pub internal: bool,
}

/// The limits uploads are streamed against.
pub fn limits(app: &App) -> Limits {
    app.attachment_limits
}

/// The ticket, if the caller may see it.
fn visible(conn: &mut DbConn, caller: &Caller, ticket: Ticket) -> Result<()> {
    let seen = match ticket {
        Ticket::Consultation(id) => consultations::find_visible(conn, id, &caller.scope)?.is_some(),
        Ticket::Inquiry(id) => inquiries::find_visible(conn, id, &caller.scope)?.is_some(),
    };
    if seen {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

fn refused(why: Refused) -> Error {
    match why {
        Refused::TooLarge => Error::TooLarge,
        Refused::Kind => Error::UnsupportedType,
    }
}

/// Checks an upload and keeps it, or takes the temporary file away and
/// changes nothing.
pub fn attach(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    ticket: Ticket,
    upload: Upload,
) -> Result<Attachment> {
    let checked = check(app, conn, caller, ticket, &upload);
    let kind = match checked {
        Ok(kind) => kind,
        Err(e) => {
            let _ = std::fs::remove_file(&upload.temp);
            return Err(e);
        }
    };
    app.files
        .keep(&upload.temp, &upload.sha256)
        .map_err(|e| Error::internal(format!("keeping an upload: {e}")))?;
    let name = clean_name(&upload.name);
    conn.transaction(|conn| {
        Ok(attachments::insert(
            conn,
            &NewAttachment {
                ticket,
                internal: upload.internal,
                name: &name,
                content_type: kind,
                size: upload.size as i64,
                sha256: &upload.sha256,
                uploaded_by: caller.id,
                now: crate::db::now(),
            },
        )?)
    })
}

fn check(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    ticket: Ticket,
    upload: &Upload,
) -> Result<&'static str> {
    visible(conn, caller, ticket)?;
    if !may_comment(caller.role, upload.internal) {
        return Err(Error::Forbidden);
    }
    let limits = app.attachment_limits;
    if upload.size > limits.file_bytes {
        return Err(refused(Refused::TooLarge));
    }
    let carried = attachments::total_size(conn, ticket)? as u64;
    if carried + upload.size > limits.ticket_bytes {
        return Err(refused(Refused::TooLarge));
    }
    if upload.size == 0 {
        return Err(Error::invalid_field("file", "validation.required"));
    }
    sniff(&upload.head, &clean_name(&upload.name)).map_err(refused)
}

/// A ticket's files the caller may see.
pub fn list(conn: &mut DbConn, caller: &Caller, ticket: Ticket) -> Result<Vec<Attachment>> {
    visible(conn, caller, ticket)?;
    Ok(attachments::of(conn, ticket, caller.role.is_staff())?)
}

/// A file to download and where its bytes are: `NotFound` unless the caller
/// may see its ticket (and, for an internal one, is staff).
pub fn download(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
) -> Result<(Attachment, PathBuf)> {
    let attachment = attachments::find(conn, id)?.ok_or(Error::NotFound)?;
    let ticket = match (attachment.consultation_id, attachment.inquiry_id) {
        (Some(c), _) => Ticket::Consultation(c),
        (None, Some(i)) => Ticket::Inquiry(i),
        (None, None) => return Err(Error::NotFound),
    };
    visible(conn, caller, ticket)?;
    if attachment.internal && !caller.role.is_staff() {
        return Err(Error::NotFound);
    }
    let path = app.files.path(&attachment.sha256);
    Ok((attachment, path))
}

/// The worker's sweep of files no row names (and abandoned uploads).
pub fn sweep_files(app: &App, conn: &mut DbConn) -> Result<usize> {
    let mut failed = None;
    let removed = app
        .files
        .sweep(&mut |sha| match attachments::hash_known(conn, sha) {
            Ok(known) => known,
            Err(e) => {
                failed = Some(e);
                true
            }
        })
        .map_err(|e| Error::internal(format!("sweeping files: {e}")))?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(removed),
    }
}
