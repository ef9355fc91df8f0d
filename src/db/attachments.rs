//! Attachment rows: which ticket a file belongs to, its name, kind, size and
//! content hash.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::attachments;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: i64,
    pub consultation_id: Option<i64>,
    pub inquiry_id: Option<i64>,
    pub internal: bool,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: i64,
    pub created_at: NaiveDateTime,
}

/// A consultation's or an inquiry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticket {
    Consultation(i64),
    Inquiry(i64),
}

pub struct NewAttachment<'a> {
    pub ticket: Ticket,
    pub internal: bool,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub uploaded_by: i64,
    pub now: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewAttachment) -> QueryResult<Attachment> {
    let (consultation_id, inquiry_id) = match new.ticket {
        Ticket::Consultation(id) => (Some(id), None),
        Ticket::Inquiry(id) => (None, Some(id)),
    };
    let id: i64 = diesel::insert_into(attachments::table)
        .values((
            attachments::consultation_id.eq(consultation_id),
            attachments::inquiry_id.eq(inquiry_id),
            attachments::internal.eq(new.internal),
            attachments::name.eq(new.name),
            attachments::content_type.eq(new.content_type),
            attachments::size.eq(new.size),
            attachments::sha256.eq(new.sha256),
            attachments::uploaded_by.eq(new.uploaded_by),
            attachments::created_at.eq(new.now),
        ))
        .returning(attachments::id)
        .get_result(conn)?;
    attachments::table
        .find(id)
        .select(Attachment::as_select())
        .first(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Attachment>> {
    attachments::table
        .find(id)
        .select(Attachment::as_select())
        .first(conn)
        .optional()
}

/// A ticket's files, oldest first; internal ones only when asked.
pub fn of(
    conn: &mut DbConn,
    ticket: Ticket,
    include_internal: bool,
) -> QueryResult<Vec<Attachment>> {
    let mut query = attachments::table
        .order(attachments::id.asc())
        .select(Attachment::as_select())
        .into_boxed();
    query = match ticket {
        Ticket::Consultation(id) => query.filter(attachments::consultation_id.eq(id)),
        Ticket::Inquiry(id) => query.filter(attachments::inquiry_id.eq(id)),
    };
    if !include_internal {
        query = query.filter(attachments::internal.eq(false));
    }
    query.load(conn)
}

/// The bytes a ticket carries already (a ticket has a handful of files).
pub fn total_size(conn: &mut DbConn, ticket: Ticket) -> QueryResult<i64> {
    let query = attachments::table.select(attachments::size).into_boxed();
    let query = match ticket {
        Ticket::Consultation(id) => query.filter(attachments::consultation_id.eq(id)),
        Ticket::Inquiry(id) => query.filter(attachments::inquiry_id.eq(id)),
    };
    Ok(query.load::<i64>(conn)?.into_iter().sum())
}

/// Whether any row names a content hash.
pub fn hash_known(conn: &mut DbConn, sha256: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        attachments::table.filter(attachments::sha256.eq(sha256)),
    ))
    .get_result(conn)
}
