//! The helpdesk inquiry use cases: asking (for oneself, or recorded on someone's
//! behalf, answered at once if the SE answered on the phone), reading, listing,
//! firing an event of the inquiry table, escalating into a consultation,
//! commenting and the timeline. Each writes its change, its timeline entry and
//! its mail in one transaction.

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde_json::json;

use super::consultations::{file_for, Filer};
use super::idempotency::{self, Idempotency};
use super::{stored, App, Caller, Error, Result};
use crate::db::consultations::{FileError, Scope};
use crate::db::inquiries::{
    self, Asking, Holder, Inquiry, InquiryChange, InquiryChanges, InquiryComment, InquiryEventRow,
    InquiryQuery,
};
use crate::db::{departments, stats, users, DbConn};
use crate::domain::consultation::{
    may_comment, CommentInput, NewConsultationFields, TEXT_MAX_CHARS,
};
use crate::domain::fiscal::fiscal_year;
use crate::domain::inquiry::{
    allowed_inquiry_events, auto_close_at, check_inquiry_transition, first_answer_due, may_answer,
    may_ask, may_ask_on_behalf, Channel, InquiryEvent, InquiryPayload, InquiryState,
    InquiryTransitionInput, NewInquiryInput, Topic, INQUIRY_REMIND_BEFORE,
};
use crate::domain::inquiry_rollup::inquiry_facts;
use crate::domain::rollup::Facts;
use crate::domain::workflow::Actor;
use crate::domain::{Category, FieldErrors};

/// An inquiry with what the caller may do to it now.
#[derive(Debug, Clone)]
pub struct ShownInquiry {
    pub inquiry: Inquiry,
    pub allowed_events: Vec<InquiryEvent>,
}

impl ShownInquiry {
    fn new(app: &App, caller: &Caller, inquiry: Inquiry) -> ShownInquiry {
        let allowed_events =
            allowed_inquiry_events(&app.rules, &inquiry.subject(), caller.actor(), Utc::now());
        ShownInquiry {
            inquiry,
            allowed_events,
        }
    }
}

/// A new inquiry, or the replay of an earlier one under the same key.
#[derive(Debug)]
pub struct Asked {
    pub shown: ShownInquiry,
    pub replayed: bool,
}

fn visible(conn: &mut DbConn, caller: &Caller, id: i64) -> Result<Inquiry> {
    inquiries::find_visible(conn, id, &caller.scope)?.ok_or(Error::NotFound)
}

/// Asks a question, or (helpdesk, DX office, admin) records one asked by someone
/// else on the phone, at the counter or in chat. With `answer` (helpdesk only) it
/// is answered in the same step: the quick record of a call.
pub fn ask(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    input: &NewInquiryInput,
    idempotency: Option<&Idempotency>,
) -> Result<Asked> {
    if !may_ask(caller.role) {
        return Err(Error::ForbiddenEvent(InquiryEvent::Ask.as_str()));
    }
    let fields = input.parse()?;
    let on_behalf = fields.asker_id.is_some_and(|id| id != caller.id);
    if on_behalf && !may_ask_on_behalf(caller.role) {
        return Err(Error::Forbidden);
    }
    if fields.answer.is_some() && !may_answer(caller.role) {
        return Err(Error::ForbiddenEvent(InquiryEvent::Answer.as_str()));
    }
    let channel = match fields.channel {
        Some(channel) if channel != Channel::Web && !may_ask_on_behalf(caller.role) => {
            return Err(Error::invalid_field(
                "channel",
                "validation.channel_staff_only",
            ));
        }
        Some(channel) => channel,
        None if on_behalf => Channel::Phone,
        None => Channel::Web,
    };
    if let Some(request) = idempotency {
        if let Some(first) = replay(app, conn, caller, request)? {
            return Ok(first);
        }
    }
    let asker_id = fields.asker_id.unwrap_or(caller.id);
    let asker = users::find(conn, asker_id)?
        .filter(|u| u.active)
        .ok_or_else(|| Error::invalid_field("asker_id", "validation.unknown_user"))?;
    let department = departments::find(conn, asker.department_id)?
        .ok_or_else(|| Error::internal("user without department"))?;
    let department_id = departments::division_of(conn, &department)?;
    if !caller.scope.contains(department_id) {
        return Err(Error::invalid_field(
            "asker_id",
            "validation.department_out_of_scope",
        ));
    }
    let now = Utc::now();
    let asking = Asking {
        subject: &fields.subject,
        question: &fields.question,
        topic: fields.topic,
        channel,
        priority: fields.priority,
        department_id,
        asker_id,
        filed_by: caller.id,
        fiscal_year: fiscal_year(now.with_timezone(&app.timezone).date_naive()),
        first_answer_due_at: Some(stored(first_answer_due(
            &app.calendar,
            fields.priority,
            now,
        ))),
        idempotency: idempotency.map(Idempotency::parts),
        now: stored(now),
    };
    let payload = json!({
        "subject": fields.subject,
        "topic": fields.topic,
        "channel": channel,
        "asker_id": asker_id,
        "filed_by": caller.id,
    })
    .to_string();
    let written = conn.transaction(|conn| {
        let asked = inquiries::insert(conn, &asking, &payload)?;
        stats::add(conn, &inquiry_facts(&asked.counted(), &app.timezone))?;
        app.notifier
            .inquiry_asked(conn, &asked, fields.answer.is_some())?;
        let Some(answer) = &fields.answer else {
            return Ok::<_, Error>(asked);
        };
        write_event(
            app,
            conn,
            &asked,
            caller.actor(),
            InquiryState::Answered,
            &InquiryPayload::Answer {
                answer: answer.clone(),
            },
            now,
        )
    });
    match written {
        Ok(inquiry) => Ok(Asked {
            shown: ShownInquiry::new(app, caller, inquiry),
            replayed: false,
        }),
        Err(Error::Internal(cause)) if idempotency.is_some() => {
            // A concurrent retry under the same key may have asked first.
            match idempotency.map(|r| replay(app, conn, caller, r)) {
                Some(Ok(Some(first))) => Ok(first),
                _ => Err(Error::Internal(cause)),
            }
        }
        Err(e) => Err(e),
    }
}

fn replay(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    request: &Idempotency,
) -> Result<Option<Asked>> {
    let stored = inquiries::find_idempotency(conn, caller.id, &request.key)?;
    let first = idempotency::replay(stored, request, |id| Ok(inquiries::find(conn, id)?))?;
    Ok(first.map(|inquiry| Asked {
        shown: ShownInquiry::new(app, caller, inquiry),
        replayed: true,
    }))
}

/// One inquiry the caller may see, with what they may do now.
pub fn get(app: &App, conn: &mut DbConn, caller: &Caller, id: i64) -> Result<ShownInquiry> {
    Ok(ShownInquiry::new(app, caller, visible(conn, caller, id)?))
}

/// Whose inquiries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryAssignee {
    Me,
    Nobody,
    User(i64),
}

/// The staff queue's views of the helpdesk stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryView {
    Unassigned,
    Mine,
    Waiting,
    Overdue,
    All,
}

impl InquiryView {
    pub const ALL: &'static [InquiryView] = &[
        InquiryView::Unassigned,
        InquiryView::Mine,
        InquiryView::Waiting,
        InquiryView::Overdue,
        InquiryView::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InquiryView::Unassigned => "unassigned",
            InquiryView::Mine => "mine",
            InquiryView::Waiting => "waiting",
            InquiryView::Overdue => "overdue",
            InquiryView::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<InquiryView> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }
}

/// The list's filters as the caller gave them, parsed.
#[derive(Debug, Clone, Default)]
pub struct InquiryFilter {
    pub states: Vec<InquiryState>,
    pub assignee: Option<InquiryAssignee>,
    pub topic: Option<Topic>,
    pub channel: Option<Channel>,
    pub overdue: bool,
    pub text: Option<String>,
    pub fiscal_year: Option<i32>,
    /// 1 to 200.
    pub limit: i64,
    pub after: Option<(chrono::NaiveDateTime, i64)>,
    /// A staff queue view (ignored for other roles).
    pub view: Option<InquiryView>,
}

/// One page of inquiries, newest first.
#[derive(Debug)]
pub struct InquiryPage {
    pub items: Vec<Inquiry>,
    pub next: Option<(chrono::NaiveDateTime, i64)>,
}

/// Who works the helpdesk queue (and so gets its views).
pub fn works_the_queue(role: crate::domain::Role) -> bool {
    role.is_staff()
}

/// A page of the inquiries the caller may see.
pub fn list(conn: &mut DbConn, caller: &Caller, filter: InquiryFilter) -> Result<InquiryPage> {
    let mut filter = filter;
    if works_the_queue(caller.role) {
        match filter.view.unwrap_or(InquiryView::All) {
            InquiryView::Unassigned => {
                filter.assignee = Some(InquiryAssignee::Nobody);
                filter.states = vec![InquiryState::Open];
            }
            InquiryView::Mine => {
                filter.assignee = Some(InquiryAssignee::Me);
                if filter.states.is_empty() {
                    filter.states = vec![InquiryState::Open, InquiryState::Waiting];
                }
            }
            InquiryView::Waiting => filter.states = vec![InquiryState::Waiting],
            InquiryView::Overdue => filter.overdue = true,
            InquiryView::All => {}
        }
    }
    let assignee = match filter.assignee {
        None => None,
        Some(InquiryAssignee::Me) => Some(Holder::User(caller.id)),
        Some(InquiryAssignee::Nobody) => Some(Holder::Nobody),
        Some(InquiryAssignee::User(id)) => Some(Holder::User(id)),
    };
    let text = filter
        .text
        .as_deref()
        .map(|t| {
            t.split_whitespace()
                .take(8)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let limit = filter.limit.clamp(1, 200);
    let (items, more) = inquiries::list(
        conn,
        &InquiryQuery {
            scope: caller.scope.clone(),
            states: filter.states,
            assignee,
            topic: filter.topic,
            channel: filter.channel,
            fiscal_year: filter.fiscal_year,
            overdue_at: filter.overdue.then(crate::db::now),
            text,
            limit,
            after: filter.after,
        },
    )?;
    let next = if more {
        items.last().map(|i| (i.created_at, i.id))
    } else {
        None
    };
    Ok(InquiryPage { items, next })
}

/// Fires an event of the inquiry table: `event` and `version` are required.
pub fn fire(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
    input: &InquiryTransitionInput,
) -> Result<ShownInquiry> {
    let mut errors = FieldErrors::new();
    let event = match input.event.as_deref().map(str::trim) {
        None | Some("") => {
            errors.add("event", "validation.required");
            None
        }
        Some(name) => InquiryEvent::parse(name).or_else(|| {
            errors.add("event", "validation.choice");
            None
        }),
    };
    if input.version.is_none() {
        errors.add("version", "validation.required");
    }
    errors.into_result()?;
    let (Some(event), Some(version)) = (event, input.version) else {
        return Err(Error::Invalid(FieldErrors::new()));
    };
    let updated = fire_as(
        app,
        conn,
        &caller.scope,
        caller.actor(),
        id,
        version,
        event,
        input,
        Utc::now(),
    )?;
    Ok(ShownInquiry::new(app, caller, updated))
}

/// Checks an event against the table and writes it, or changes nothing.
#[allow(clippy::too_many_arguments)]
pub fn fire_as(
    app: &App,
    conn: &mut DbConn,
    scope: &Scope,
    actor: Actor,
    id: i64,
    version: i32,
    event: InquiryEvent,
    input: &InquiryTransitionInput,
    now: DateTime<Utc>,
) -> Result<Inquiry> {
    let current = inquiries::find_visible(conn, id, scope)?.ok_or(Error::NotFound)?;
    if current.version != version {
        return Err(Error::Stale {
            current: current.version,
        });
    }
    let (to, payload) =
        check_inquiry_transition(&app.rules, &current.subject(), actor, event, input, now)
            .map_err(|e| Error::inquiry(e, event))?;
    conn.transaction(|conn| write_event(app, conn, &current, actor, to, &payload, now))
}

/// Writes one event with its columns, timeline entry and mail; an escalation
/// files the consultation it becomes, linked both ways.
fn write_event(
    app: &App,
    conn: &mut DbConn,
    current: &Inquiry,
    actor: Actor,
    to: InquiryState,
    payload: &InquiryPayload,
    now: DateTime<Utc>,
) -> Result<Inquiry> {
    let actor_id = match actor {
        Actor::User { id, .. } => Some(id),
        Actor::System => None,
    };
    let at = stored(now);
    let mut changes = InquiryChanges {
        state: Some(to),
        ..Default::default()
    };
    let event;
    let mut json = serde_json::Map::new();
    match payload {
        InquiryPayload::Take => {
            event = InquiryEvent::Take;
            changes.assignee_id = Some(actor_id);
            json.insert("assignee_id".into(), json!(actor_id));
        }
        InquiryPayload::Answer { answer } => {
            event = InquiryEvent::Answer;
            changes.answer = Some(Some(answer.clone()));
            changes.answered_at = Some(Some(at));
            if current.first_answered_at.is_none() {
                changes.first_answered_at = Some(Some(at));
            }
            // Whoever answers holds it from then on.
            changes.assignee_id = Some(actor_id);
            json.insert("answer".into(), json!(answer));
        }
        InquiryPayload::AskBack { message } => {
            event = InquiryEvent::AskBack;
            if current.first_answered_at.is_none() {
                // Asking back is the helpdesk's first answer.
                changes.first_answered_at = Some(Some(at));
            }
            json.insert("message".into(), json!(message));
        }
        InquiryPayload::Reply { message } => {
            event = InquiryEvent::Reply;
            changes.answered_at = Some(None);
            json.insert("message".into(), json!(message));
        }
        InquiryPayload::Close { helped } => {
            event = InquiryEvent::Close;
            changes.helped = Some(*helped);
            changes.closed_at = Some(Some(at));
            json.insert("helped".into(), json!(helped));
        }
        InquiryPayload::Escalate => {
            event = InquiryEvent::Escalate;
            let consultation_id = escalate(app, conn, current, actor_id, now)?;
            changes.consultation_id = Some(Some(consultation_id));
            json.insert("consultation_id".into(), json!(consultation_id));
        }
    }
    let updated = inquiries::apply(
        conn,
        InquiryChange {
            inquiry: current,
            expected_version: current.version,
            event: event.as_str(),
            actor_id,
            to_state: to,
            changes,
            payload: serde_json::Value::Object(json),
            now: at,
        },
    )?
    .ok_or(Error::Stale {
        current: current.version + 1,
    })?;
    let before = inquiry_facts(&current.counted(), &app.timezone);
    let after = inquiry_facts(&updated.counted(), &app.timezone);
    stats::add(conn, &Facts::change(Some(&before), &after))?;
    app.notifier
        .inquiry_event(conn, &updated, actor_id, payload)?;
    Ok(updated)
}

/// Files the consultation an inquiry becomes: the asker is its requester, the
/// staff member who escalated it typed it, and the text comes along.
fn escalate(
    app: &App,
    conn: &mut DbConn,
    inquiry: &Inquiry,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let mut body = inquiry.question.clone();
    if let Some(answer) = &inquiry.answer {
        body.push_str("\n\n---\n");
        body.push_str(answer);
    }
    body.push_str(&format!("\n\n({})", inquiry.number));
    let fields = NewConsultationFields {
        title: inquiry.subject.clone(),
        body,
        category: Category::LowCodeApp,
        priority: inquiry.priority,
        department_id: Some(inquiry.department_id),
        desired_by: None,
        contact: None,
    };
    let by = Filer {
        requester_id: inquiry.asker_id,
        filed_by: actor_id.unwrap_or(inquiry.asker_id),
        department_id: inquiry.department_id,
    };
    match file_for(app, conn, &fields, &by, None, now) {
        Ok(c) => Ok(c.id),
        Err(FileError::KeyTaken) => Err(Error::internal("escalation without a key")),
        Err(FileError::Db(e)) => Err(e.into()),
    }
}

/// Adds a public comment, or (staff) an internal note. Managers only read.
pub fn comment(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    id: i64,
    input: &CommentInput,
) -> Result<InquiryComment> {
    let internal = input.internal.unwrap_or(false);
    let inquiry = visible(conn, caller, id)?;
    if !may_comment(caller.role, internal) {
        return Err(Error::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let body = errors.required_text("body", input.body.as_deref(), TEXT_MAX_CHARS);
    errors.into_result()?;
    let body = body.unwrap_or_default();
    let author = users::find(conn, caller.id)?.ok_or(Error::NotFound)?;
    conn.transaction(|conn| {
        let comment = inquiries::add_comment(
            conn,
            inquiry.id,
            author.id,
            &body,
            internal,
            crate::db::now(),
        )?;
        app.notifier
            .inquiry_comment(conn, &inquiry, &author, &body, internal)?;
        Ok(comment)
    })
}

/// One entry of an inquiry's timeline.
#[derive(Debug, Clone)]
pub enum InquiryEntry {
    Event(InquiryEventRow),
    Comment(InquiryComment),
}

impl InquiryEntry {
    pub fn at(&self) -> chrono::NaiveDateTime {
        match self {
            InquiryEntry::Event(e) => e.created_at,
            InquiryEntry::Comment(c) => c.created_at,
        }
    }
}

/// Events and comments, oldest first; internal notes only for staff.
pub fn timeline(conn: &mut DbConn, caller: &Caller, id: i64) -> Result<Vec<InquiryEntry>> {
    visible(conn, caller, id)?;
    let mut items: Vec<InquiryEntry> = inquiries::events_of(conn, id)?
        .into_iter()
        .map(InquiryEntry::Event)
        .collect();
    items.extend(
        inquiries::comments_of(conn, id, caller.role.is_staff())?
            .into_iter()
            .map(InquiryEntry::Comment),
    );
    items.sort_by_key(InquiryEntry::at);
    Ok(items)
}

/// The worker's pass over inquiries: closes those answered more than five
/// business days ago, and sends each first-answer reminder and breach once.
/// Returns how many were closed.
pub fn sweep(app: &App, conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize> {
    let mut closed = 0;
    // Five business days are at least five calendar days: those answered before
    // that are the candidates, oldest first, and the calendar decides.
    let candidates =
        inquiries::answered_before(conn, stored(now - chrono::Duration::days(5)), 200)?;
    for inquiry in candidates {
        let due = inquiry
            .answered_at
            .map(|at| auto_close_at(&app.calendar, at.and_utc()));
        if due.is_none_or(|due| due > now) {
            continue;
        }
        let input = InquiryTransitionInput::default();
        let result = fire_as(
            app,
            conn,
            &Scope::All,
            Actor::System,
            inquiry.id,
            inquiry.version,
            InquiryEvent::Close,
            &input,
            now,
        );
        match result {
            Ok(_) => closed += 1,
            // Someone acted on it meanwhile; the next pass sees it again.
            Err(Error::Stale { .. } | Error::NotAllowed { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let remind_at = stored(now + INQUIRY_REMIND_BEFORE);
    for breach in [false, true] {
        let (after, before) = if breach {
            (None, stored(now))
        } else {
            (Some(stored(now)), remind_at)
        };
        for inquiry in inquiries::first_answer_due_between(conn, after, before, breach, 200)? {
            let Some(due) = inquiry.first_answer_due_at else {
                continue;
            };
            conn.transaction(|conn| {
                if inquiries::mark_due_notice(conn, inquiry.id, due, breach)? {
                    app.notifier.inquiry_due(conn, &inquiry, breach)?;
                }
                Ok::<_, Error>(())
            })?;
        }
    }
    Ok(closed)
}

/// Someone the helpdesk may record a question for.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub department_id: i64,
}

/// People whose name or e-mail contains `text` (at least one character, at most
/// ten found): the quick record's asker lookup, for those who record on behalf.
pub fn find_askers(conn: &mut DbConn, caller: &Caller, text: &str) -> Result<Vec<Person>> {
    if !may_ask_on_behalf(caller.role) {
        return Err(Error::Forbidden);
    }
    let text = text.trim();
    if text.is_empty() {
        return Ok(vec![]);
    }
    if text.chars().count() > 100 {
        return Err(Error::bad_parameter("q", "…"));
    }
    Ok(users::search(conn, text, 10)?
        .into_iter()
        .map(|u| Person {
            id: u.id,
            name: u.name,
            email: u.email,
            department_id: u.department_id,
        })
        .collect())
}

/// The asker a quick record names by text (no script in the browser): an exact
/// e-mail, or a name only one active person has.
pub fn resolve_asker(conn: &mut DbConn, caller: &Caller, text: &str) -> Result<i64> {
    // "鈴木 一郎 <suzuki@city.example>", as the suggestions show it.
    let text = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let found = find_askers(conn, caller, text)?;
    let exact: Vec<&Person> = found
        .iter()
        .filter(|p| p.email.eq_ignore_ascii_case(text.trim()) || p.name == text.trim())
        .collect();
    match (exact.as_slice(), found.as_slice()) {
        ([one], _) => Ok(one.id),
        ([], [one]) => Ok(one.id),
        ([], []) => Err(Error::invalid_field("asker", "validation.unknown_user")),
        _ => Err(Error::invalid_field("asker", "validation.ambiguous_user")),
    }
}

/// What the inquiry page shows: the inquiry, its timeline and the names of the
/// people in them.
#[derive(Debug)]
pub struct InquiryDetail {
    pub shown: ShownInquiry,
    pub timeline: Vec<InquiryEntry>,
    pub names: std::collections::HashMap<i64, String>,
}

pub fn detail(app: &App, conn: &mut DbConn, caller: &Caller, id: i64) -> Result<InquiryDetail> {
    let shown = get(app, conn, caller, id)?;
    let timeline = timeline(conn, caller, id)?;
    let mut ids: Vec<i64> = timeline
        .iter()
        .filter_map(|e| match e {
            InquiryEntry::Event(e) => e.actor_id,
            InquiryEntry::Comment(c) => Some(c.author_id),
        })
        .collect();
    ids.extend([shown.inquiry.asker_id, shown.inquiry.filed_by]);
    ids.extend(shown.inquiry.assignee_id);
    let names = users::names(conn, ids)?;
    Ok(InquiryDetail {
        shown,
        timeline,
        names,
    })
}
