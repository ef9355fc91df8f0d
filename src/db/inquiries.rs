//! Helpdesk inquiries: asked under a per-fiscal-year number, changed by
//! version-checked updates that append to their timeline in the same transaction,
//! listed in index order within the caller's scope.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::consultations::Scope;
use super::schema::{
    inquiries, inquiry_comments, inquiry_counters, inquiry_events, inquiry_idempotency_keys,
};
use super::DbConn;
use crate::domain::inquiry::{inquiry_number, Channel, InquiryState, InquirySubject, Topic};
use crate::domain::Priority;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inquiries)]
pub struct Inquiry {
    pub id: i64,
    pub number: String,
    pub fiscal_year: i32,
    pub subject: String,
    pub question: String,
    pub topic: Topic,
    pub channel: Channel,
    pub priority: Priority,
    pub department_id: i64,
    pub asker_id: i64,
    pub filed_by: i64,
    pub state: InquiryState,
    pub assignee_id: Option<i64>,
    pub answer: Option<String>,
    pub helped: Option<bool>,
    pub consultation_id: Option<i64>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_answer_due_at: Option<NaiveDateTime>,
    pub first_answered_at: Option<NaiveDateTime>,
    pub answered_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub reminded_due_at: Option<NaiveDateTime>,
    pub breached_due_at: Option<NaiveDateTime>,
}

impl Inquiry {
    /// What the rollups count of it (its department is already a division).
    pub fn counted(&self) -> crate::domain::inquiry_rollup::CountedInquiry {
        crate::domain::inquiry_rollup::CountedInquiry {
            division_id: self.department_id,
            fiscal_year: self.fiscal_year,
            created_at: self.created_at,
            topic: self.topic,
            channel: self.channel,
            state: self.state,
            assignee_id: self.assignee_id,
            first_answered_at: self.first_answered_at,
        }
    }

    /// What the workflow rules need to know about it.
    pub fn subject(&self) -> InquirySubject {
        InquirySubject {
            state: self.state,
            asker_id: self.asker_id,
            assignee_id: self.assignee_id,
            answered_at: self.answered_at.map(|t| t.and_utc()),
        }
    }
}

/// A new inquiry's row, before its number.
#[derive(Debug)]
pub struct Asking<'a> {
    pub subject: &'a str,
    pub question: &'a str,
    pub topic: Topic,
    pub channel: Channel,
    pub priority: Priority,
    pub department_id: i64,
    pub asker_id: i64,
    pub filed_by: i64,
    pub fiscal_year: i32,
    pub first_answer_due_at: Option<NaiveDateTime>,
    /// (key, request hash) of an `Idempotency-Key`, recorded with the row.
    pub idempotency: Option<(&'a str, &'a str)>,
    pub now: NaiveDateTime,
}

/// Inserts a new open inquiry with the next number of its fiscal year and its
/// `ask` event. Runs inside the caller's transaction.
pub fn insert(conn: &mut DbConn, asking: &Asking, payload: &str) -> QueryResult<Inquiry> {
    let provisional = format!("provisional-{:032x}", rand::random::<u128>());
    let id: i64 = diesel::insert_into(inquiries::table)
        .values((
            inquiries::number.eq(&provisional),
            inquiries::fiscal_year.eq(asking.fiscal_year),
            inquiries::subject.eq(asking.subject),
            inquiries::question.eq(asking.question),
            inquiries::topic.eq(asking.topic),
            inquiries::channel.eq(asking.channel),
            inquiries::priority.eq(asking.priority),
            inquiries::department_id.eq(asking.department_id),
            inquiries::asker_id.eq(asking.asker_id),
            inquiries::filed_by.eq(asking.filed_by),
            inquiries::state.eq(InquiryState::Open),
            inquiries::version.eq(1),
            inquiries::created_at.eq(asking.now),
            inquiries::updated_at.eq(asking.now),
            inquiries::first_answer_due_at.eq(asking.first_answer_due_at),
        ))
        .returning(inquiries::id)
        .get_result(conn)?;
    if let Some((key, hash)) = asking.idempotency {
        diesel::insert_into(inquiry_idempotency_keys::table)
            .values((
                inquiry_idempotency_keys::user_id.eq(asking.filed_by),
                inquiry_idempotency_keys::key.eq(key),
                inquiry_idempotency_keys::request_hash.eq(hash),
                inquiry_idempotency_keys::inquiry_id.eq(id),
                inquiry_idempotency_keys::created_at.eq(asking.now),
            ))
            .execute(conn)?;
    }
    // The counter row is what concurrent askers wait for: taken last.
    let seq = next_number(conn, asking.fiscal_year)?;
    let number = inquiry_number(asking.fiscal_year, seq);
    diesel::update(inquiries::table.find(id))
        .set(inquiries::number.eq(&number))
        .execute(conn)?;
    append_event(
        conn,
        &NewInquiryEvent {
            inquiry_id: id,
            event: "ask",
            actor_id: Some(asking.filed_by),
            from_state: None,
            to_state: InquiryState::Open.as_str(),
            payload: payload.to_string(),
            version: 1,
            created_at: asking.now,
        },
    )?;
    find(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

fn next_number(conn: &mut DbConn, fiscal_year: i32) -> QueryResult<i64> {
    let taken: Option<i64> = diesel::update(inquiry_counters::table.find(fiscal_year))
        .set(inquiry_counters::last_seq.eq(inquiry_counters::last_seq + 1))
        .returning(inquiry_counters::last_seq)
        .get_result(conn)
        .optional()?;
    match taken {
        Some(seq) => Ok(seq),
        None => {
            diesel::insert_into(inquiry_counters::table)
                .values((
                    inquiry_counters::fiscal_year.eq(fiscal_year),
                    inquiry_counters::last_seq.eq(1i64),
                ))
                .execute(conn)?;
            Ok(1)
        }
    }
}

/// The inquiry an idempotency key created and the hash of the request that did.
pub fn find_idempotency(
    conn: &mut DbConn,
    user_id: i64,
    key: &str,
) -> QueryResult<Option<(i64, String)>> {
    inquiry_idempotency_keys::table
        .filter(inquiry_idempotency_keys::user_id.eq(user_id))
        .filter(inquiry_idempotency_keys::key.eq(key))
        .select((
            inquiry_idempotency_keys::inquiry_id,
            inquiry_idempotency_keys::request_hash,
        ))
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Inquiry>> {
    inquiries::table
        .find(id)
        .select(Inquiry::as_select())
        .first(conn)
        .optional()
}

/// An inquiry only if the scope lets the caller see it.
pub fn find_visible(conn: &mut DbConn, id: i64, scope: &Scope) -> QueryResult<Option<Inquiry>> {
    let mut query = inquiries::table
        .filter(inquiries::id.eq(id))
        .select(Inquiry::as_select())
        .into_boxed();
    if let Scope::Departments(ids) = scope {
        query = query.filter(inquiries::department_id.eq_any(ids.clone()));
    }
    query.first(conn).optional()
}

/// The inquiry a consultation was escalated from, within the scope.
pub fn escalated_into(
    conn: &mut DbConn,
    consultation_id: i64,
    scope: &Scope,
) -> QueryResult<Option<Inquiry>> {
    let mut query = inquiries::table
        .filter(inquiries::consultation_id.eq(consultation_id))
        .select(Inquiry::as_select())
        .into_boxed();
    if let Scope::Departments(ids) = scope {
        query = query.filter(inquiries::department_id.eq_any(ids.clone()));
    }
    query.first(conn).optional()
}

/// Column changes of one write; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = inquiries)]
pub struct InquiryChanges {
    pub state: Option<InquiryState>,
    /// Only a reorganisation's merge moves an inquiry to another department.
    pub department_id: Option<i64>,
    pub assignee_id: Option<Option<i64>>,
    pub answer: Option<Option<String>>,
    pub helped: Option<Option<bool>>,
    pub consultation_id: Option<Option<i64>>,
    pub updated_at: Option<NaiveDateTime>,
    pub first_answer_due_at: Option<Option<NaiveDateTime>>,
    pub first_answered_at: Option<Option<NaiveDateTime>>,
    pub answered_at: Option<Option<NaiveDateTime>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
}

/// What one event writes.
pub struct InquiryChange<'a> {
    pub inquiry: &'a Inquiry,
    pub expected_version: i32,
    pub event: &'a str,
    pub actor_id: Option<i64>,
    pub to_state: InquiryState,
    pub changes: InquiryChanges,
    pub payload: serde_json::Value,
    pub now: NaiveDateTime,
}

/// Writes a change if nobody changed the inquiry since `expected_version`, and
/// appends its event in the same transaction. `None`: stale, nothing written.
pub fn apply(conn: &mut DbConn, change: InquiryChange) -> QueryResult<Option<Inquiry>> {
    let id = change.inquiry.id;
    conn.transaction(|conn| {
        let mut changes = change.changes;
        changes.updated_at = Some(change.now);
        let written = diesel::update(
            inquiries::table
                .filter(inquiries::id.eq(id))
                .filter(inquiries::version.eq(change.expected_version)),
        )
        .set((&changes, inquiries::version.eq(change.expected_version + 1)))
        .execute(conn)?;
        if written == 0 {
            return Ok(None);
        }
        append_event(
            conn,
            &NewInquiryEvent {
                inquiry_id: id,
                event: change.event,
                actor_id: change.actor_id,
                from_state: Some(change.inquiry.state.as_str()),
                to_state: change.to_state.as_str(),
                payload: change.payload.to_string(),
                version: change.expected_version + 1,
                created_at: change.now,
            },
        )?;
        find(conn, id)
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inquiry_events)]
pub struct InquiryEventRow {
    pub id: i64,
    pub inquiry_id: i64,
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_state: Option<String>,
    pub to_state: String,
    pub payload: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = inquiry_events)]
struct NewInquiryEvent<'a> {
    inquiry_id: i64,
    event: &'a str,
    actor_id: Option<i64>,
    from_state: Option<&'a str>,
    to_state: &'a str,
    payload: String,
    version: i32,
    created_at: NaiveDateTime,
}

fn append_event(conn: &mut DbConn, event: &NewInquiryEvent) -> QueryResult<()> {
    diesel::insert_into(inquiry_events::table)
        .values(event)
        .execute(conn)
        .map(drop)
}

pub fn events_of(conn: &mut DbConn, inquiry_id: i64) -> QueryResult<Vec<InquiryEventRow>> {
    inquiry_events::table
        .filter(inquiry_events::inquiry_id.eq(inquiry_id))
        .order(inquiry_events::id.asc())
        .select(InquiryEventRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inquiry_comments)]
pub struct InquiryComment {
    pub id: i64,
    pub inquiry_id: i64,
    pub author_id: i64,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

pub fn add_comment(
    conn: &mut DbConn,
    inquiry_id: i64,
    author_id: i64,
    body: &str,
    internal: bool,
    now: NaiveDateTime,
) -> QueryResult<InquiryComment> {
    let id: i64 = diesel::insert_into(inquiry_comments::table)
        .values((
            inquiry_comments::inquiry_id.eq(inquiry_id),
            inquiry_comments::author_id.eq(author_id),
            inquiry_comments::body.eq(body),
            inquiry_comments::internal.eq(internal),
            inquiry_comments::created_at.eq(now),
        ))
        .returning(inquiry_comments::id)
        .get_result(conn)?;
    inquiry_comments::table
        .find(id)
        .select(InquiryComment::as_select())
        .first(conn)
}

/// Comments oldest first; internal notes only when `include_internal`.
pub fn comments_of(
    conn: &mut DbConn,
    inquiry_id: i64,
    include_internal: bool,
) -> QueryResult<Vec<InquiryComment>> {
    let mut query = inquiry_comments::table
        .filter(inquiry_comments::inquiry_id.eq(inquiry_id))
        .order(inquiry_comments::id.asc())
        .select(InquiryComment::as_select())
        .into_boxed();
    if !include_internal {
        query = query.filter(inquiry_comments::internal.eq(false));
    }
    query.load(conn)
}

/// Whose inquiries a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Nobody,
    User(i64),
}

/// The list's filters, resolved to typed values.
#[derive(Debug, Clone)]
pub struct InquiryQuery {
    pub scope: Scope,
    pub states: Vec<InquiryState>,
    pub assignee: Option<Holder>,
    pub topic: Option<Topic>,
    pub channel: Option<Channel>,
    pub fiscal_year: Option<i32>,
    /// First answer due before this instant and still unanswered.
    pub overdue_at: Option<NaiveDateTime>,
    /// Words all of which the subject or question contains.
    pub text: Vec<String>,
    pub limit: i64,
    /// (created_at, id) of the last row of the previous page.
    pub after: Option<(NaiveDateTime, i64)>,
}

/// When the newest `window` inquiries begin (`None`: there are fewer), read
/// from the `(created_at, id)` index.
pub fn window_start(conn: &mut DbConn, window: i64) -> QueryResult<Option<NaiveDateTime>> {
    inquiries::table
        .order((inquiries::created_at.desc(), inquiries::id.desc()))
        .offset(window - 1)
        .select(inquiries::created_at)
        .first(conn)
        .optional()
}

/// How many of the newest inquiries a text search of the list looks through
/// (about three years of a city's helpdesk).
pub const TEXT_SEARCH_WINDOW: i64 = 10_000;

/// One page, newest first, read in `(state, created_at)` or `(department_id,
/// created_at)` index order and stopped at the page, and whether more follow.
pub fn list(conn: &mut DbConn, q: &InquiryQuery) -> QueryResult<(Vec<Inquiry>, bool)> {
    use inquiries::dsl as i;
    let mut query = i::inquiries.select(Inquiry::as_select()).into_boxed();
    if let Scope::Departments(ids) = &q.scope {
        query = query.filter(i::department_id.eq_any(ids.clone()));
    }
    if !q.states.is_empty() {
        query = query.filter(i::state.eq_any(q.states.clone()));
    }
    match &q.assignee {
        Some(Holder::Nobody) => query = query.filter(i::assignee_id.is_null()),
        Some(Holder::User(id)) => query = query.filter(i::assignee_id.eq(*id)),
        None => {}
    }
    if let Some(topic) = q.topic {
        query = query.filter(i::topic.eq(topic));
    }
    if let Some(channel) = q.channel {
        query = query.filter(i::channel.eq(channel));
    }
    if let Some(year) = q.fiscal_year {
        query = query.filter(i::fiscal_year.eq(year));
    }
    if let Some(at) = q.overdue_at {
        query = query
            .filter(i::first_answered_at.is_null())
            .filter(i::state.eq_any([InquiryState::Open, InquiryState::Waiting]))
            .filter(i::first_answer_due_at.lt(at));
    }
    if !q.text.is_empty() {
        // Text is matched row by row: only the newest inquiries are looked
        // through, so a search costs the same however long the history is.
        if let Some(since) = window_start(conn, TEXT_SEARCH_WINDOW)? {
            query = query.filter(i::created_at.ge(since));
        }
    }
    for word in &q.text {
        let pattern = format!("%{}%", escape_like(word));
        query = query.filter(
            i::subject
                .like(pattern.clone())
                .escape('\\')
                .or(i::question.like(pattern).escape('\\')),
        );
    }
    if let Some((at, id)) = q.after {
        query = query.filter(
            i::created_at
                .lt(at)
                .or(i::created_at.eq(at).and(i::id.lt(id))),
        );
    }
    let mut rows = query
        .order((i::created_at.desc(), i::id.desc()))
        .limit(q.limit + 1)
        .load(conn)?;
    let more = rows.len() as i64 > q.limit;
    rows.truncate(q.limit as usize);
    Ok((rows, more))
}

fn escape_like(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Answered inquiries the system closes now: answered before `answered_before`
/// (for one imported from kintone: imported before it, as for consultations).
pub fn answered_before(
    conn: &mut DbConn,
    answered_before: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Inquiry>> {
    use super::schema::kintone_records as k;
    let imported_since = k::table
        .filter(k::app.eq(super::imports::HELPDESK_APP))
        .filter(k::target_id.eq(inquiries::id))
        .filter(k::imported_at.ge(answered_before));
    inquiries::table
        .filter(inquiries::state.eq(InquiryState::Answered))
        .filter(inquiries::answered_at.lt(answered_before))
        .filter(diesel::dsl::not(diesel::dsl::exists(imported_since)))
        .order(inquiries::answered_at.asc())
        .limit(limit)
        .select(Inquiry::as_select())
        .load(conn)
}

/// Unanswered inquiries whose first answer falls due in `(after, before)` and
/// whose reminder (or, with `breach`, breach notice) was not sent.
pub fn first_answer_due_between(
    conn: &mut DbConn,
    after: Option<NaiveDateTime>,
    before: NaiveDateTime,
    breach: bool,
    limit: i64,
) -> QueryResult<Vec<Inquiry>> {
    let mut query = inquiries::table
        .filter(inquiries::first_answered_at.is_null())
        .filter(inquiries::state.eq_any([InquiryState::Open, InquiryState::Waiting]))
        .filter(inquiries::first_answer_due_at.lt(before))
        .select(Inquiry::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(inquiries::first_answer_due_at.gt(after));
    }
    query = if breach {
        query.filter(inquiries::breached_due_at.is_null())
    } else {
        query.filter(inquiries::reminded_due_at.is_null())
    };
    query
        .order(inquiries::first_answer_due_at.asc())
        .limit(limit)
        .load(conn)
}

/// Records that the reminder or breach notice of an inquiry was sent; `false` if
/// another worker recorded it first (so each goes out once).
pub fn mark_due_notice(
    conn: &mut DbConn,
    id: i64,
    due_at: NaiveDateTime,
    breach: bool,
) -> QueryResult<bool> {
    let target = inquiries::table.filter(inquiries::id.eq(id));
    let written = if breach {
        diesel::update(target.filter(inquiries::breached_due_at.is_null()))
            .set(inquiries::breached_due_at.eq(Some(due_at)))
            .execute(conn)?
    } else {
        diesel::update(target.filter(inquiries::reminded_due_at.is_null()))
            .set(inquiries::reminded_due_at.eq(Some(due_at)))
            .execute(conn)?
    };
    Ok(written == 1)
}
