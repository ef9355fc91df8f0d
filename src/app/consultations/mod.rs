//! The consultation use cases: filing, reading, editing, firing a workflow event,
//! commenting and the timeline. Each writes its change, its timeline entry, its
//! SLA times and its mail in one transaction, so none can be lost without the
//! others. The lists and queue views are in [`list`], the consultation page's
//! gathering in [`detail`].

pub mod detail;
pub mod list;

use chrono::{DateTime, Utc};
use diesel::Connection;

use super::idempotency::{self, Idempotency};
use super::{reports, stored, App, Caller, Error, Result};
use crate::db::comments::{self, Comment, NewComment};
use crate::db::consultations::{self, Change, Consultation, FileError, Filing, FilingWork, Scope};
use crate::db::events::{self, EventRow};
use crate::db::{departments, search, stats, systems, users, DbConn};
use crate::domain::consultation::{
    may_comment, CommentInput, ConsultationEditInput, NewConsultationFields, NewConsultationInput,
    TEXT_MAX_CHARS,
};
use crate::domain::fiscal::fiscal_year;
use crate::domain::ids::ConsultationId;
use crate::domain::sla::{SlaClock, Step};
use crate::domain::workflow::{
    allowed_events, check_transition, may_file, Actor, Payload, TransitionInput,
};
use crate::domain::{Event, FieldErrors, Role};

/// A consultation with what the caller may do to it now.
#[derive(Debug, Clone)]
pub struct Shown {
    pub consultation: Consultation,
    pub allowed_events: Vec<Event>,
}

impl Shown {
    fn new(app: &App, caller: &Caller, consultation: Consultation) -> Shown {
        let allowed_events = allowed_events(
            &app.rules,
            &consultation.subject(),
            caller.actor(),
            Utc::now(),
        );
        Shown {
            consultation,
            allowed_events,
        }
    }
}

/// A filing, or the replay of an earlier one under the same idempotency key.
#[derive(Debug)]
pub struct Filed {
    pub shown: Shown,
    pub replayed: bool,
}

/// A consultation the caller may see, or `NotFound`.
pub(crate) fn visible(
    conn: &mut DbConn,
    caller: &Caller,
    id: ConsultationId,
) -> Result<Consultation> {
    consultations::find_visible(conn, id.0, &caller.scope)?.ok_or(Error::NotFound)
}

/// Files a consultation for the caller. Requesters file for their own division;
/// the DX office and admins name the division they file for.
pub fn file(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    input: &NewConsultationInput,
    idempotency: Option<&Idempotency>,
) -> Result<Filed> {
    if !may_file(caller.role) {
        return Err(Error::ForbiddenEvent(Event::File.as_str()));
    }
    let fields = input.parse()?;
    let replay = |conn: &mut DbConn, request: &Idempotency| -> Result<Option<Filed>> {
        let stored = consultations::find_idempotency(conn, caller.id, &request.key)?;
        let first = idempotency::replay(stored, request, |id| Ok(consultations::find(conn, id)?))?;
        Ok(first.map(|c| Filed {
            shown: Shown::new(app, caller, c),
            replayed: true,
        }))
    };
    if let Some(request) = idempotency {
        if let Some(first) = replay(conn, request)? {
            return Ok(first);
        }
    }
    let requester_id = requester_of_record(conn, caller, input.requester_id)?;
    let department_id = match (fields.department_id, requester_id == caller.id) {
        (None, false) => requester_division(conn, requester_id)?,
        (requested, _) => filing_department(conn, caller, requested)?,
    };
    let by = Filer {
        requester_id,
        filed_by: caller.id,
        department_id,
    };
    let filed = file_for(app, conn, &fields, &by, idempotency, Utc::now());
    match filed {
        Ok(c) => Ok(Filed {
            shown: Shown::new(app, caller, c),
            replayed: false,
        }),
        // A concurrent retry under the same key filed first.
        Err(FileError::KeyTaken) => match idempotency {
            Some(request) => {
                replay(conn, request)?.ok_or_else(|| Error::internal("idempotency key vanished"))
            }
            None => Err(Error::internal("idempotency key taken without a key")),
        },
        Err(FileError::Db(e)) => Err(e.into()),
    }
}

/// Writes a filing made at `at` by a requester for a department (see [`file_for`]).
/// The demo loader and the benchmarks replay history through this.
pub fn file_as(
    app: &App,
    conn: &mut DbConn,
    fields: &NewConsultationFields,
    requester_id: i64,
    department_id: i64,
    idempotency: Option<&Idempotency>,
    at: DateTime<Utc>,
) -> Result<Consultation, FileError> {
    let by = Filer {
        requester_id,
        filed_by: requester_id,
        department_id,
    };
    file_for(app, conn, fields, &by, idempotency, at)
}

/// Who a filing is for and who typed it.
#[derive(Debug, Clone, Copy)]
pub struct Filer {
    /// The person of record, who gets the receipt and every later mail.
    pub requester_id: i64,
    /// The staff member who typed it (the requester, or the DX office on behalf).
    pub filed_by: i64,
    pub department_id: i64,
}

/// Writes a filing with its hearing due time, search entry, receipt and intake
/// mail, in one transaction. `file` is the door for callers.
pub fn file_for(
    app: &App,
    conn: &mut DbConn,
    fields: &NewConsultationFields,
    by: &Filer,
    idempotency: Option<&Idempotency>,
    at: DateTime<Utc>,
) -> Result<Consultation, FileError> {
    let clock = app.sla.on_file(&app.calendar, fields.priority, at);
    let filing = Filing {
        fields,
        department_id: by.department_id,
        requester_id: by.requester_id,
        filed_by: by.filed_by,
        fiscal_year: fiscal_year(at.with_timezone(&app.timezone).date_naive()),
        idempotency: idempotency.map(Idempotency::parts),
        now: stored(at),
        hearing_due_at: clock.hearing_due_at.map(stored),
    };
    let work = FilingWork {
        unnumbered: &|conn, c| {
            search::index_new(conn, c)?;
            let mail = app.notifier.filing_mail(conn, c)?;
            Ok((mail, reports::change(app, conn, None, c)?))
        },
        numbered: &|conn, c, (mail, counts)| {
            app.notifier.filed(conn, mail, &c.number)?;
            stats::add(conn, &counts)
        },
    };
    consultations::file(conn, &filing, &work)
}

/// The person a consultation is filed for: the caller, or (the DX office and
/// admins filing on behalf, DESIGN.md) the active user they name.
fn requester_of_record(conn: &mut DbConn, caller: &Caller, named: Option<i64>) -> Result<i64> {
    let Some(id) = named.filter(|id| *id != caller.id) else {
        return Ok(caller.id);
    };
    if !matches!(caller.role, Role::DxOffice | Role::Admin) {
        return Err(Error::Forbidden);
    }
    match users::find(conn, id)? {
        Some(user) if user.active => Ok(id),
        _ => Err(Error::invalid_field(
            "requester_id",
            "validation.unknown_user",
        )),
    }
}

/// The division of a user's department.
fn requester_division(conn: &mut DbConn, user_id: i64) -> Result<i64> {
    let user = users::find(conn, user_id)?.ok_or(Error::NotFound)?;
    let department = departments::find(conn, user.department_id)?
        .ok_or_else(|| Error::internal("user without department"))?;
    Ok(departments::division_of(conn, &department)?)
}

/// The department a consultation is filed for: the requester's own division by
/// default; staff filing on behalf of a division must name it, within their scope.
fn filing_department(conn: &mut DbConn, caller: &Caller, requested: Option<i64>) -> Result<i64> {
    match requested {
        Some(id) => {
            if departments::find(conn, id)?.is_none() {
                return Err(Error::invalid_field(
                    "department_id",
                    "validation.unknown_department",
                ));
            }
            if !caller.scope.contains(id) {
                return Err(Error::invalid_field(
                    "department_id",
                    "validation.department_out_of_scope",
                ));
            }
            Ok(id)
        }
        None if caller.role == Role::Requester => {
            let department = departments::find(conn, caller.department_id)?
                .ok_or_else(|| Error::internal("user without department"))?;
            Ok(departments::division_of(conn, &department)?)
        }
        None => Err(Error::invalid_field("department_id", "validation.required")),
    }
}

/// One consultation the caller may see, with what they may do now.
pub fn get(app: &App, conn: &mut DbConn, caller: &Caller, id: ConsultationId) -> Result<Shown> {
    Ok(Shown::new(app, caller, visible(conn, caller, id)?))
}

/// Edits title, category or priority: the DX office, admins or the assignee, on
/// a consultation that is not finished. An edit that changes nothing writes nothing.
pub fn edit(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    id: ConsultationId,
    input: &ConsultationEditInput,
) -> Result<Shown> {
    let (version, edit) = input.parse()?;
    let current = visible(conn, caller, id)?;
    let may_edit = matches!(caller.role, Role::DxOffice | Role::Admin)
        || current.assignee_id == Some(caller.id);
    if !may_edit {
        return Err(Error::Forbidden);
    }
    if current.version != version {
        return Err(Error::Stale {
            current: current.version,
        });
    }
    if current.state.is_terminal() {
        return Err(Error::Terminal(current.state.as_str()));
    }
    let (changes, payload) = consultations::edit_changes(&current, &edit);
    if payload["changes"].as_object().is_some_and(|m| m.is_empty()) {
        return Ok(Shown::new(app, caller, current));
    }
    let updated = conn.transaction(|conn| {
        let updated = consultations::apply(
            conn,
            Change {
                consultation: &current,
                expected_version: version,
                event: "update",
                actor_id: Some(caller.id),
                to_state: current.state,
                changes,
                payload,
                now: crate::db::now(),
            },
        )?
        .ok_or(Error::Stale {
            current: version + 1,
        })?;
        search::index(conn, updated.id)?;
        if updated.title != current.title {
            // What it is like is looked for again.
            search::forget_similar(conn, updated.id)?;
        }
        reports::count(app, conn, Some(&current), &updated)?;
        Ok::<_, Error>(updated)
    })?;
    Ok(Shown::new(app, caller, updated))
}

/// Fires a workflow event for the caller: `event` and `version` are required, the
/// rest as the workflow table says.
pub fn fire(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    id: ConsultationId,
    input: &TransitionInput,
) -> Result<Shown> {
    let mut errors = FieldErrors::new();
    let event = match input.event.as_deref().map(str::trim) {
        None | Some("") => {
            errors.add("event", "validation.required");
            None
        }
        Some(name) => {
            let event = Event::parse(name);
            if event.is_none() {
                errors.add("event", "validation.choice");
            }
            event
        }
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
        &Firing {
            scope: &caller.scope,
            actor: caller.actor(),
            id: id.0,
            version,
            event,
            input,
            now: Utc::now(),
        },
    )?;
    Ok(Shown::new(app, caller, updated))
}

/// One workflow event to fire, by a user or by the system.
pub struct Firing<'a> {
    /// What the actor may see; anything else is `NotFound`.
    pub scope: &'a Scope,
    pub actor: Actor,
    pub id: i64,
    /// The version the actor saw.
    pub version: i32,
    pub event: Event,
    pub input: &'a TransitionInput,
    pub now: DateTime<Utc>,
}

/// Checks an event against the table and the database and writes it with its
/// timeline entry, SLA times and mail, or changes nothing.
pub fn fire_as(app: &App, conn: &mut DbConn, firing: &Firing) -> Result<Consultation> {
    let current =
        consultations::find_visible(conn, firing.id, firing.scope)?.ok_or(Error::NotFound)?;
    if current.version != firing.version {
        return Err(Error::Stale {
            current: current.version,
        });
    }
    let (to, payload) = check_transition(
        &app.rules,
        &current.subject(),
        firing.actor,
        firing.event,
        firing.input,
        firing.now,
    )
    .map_err(|e| Error::workflow(e, firing.event))?;
    check_references(conn, firing.scope, &payload)?;
    let now = stored(firing.now);
    let clock = app.sla.on_event(
        &app.calendar,
        sla_clock(&current),
        current.priority,
        Step {
            event: firing.event,
            from: current.state,
            to,
        },
        firing.now,
    );
    let actor_id = match firing.actor {
        Actor::User { id, .. } => Some(id),
        Actor::System => None,
    };
    conn.transaction(|conn| {
        let payload = register_new_system(conn, &current, payload, actor_id, now)?;
        let (mut changes, json) = consultations::transition_changes(&current, to, &payload, now);
        changes.hearing_due_at = Some(clock.hearing_due_at.map(stored));
        changes.resolution_due_at = Some(clock.resolution_due_at.map(stored));
        changes.due_at = Some(clock.due_at.map(stored));
        changes.sla_paused_at = Some(clock.paused_at.map(stored));
        let updated = consultations::apply(
            conn,
            Change {
                consultation: &current,
                expected_version: firing.version,
                event: firing.event.as_str(),
                actor_id,
                to_state: to,
                changes,
                payload: json,
                now,
            },
        )?
        .ok_or(Error::Stale {
            current: firing.version + 1,
        })?;
        if matches!(payload, Payload::Resolve { .. }) {
            // The resolution is searchable text.
            search::index(conn, updated.id)?;
        }
        reports::count(app, conn, Some(&current), &updated)?;
        app.notifier
            .event(conn, &current, &updated, firing.event, actor_id, &payload)?;
        Ok(updated)
    })
}

fn sla_clock(c: &Consultation) -> SlaClock {
    SlaClock {
        hearing_due_at: c.hearing_due_at.map(|t| t.and_utc()),
        resolution_due_at: c.resolution_due_at.map(|t| t.and_utc()),
        due_at: c.due_at.map(|t| t.and_utc()),
        paused_at: c.sla_paused_at.map(|t| t.and_utc()),
    }
}

/// The references a payload makes must hold: the assignee is an active helpdesk
/// SE, a duplicate is a consultation the actor can see, a linked system one they
/// can see, and a new system's division and owner exist.
fn check_references(conn: &mut DbConn, scope: &Scope, payload: &Payload) -> Result<()> {
    let mut errors = FieldErrors::new();
    match payload {
        Payload::Assign { assignee_id, .. } => {
            let ok = users::find(conn, *assignee_id)?
                .is_some_and(|u| u.active && u.role == Role::Helpdesk);
            if !ok {
                errors.add("assignee_id", "validation.assignee_not_helpdesk");
            }
        }
        Payload::Withdraw {
            duplicate_of: Some(dup),
            ..
        } if consultations::find_visible(conn, *dup, scope)?.is_none() => {
            errors.add("duplicate_of", "validation.unknown_duplicate");
        }
        Payload::Resolve {
            system_id: Some(id),
            ..
        } if systems::find_visible(conn, *id, scope)?.is_none() => {
            errors.add("system_id", "validation.unknown_system");
        }
        Payload::Resolve {
            new_system: Some(fields),
            ..
        } => {
            if let Some(id) = fields.department_id {
                if departments::find(conn, id)?.is_none() {
                    errors.add("new_system.department_id", "validation.unknown_department");
                }
            }
            if let Some(id) = fields.owner_id {
                if !users::find(conn, id)?.is_some_and(|u| u.active) {
                    errors.add("new_system.owner_id", "validation.unknown_user");
                }
            }
        }
        _ => {}
    }
    Ok(errors.into_result()?)
}

/// A resolution that names a new system registers it in the ledger (in the
/// resolution's transaction) and links it; its division and owner default to the
/// consultation's department and requester, who will run it.
fn register_new_system(
    conn: &mut DbConn,
    consultation: &Consultation,
    payload: Payload,
    actor_id: Option<i64>,
    now: chrono::NaiveDateTime,
) -> Result<Payload> {
    let Payload::Resolve {
        resolution,
        new_system: Some(fields),
        ..
    } = payload
    else {
        return Ok(payload);
    };
    let department_id = fields.department_id.unwrap_or(consultation.department_id);
    let owner_id = fields.owner_id.unwrap_or(consultation.requester_id);
    // The person who answers for a system works in the division that owns it.
    let in_division = match users::find(conn, owner_id)? {
        Some(owner) => {
            departments::subtree_ids(conn, department_id)?.contains(&owner.department_id)
        }
        None => false,
    };
    if !in_division {
        return Err(Error::invalid_field(
            "new_system.owner_id",
            "validation.owner_outside_division",
        ));
    }
    let system = systems::register(
        conn,
        &fields,
        department_id,
        owner_id,
        systems::Registrant {
            actor_id,
            idempotency: None,
        },
        now,
    )?;
    Ok(Payload::Resolve {
        resolution,
        system_id: Some(system.id),
        new_system: None,
    })
}

/// Adds a public comment, or (staff) an internal note, and tells the people
/// concerned. Managers only read.
pub fn comment(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    id: ConsultationId,
    input: &CommentInput,
) -> Result<Comment> {
    let internal = input.internal.unwrap_or(false);
    let consultation = visible(conn, caller, id)?;
    if !may_comment(caller.role, internal) {
        return Err(Error::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let body = errors.required_text("body", input.body.as_deref(), TEXT_MAX_CHARS);
    errors.into_result()?;
    let body = body.unwrap_or_default();
    let author = users::find(conn, caller.id)?.ok_or(Error::NotFound)?;
    let now = crate::db::now();
    conn.transaction(|conn| {
        let comment = comments::insert(
            conn,
            &NewComment {
                consultation_id: consultation.id,
                author_id: author.id,
                body: &body,
                internal,
                created_at: now,
            },
        )?;
        search::index(conn, consultation.id)?;
        app.notifier
            .comment(conn, &consultation, &author, &body, internal)?;
        Ok(comment)
    })
}

/// One entry of a timeline.
#[derive(Debug, Clone)]
pub enum Entry {
    Event(EventRow),
    Comment(Comment),
}

impl Entry {
    pub fn at(&self) -> chrono::NaiveDateTime {
        match self {
            Entry::Event(e) => e.created_at,
            Entry::Comment(c) => c.created_at,
        }
    }
}

/// Events and comments of a consultation, oldest first (events before comments
/// made in the same instant); internal notes only for staff.
pub fn timeline(conn: &mut DbConn, caller: &Caller, id: ConsultationId) -> Result<Vec<Entry>> {
    visible(conn, caller, id)?;
    entries(conn, caller, id.0)
}

fn entries(conn: &mut DbConn, caller: &Caller, id: i64) -> Result<Vec<Entry>> {
    let mut items: Vec<Entry> = events::for_consultation(conn, id)?
        .into_iter()
        .map(Entry::Event)
        .collect();
    items.extend(
        comments::for_consultation(conn, id, caller.role.is_staff())?
            .into_iter()
            .map(Entry::Comment),
    );
    // Stable: events before comments made in the same instant.
    items.sort_by_key(Entry::at);
    Ok(items)
}

/// The filing form: `ForbiddenEvent` unless the caller may file, and the divisions
/// they choose from. Requesters file for their own division, so they choose none.
pub fn filing_form(conn: &mut DbConn, caller: &Caller) -> Result<Vec<departments::Department>> {
    if !may_file(caller.role) {
        return Err(Error::ForbiddenEvent(Event::File.as_str()));
    }
    if caller.role == Role::Requester {
        return Ok(vec![]);
    }
    Ok(departments::list(conn)?
        .into_iter()
        .filter(|d| {
            d.active && d.kind != "bureau" && !d.is_dx_office && caller.scope.contains(d.id)
        })
        .collect())
}
