//! Consultations: filing under a per-fiscal-year number, optimistic updates that
//! append to the timeline in the same transaction, and the visibility-scoped list.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use super::events::{self, NewEvent};
use super::schema::{consultation_counters, consultations, idempotency_keys};
use super::search::{self, Reach, Tier, Window};
use super::{is_unique_violation, DbConn};
use crate::domain::consultation::{ConsultationEdit, NewConsultationFields};
use crate::domain::effects::{self, Record};
use crate::domain::fiscal::consultation_number;
use crate::domain::queue::Sort;
use crate::domain::search::Query;
use crate::domain::workflow::{Payload, Subject};
use crate::domain::{Category, Event, Priority, State};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultations)]
pub struct Consultation {
    pub id: i64,
    pub number: String,
    pub fiscal_year: i32,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    pub department_id: i64,
    pub requester_id: i64,
    pub contact: Option<String>,
    pub desired_by: Option<NaiveDate>,
    pub state: State,
    pub assignee_id: Option<i64>,
    pub hearing_at: Option<NaiveDateTime>,
    pub hearing_place: Option<String>,
    pub resolution: Option<String>,
    pub system_id: Option<i64>,
    pub duplicate_of: Option<i64>,
    pub rating: Option<i16>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub hearing_due_at: Option<NaiveDateTime>,
    pub resolution_due_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub sla_paused_at: Option<NaiveDateTime>,
    pub reminded_due_at: Option<NaiveDateTime>,
    pub breached_due_at: Option<NaiveDateTime>,
    /// The first assignment (dashboards time the stages from it).
    pub assigned_at: Option<NaiveDateTime>,
    pub reopen_count: i32,
    /// Who typed it, when someone filed on the requester's behalf (NULL before
    /// this was recorded: filed by the requester).
    pub filed_by: Option<i64>,
}

impl Consultation {
    /// The columns the workflow writes.
    pub fn record(&self) -> Record {
        Record {
            state: self.state,
            assignee_id: self.assignee_id,
            hearing_at: self.hearing_at,
            hearing_place: self.hearing_place.clone(),
            resolution: self.resolution.clone(),
            system_id: self.system_id,
            duplicate_of: self.duplicate_of,
            rating: self.rating,
            first_response_at: self.first_response_at,
            resolved_at: self.resolved_at,
            closed_at: self.closed_at,
            assigned_at: self.assigned_at,
            reopen_count: self.reopen_count,
        }
    }

    /// What the workflow rules need to know about it.
    pub fn subject(&self) -> Subject {
        Subject {
            id: self.id,
            state: self.state,
            requester_id: self.requester_id,
            assignee_id: self.assignee_id,
            resolved_at: self.resolved_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = consultations)]
struct NewConsultationRow<'a> {
    number: &'a str,
    fiscal_year: i32,
    title: &'a str,
    body: &'a str,
    category: Category,
    priority: Priority,
    department_id: i64,
    requester_id: i64,
    contact: Option<&'a str>,
    desired_by: Option<NaiveDate>,
    state: State,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    hearing_due_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
    filed_by: Option<i64>,
}

/// Column changes of one write; `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = consultations)]
pub struct ConsultationChanges {
    pub state: Option<State>,
    pub title: Option<String>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Only a reorganisation's merge moves a consultation to another department.
    pub department_id: Option<i64>,
    pub assignee_id: Option<Option<i64>>,
    pub hearing_at: Option<Option<NaiveDateTime>>,
    pub hearing_place: Option<Option<String>>,
    pub resolution: Option<Option<String>>,
    pub system_id: Option<Option<i64>>,
    pub duplicate_of: Option<Option<i64>>,
    pub rating: Option<Option<i16>>,
    pub updated_at: Option<NaiveDateTime>,
    pub first_response_at: Option<Option<NaiveDateTime>>,
    pub resolved_at: Option<Option<NaiveDateTime>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
    pub hearing_due_at: Option<Option<NaiveDateTime>>,
    pub resolution_due_at: Option<Option<NaiveDateTime>>,
    pub due_at: Option<Option<NaiveDateTime>>,
    pub sla_paused_at: Option<Option<NaiveDateTime>>,
    pub assigned_at: Option<Option<NaiveDateTime>>,
    pub reopen_count: Option<i32>,
}

/// Everything needed to file one consultation.
pub struct Filing<'a> {
    pub fields: &'a NewConsultationFields,
    pub department_id: i64,
    pub requester_id: i64,
    /// Who typed it: the requester, or the DX office filing on their behalf.
    pub filed_by: i64,
    pub fiscal_year: i32,
    /// `(key, request hash)` of an `Idempotency-Key` request (the typist's).
    pub idempotency: Option<(&'a str, &'a str)>,
    pub now: NaiveDateTime,
    /// When the hearing is due (SLA), which is also the running due time.
    pub hearing_due_at: Option<NaiveDateTime>,
}

/// What the filing transaction does besides writing the consultation: `unnumbered`
/// before the number is taken, while `number` is provisional (the search entry;
/// the mail and counts prepared), then `numbered` with what it returned (queuing
/// the mail, writing the counts: rows every filing of the day writes too).
pub struct FilingWork<'a, T> {
    pub unnumbered: &'a dyn Fn(&mut DbConn, &Consultation) -> QueryResult<T>,
    pub numbered: &'a dyn Fn(&mut DbConn, &Consultation, T) -> QueryResult<()>,
}

#[derive(Debug)]
pub enum FileError {
    /// Another request with the same idempotency key won the race.
    KeyTaken,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for FileError {
    fn from(e: diesel::result::Error) -> Self {
        FileError::Db(e)
    }
}

/// Files a consultation with the next gapless number of its fiscal year, its first
/// event, idempotency key and `work`, all in one transaction. A unique violation
/// (another filing took the same idempotency key) is retried a few times.
pub fn file<T>(
    conn: &mut DbConn,
    filing: &Filing,
    work: &FilingWork<T>,
) -> Result<Consultation, FileError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match conn.transaction(|conn| file_once(conn, filing, work)) {
            Ok(consultation) => return Ok(consultation),
            Err(e) if is_unique_violation(&e) => {
                if let Some((key, _)) = filing.idempotency {
                    if find_idempotency(conn, filing.filed_by, key)?.is_some() {
                        return Err(FileError::KeyTaken);
                    }
                }
                if attempts >= 5 {
                    return Err(FileError::Db(e));
                }
            }
            Err(e) => return Err(FileError::Db(e)),
        }
    }
}

fn file_once<T>(
    conn: &mut DbConn,
    filing: &Filing,
    work: &FilingWork<T>,
) -> QueryResult<Consultation> {
    // The counter row (and the day's rollup rows) are what every filing waits for
    // on PostgreSQL: they are written last, so they are held for a few statements
    // and the commit, not the whole filing. Until then the row carries a
    // provisional number nobody else can see. The insert comes first, so on SQLite
    // the transaction holds the write lock from its first statement and cannot
    // deadlock upgrading a read.
    let provisional = format!("provisional-{:032x}", rand::random::<u128>());
    let fields = filing.fields;
    let id: i64 = diesel::insert_into(consultations::table)
        .values(&NewConsultationRow {
            number: &provisional,
            fiscal_year: filing.fiscal_year,
            title: &fields.title,
            body: &fields.body,
            category: fields.category,
            priority: fields.priority,
            department_id: filing.department_id,
            requester_id: filing.requester_id,
            contact: fields.contact.as_deref(),
            desired_by: fields.desired_by,
            state: State::Received,
            version: 1,
            created_at: filing.now,
            updated_at: filing.now,
            hearing_due_at: filing.hearing_due_at,
            due_at: filing.hearing_due_at,
            filed_by: Some(filing.filed_by),
        })
        .returning(consultations::id)
        .get_result(conn)?;
    let unnumbered = find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
    if let Some((key, hash)) = filing.idempotency {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(filing.filed_by),
                idempotency_keys::key.eq(key),
                idempotency_keys::request_hash.eq(hash),
                idempotency_keys::consultation_id.eq(id),
                idempotency_keys::created_at.eq(filing.now),
            ))
            .execute(conn)?;
    }
    let prepared = (work.unnumbered)(conn, &unnumbered)?;

    let seq = next_number(conn, filing.fiscal_year)?;
    let number = consultation_number(filing.fiscal_year, seq);
    diesel::update(consultations::table.find(id))
        .set(consultations::number.eq(&number))
        .execute(conn)?;
    let consultation = Consultation {
        number: number.clone(),
        ..unnumbered
    };
    events::append(
        conn,
        &NewEvent {
            consultation_id: id,
            event: Event::File.as_str(),
            actor_id: Some(filing.filed_by),
            from_state: None,
            to_state: State::Received.as_str(),
            payload: effects::filed(&number, &fields.title).to_string(),
            version: 1,
            created_at: filing.now,
        },
    )?;
    (work.numbered)(conn, &consultation, prepared)?;
    Ok(consultation)
}

/// Takes the next number of a fiscal year's counter, creating the counter with the
/// year's first filing.
fn next_number(conn: &mut DbConn, fiscal_year: i32) -> QueryResult<i64> {
    let taken: Option<i64> = diesel::update(consultation_counters::table.find(fiscal_year))
        .set(consultation_counters::last_seq.eq(consultation_counters::last_seq + 1))
        .returning(consultation_counters::last_seq)
        .get_result(conn)
        .optional()?;
    match taken {
        Some(seq) => Ok(seq),
        None => {
            diesel::insert_into(consultation_counters::table)
                .values((
                    consultation_counters::fiscal_year.eq(fiscal_year),
                    consultation_counters::last_seq.eq(1i64),
                ))
                .execute(conn)?;
            Ok(1)
        }
    }
}

/// The consultation an idempotency key created and the hash of the request that did.
pub fn find_idempotency(
    conn: &mut DbConn,
    user_id: i64,
    key: &str,
) -> QueryResult<Option<(i64, String)>> {
    idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::consultation_id,
            idempotency_keys::request_hash,
        ))
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Consultation>> {
    consultations::table
        .find(id)
        .select(Consultation::as_select())
        .first(conn)
        .optional()
}

/// Which departments' consultations a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Departments(Vec<i64>),
}

impl Scope {
    pub fn contains(&self, department_id: i64) -> bool {
        match self {
            Scope::All => true,
            Scope::Departments(ids) => ids.contains(&department_id),
        }
    }
}

/// A consultation only if the scope lets the caller see it.
pub fn find_visible(
    conn: &mut DbConn,
    id: i64,
    scope: &Scope,
) -> QueryResult<Option<Consultation>> {
    let mut query = consultations::table
        .filter(consultations::id.eq(id))
        .select(Consultation::as_select())
        .into_boxed();
    if let Scope::Departments(ids) = scope {
        query = query.filter(consultations::department_id.eq_any(ids.clone()));
    }
    query.first(conn).optional()
}

/// The consultations with these ids that the scope lets the caller see, other
/// than withdrawn ones (candidates for "similar consultations").
pub fn open_or_resolved_among(
    conn: &mut DbConn,
    ids: &[i64],
    scope: &Scope,
) -> QueryResult<Vec<Consultation>> {
    let mut query = consultations::table
        .filter(consultations::id.eq_any(ids.to_vec()))
        .filter(consultations::state.ne(State::Withdrawn))
        .select(Consultation::as_select())
        .into_boxed();
    if let Scope::Departments(departments) = scope {
        query = query.filter(consultations::department_id.eq_any(departments.clone()));
    }
    query.load(conn)
}

/// What a transition or edit writes.
pub struct Change<'a> {
    pub consultation: &'a Consultation,
    /// The version the client saw.
    pub expected_version: i32,
    pub event: &'a str,
    pub actor_id: Option<i64>,
    pub to_state: State,
    pub changes: ConsultationChanges,
    pub payload: serde_json::Value,
    pub now: NaiveDateTime,
}

/// Writes a change if nobody changed the consultation since `expected_version`, and
/// appends its event in the same transaction. `None` means the version was stale
/// and nothing was written.
pub fn apply(conn: &mut DbConn, change: Change) -> QueryResult<Option<Consultation>> {
    let id = change.consultation.id;
    conn.transaction(|conn| {
        let mut changes = change.changes;
        changes.updated_at = Some(change.now);
        let written = diesel::update(
            consultations::table
                .filter(consultations::id.eq(id))
                .filter(consultations::version.eq(change.expected_version)),
        )
        .set((
            &changes,
            consultations::version.eq(change.expected_version + 1),
        ))
        .execute(conn)?;
        if written == 0 {
            return Ok(None);
        }
        events::append(
            conn,
            &NewEvent {
                consultation_id: id,
                event: change.event,
                actor_id: change.actor_id,
                from_state: Some(change.consultation.state.as_str()),
                to_state: change.to_state.as_str(),
                payload: change.payload.to_string(),
                version: change.expected_version + 1,
                created_at: change.now,
            },
        )?;
        find(conn, id)
    })
}

/// The column changes and the event payload of a workflow transition, as
/// [`effects::apply`] makes them.
pub fn transition_changes(
    current: &Consultation,
    to: State,
    payload: &Payload,
    now: NaiveDateTime,
) -> (ConsultationChanges, serde_json::Value) {
    let mut record = current.record();
    let json = effects::apply(&mut record, to, payload, now);
    let changes = ConsultationChanges {
        state: Some(record.state),
        assignee_id: Some(record.assignee_id),
        hearing_at: Some(record.hearing_at),
        hearing_place: Some(record.hearing_place),
        resolution: Some(record.resolution),
        system_id: Some(record.system_id),
        duplicate_of: Some(record.duplicate_of),
        rating: Some(record.rating),
        first_response_at: Some(record.first_response_at),
        resolved_at: Some(record.resolved_at),
        closed_at: Some(record.closed_at),
        assigned_at: Some(record.assigned_at),
        reopen_count: Some(record.reopen_count),
        ..Default::default()
    };
    (changes, json)
}

/// The column changes and the event payload of an edit of title, category or priority.
pub fn edit_changes(
    current: &Consultation,
    edit: &ConsultationEdit,
) -> (ConsultationChanges, serde_json::Value) {
    let mut changes = ConsultationChanges::default();
    let mut changed = serde_json::Map::new();
    if let Some(title) = edit.title.as_ref().filter(|t| **t != current.title) {
        changed.insert("title".into(), json!([current.title, title]));
        changes.title = Some(title.clone());
    }
    if let Some(category) = edit.category.filter(|c| *c != current.category) {
        changed.insert("category".into(), json!([current.category, category]));
        changes.category = Some(category);
    }
    if let Some(priority) = edit.priority.filter(|p| *p != current.priority) {
        changed.insert("priority".into(), json!([current.priority, priority]));
        changes.priority = Some(priority);
    }
    (changes, json!({ "changes": changed }))
}

/// Where the previous page ended: the sort key and id of its last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: Option<NaiveDateTime>,
    pub id: i64,
    /// For `Relevance`: whether the previous page ended among the title matches.
    pub in_title: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(i64),
}

/// The list's filters, already resolved to ids and typed values.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub scope: Scope,
    pub states: Vec<State>,
    pub assignee: Option<AssigneeFilter>,
    /// A department and the units below it.
    pub departments: Option<Vec<i64>>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Running due time before this instant.
    pub overdue_at: Option<NaiveDateTime>,
    pub text: Option<String>,
    /// Whether the text search may look into internal notes (staff only).
    pub include_staff_text: bool,
    pub fiscal_year: Option<i32>,
    pub sort: Sort,
    pub limit: i64,
    pub after: Option<Cursor>,
}

/// The list's select statement, boxed so filters can be added per case.
type Selection<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::Select<consultations::table, diesel::dsl::AsSelect<Consultation, ListBackend>>,
    ListBackend,
>;
type ListBackend = <DbConn as Connection>::Backend;

impl ListQuery {
    /// How a text condition reads every match: row by row when the list is already
    /// narrowed to some departments.
    fn whole_reach(&self) -> Reach {
        if matches!(self.scope, Scope::Departments(_)) || self.departments.is_some() {
            Reach::EachListedRow
        } else {
            Reach::All
        }
    }
}

/// One page of the list and the cursor of the next page, if there is one. Each
/// order reads an index in that order and stops at the page.
pub fn list(conn: &mut DbConn, q: &ListQuery) -> QueryResult<(Vec<Consultation>, Option<Cursor>)> {
    use consultations::dsl as c;
    let search = q.text.as_deref().and_then(Query::parse);
    if q.sort == Sort::Relevance {
        if let Some(search) = &search {
            return list_by_relevance(conn, q, search);
        }
    }
    if q.sort == Sort::Due {
        return list_by_due(conn, q, search.as_ref());
    }
    let mut query = matching(conn, q, search.as_ref());
    if let Some(cur) = &q.after {
        let key = cur.key.unwrap_or_default();
        query = match q.sort {
            Sort::Created => query.filter(
                c::created_at
                    .gt(key)
                    .or(c::created_at.eq(key).and(c::id.gt(cur.id))),
            ),
            Sort::Updated => query.filter(
                c::updated_at
                    .lt(key)
                    .or(c::updated_at.eq(key).and(c::id.lt(cur.id))),
            ),
            _ => query.filter(
                c::created_at
                    .lt(key)
                    .or(c::created_at.eq(key).and(c::id.lt(cur.id))),
            ),
        };
    }
    query = match q.sort {
        Sort::Created => query.order((c::created_at.asc(), c::id.asc())),
        Sort::Updated => query.order((c::updated_at.desc(), c::id.desc())),
        _ => query.order((c::created_at.desc(), c::id.desc())),
    };
    let rows = query.limit(q.limit + 1).load(conn)?;
    Ok(page(rows, q.limit, |last| match q.sort {
        Sort::Updated => Some(last.updated_at),
        _ => Some(last.created_at),
    }))
}

/// The page of `limit` rows out of `limit + 1` read, and the cursor after it.
fn page(
    mut rows: Vec<Consultation>,
    limit: i64,
    key: impl Fn(&Consultation) -> Option<NaiveDateTime>,
) -> (Vec<Consultation>, Option<Cursor>) {
    if rows.len() as i64 <= limit {
        return (rows, None);
    }
    rows.truncate(limit as usize);
    let next = rows.last().map(|last| Cursor {
        key: key(last),
        id: last.id,
        in_title: false,
    });
    (rows, next)
}

/// The list's filters and, for a search, the text match over every match.
fn matching<'a>(conn: &DbConn, q: &ListQuery, search: Option<&Query>) -> Selection<'a> {
    let mut query = filtered(q, search);
    if let Some(search) = search {
        let window = Window {
            below: None,
            reach: q.whole_reach(),
        };
        if let Some(condition) =
            search::matches(conn, search, Tier::Any, q.include_staff_text, &window)
        {
            query = query.filter(condition);
        }
    }
    query
}

/// Nearest due time first: those with a due time in index order, then those
/// without one by id. Two index reads instead of a sort of every row (a `NULLS
/// LAST` order is not one SQLite can read from an index).
fn list_by_due(
    conn: &mut DbConn,
    q: &ListQuery,
    search: Option<&Query>,
) -> QueryResult<(Vec<Consultation>, Option<Cursor>)> {
    use consultations::dsl as c;
    let wanted = q.limit + 1;
    let mut rows = vec![];
    let among_undated = matches!(q.after, Some(Cursor { key: None, .. }));
    if !among_undated {
        let mut query = matching(conn, q, search).filter(c::due_at.is_not_null());
        if let Some(Cursor {
            key: Some(key), id, ..
        }) = &q.after
        {
            query = query.filter(c::due_at.gt(*key).or(c::due_at.eq(*key).and(c::id.gt(*id))));
        }
        rows = query
            .order((c::due_at.asc(), c::id.asc()))
            .limit(wanted)
            .load(conn)?;
    }
    if (rows.len() as i64) < wanted {
        let mut query = matching(conn, q, search).filter(c::due_at.is_null());
        if let Some(Cursor { key: None, id, .. }) = &q.after {
            query = query.filter(c::id.gt(*id));
        }
        rows.extend(
            query
                .order(c::id.asc())
                .limit(wanted - rows.len() as i64)
                .load(conn)?,
        );
    }
    Ok(page(rows, q.limit, |last| last.due_at))
}

/// The list's filters other than the indexed text match and the page position.
fn filtered<'a>(q: &ListQuery, search: Option<&Query>) -> Selection<'a> {
    use consultations::dsl as c;
    let mut query = c::consultations
        .select(Consultation::as_select())
        .into_boxed();
    if let Scope::Departments(ids) = &q.scope {
        query = query.filter(c::department_id.eq_any(ids.clone()));
    }
    if !q.states.is_empty() {
        let states: Vec<&str> = q.states.iter().map(|s| s.as_str()).collect();
        query = query.filter(c::state.eq_any(states));
    }
    match &q.assignee {
        Some(AssigneeFilter::Nobody) => query = query.filter(c::assignee_id.is_null()),
        Some(AssigneeFilter::User(id)) => query = query.filter(c::assignee_id.eq(*id)),
        None => {}
    }
    if let Some(ids) = &q.departments {
        query = query.filter(c::department_id.eq_any(ids.clone()));
    }
    if let Some(category) = q.category {
        query = query.filter(c::category.eq(category.as_str()));
    }
    if let Some(priority) = q.priority {
        query = query.filter(c::priority.eq(priority.as_str()));
    }
    if let Some(at) = q.overdue_at {
        query = query.filter(c::due_at.lt(at));
    }
    if let Some(fy) = q.fiscal_year {
        query = query.filter(c::fiscal_year.eq(fy));
    }
    // One character has no bigram: those are found by scanning.
    for single in search.map(|s| s.singles.as_slice()).unwrap_or_default() {
        let pattern = format!("%{}%", escape_like(single));
        query = query.filter(
            c::title
                .like(pattern.clone())
                .escape('\\')
                .or(c::body.like(pattern).escape('\\')),
        );
    }
    query
}

/// Relevance order: consultations matching in the title first, then those matching
/// elsewhere, each newest filed first (by id, which follows filing order). Each tier
/// reads the index newest first, so a page costs about its own size, not the number
/// of matches.
fn list_by_relevance(
    conn: &mut DbConn,
    q: &ListQuery,
    search: &Query,
) -> QueryResult<(Vec<Consultation>, Option<Cursor>)> {
    let wanted = q.limit + 1;
    let mut rows: Vec<(Consultation, Tier)> = vec![];
    for tier in [Tier::InTitle, Tier::Elsewhere] {
        let below = match (&q.after, tier) {
            (None, _) => None,
            (Some(cursor), Tier::InTitle) if cursor.in_title => Some(cursor.id),
            (Some(_), Tier::InTitle) => continue, // the cursor is past the title tier
            (Some(cursor), _) if cursor.in_title => None,
            (Some(cursor), _) => Some(cursor.id),
        };
        let need = wanted - rows.len() as i64;
        if need == 0 {
            break;
        }
        let found = relevance_tier(conn, q, search, tier, below, need)?;
        rows.extend(found.into_iter().map(|row| (row, tier)));
    }
    let next = if rows.len() as i64 > q.limit {
        rows.truncate(q.limit as usize);
        rows.last().map(|(last, tier)| Cursor {
            key: None,
            id: last.id,
            in_title: *tier == Tier::InTitle,
        })
    } else {
        None
    };
    Ok((rows.into_iter().map(|(row, _)| row).collect(), next))
}

/// Up to `need` consultations of one relevance tier with ids below `below`, newest
/// first. Most pages fill from the newest matches of the index; only when the other
/// filters turn most of those away is every match read.
fn relevance_tier(
    conn: &mut DbConn,
    q: &ListQuery,
    search: &Query,
    tier: Tier,
    below: Option<i64>,
    need: i64,
) -> QueryResult<Vec<Consultation>> {
    use consultations::dsl as c;
    let mut tier_query = |reach: Reach| -> QueryResult<(Vec<Consultation>, bool)> {
        let windowed = matches!(reach, Reach::Newest(_));
        let window = Window { below, reach };
        let mut query = filtered(q, Some(search));
        let indexed = search::matches(conn, search, tier, q.include_staff_text, &window);
        let windowed = windowed && indexed.is_some();
        match indexed {
            Some(condition) => query = query.filter(condition),
            // Without a bigram there is no title tier; the scan filters do the matching.
            None if tier == Tier::InTitle => return Ok((vec![], false)),
            None => {}
        }
        if let Some(below) = below {
            query = query.filter(c::id.lt(below));
        }
        let rows = query.order(c::id.desc()).limit(need).load(conn)?;
        Ok((rows, windowed))
    };
    let (rows, windowed) = tier_query(Reach::Newest(need * 8))?;
    if rows.len() as i64 == need || !windowed {
        return Ok(rows);
    }
    Ok(tier_query(q.whole_reach())?.0)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Consultations whose running due time falls within `[now, horizon]` and whose
/// reminder for that due time has not gone out.
pub fn needing_reminder(
    conn: &mut DbConn,
    now: NaiveDateTime,
    horizon: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Consultation>> {
    use consultations::dsl as c;
    c::consultations
        .filter(c::due_at.gt(now))
        .filter(c::due_at.le(horizon))
        .filter(
            c::reminded_due_at
                .is_null()
                .or(c::reminded_due_at.nullable().ne(c::due_at)),
        )
        .order(c::due_at.asc())
        .limit(limit)
        .select(Consultation::as_select())
        .load(conn)
}

/// Consultations past their running due time without a breach notice for it.
pub fn needing_breach_notice(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Consultation>> {
    use consultations::dsl as c;
    c::consultations
        .filter(c::due_at.le(now))
        .filter(
            c::breached_due_at
                .is_null()
                .or(c::breached_due_at.nullable().ne(c::due_at)),
        )
        .order(c::due_at.asc())
        .limit(limit)
        .select(Consultation::as_select())
        .load(conn)
}

/// Records that the reminder (or breach notice) for `due_at` went out. Returns 0
/// when the due time moved or someone else recorded it first.
pub fn mark_notified(
    conn: &mut DbConn,
    id: i64,
    due_at: NaiveDateTime,
    breach: bool,
) -> QueryResult<usize> {
    use consultations::dsl as c;
    let target = c::consultations
        .filter(c::id.eq(id))
        .filter(c::due_at.eq(due_at));
    if breach {
        diesel::update(
            target.filter(
                c::breached_due_at
                    .is_null()
                    .or(c::breached_due_at.ne(due_at)),
            ),
        )
        .set(c::breached_due_at.eq(Some(due_at)))
        .execute(conn)
    } else {
        diesel::update(
            target.filter(
                c::reminded_due_at
                    .is_null()
                    .or(c::reminded_due_at.ne(due_at)),
            ),
        )
        .set(c::reminded_due_at.eq(Some(due_at)))
        .execute(conn)
    }
}

/// Resolved consultations whose reopen window ended before `cutoff`. The window
/// of one imported from kintone runs from its import, not from its old date, so
/// the requester can still reopen it here and nobody is mailed about years-old
/// history on the import's first sweep.
pub fn resolved_before(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Consultation>> {
    use super::schema::kintone_records as k;
    use consultations::dsl as c;
    let imported_since_cutoff = k::table
        .filter(k::app.eq(super::imports::DIGICON_APP))
        .filter(k::target_id.eq(c::id))
        .filter(k::imported_at.gt(cutoff));
    c::consultations
        .filter(c::state.eq(State::Resolved.as_str()))
        .filter(c::resolved_at.le(cutoff))
        .filter(diesel::dsl::not(diesel::dsl::exists(imported_since_cutoff)))
        .order(c::resolved_at.asc())
        .limit(limit)
        .select(Consultation::as_select())
        .load(conn)
}
