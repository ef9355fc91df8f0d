use super::*;
use chrono::Duration;
use proptest::prelude::*;

const ASKER: Actor = Actor::User {
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
const ACTORS: &[Actor] = &[
    ASKER,
    OTHER_REQUESTER,
    DX,
    SE,
    OTHER_SE,
    MANAGER,
    ADMIN,
    Actor::System,
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-02T00:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

/// An inquiry in a state, asked by ASKER and (when taken) held by SE.
fn subject(state: InquiryState) -> InquirySubject {
    InquirySubject {
        state,
        asker_id: 1,
        assignee_id: (state != InquiryState::Open).then_some(4),
        answered_at: (state == InquiryState::Answered).then(|| now() - Duration::days(1)),
    }
}

fn full_input() -> InquiryTransitionInput {
    InquiryTransitionInput {
        answer: Some("設定画面の「アクセス権」から変更できます".into()),
        message: Some("対象のアプリ名を教えてください".into()),
        helped: Some(true),
        ..Default::default()
    }
}

fn fire(
    s: &InquirySubject,
    actor: Actor,
    event: InquiryEvent,
) -> Result<(InquiryState, InquiryPayload), InquiryError> {
    check_inquiry_transition(&Rules::default(), s, actor, event, &full_input(), now())
}

/// One row as DESIGN.md states it: (event, from, to, who, requires).
type Row = (
    InquiryEvent,
    &'static [InquiryState],
    Option<InquiryState>,
    &'static [Who],
    &'static [InquiryField],
);

/// The table of DESIGN.md, restated by hand row by row.
#[test]
fn the_table_is_the_one_in_the_design() {
    use InquiryEvent as E;
    use InquiryState as S;
    let expected: &[Row] = &[
        (
            E::Ask,
            &[],
            Some(S::Open),
            &[
                Who::Role(Role::Requester),
                Who::Role(Role::Helpdesk),
                Who::Role(Role::DxOffice),
                Who::Role(Role::Manager),
                Who::Role(Role::Admin),
            ],
            &[],
        ),
        (
            E::Take,
            &[S::Open, S::Waiting],
            None,
            &[Who::Role(Role::Helpdesk)],
            &[],
        ),
        (
            E::Answer,
            &[S::Open, S::Waiting],
            Some(S::Answered),
            &[Who::Role(Role::Helpdesk)],
            &[InquiryField::Answer],
        ),
        (
            E::AskBack,
            &[S::Open],
            Some(S::Waiting),
            &[Who::Assignee],
            &[InquiryField::Message],
        ),
        (
            E::Reply,
            &[S::Waiting, S::Answered],
            Some(S::Open),
            &[Who::OwnRequester],
            &[InquiryField::Message],
        ),
        (
            E::Close,
            &[S::Answered],
            Some(S::Closed),
            &[Who::OwnRequester, Who::System],
            &[],
        ),
        (
            E::Escalate,
            &[S::Open, S::Waiting],
            Some(S::Escalated),
            &[
                Who::Role(Role::Helpdesk),
                Who::Role(Role::DxOffice),
                Who::Role(Role::Admin),
            ],
            &[],
        ),
    ];
    assert_eq!(INQUIRY_WORKFLOW.len(), expected.len());
    for (event, from, to, who, requires) in expected {
        let row = inquiry_transition(*event);
        assert_eq!(row.event, *event);
        assert_eq!(row.from, *from, "{event:?} from");
        assert_eq!(row.to, *to, "{event:?} to");
        assert_eq!(row.who, *who, "{event:?} who");
        assert_eq!(row.requires, *requires, "{event:?} requires");
    }
    for event in InquiryEvent::ALL {
        let rows = INQUIRY_WORKFLOW
            .iter()
            .filter(|t| t.event == *event)
            .count();
        assert_eq!(rows, 1, "{event:?} has one row");
    }
}

/// Every (state, event) pair the table does not list is refused with 422 for
/// an actor whose role may fire the event, and changes nothing.
#[test]
fn every_illegal_pair_is_refused_and_names_what_is_allowed() {
    let mut refused = 0;
    for state in InquiryState::ALL {
        for event in InquiryEvent::ALL {
            if *event == InquiryEvent::Ask || inquiry_transition(*event).from.contains(state) {
                continue;
            }
            for actor in [ASKER, SE, DX, Actor::System] {
                if !role_may_fire_inquiry(*event, actor) {
                    continue;
                }
                let s = subject(*state);
                match fire(&s, actor, *event) {
                    Err(InquiryError::NotAllowed { state: at, allowed }) => {
                        assert_eq!(at, *state);
                        assert_eq!(
                            allowed,
                            allowed_inquiry_events(&Rules::default(), &s, actor, now())
                        );
                        assert!(!allowed.contains(event));
                    }
                    other => panic!("{event:?} from {state:?} by {actor:?}: {other:?}"),
                }
                refused += 1;
            }
        }
    }
    // 5 states × 6 events minus the 10 listed pairs, tried by every role that may fire each.
    assert!(refused >= 20, "{refused} refusals");
}

#[test]
fn each_legal_event_leads_where_the_table_says_for_the_right_people_only() {
    for row in INQUIRY_WORKFLOW
        .iter()
        .filter(|t| t.event != InquiryEvent::Ask)
    {
        for state in row.from {
            for actor in ACTORS {
                let s = subject(*state);
                let may = row.who.iter().any(|w| match (*w, *actor) {
                    (Who::Role(r), Actor::User { role, .. }) => r == role,
                    (Who::Assignee, Actor::User { id, .. }) => s.assignee_id == Some(id),
                    (Who::OwnRequester, Actor::User { id, .. }) => id == s.asker_id,
                    (Who::System, Actor::System) => true,
                    _ => false,
                });
                // Taking what one already holds is refused as a field error.
                let holds = row.event == InquiryEvent::Take
                    && matches!(actor, Actor::User { id, .. } if s.assignee_id == Some(*id));
                let result = fire(&s, *actor, row.event);
                match (may, holds, result) {
                    (true, false, Ok((to, _))) => {
                        assert_eq!(to, row.to.unwrap_or(*state));
                        assert!(allowed_inquiry_events(&Rules::default(), &s, *actor, now())
                            .contains(&row.event));
                    }
                    (true, true, Err(InquiryError::Invalid(_))) => {}
                    (false, _, Err(InquiryError::Forbidden)) => {}
                    (false, _, Err(InquiryError::NotAllowed { .. })) => {
                        panic!(
                            "{:?} from {state:?} by {actor:?}: state should allow it",
                            row.event
                        )
                    }
                    (may, _, other) => {
                        panic!(
                            "{:?} from {state:?} by {actor:?} (may: {may}): {other:?}",
                            row.event
                        )
                    }
                }
            }
        }
    }
}

#[test]
fn an_answer_and_a_message_are_required_and_bounded() {
    let mut s = subject(InquiryState::Open);
    s.assignee_id = Some(4);
    let blank = InquiryTransitionInput::default();
    let refused = check_inquiry_transition(
        &Rules::default(),
        &s,
        SE,
        InquiryEvent::Answer,
        &blank,
        now(),
    );
    assert!(matches!(refused, Err(InquiryError::Invalid(e)) if e.contains("answer")));
    let long = InquiryTransitionInput {
        message: Some("あ".repeat(TEXT_MAX_CHARS + 1)),
        ..Default::default()
    };
    let refused = check_inquiry_transition(
        &Rules::default(),
        &s,
        SE,
        InquiryEvent::AskBack,
        &long,
        now(),
    );
    assert!(matches!(refused, Err(InquiryError::Invalid(e)) if e.contains("message")));
}

#[test]
fn the_asker_may_reply_to_an_answer_only_within_the_window() {
    let mut s = subject(InquiryState::Answered);
    assert!(fire(&s, ASKER, InquiryEvent::Reply).is_ok());
    s.answered_at = Some(now() - Duration::days(15));
    assert!(
        !allowed_inquiry_events(&Rules::default(), &s, ASKER, now()).contains(&InquiryEvent::Reply)
    );
    assert!(matches!(
        fire(&s, ASKER, InquiryEvent::Reply),
        Err(InquiryError::Invalid(e)) if e.contains("message")
    ));
    // A colleague of the asker is not the asker of record.
    s.answered_at = Some(now());
    assert_eq!(
        fire(&s, OTHER_REQUESTER, InquiryEvent::Reply),
        Err(InquiryError::Forbidden)
    );
}

#[test]
fn a_new_inquiry_needs_subject_question_and_a_known_topic() {
    let errors = NewInquiryInput::default().parse().expect_err("empty");
    for field in ["subject", "question", "topic"] {
        assert!(errors.contains(field), "{field}");
    }
    let bad = NewInquiryInput {
        subject: Some("件名".into()),
        question: Some("質問".into()),
        topic: Some("gossip".into()),
        channel: Some("fax".into()),
        priority: Some("asap".into()),
        ..Default::default()
    };
    let errors = bad.parse().expect_err("bad choices");
    for field in ["topic", "channel", "priority"] {
        assert!(errors.contains(field), "{field}");
    }
    let good = NewInquiryInput {
        subject: Some(" ルックアップが動かない ".into()),
        question: Some("昨日から取得できません".into()),
        topic: Some("error".into()),
        channel: Some("phone".into()),
        ..Default::default()
    }
    .parse()
    .expect("valid");
    assert_eq!(good.subject, "ルックアップが動かない");
    assert_eq!(good.topic, Topic::Error);
    assert_eq!(good.channel, Some(Channel::Phone));
    assert_eq!(good.priority, Priority::Normal);
}

#[test]
fn numbers_are_per_fiscal_year_with_five_digits() {
    assert_eq!(inquiry_number(2025, 123), "HD-2025-00123");
    assert_eq!(inquiry_number(2026, 1), "HD-2026-00001");
}

#[test]
fn the_first_answer_is_due_a_business_day_later_and_auto_close_five_after_the_answer() {
    let cal = BusinessCalendar::new(chrono_tz::Asia::Tokyo);
    let friday = DateTime::parse_from_rfc3339("2025-06-06T10:00:00+09:00")
        .expect("time")
        .with_timezone(&Utc);
    let monday = DateTime::parse_from_rfc3339("2025-06-09T10:00:00+09:00")
        .expect("time")
        .with_timezone(&Utc);
    let next_friday = DateTime::parse_from_rfc3339("2025-06-13T10:00:00+09:00")
        .expect("time")
        .with_timezone(&Utc);
    assert_eq!(first_answer_due(&cal, Priority::Normal, friday), monday);
    assert_eq!(auto_close_at(&cal, friday), next_friday);
}

fn any_actor() -> impl Strategy<Value = Actor> {
    proptest::sample::select(ACTORS.to_vec())
}

proptest! {
    /// Random event sequences follow rows of the table only; a refusal is
    /// explained by the table (role, state, actor) or by the input, and nothing
    /// happens to a closed or escalated inquiry.
    #[test]
    fn random_event_sequences_stay_within_the_table(
        steps in proptest::collection::vec(
            (0..InquiryEvent::ALL.len(), any_actor(), 0i64..=20, any::<bool>()),
            1..60,
        )
    ) {
        let rules = Rules::default();
        let mut s = InquirySubject { state: InquiryState::Open, asker_id: 1, assignee_id: None, answered_at: None };
        let mut clock = now();
        for (event_index, actor, days, blank) in steps {
            clock += Duration::days(days);
            let event = InquiryEvent::ALL[event_index];
            let input = if blank { InquiryTransitionInput::default() } else { full_input() };
            let allowed = allowed_inquiry_events(&rules, &s, actor, clock);
            match check_inquiry_transition(&rules, &s, actor, event, &input, clock) {
                Ok((to, payload)) => {
                    prop_assert!(!s.state.is_terminal(), "{:?} changed a finished inquiry", event);
                    let row = inquiry_transition(event);
                    prop_assert!(row.from.contains(&s.state));
                    prop_assert_eq!(row.to.unwrap_or(s.state), to);
                    prop_assert!(allowed.contains(&event));
                    s.state = to;
                    match payload {
                        InquiryPayload::Take => {
                            if let Actor::User { id, .. } = actor { s.assignee_id = Some(id) }
                        }
                        InquiryPayload::Answer { .. } => {
                            if let Actor::User { id, .. } = actor { s.assignee_id = Some(id) }
                            s.answered_at = Some(clock);
                        }
                        _ => {}
                    }
                }
                Err(InquiryError::Invalid(_)) => {
                    // Only missing or late text, or taking one's own.
                    let row = inquiry_transition(event);
                    let needs_text = !row.requires.is_empty();
                    prop_assert!(blank && needs_text || event == InquiryEvent::Reply || event == InquiryEvent::Take,
                        "{:?} refused as invalid with {:?}", event, input);
                }
                Err(_) => prop_assert!(!allowed.contains(&event) || event == InquiryEvent::Ask,
                    "{:?} allowed yet refused for {:?} in {:?}", event, actor, s.state),
            }
        }
    }
}
