//! Comments on a consultation: public ones everybody who sees it reads, internal
//! notes only staff read.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::comments;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
pub struct Comment {
    pub id: i64,
    pub consultation_id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = comments)]
pub struct NewComment<'a> {
    pub consultation_id: i64,
    pub author_id: i64,
    pub body: &'a str,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewComment) -> QueryResult<Comment> {
    let id: i64 = diesel::insert_into(comments::table)
        .values(new)
        .returning(comments::id)
        .get_result(conn)?;
    comments::table
        .find(id)
        .select(Comment::as_select())
        .first(conn)
}

/// Comments oldest first; internal notes only when `include_internal`.
pub fn for_consultation(
    conn: &mut DbConn,
    consultation_id: i64,
    include_internal: bool,
) -> QueryResult<Vec<Comment>> {
    let mut query = comments::table
        .filter(comments::consultation_id.eq(consultation_id))
        .order(comments::id.asc())
        .select(Comment::as_select())
        .into_boxed();
    if !include_internal {
        query = query.filter(comments::internal.eq(false));
    }
    query.load(conn)
}
