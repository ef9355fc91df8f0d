//! FAQ articles and deflections ("this solved it").

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::consultations::Scope;
use super::inquiries::Inquiry;
use super::schema::{deflections, faq_articles, inquiries};
use super::DbConn;
use crate::domain::faq::FaqFields;
use crate::domain::inquiry::{InquiryState, Topic};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = faq_articles)]
pub struct FaqArticle {
    pub id: i64,
    pub title: String,
    pub question: String,
    pub answer: String,
    pub topic: Topic,
    pub source_inquiry_id: Option<i64>,
    pub version: i32,
    pub created_by: i64,
    pub updated_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(
    conn: &mut DbConn,
    fields: &FaqFields,
    source_inquiry_id: Option<i64>,
    author: i64,
    now: NaiveDateTime,
) -> QueryResult<FaqArticle> {
    let id: i64 = diesel::insert_into(faq_articles::table)
        .values((
            faq_articles::title.eq(&fields.title),
            faq_articles::question.eq(&fields.question),
            faq_articles::answer.eq(&fields.answer),
            faq_articles::topic.eq(fields.topic),
            faq_articles::source_inquiry_id.eq(source_inquiry_id),
            faq_articles::version.eq(1),
            faq_articles::created_by.eq(author),
            faq_articles::updated_by.eq(author),
            faq_articles::created_at.eq(now),
            faq_articles::updated_at.eq(now),
        ))
        .returning(faq_articles::id)
        .get_result(conn)?;
    find(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<FaqArticle>> {
    faq_articles::table
        .find(id)
        .select(FaqArticle::as_select())
        .first(conn)
        .optional()
}

/// Rewrites an article if nobody changed it since `version`; `false` if stale.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    version: i32,
    fields: &FaqFields,
    editor: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let written = diesel::update(
        faq_articles::table
            .filter(faq_articles::id.eq(id))
            .filter(faq_articles::version.eq(version)),
    )
    .set((
        faq_articles::title.eq(&fields.title),
        faq_articles::question.eq(&fields.question),
        faq_articles::answer.eq(&fields.answer),
        faq_articles::topic.eq(fields.topic),
        faq_articles::version.eq(version + 1),
        faq_articles::updated_by.eq(editor),
        faq_articles::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(written == 1)
}

/// Articles, most recently updated first, at most `limit` (the FAQ is a list
/// the helpdesk writes by hand: hundreds, not millions).
pub fn list(conn: &mut DbConn, topic: Option<Topic>, limit: i64) -> QueryResult<Vec<FaqArticle>> {
    let mut query = faq_articles::table
        .order((faq_articles::updated_at.desc(), faq_articles::id.desc()))
        .limit(limit)
        .select(FaqArticle::as_select())
        .into_boxed();
    if let Some(topic) = topic {
        query = query.filter(faq_articles::topic.eq(topic));
    }
    query.load(conn)
}

/// Answered or closed inquiries among the newest `window` whose subject or
/// question contains any of `words`, newest first, at most `limit`, within the
/// scope: the suggestions' candidates, read in bounded work however many
/// inquiries there are.
pub fn answered_like(
    conn: &mut DbConn,
    words: &[String],
    scope: &Scope,
    window: i64,
    limit: i64,
) -> QueryResult<Vec<Inquiry>> {
    if words.is_empty() {
        return Ok(vec![]);
    }
    let since = super::inquiries::window_start(conn, window)?;
    let mut matches: Box<
        dyn BoxableExpression<
            inquiries::table,
            <DbConn as Connection>::Backend,
            SqlType = diesel::sql_types::Bool,
        >,
    > = Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
    for word in words {
        let pattern = format!("%{word}%");
        matches = Box::new(
            matches
                .or(inquiries::subject.like(pattern.clone()))
                .or(inquiries::question.like(pattern)),
        );
    }
    let mut query = inquiries::table
        .filter(inquiries::state.eq_any([InquiryState::Answered, InquiryState::Closed]))
        .filter(matches)
        .order((inquiries::created_at.desc(), inquiries::id.desc()))
        .limit(limit)
        .select(Inquiry::as_select())
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(inquiries::created_at.ge(since));
    }
    if let Scope::Departments(ids) = scope {
        query = query.filter(inquiries::department_id.eq_any(ids.clone()));
    }
    query.load(conn)
}

/// Records that an article or an answered inquiry answered someone's question.
pub fn deflect(
    conn: &mut DbConn,
    user_id: i64,
    faq_id: Option<i64>,
    inquiry_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(deflections::table)
        .values((
            deflections::user_id.eq(user_id),
            deflections::faq_id.eq(faq_id),
            deflections::inquiry_id.eq(inquiry_id),
            deflections::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Deflections recorded between two instants.
pub fn deflections_between(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<i64> {
    deflections::table
        .filter(deflections::created_at.ge(from))
        .filter(deflections::created_at.lt(to))
        .count()
        .get_result(conn)
}
