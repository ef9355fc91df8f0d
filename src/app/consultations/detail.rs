//! Everything the consultation page shows, gathered in one call: the record, its
//! timeline, the actions the caller may take now with their form fields, and for
//! staff triaging it, the consultations it may duplicate.

use std::collections::HashMap;

use chrono::Utc;

use super::super::{App, Caller, Result};
use super::list::{similar_to, Suggestions};
use super::{entries, visible, Entry};
use crate::db::consultations::Consultation;
use crate::db::users::{self, User};
use crate::db::{departments, DbConn};
use crate::domain::consultation::may_comment;
use crate::domain::ids::ConsultationId;
use crate::domain::workflow::{allowed_events, form_fields, may_assign_to, Field};
use crate::domain::{Event, Role, State};

/// An action the caller may take, with its form's fields (`true`: required).
#[derive(Debug, Clone)]
pub struct Action {
    pub event: Event,
    pub fields: Vec<(Field, bool)>,
}

#[derive(Debug)]
pub struct Detail {
    pub consultation: Consultation,
    pub actions: Vec<Action>,
    /// Events and comments, oldest first; internal notes only for staff.
    pub timeline: Vec<Entry>,
    /// Names of everyone the page mentions.
    pub names: HashMap<i64, String>,
    pub department: String,
    /// The SEs the caller may pick where an action asks for an assignee.
    pub assignees: Vec<User>,
    /// One click takes it: an SE who may assign it to themselves.
    pub take_it: bool,
    /// The public comment form is offered.
    pub comment_form: bool,
    /// The internal notes (and their form) are shown.
    pub notes: bool,
    /// The DX office may withdraw it as a duplicate of a similar one.
    pub may_withdraw_as_duplicate: bool,
    /// For staff triaging a new consultation: what it may duplicate.
    pub similar: Suggestions,
    /// Who changed it last (`None`: the system), to name in a conflict.
    pub last_actor: Option<i64>,
    /// The consultation waits on the caller: who asked and what (the last
    /// `request_info`), when the caller may answer it now.
    pub awaiting_reply: Option<(Option<i64>, String)>,
    /// A requester's public comment is read by the staff (theirs by the requester).
    pub comment_to_staff: bool,
}

pub fn detail(app: &App, conn: &mut DbConn, caller: &Caller, id: ConsultationId) -> Result<Detail> {
    let c = visible(conn, caller, id)?;
    let timeline = entries(conn, caller, id.0)?;
    let subject = c.subject();
    let allowed = allowed_events(&app.rules, &subject, caller.actor(), Utc::now());
    let actions: Vec<Action> = allowed
        .iter()
        .map(|event| Action {
            event: *event,
            fields: form_fields(*event, c.state, caller.role),
        })
        .collect();
    let asks_for_assignee = actions
        .iter()
        .any(|a| a.fields.iter().any(|(f, _)| *f == Field::AssigneeId));
    let assignees = if asks_for_assignee {
        users::with_role(conn, Role::Helpdesk, None)?
            .into_iter()
            .filter(|u| may_assign_to(caller.actor(), &subject, u.id))
            .collect()
    } else {
        vec![]
    };
    let take_it = caller.role == Role::Helpdesk
        && allowed.contains(&Event::Assign)
        && c.assignee_id != Some(caller.id);
    let last_actor = timeline.iter().rev().find_map(|e| match e {
        Entry::Event(e) => Some(e.actor_id),
        Entry::Comment(_) => None,
    });
    let awaiting_reply = if allowed.contains(&Event::ProvideInfo) {
        timeline.iter().rev().find_map(|e| match e {
            Entry::Event(e) if e.event == Event::RequestInfo.as_str() => {
                let payload: serde_json::Value =
                    serde_json::from_str(&e.payload).unwrap_or_default();
                let message = payload["message"].as_str().unwrap_or_default().to_string();
                Some((e.actor_id, message))
            }
            _ => None,
        })
    } else {
        None
    };
    let people = timeline
        .iter()
        .filter_map(|e| match e {
            Entry::Event(e) => e.actor_id,
            Entry::Comment(c) => Some(c.author_id),
        })
        .chain([c.requester_id])
        .chain(c.assignee_id)
        .chain(assignees.iter().map(|u| u.id));
    let names = users::names(conn, people)?;
    let department = departments::find(conn, c.department_id)?
        .map(|d| d.name)
        .unwrap_or_default();
    let similar = if caller.role.is_staff() && matches!(c.state, State::Received | State::Hearing) {
        similar_to(conn, caller, &c)?
    } else {
        Suggestions::Found(vec![])
    };
    Ok(Detail {
        may_withdraw_as_duplicate: allowed.contains(&Event::Withdraw)
            && caller.role != Role::Requester,
        comment_form: may_comment(caller.role, false),
        notes: may_comment(caller.role, true),
        consultation: c,
        actions,
        timeline,
        names,
        department,
        assignees,
        take_it,
        similar,
        last_actor: last_actor.flatten(),
        awaiting_reply,
        comment_to_staff: caller.role == Role::Requester,
    })
}
