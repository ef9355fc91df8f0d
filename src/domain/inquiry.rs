//! The helpdesk's inquiry workflow of DESIGN.md ("Helpdesk inquiries") as data,
//! beside the consultation table in [`super::workflow`] and on the same terms: one
//! table says, for every event, the states it may be fired from, where it leads,
//! who may fire it and what it requires. `allowed_events`, every check and the
//! buttons on the pages come from [`INQUIRY_WORKFLOW`].

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::calendar::BusinessCalendar;
use super::consultation::{wire_enum, Priority, TEXT_MAX_CHARS, TITLE_MAX_CHARS};
use super::role::Role;
use super::validation::FieldErrors;
use super::workflow::{Actor, Rules, Who};

pub const QUESTION_MAX_CHARS: usize = 20_000;

wire_enum!(
    /// Where an inquiry stands.
    InquiryState {
        Open => "open",
        Waiting => "waiting",
        Answered => "answered",
        Closed => "closed",
        Escalated => "escalated",
    }
);

impl InquiryState {
    /// Nothing may happen to a closed or escalated inquiry.
    pub fn is_terminal(self) -> bool {
        matches!(self, InquiryState::Closed | InquiryState::Escalated)
    }
}

wire_enum!(
    /// Something that happens to an inquiry.
    InquiryEvent {
        Ask => "ask",
        Take => "take",
        Answer => "answer",
        AskBack => "ask_back",
        Reply => "reply",
        Close => "close",
        Escalate => "escalate",
    }
);

wire_enum!(
    /// What an inquiry is about.
    Topic {
        HowTo => "how_to",
        Permissions => "permissions",
        Error => "error",
        AccountLicence => "account_licence",
        Integration => "integration",
        Other => "other",
    }
);

wire_enum!(
    /// How the question reached the helpdesk.
    Channel {
        Web => "web",
        Phone => "phone",
        Mail => "mail",
        Chat => "chat",
        Visit => "visit",
        Training => "training",
    }
);

/// A field an inquiry event requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryField {
    Answer,
    Message,
    Helped,
}

impl InquiryField {
    pub fn as_str(self) -> &'static str {
        match self {
            InquiryField::Answer => "answer",
            InquiryField::Message => "message",
            InquiryField::Helped => "helped",
        }
    }
}

/// One row of the inquiry table.
#[derive(Debug)]
pub struct InquiryTransition {
    pub event: InquiryEvent,
    /// States the event may be fired from; empty for `ask`, which creates.
    pub from: &'static [InquiryState],
    /// Where it leads; `None` leaves the state as it is (`take`).
    pub to: Option<InquiryState>,
    /// `Who::OwnRequester` is the asker of record.
    pub who: &'static [Who],
    pub requires: &'static [InquiryField],
    pub optional: &'static [InquiryField],
}

use InquiryState::{Answered, Closed, Escalated, Open, Waiting};
use Who::{Assignee, OwnRequester, System};

const STAFF_WHO: &[Who] = &[
    Who::Role(Role::Helpdesk),
    Who::Role(Role::DxOffice),
    Who::Role(Role::Admin),
];

/// The inquiry table of DESIGN.md. Admins may do everything the DX office may.
pub static INQUIRY_WORKFLOW: &[InquiryTransition] = &[
    InquiryTransition {
        event: InquiryEvent::Ask,
        from: &[],
        to: Some(Open),
        // Any staff member asks; the helpdesk and the DX office also record a
        // question on someone's behalf (a call, a visit, a chat).
        who: &[
            Who::Role(Role::Requester),
            Who::Role(Role::Helpdesk),
            Who::Role(Role::DxOffice),
            Who::Role(Role::Manager),
            Who::Role(Role::Admin),
        ],
        requires: &[],
        optional: &[InquiryField::Answer],
    },
    InquiryTransition {
        event: InquiryEvent::Take,
        from: &[Open, Waiting],
        to: None,
        who: &[Who::Role(Role::Helpdesk)],
        requires: &[],
        optional: &[],
    },
    InquiryTransition {
        event: InquiryEvent::Answer,
        from: &[Open, Waiting],
        to: Some(Answered),
        who: &[Who::Role(Role::Helpdesk)],
        requires: &[InquiryField::Answer],
        optional: &[],
    },
    InquiryTransition {
        event: InquiryEvent::AskBack,
        from: &[Open],
        to: Some(Waiting),
        who: &[Assignee],
        requires: &[InquiryField::Message],
        optional: &[],
    },
    InquiryTransition {
        event: InquiryEvent::Reply,
        from: &[Waiting, Answered],
        to: Some(Open),
        who: &[OwnRequester],
        requires: &[InquiryField::Message],
        optional: &[],
    },
    InquiryTransition {
        event: InquiryEvent::Close,
        from: &[Answered],
        to: Some(Closed),
        who: &[OwnRequester, System],
        requires: &[],
        optional: &[InquiryField::Helped],
    },
    InquiryTransition {
        event: InquiryEvent::Escalate,
        from: &[Open, Waiting],
        to: Some(Escalated),
        who: STAFF_WHO,
        requires: &[],
        optional: &[],
    },
];

/// The row of an event. Every event has exactly one (a unit test checks).
pub fn inquiry_transition(event: InquiryEvent) -> &'static InquiryTransition {
    INQUIRY_WORKFLOW
        .iter()
        .find(|t| t.event == event)
        .unwrap_or(&INQUIRY_WORKFLOW[0])
}

/// What the rules need to know about an inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquirySubject {
    pub state: InquiryState,
    pub asker_id: i64,
    pub assignee_id: Option<i64>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// An inquiry event as it arrives.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct InquiryTransitionInput {
    /// One of the inquiry events.
    #[schema(required = true, value_type = InquiryEvent)]
    pub event: Option<String>,
    /// The version the caller saw.
    #[schema(required = true, value_type = i32)]
    pub version: Option<i32>,
    /// `answer`: the answer.
    #[schema(max_length = 10000)]
    pub answer: Option<String>,
    /// `ask_back`, `reply`: the message.
    #[schema(max_length = 10000)]
    pub message: Option<String>,
    /// `close`: whether the answer helped.
    pub helped: Option<bool>,
}

/// An inquiry event's parsed fields.
#[derive(Debug, Clone, PartialEq)]
pub enum InquiryPayload {
    Take,
    Answer { answer: String },
    AskBack { message: String },
    Reply { message: String },
    Close { helped: Option<bool> },
    Escalate,
}

/// Why an inquiry event was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum InquiryError {
    /// The actor may not fire this event (403).
    Forbidden,
    /// The current state does not allow it (422); names what is allowed.
    NotAllowed {
        state: InquiryState,
        allowed: Vec<InquiryEvent>,
    },
    /// A required field is missing or invalid (422).
    Invalid(FieldErrors),
}

fn who_matches(who: Who, actor: Actor, subject: &InquirySubject) -> bool {
    match (who, actor) {
        (Who::Role(role), Actor::User { role: r, .. }) => role == r,
        (Who::Assignee, Actor::User { id, .. }) => subject.assignee_id == Some(id),
        (Who::OwnRequester, Actor::User { id, .. }) => subject.asker_id == id,
        (Who::System, Actor::System) => true,
        _ => false,
    }
}

/// Whether an actor's role could fire the event on some inquiry. Anyone may be
/// an asker; only the helpdesk is ever an assignee.
pub fn role_may_fire_inquiry(event: InquiryEvent, actor: Actor) -> bool {
    inquiry_transition(event)
        .who
        .iter()
        .any(|who| match (*who, actor) {
            (Who::Role(role), Actor::User { role: r, .. }) => role == r,
            (Who::Assignee, Actor::User { role, .. }) => role == Role::Helpdesk,
            (Who::OwnRequester, Actor::User { .. }) => true,
            (Who::System, Actor::System) => true,
            _ => false,
        })
}

/// Who may ask: the `ask` row's who column.
pub fn may_ask(role: Role) -> bool {
    role_may_fire_inquiry(InquiryEvent::Ask, Actor::User { id: 0, role })
}

/// Who may record a question on someone else's behalf, with its channel.
pub fn may_ask_on_behalf(role: Role) -> bool {
    role.is_staff()
}

/// Who may answer at once when recording (the quick record's "answered now").
pub fn may_answer(role: Role) -> bool {
    role_may_fire_inquiry(InquiryEvent::Answer, Actor::User { id: 0, role })
}

fn reply_window_open(rules: &Rules, subject: &InquirySubject, now: DateTime<Utc>) -> bool {
    match subject.state {
        InquiryState::Answered => subject
            .answered_at
            .is_some_and(|at| now <= at + rules.reopen_window),
        _ => true,
    }
}

/// The events this actor may fire on this inquiry now.
pub fn allowed_inquiry_events(
    rules: &Rules,
    subject: &InquirySubject,
    actor: Actor,
    now: DateTime<Utc>,
) -> Vec<InquiryEvent> {
    INQUIRY_WORKFLOW
        .iter()
        .filter(|t| t.from.contains(&subject.state))
        .filter(|t| t.who.iter().any(|w| who_matches(*w, actor, subject)))
        .filter(|t| t.event != InquiryEvent::Reply || reply_window_open(rules, subject, now))
        // Taking what one holds already is no step.
        .filter(|t| {
            t.event != InquiryEvent::Take
                || !matches!(actor, Actor::User { id, .. } if subject.assignee_id == Some(id))
        })
        .map(|t| t.event)
        .collect()
}

/// Checks an event against the table and parses its fields: role, state, actor,
/// fields, then the event's own rules. Returns where the inquiry goes.
pub fn check_inquiry_transition(
    rules: &Rules,
    subject: &InquirySubject,
    actor: Actor,
    event: InquiryEvent,
    input: &InquiryTransitionInput,
    now: DateTime<Utc>,
) -> Result<(InquiryState, InquiryPayload), InquiryError> {
    let row = inquiry_transition(event);
    if event == InquiryEvent::Ask || !role_may_fire_inquiry(event, actor) {
        return Err(InquiryError::Forbidden);
    }
    if !row.from.contains(&subject.state) {
        return Err(InquiryError::NotAllowed {
            state: subject.state,
            allowed: allowed_inquiry_events(rules, subject, actor, now),
        });
    }
    if !row.who.iter().any(|w| who_matches(*w, actor, subject)) {
        return Err(InquiryError::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let text = |errors: &mut FieldErrors, field: &str, value: &Option<String>| {
        errors
            .required_text(field, value.as_deref(), TEXT_MAX_CHARS)
            .unwrap_or_default()
    };
    let payload = match event {
        InquiryEvent::Ask => return Err(InquiryError::Forbidden),
        InquiryEvent::Take => {
            if matches!(actor, Actor::User { id, .. } if subject.assignee_id == Some(id)) {
                errors.add("event", "validation.already_assigned");
            }
            InquiryPayload::Take
        }
        InquiryEvent::Answer => InquiryPayload::Answer {
            answer: text(&mut errors, "answer", &input.answer),
        },
        InquiryEvent::AskBack => InquiryPayload::AskBack {
            message: text(&mut errors, "message", &input.message),
        },
        InquiryEvent::Reply => {
            if !reply_window_open(rules, subject, now) {
                errors.add("message", "validation.reopen_window_closed");
            }
            InquiryPayload::Reply {
                message: text(&mut errors, "message", &input.message),
            }
        }
        InquiryEvent::Close => InquiryPayload::Close {
            helped: input.helped,
        },
        InquiryEvent::Escalate => InquiryPayload::Escalate,
    };
    errors.into_result().map_err(InquiryError::Invalid)?;
    Ok((row.to.unwrap_or(subject.state), payload))
}

/// A new inquiry as it arrives (`POST /api/v1/inquiries`, the pages' forms).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct NewInquiryInput {
    #[schema(required = true, max_length = 200)]
    pub subject: Option<String>,
    #[schema(required = true, max_length = 20000)]
    pub question: Option<String>,
    #[schema(required = true, value_type = Topic)]
    pub topic: Option<String>,
    /// On behalf: the person who asked (helpdesk, DX office, admin).
    pub asker_id: Option<i64>,
    /// On behalf: how they asked (default `web`, or `phone` when on behalf).
    #[schema(value_type = Option<Channel>)]
    pub channel: Option<String>,
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
    /// Files and answers in one step (the helpdesk's "answered now").
    #[schema(max_length = 10000)]
    pub answer: Option<String>,
}

/// A new inquiry's fields, parsed and trusted from here on.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInquiryFields {
    pub subject: String,
    pub question: String,
    pub topic: Topic,
    pub asker_id: Option<i64>,
    pub channel: Option<Channel>,
    pub priority: Priority,
    pub answer: Option<String>,
}

impl NewInquiryInput {
    pub fn parse(&self) -> Result<NewInquiryFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let subject = errors.required_text("subject", self.subject.as_deref(), TITLE_MAX_CHARS);
        let question =
            errors.required_text("question", self.question.as_deref(), QUESTION_MAX_CHARS);
        let topic = match self.topic.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add("topic", "validation.required");
                None
            }
            Some(t) => Topic::parse(t).or_else(|| {
                errors.add("topic", "validation.choice");
                None
            }),
        };
        let channel = match self.channel.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Channel::parse(c).or_else(|| {
                errors.add("channel", "validation.choice");
                None
            }),
        };
        let priority = match self.priority.as_deref().map(str::trim) {
            None | Some("") => Some(Priority::Normal),
            Some(p) => Priority::parse(p).or_else(|| {
                errors.add("priority", "validation.choice");
                None
            }),
        };
        let answer = errors.optional_text("answer", self.answer.as_deref(), TEXT_MAX_CHARS);
        errors.into_result()?;
        Ok(NewInquiryFields {
            subject: subject.unwrap_or_default(),
            question: question.unwrap_or_default(),
            topic: topic.unwrap_or(Topic::Other),
            asker_id: self.asker_id,
            channel,
            priority: priority.unwrap_or(Priority::Normal),
            answer,
        })
    }
}

/// Business days allowed for the first answer, per priority (DESIGN.md: one
/// business day by default).
pub fn first_answer_days(priority: Priority) -> i64 {
    match priority {
        Priority::Low => 2,
        Priority::Normal | Priority::High | Priority::Urgent => 1,
    }
}

/// When the first answer is due for an inquiry asked at `at`.
pub fn first_answer_due(
    cal: &BusinessCalendar,
    priority: Priority,
    at: DateTime<Utc>,
) -> DateTime<Utc> {
    cal.add_days(at, first_answer_days(priority))
}

/// How long before the first answer is due the SE is reminded (a day's SLA
/// leaves no room for the consultations' 24 hours).
pub const INQUIRY_REMIND_BEFORE: chrono::Duration = chrono::Duration::hours(2);

/// Business days after the answer when the system closes an inquiry nobody closed.
pub const AUTO_CLOSE_BUSINESS_DAYS: i64 = 5;

/// When an inquiry answered at `at` is closed by the system.
pub fn auto_close_at(cal: &BusinessCalendar, answered_at: DateTime<Utc>) -> DateTime<Utc> {
    cal.add_days(answered_at, AUTO_CLOSE_BUSINESS_DAYS)
}

/// `HD-2025-00123`: the helpdesk's numbers, per fiscal year.
pub fn inquiry_number(fiscal_year: i32, seq: i64) -> String {
    format!("HD-{fiscal_year}-{seq:05}")
}

#[cfg(test)]
mod tests;
