//! The desk's operations that combine rules and storage, shared by the API, the
//! demo loader and the worker: filing, firing workflow events and commenting. Each
//! writes its change, its timeline entry, its SLA times and its mail in one
//! transaction, so none can be lost without the others.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::{Connection, QueryResult};

use crate::db::comments::{self, Comment, NewComment};
use crate::db::consultations::{self, Change, Consultation, FileError, Filing, Scope};
use crate::db::users::User;
use crate::db::{departments, search, systems, users, DbConn};
use crate::domain::calendar::BusinessCalendar;
use crate::domain::consultation::NewConsultationFields;
use crate::domain::sla::{SlaClock, SlaPolicy, Step};
use crate::domain::workflow::{check_transition, Actor, Payload, Rules, TransitionInput};
use crate::domain::{Event, FieldErrors, Role};
use crate::notify::Notifier;
use crate::settings::Settings;
use crate::web::error::AppError;

/// The rules and services every operation needs, built once from the settings.
pub struct Desk {
    pub rules: Rules,
    pub sla: SlaPolicy,
    pub calendar: BusinessCalendar,
    pub notifier: Notifier,
}

/// One workflow event to fire.
pub struct Fire<'a> {
    /// What the actor may see; anything else is 404.
    pub scope: &'a Scope,
    pub actor: Actor,
    pub id: i64,
    /// The version the actor saw.
    pub version: i32,
    pub event: Event,
    pub input: &'a TransitionInput,
    pub now: DateTime<Utc>,
}

fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    let at = at.naive_utc();
    at.with_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

impl Desk {
    pub fn new(settings: &Settings) -> Result<Desk, String> {
        Ok(Desk {
            rules: Rules {
                reopen_window: chrono::Duration::days(settings.reopen_window_days),
            },
            sla: settings.sla,
            calendar: BusinessCalendar::new(settings.timezone),
            notifier: Notifier::new(settings)?,
        })
    }

    /// Files a consultation with its hearing due time, its receipt and intake mail.
    pub fn file(
        &self,
        conn: &mut DbConn,
        fields: &NewConsultationFields,
        filing: Filing,
        now: DateTime<Utc>,
    ) -> Result<Consultation, FileError> {
        let clock = self.sla.on_file(&self.calendar, fields.priority, now);
        let filing = Filing {
            hearing_due_at: clock.hearing_due_at.map(stored),
            ..filing
        };
        consultations::file(conn, &filing, &|conn, c| {
            search::index(conn, c.id)?;
            self.notifier.filed(conn, c)
        })
    }

    /// Checks an event against the table and the database and writes it with its
    /// timeline entry, SLA times and mail, or changes nothing.
    pub fn fire(&self, conn: &mut DbConn, fire: &Fire) -> Result<Consultation, AppError> {
        let current = consultations::find_visible(conn, fire.id, fire.scope)?
            .ok_or_else(AppError::not_found)?;
        if current.version != fire.version {
            return Err(AppError::stale_version(current.version));
        }
        let (to, payload) = check_transition(
            &self.rules,
            &current.subject(),
            fire.actor,
            fire.event,
            fire.input,
            fire.now,
        )
        .map_err(|e| AppError::from_workflow(e, fire.event))?;
        check_references(conn, fire.scope, &payload)?;
        let now = stored(fire.now);
        let clock = self.sla.on_event(
            &self.calendar,
            sla_clock(&current),
            current.priority,
            Step {
                event: fire.event,
                from: current.state,
                to,
            },
            fire.now,
        );
        let actor_id = match fire.actor {
            Actor::User { id, .. } => Some(id),
            Actor::System => None,
        };
        conn.transaction(|conn| {
            let payload = register_new_system(conn, &current, payload, actor_id, now)?;
            let (mut changes, json) =
                consultations::transition_changes(&current, to, &payload, now);
            changes.hearing_due_at = Some(clock.hearing_due_at.map(stored));
            changes.resolution_due_at = Some(clock.resolution_due_at.map(stored));
            changes.due_at = Some(clock.due_at.map(stored));
            changes.sla_paused_at = Some(clock.paused_at.map(stored));
            let updated = consultations::apply(
                conn,
                Change {
                    consultation: &current,
                    expected_version: fire.version,
                    event: fire.event.as_str(),
                    actor_id,
                    to_state: to,
                    changes,
                    payload: json,
                    now,
                },
            )?
            .ok_or_else(|| AppError::stale_version(fire.version + 1))?;
            if matches!(payload, Payload::Resolve { .. }) {
                // The resolution is searchable text.
                search::index(conn, updated.id)?;
            }
            self.notifier
                .event(conn, &current, &updated, fire.event, actor_id, &payload)?;
            Ok(updated)
        })
    }

    /// Who may comment: managers only read, and internal notes are for staff.
    pub fn may_comment(role: Role, internal: bool) -> Result<(), AppError> {
        if role == Role::Manager || (internal && !role.is_staff()) {
            return Err(AppError::forbidden());
        }
        Ok(())
    }

    /// Adds a comment (or internal note) and tells the people concerned.
    pub fn comment(
        &self,
        conn: &mut DbConn,
        consultation: &Consultation,
        author: &User,
        body: &str,
        internal: bool,
        now: NaiveDateTime,
    ) -> QueryResult<Comment> {
        conn.transaction(|conn| {
            let comment = comments::insert(
                conn,
                &NewComment {
                    consultation_id: consultation.id,
                    author_id: author.id,
                    body,
                    internal,
                    created_at: now,
                },
            )?;
            search::index(conn, consultation.id)?;
            self.notifier
                .comment(conn, consultation, author, body, internal)?;
            Ok(comment)
        })
    }
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
/// SE, a duplicate is a consultation the actor can see.
fn check_references(conn: &mut DbConn, scope: &Scope, payload: &Payload) -> Result<(), AppError> {
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
    now: NaiveDateTime,
) -> Result<Payload, AppError> {
    let Payload::Resolve {
        resolution,
        new_system: Some(fields),
        ..
    } = payload
    else {
        return Ok(payload);
    };
    let system = systems::register(
        conn,
        &fields,
        fields.department_id.unwrap_or(consultation.department_id),
        fields.owner_id.unwrap_or(consultation.requester_id),
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
