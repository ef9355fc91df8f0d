//! The consultation workflow of DESIGN.md as data: one table says, for every event,
//! the states it may be fired from, the state it leads to, who may fire it and which
//! fields it requires. The API's `allowed_events`, every check, and the buttons on the
//! pages all come from [`WORKFLOW`]; nothing else may encode a transition.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::consultation::{wire_enum, PLACE_MAX_CHARS, TEXT_MAX_CHARS};
use super::ledger::{SystemFields, SystemInput};
use super::role::Role;
use super::validation::FieldErrors;

wire_enum!(
    /// Where a consultation stands.
    State {
        Received => "received",
        Hearing => "hearing",
        Assigned => "assigned",
        Waiting => "waiting",
        Resolved => "resolved",
        Closed => "closed",
        Withdrawn => "withdrawn",
    }
);

impl Default for State {
    /// Where every consultation starts.
    fn default() -> Self {
        State::Received
    }
}

impl State {
    /// Nothing may happen to a closed or withdrawn consultation.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Closed | State::Withdrawn)
    }
}

wire_enum!(
    /// Something that moves a consultation from one state to another.
    Event {
        File => "file",
        ScheduleHearing => "schedule_hearing",
        Assign => "assign",
        RequestInfo => "request_info",
        ProvideInfo => "provide_info",
        Resolve => "resolve",
        Reopen => "reopen",
        Close => "close",
        Withdraw => "withdraw",
    }
);

/// Who may fire an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone with this role who can see the consultation.
    Role(Role),
    /// The helpdesk SE the consultation is assigned to.
    Assignee,
    /// The requester who filed it.
    OwnRequester,
    /// The background worker (auto-close after the reopen window).
    System,
}

/// A field an event requires, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Body,
    Category,
    Department,
    HearingAt,
    HearingPlace,
    AssigneeId,
    Reason,
    Message,
    Resolution,
    Rating,
    SystemId,
    DuplicateOf,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
            Field::Category => "category",
            Field::Department => "department_id",
            Field::HearingAt => "hearing_at",
            Field::HearingPlace => "hearing_place",
            Field::AssigneeId => "assignee_id",
            Field::Reason => "reason",
            Field::Message => "message",
            Field::Resolution => "resolution",
            Field::Rating => "rating",
            Field::SystemId => "system_id",
            Field::DuplicateOf => "duplicate_of",
        }
    }
}

/// One row of the workflow table.
#[derive(Debug)]
pub struct Transition {
    pub event: Event,
    /// States the event may be fired from; empty for `file`, which creates.
    pub from: &'static [State],
    pub to: State,
    pub who: &'static [Who],
    pub requires: &'static [Field],
    /// Fields required only when firing from a particular state.
    pub requires_when_from: &'static [(State, Field)],
    /// Fields the event may carry besides the required ones.
    pub optional: &'static [Field],
}

use Who::{Assignee, OwnRequester, System};

/// The workflow table of DESIGN.md. Admins may do everything the DX office may.
pub static WORKFLOW: &[Transition] = &[
    Transition {
        event: Event::File,
        from: &[],
        to: State::Received,
        who: &[
            Who::Role(Role::Requester),
            Who::Role(Role::DxOffice),
            Who::Role(Role::Admin),
        ],
        // A requester's own division is the default department; staff filing on
        // behalf of a division must name it.
        requires: &[
            Field::Title,
            Field::Body,
            Field::Category,
            Field::Department,
        ],
        requires_when_from: &[],
        optional: &[],
    },
    Transition {
        event: Event::ScheduleHearing,
        from: &[State::Received, State::Hearing],
        to: State::Hearing,
        who: &[
            Who::Role(Role::DxOffice),
            Who::Role(Role::Helpdesk),
            Who::Role(Role::Admin),
        ],
        requires: &[Field::HearingAt, Field::HearingPlace],
        requires_when_from: &[],
        optional: &[],
    },
    Transition {
        event: Event::Assign,
        from: &[State::Received, State::Hearing, State::Assigned],
        to: State::Assigned,
        who: &[
            Who::Role(Role::DxOffice),
            Who::Role(Role::Helpdesk),
            Who::Role(Role::Admin),
        ],
        requires: &[Field::AssigneeId],
        // Skipping the hearing must be explained.
        requires_when_from: &[(State::Received, Field::Reason)],
        optional: &[Field::Reason],
    },
    Transition {
        event: Event::RequestInfo,
        from: &[State::Assigned],
        to: State::Waiting,
        who: &[Assignee],
        requires: &[Field::Message],
        requires_when_from: &[],
        optional: &[],
    },
    Transition {
        event: Event::ProvideInfo,
        from: &[State::Waiting],
        to: State::Assigned,
        who: &[Who::Role(Role::Requester)],
        requires: &[Field::Message],
        requires_when_from: &[],
        optional: &[],
    },
    Transition {
        event: Event::Resolve,
        from: &[State::Assigned],
        to: State::Resolved,
        who: &[Assignee],
        requires: &[Field::Resolution],
        requires_when_from: &[],
        optional: &[Field::SystemId],
    },
    Transition {
        event: Event::Reopen,
        from: &[State::Resolved],
        to: State::Assigned,
        // DESIGN.md: close, reopen (and the rating) are the requester of record's;
        // a colleague covering for them may only provide information.
        who: &[OwnRequester],
        requires: &[Field::Reason],
        requires_when_from: &[],
        optional: &[],
    },
    Transition {
        event: Event::Close,
        from: &[State::Resolved],
        to: State::Closed,
        who: &[OwnRequester, System],
        requires: &[],
        requires_when_from: &[],
        optional: &[Field::Rating],
    },
    Transition {
        event: Event::Withdraw,
        from: &[
            State::Received,
            State::Hearing,
            State::Assigned,
            State::Waiting,
        ],
        to: State::Withdrawn,
        who: &[
            OwnRequester,
            Who::Role(Role::DxOffice),
            Who::Role(Role::Admin),
        ],
        requires: &[Field::Reason],
        requires_when_from: &[],
        optional: &[Field::DuplicateOf],
    },
];

/// The row of an event. Every event has exactly one (a unit test checks).
pub fn transition(event: Event) -> &'static Transition {
    WORKFLOW
        .iter()
        .find(|t| t.event == event)
        .unwrap_or(&WORKFLOW[0])
}

/// Who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User { id: i64, role: Role },
    System,
}

/// What the rules need to know about the consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub id: i64,
    pub state: State,
    pub requester_id: i64,
    pub assignee_id: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Settings the rules depend on.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// How long after resolution the requester may still reopen.
    pub reopen_window: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            reopen_window: Duration::days(14),
        }
    }
}

/// A transition request as it arrives; which fields are needed depends on the event.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct TransitionInput {
    /// One of the workflow events.
    #[schema(required = true, value_type = Event)]
    pub event: Option<String>,
    /// The version the caller saw.
    #[schema(required = true, value_type = i32)]
    pub version: Option<i32>,
    /// RFC 3339 with offset, e.g. `2025-04-01T09:00:00+09:00`.
    #[schema(format = DateTime)]
    pub hearing_at: Option<String>,
    #[schema(max_length = 500)]
    pub hearing_place: Option<String>,
    pub assignee_id: Option<i64>,
    #[schema(max_length = 10000)]
    pub reason: Option<String>,
    #[schema(max_length = 10000)]
    pub message: Option<String>,
    #[schema(max_length = 10000)]
    pub resolution: Option<String>,
    /// `resolve`: link an existing ledger system.
    pub system_id: Option<i64>,
    /// `resolve`: register the system the consultation produced in the ledger
    /// (instead of `system_id`); its owner and division default to the requester's.
    pub new_system: Option<SystemInput>,
    /// `close`: 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    pub duplicate_of: Option<i64>,
}

/// A transition's parsed fields, trusted from here on.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    ScheduleHearing {
        hearing_at: DateTime<Utc>,
        place: String,
    },
    Assign {
        assignee_id: i64,
        reason: Option<String>,
    },
    RequestInfo {
        message: String,
    },
    ProvideInfo {
        message: String,
    },
    Resolve {
        resolution: String,
        system_id: Option<i64>,
        /// A ledger entry to register with the resolution (boxed: it is large).
        new_system: Option<Box<SystemFields>>,
    },
    Reopen {
        reason: String,
    },
    Close {
        rating: Option<i16>,
    },
    Withdraw {
        reason: String,
        duplicate_of: Option<i64>,
    },
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkflowError {
    /// The actor may not fire this event (403).
    Forbidden,
    /// The current state does not allow the event (422); names what is allowed.
    NotAllowed { state: State, allowed: Vec<Event> },
    /// A required field is missing or invalid (422).
    Invalid(FieldErrors),
}

fn who_matches(who: Who, actor: Actor, subject: &Subject) -> bool {
    match (who, actor) {
        (Who::Role(role), Actor::User { role: r, .. }) => role == r,
        (Who::Assignee, Actor::User { id, .. }) => subject.assignee_id == Some(id),
        (Who::OwnRequester, Actor::User { id, role }) => {
            role == Role::Requester && subject.requester_id == id
        }
        (Who::System, Actor::System) => true,
        _ => false,
    }
}

/// Whether an actor's role could fire the event on some consultation.
pub fn role_may_fire(event: Event, actor: Actor) -> bool {
    transition(event).who.iter().any(|who| match (*who, actor) {
        (Who::Role(role), Actor::User { role: r, .. }) => role == r,
        (Who::Assignee, Actor::User { role, .. }) => role == Role::Helpdesk,
        (Who::OwnRequester, Actor::User { role, .. }) => role == Role::Requester,
        (Who::System, Actor::System) => true,
        _ => false,
    })
}

/// Who may file a consultation: the `file` row's who column.
pub fn may_file(role: Role) -> bool {
    role_may_fire(Event::File, Actor::User { id: 0, role })
}

/// Whether `actor` may make `assignee_id` the assignee. An SE takes work for
/// themselves; handing it to another SE is for the DX office, or for the SE who
/// holds it now.
pub fn may_assign_to(actor: Actor, subject: &Subject, assignee_id: i64) -> bool {
    match actor {
        Actor::User {
            id,
            role: Role::Helpdesk,
        } => assignee_id == id || subject.assignee_id == Some(id),
        _ => true,
    }
}

/// The fields of an event's form for a role firing it from a state: the required
/// ones (`true`) first, then the optional ones (`false`). Naming a duplicate is
/// for the DX office, so a requester's withdraw form does not offer it.
pub fn form_fields(event: Event, state: State, role: Role) -> Vec<(Field, bool)> {
    let row = transition(event);
    let mut fields: Vec<(Field, bool)> = row
        .requires
        .iter()
        .chain(
            row.requires_when_from
                .iter()
                .filter(|(from, _)| *from == state)
                .map(|(_, field)| field),
        )
        .map(|field| (*field, true))
        .collect();
    for field in row.optional {
        let offered = !(*field == Field::DuplicateOf && role == Role::Requester);
        if offered && !fields.iter().any(|(f, _)| f == field) {
            fields.push((*field, false));
        }
    }
    fields
}

fn reopen_window_open(rules: &Rules, subject: &Subject, now: DateTime<Utc>) -> bool {
    subject
        .resolved_at
        .is_some_and(|at| now <= at + rules.reopen_window)
}

/// The events this actor may fire on this consultation now.
pub fn allowed_events(
    rules: &Rules,
    subject: &Subject,
    actor: Actor,
    now: DateTime<Utc>,
) -> Vec<Event> {
    WORKFLOW
        .iter()
        .filter(|t| t.from.contains(&subject.state))
        .filter(|t| t.who.iter().any(|w| who_matches(*w, actor, subject)))
        .filter(|t| t.event != Event::Reopen || reopen_window_open(rules, subject, now))
        .map(|t| t.event)
        .collect()
}

/// Checks an event against the table and parses its fields. On success returns the
/// state the consultation moves to and the typed payload. Checks run from the
/// coarsest to the finest: role, state, actor, fields, then the event's own rules.
pub fn check_transition(
    rules: &Rules,
    subject: &Subject,
    actor: Actor,
    event: Event,
    input: &TransitionInput,
    now: DateTime<Utc>,
) -> Result<(State, Payload), WorkflowError> {
    let row = transition(event);
    if !role_may_fire(event, actor) {
        return Err(WorkflowError::Forbidden);
    }
    if !row.from.contains(&subject.state) {
        return Err(WorkflowError::NotAllowed {
            state: subject.state,
            allowed: allowed_events(rules, subject, actor, now),
        });
    }
    if !row.who.iter().any(|w| who_matches(*w, actor, subject)) {
        return Err(WorkflowError::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let required = row.requires.iter().copied().chain(
        row.requires_when_from
            .iter()
            .filter(|(state, _)| *state == subject.state)
            .map(|(_, field)| *field),
    );
    for field in required {
        if !is_present(input, field) {
            errors.add(field.as_str(), "validation.required");
        }
    }
    errors
        .clone()
        .into_result()
        .map_err(WorkflowError::Invalid)?;
    let payload = parse_payload(rules, subject, actor, event, input, now, &mut errors)?;
    errors.into_result().map_err(WorkflowError::Invalid)?;
    Ok((row.to, payload))
}

fn is_present(input: &TransitionInput, field: Field) -> bool {
    let text = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    match field {
        Field::HearingAt => text(&input.hearing_at),
        Field::HearingPlace => text(&input.hearing_place),
        Field::AssigneeId => input.assignee_id.is_some(),
        Field::Reason => text(&input.reason),
        Field::Message => text(&input.message),
        Field::Resolution => text(&input.resolution),
        // Creation fields are parsed by `NewConsultationInput`.
        Field::Title | Field::Body | Field::Category | Field::Department => true,
        Field::Rating | Field::SystemId | Field::DuplicateOf => true,
    }
}

fn parse_payload(
    rules: &Rules,
    subject: &Subject,
    actor: Actor,
    event: Event,
    input: &TransitionInput,
    now: DateTime<Utc>,
    errors: &mut FieldErrors,
) -> Result<Payload, WorkflowError> {
    let text = |errors: &mut FieldErrors, field: &str, value: &Option<String>, max: usize| {
        errors
            .required_text(field, value.as_deref(), max)
            .unwrap_or_default()
    };
    let payload = match event {
        Event::File => return Err(WorkflowError::Forbidden),
        Event::ScheduleHearing => {
            let raw = input.hearing_at.as_deref().unwrap_or_default().trim();
            let hearing_at = match DateTime::parse_from_rfc3339(raw) {
                Ok(at) if at.with_timezone(&Utc) > now => at.with_timezone(&Utc),
                Ok(_) => {
                    errors.add("hearing_at", "validation.future");
                    now
                }
                Err(_) => {
                    errors.add("hearing_at", "validation.datetime");
                    now
                }
            };
            let place = text(
                errors,
                "hearing_place",
                &input.hearing_place,
                PLACE_MAX_CHARS,
            );
            Payload::ScheduleHearing { hearing_at, place }
        }
        Event::Assign => {
            let assignee_id = input.assignee_id.unwrap_or_default();
            if !may_assign_to(actor, subject, assignee_id) {
                return Err(WorkflowError::Forbidden);
            }
            if subject.assignee_id == Some(assignee_id) {
                errors.add("assignee_id", "validation.already_assigned");
            }
            let reason = errors.optional_text("reason", input.reason.as_deref(), TEXT_MAX_CHARS);
            Payload::Assign {
                assignee_id,
                reason,
            }
        }
        Event::RequestInfo => Payload::RequestInfo {
            message: text(errors, "message", &input.message, TEXT_MAX_CHARS),
        },
        Event::ProvideInfo => Payload::ProvideInfo {
            message: text(errors, "message", &input.message, TEXT_MAX_CHARS),
        },
        Event::Resolve => {
            let new_system = match &input.new_system {
                None => None,
                Some(_) if input.system_id.is_some() => {
                    errors.add("new_system", "validation.system_or_new_system");
                    None
                }
                Some(system) => match system.parse_new() {
                    Ok(fields) => Some(Box::new(fields)),
                    Err(invalid) => {
                        for (field, keys) in invalid.0 {
                            for key in keys {
                                errors.add(&format!("new_system.{field}"), key);
                            }
                        }
                        None
                    }
                },
            };
            Payload::Resolve {
                resolution: text(errors, "resolution", &input.resolution, TEXT_MAX_CHARS),
                system_id: input.system_id,
                new_system,
            }
        }
        Event::Reopen => {
            if !reopen_window_open(rules, subject, now) {
                errors.add("reason", "validation.reopen_window_closed");
            }
            Payload::Reopen {
                reason: text(errors, "reason", &input.reason, TEXT_MAX_CHARS),
            }
        }
        Event::Close => {
            let rating = match input.rating {
                None => None,
                Some(r) if (1..=5).contains(&r) => i16::try_from(r).ok(),
                Some(_) => {
                    errors.add("rating", "validation.rating");
                    None
                }
            };
            Payload::Close { rating }
        }
        Event::Withdraw => {
            if input.duplicate_of == Some(subject.id) {
                errors.add("duplicate_of", "validation.duplicate_of_self");
            }
            Payload::Withdraw {
                reason: text(errors, "reason", &input.reason, TEXT_MAX_CHARS),
                duplicate_of: input.duplicate_of,
            }
        }
    };
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REQUESTER: Actor = Actor::User {
        id: 1,
        role: Role::Requester,
    };
    const OTHER_REQUESTER: Actor = Actor::User {
        id: 2,
        role: Role::Requester,
    };
    const DX: Actor = Actor::User {
        id: 3,
        role: Role::DxOffice,
    };
    const SE: Actor = Actor::User {
        id: 4,
        role: Role::Helpdesk,
    };
    const OTHER_SE: Actor = Actor::User {
        id: 5,
        role: Role::Helpdesk,
    };
    const MANAGER: Actor = Actor::User {
        id: 6,
        role: Role::Manager,
    };
    const ADMIN: Actor = Actor::User {
        id: 7,
        role: Role::Admin,
    };

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-02T00:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn subject(state: State) -> Subject {
        Subject {
            id: 100,
            state,
            requester_id: 1,
            assignee_id: matches!(state, State::Assigned | State::Waiting | State::Resolved)
                .then_some(4),
            resolved_at: (state == State::Resolved).then(|| now() - Duration::days(1)),
        }
    }

    /// Input that satisfies every event's required fields.
    fn full_input(assignee_id: i64) -> TransitionInput {
        TransitionInput {
            hearing_at: Some("2025-06-10T10:00:00+09:00".into()),
            hearing_place: Some("本庁舎 5階 会議室A".into()),
            assignee_id: Some(assignee_id),
            reason: Some("理由".into()),
            message: Some("資料をお送りください".into()),
            resolution: Some("kintone アプリで対応".into()),
            rating: Some(5),
            ..Default::default()
        }
    }

    fn fire(state: State, actor: Actor, event: Event) -> Result<(State, Payload), WorkflowError> {
        let assignee = match actor {
            Actor::User {
                id,
                role: Role::Helpdesk,
            } => id,
            _ => 4,
        };
        let mut s = subject(state);
        if event == Event::Assign && state == State::Assigned {
            s.assignee_id = Some(9);
        }
        check_transition(
            &Rules::default(),
            &s,
            actor,
            event,
            &full_input(assignee),
            now(),
        )
    }

    /// DESIGN.md's table, written out again by hand so that a change to `WORKFLOW`
    /// that disagrees with the design fails here.
    fn expected_rows() -> Vec<(Event, Vec<State>, State)> {
        use State::*;
        vec![
            (Event::ScheduleHearing, vec![Received, Hearing], Hearing),
            (Event::Assign, vec![Received, Hearing, Assigned], Assigned),
            (Event::RequestInfo, vec![Assigned], Waiting),
            (Event::ProvideInfo, vec![Waiting], Assigned),
            (Event::Resolve, vec![Assigned], Resolved),
            (Event::Reopen, vec![Resolved], Assigned),
            (Event::Close, vec![Resolved], Closed),
            (
                Event::Withdraw,
                vec![Received, Hearing, Assigned, Waiting],
                Withdrawn,
            ),
        ]
    }

    fn permitted_actor(event: Event) -> Actor {
        match event {
            Event::ScheduleHearing | Event::Assign => DX,
            Event::RequestInfo | Event::Resolve => SE,
            Event::ProvideInfo | Event::Reopen | Event::Close | Event::Withdraw => REQUESTER,
            Event::File => REQUESTER,
        }
    }

    #[test]
    fn a_colleague_may_provide_information_but_only_the_requester_of_record_closes_reopens_or_withdraws(
    ) {
        assert!(fire(State::Waiting, OTHER_REQUESTER, Event::ProvideInfo).is_ok());
        for (state, event) in [
            (State::Resolved, Event::Close),
            (State::Resolved, Event::Reopen),
            (State::Received, Event::Withdraw),
        ] {
            assert_eq!(
                fire(state, OTHER_REQUESTER, event),
                Err(WorkflowError::Forbidden),
                "{event:?}"
            );
            assert!(fire(state, REQUESTER, event).is_ok(), "{event:?}");
        }
    }

    #[test]
    fn every_event_has_exactly_one_row() {
        for event in Event::ALL {
            assert_eq!(
                WORKFLOW.iter().filter(|t| t.event == *event).count(),
                1,
                "{event:?}"
            );
        }
    }

    #[test]
    fn every_row_moves_from_each_allowed_state_to_its_target() {
        for (event, from, to) in expected_rows() {
            for state in State::ALL {
                let result = fire(*state, permitted_actor(event), event);
                if from.contains(state) {
                    assert_eq!(result.expect("allowed").0, to, "{event:?} from {state:?}");
                } else {
                    assert!(
                        matches!(result, Err(WorkflowError::NotAllowed { .. })),
                        "{event:?} from {state:?} should be refused, got {result:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn roles_outside_the_who_column_are_forbidden() {
        let forbidden = [
            (Event::ScheduleHearing, vec![REQUESTER, MANAGER]),
            (Event::Assign, vec![REQUESTER, MANAGER]),
            (
                Event::RequestInfo,
                vec![REQUESTER, DX, MANAGER, ADMIN, OTHER_SE],
            ),
            (Event::ProvideInfo, vec![DX, SE, MANAGER, ADMIN]),
            (
                Event::Resolve,
                vec![REQUESTER, DX, MANAGER, ADMIN, OTHER_SE],
            ),
            (Event::Reopen, vec![DX, SE, MANAGER, ADMIN]),
            (Event::Close, vec![DX, SE, MANAGER, ADMIN]),
            (Event::Withdraw, vec![SE, MANAGER, OTHER_REQUESTER]),
        ];
        for (event, actors) in forbidden {
            let state = expected_rows()
                .into_iter()
                .find(|(e, _, _)| *e == event)
                .map(|(_, from, _)| from[0])
                .expect("row");
            for actor in actors {
                assert_eq!(
                    fire(state, actor, event),
                    Err(WorkflowError::Forbidden),
                    "{event:?} by {actor:?}"
                );
            }
        }
    }

    #[test]
    fn admins_may_do_what_the_dx_office_may() {
        assert!(fire(State::Received, ADMIN, Event::ScheduleHearing).is_ok());
        assert!(fire(State::Hearing, ADMIN, Event::Assign).is_ok());
        assert!(fire(State::Waiting, ADMIN, Event::Withdraw).is_ok());
    }

    #[test]
    fn the_system_may_only_close() {
        for event in Event::ALL {
            let allowed = role_may_fire(*event, Actor::System);
            assert_eq!(allowed, *event == Event::Close, "{event:?}");
        }
    }

    #[test]
    fn assigning_straight_from_received_requires_a_reason() {
        let mut input = full_input(4);
        input.reason = None;
        let result = check_transition(
            &Rules::default(),
            &subject(State::Received),
            DX,
            Event::Assign,
            &input,
            now(),
        );
        match result {
            Err(WorkflowError::Invalid(errors)) => assert!(errors.contains("reason")),
            other => panic!("expected a missing reason, got {other:?}"),
        }
        let from_hearing = check_transition(
            &Rules::default(),
            &subject(State::Hearing),
            DX,
            Event::Assign,
            &input,
            now(),
        );
        assert!(from_hearing.is_ok());
    }

    #[test]
    fn a_helpdesk_se_takes_work_for_themselves_but_may_not_hand_out_others_work() {
        let s = subject(State::Hearing);
        let rules = Rules::default();
        let claim = check_transition(&rules, &s, SE, Event::Assign, &full_input(4), now());
        assert!(claim.is_ok());
        let give_away = check_transition(&rules, &s, SE, Event::Assign, &full_input(5), now());
        assert_eq!(give_away, Err(WorkflowError::Forbidden));
        // The SE who holds it may hand it over.
        let held = subject(State::Assigned);
        let hand_over = check_transition(&rules, &held, SE, Event::Assign, &full_input(5), now());
        assert!(hand_over.is_ok());
    }

    #[test]
    fn each_event_reports_its_missing_fields() {
        for row in WORKFLOW.iter().filter(|t| !t.from.is_empty()) {
            let state = row.from[0];
            let result = check_transition(
                &Rules::default(),
                &subject(state),
                permitted_actor(row.event),
                row.event,
                &TransitionInput::default(),
                now(),
            );
            let expected: Vec<&str> = row
                .requires
                .iter()
                .chain(
                    row.requires_when_from
                        .iter()
                        .filter(|(s, _)| *s == state)
                        .map(|(_, f)| f),
                )
                .map(|f| f.as_str())
                .collect();
            if expected.is_empty() {
                assert!(result.is_ok(), "{:?} needs nothing", row.event);
            } else {
                match result {
                    Err(WorkflowError::Invalid(errors)) => {
                        let fields: Vec<&str> = errors.0.keys().map(String::as_str).collect();
                        let mut expected = expected.clone();
                        expected.sort();
                        assert_eq!(fields, expected, "{:?}", row.event);
                    }
                    other => panic!("{:?}: expected missing fields, got {other:?}", row.event),
                }
            }
        }
    }

    #[test]
    fn a_hearing_must_be_in_the_future_and_a_well_formed_time() {
        let mut input = full_input(4);
        input.hearing_at = Some("2025-06-01T10:00:00+09:00".into());
        let past = check_transition(
            &Rules::default(),
            &subject(State::Received),
            DX,
            Event::ScheduleHearing,
            &input,
            now(),
        );
        assert!(
            matches!(past, Err(WorkflowError::Invalid(e)) if e.0["hearing_at"] == vec!["validation.future"])
        );
        input.hearing_at = Some("next tuesday".into());
        let garbled = check_transition(
            &Rules::default(),
            &subject(State::Received),
            DX,
            Event::ScheduleHearing,
            &input,
            now(),
        );
        assert!(
            matches!(garbled, Err(WorkflowError::Invalid(e)) if e.0["hearing_at"] == vec!["validation.datetime"])
        );
    }

    #[test]
    fn reopening_is_possible_only_within_the_window() {
        let mut s = subject(State::Resolved);
        let rules = Rules::default();
        assert!(allowed_events(&rules, &s, REQUESTER, now()).contains(&Event::Reopen));
        s.resolved_at = Some(now() - Duration::days(15));
        assert!(!allowed_events(&rules, &s, REQUESTER, now()).contains(&Event::Reopen));
        let late = check_transition(&rules, &s, REQUESTER, Event::Reopen, &full_input(4), now());
        assert!(matches!(late, Err(WorkflowError::Invalid(e)) if e.contains("reason")));
    }

    #[test]
    fn ratings_outside_one_to_five_are_refused() {
        let mut input = full_input(4);
        for (rating, ok) in [(0, false), (1, true), (5, true), (6, false)] {
            input.rating = Some(rating);
            let result = check_transition(
                &Rules::default(),
                &subject(State::Resolved),
                REQUESTER,
                Event::Close,
                &input,
                now(),
            );
            assert_eq!(result.is_ok(), ok, "rating {rating}");
        }
    }

    #[test]
    fn allowed_events_differ_by_actor() {
        let rules = Rules::default();
        let assigned = subject(State::Assigned);
        assert_eq!(
            allowed_events(&rules, &assigned, SE, now()),
            vec![Event::Assign, Event::RequestInfo, Event::Resolve]
        );
        assert_eq!(
            allowed_events(&rules, &assigned, OTHER_SE, now()),
            vec![Event::Assign]
        );
        assert_eq!(
            allowed_events(&rules, &assigned, REQUESTER, now()),
            vec![Event::Withdraw]
        );
        assert_eq!(
            allowed_events(&rules, &assigned, OTHER_REQUESTER, now()),
            Vec::<Event>::new()
        );
        assert_eq!(
            allowed_events(&rules, &assigned, MANAGER, now()),
            Vec::<Event>::new()
        );
        for state in [State::Closed, State::Withdrawn] {
            for actor in [REQUESTER, DX, SE, ADMIN, Actor::System] {
                assert!(allowed_events(&rules, &subject(state), actor, now()).is_empty());
            }
        }
    }

    fn any_actor() -> impl Strategy<Value = Actor> {
        prop_oneof![
            Just(REQUESTER),
            Just(OTHER_REQUESTER),
            Just(DX),
            Just(SE),
            Just(OTHER_SE),
            Just(MANAGER),
            Just(ADMIN),
            Just(Actor::System),
        ]
    }

    proptest! {
        /// Random event sequences only ever follow rows of the table, and nothing
        /// changes a consultation once it is closed or withdrawn.
        #[test]
        fn random_event_sequences_stay_within_the_table(
            steps in proptest::collection::vec(
                (0..Event::ALL.len(), any_actor(), 4i64..=5, 0i64..=20, any::<bool>()),
                1..60,
            )
        ) {
            let rules = Rules::default();
            let mut s = Subject { id: 100, state: State::Received, requester_id: 1, assignee_id: None, resolved_at: None };
            let mut clock = now();
            for (event_index, actor, assignee, days, blank) in steps {
                clock += Duration::days(days);
                let event = Event::ALL[event_index];
                let input = if blank { TransitionInput::default() } else { full_input(assignee) };
                let before = s.clone();
                match check_transition(&rules, &s, actor, event, &input, clock) {
                    Ok((to, payload)) => {
                        prop_assert!(!before.state.is_terminal(), "{:?} changed a terminal consultation", event);
                        let row = transition(event);
                        prop_assert!(row.from.contains(&before.state));
                        prop_assert_eq!(row.to, to);
                        prop_assert!(allowed_events(&rules, &before, actor, clock).contains(&event));
                        s.state = to;
                        match payload {
                            Payload::Assign { assignee_id, .. } => s.assignee_id = Some(assignee_id),
                            Payload::Resolve { .. } => s.resolved_at = Some(clock),
                            _ => {}
                        }
                    }
                    // A refusal must have a reason the table or the input gives.
                    Err(WorkflowError::NotAllowed { state, allowed }) => {
                        prop_assert_eq!(state, before.state);
                        prop_assert!(!transition(event).from.contains(&before.state),
                            "{:?} refused as not allowed from {:?}", event, before.state);
                        prop_assert!(!allowed.contains(&event));
                    }
                    Err(WorkflowError::Forbidden) => {
                        // Only the table's `who`, or (for assign) whom one may assign to.
                        prop_assert!(event == Event::Assign
                            || !allowed_events(&rules, &before, actor, clock).contains(&event),
                            "{:?} allowed yet forbidden for {:?} in {:?}", event, actor, before.state);
                    }
                    Err(WorkflowError::Invalid(_)) => {
                        // Blank input, or the event's own rule: a past hearing (the fixed
                        // input's date), the same assignee again, the reopen window.
                        prop_assert!(blank || matches!(event,
                            Event::ScheduleHearing | Event::Assign | Event::Reopen),
                            "{:?} refused as invalid with full input in {:?}", event, before.state);
                    }
                }
            }
        }
    }
}
