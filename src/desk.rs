//! Operations of the desk that combine the workflow rules with storage, shared by
//! the API, the demo loader and (later) the background worker.

use chrono::{DateTime, Timelike, Utc};

use crate::db::consultations::{self, Change, Consultation, Scope};
use crate::db::{users, DbConn};
use crate::domain::workflow::{check_transition, Actor, Payload, Rules, TransitionInput};
use crate::domain::{Event, FieldErrors, Role};
use crate::web::error::AppError;

/// One workflow event to fire.
pub struct Fire<'a> {
    pub rules: &'a Rules,
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

/// Checks an event against the table and the database and writes it with its
/// timeline entry, or changes nothing.
pub fn fire(conn: &mut DbConn, fire: &Fire) -> Result<Consultation, AppError> {
    let current =
        consultations::find_visible(conn, fire.id, fire.scope)?.ok_or_else(AppError::not_found)?;
    if current.version != fire.version {
        return Err(AppError::stale_version(current.version));
    }
    let (to, payload) = check_transition(
        fire.rules,
        &current.subject(),
        fire.actor,
        fire.event,
        fire.input,
        fire.now,
    )
    .map_err(|e| AppError::from_workflow(e, fire.event))?;
    check_references(conn, fire.scope, &payload)?;
    let now = fire.now.naive_utc();
    let now = now
        .with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now);
    let (changes, json) = consultations::transition_changes(&current, to, &payload, now);
    let actor_id = match fire.actor {
        Actor::User { id, .. } => Some(id),
        Actor::System => None,
    };
    consultations::apply(
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
    .ok_or_else(|| AppError::stale_version(fire.version + 1))
}

/// The references a payload makes must hold: the assignee is an active helpdesk
/// SE, a duplicate is a consultation the actor can see.
fn check_references(conn: &mut DbConn, scope: &Scope, payload: &Payload) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    match payload {
        Payload::Assign { assignee_id, .. } => {
            let ok = users::find(conn, *assignee_id)?
                .is_some_and(|u| u.active && u.role == Role::Helpdesk.as_str());
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
        // The system ledger does not exist yet, so no id can name a system in it.
        Payload::Resolve {
            system_id: Some(_), ..
        } => errors.add("system_id", "validation.unknown_system"),
        _ => {}
    }
    Ok(errors.into_result()?)
}
