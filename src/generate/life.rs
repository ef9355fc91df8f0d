//! One consultation's life: walked through the workflow from filing to wherever
//! it stands at the end of history, event by event, each from a state and by an
//! actor the workflow table allows, with the SLA clock kept as the desk keeps it.
//! [`walk`] is the natural course (hearing, assignment, [`work`]: questions,
//! hand-overs, resolution, reopening, closing); [`steer`] is a short path to a given
//! state, for the newest few consultations when chance left a state out.

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::Rng;

use crate::domain::sla::{SlaClock, Step};
use crate::domain::workflow::transition;
use crate::domain::{Category, Event, Priority, State};

use super::calendar::{later, skewed, Ctx};
use super::rows::{EventRow, Stamp};
use super::texts::{
    pick, push_int, Words, HANDOVER, PLACES, PROVIDE_INFO, REOPEN, REQUEST_INFO, SKIP_HEARING,
    WITHDRAW_BY_REQUESTER,
};

/// The column changes an event makes, as `consultations::transition_changes` does.
pub(super) enum Change {
    File,
    Schedule {
        hearing_at: NaiveDateTime,
        place: &'static str,
    },
    Assign {
        to: i64,
    },
    Nothing,
    Resolve {
        resolution: String,
    },
    Reopen,
    Close {
        rating: Option<i16>,
    },
    Withdraw {
        duplicate_of: Option<i64>,
    },
}

/// One consultation being walked through the workflow. Events at or after the end
/// of history do not happen, and nothing after them either.
pub(super) struct Life<'c> {
    pub(super) ctx: &'c Ctx,
    pub(super) id: i64,
    pub(super) priority: Priority,
    pub(super) state: State,
    pub(super) version: i32,
    pub(super) stopped: bool,
    pub(super) last: NaiveDateTime,
    pub(super) clock: SlaClock,
    pub(super) events: Vec<EventRow>,
    pub(super) assignee: Option<i64>,
    pub(super) hearing_at: Option<NaiveDateTime>,
    pub(super) hearing_place: Option<&'static str>,
    pub(super) resolution: Option<String>,
    pub(super) duplicate_of: Option<i64>,
    pub(super) rating: Option<i16>,
    pub(super) first_response_at: Option<NaiveDateTime>,
    pub(super) resolved_at: Option<NaiveDateTime>,
    pub(super) closed_at: Option<NaiveDateTime>,
    pub(super) assigned_at: Option<NaiveDateTime>,
    pub(super) reopen_count: i32,
}

impl<'c> Life<'c> {
    pub(super) fn new(ctx: &'c Ctx, id: i64, priority: Priority, filed: NaiveDateTime) -> Life<'c> {
        Life {
            ctx,
            id,
            priority,
            state: State::Received,
            version: 0,
            stopped: false,
            last: filed,
            clock: SlaClock::default(),
            events: Vec::with_capacity(8),
            assignee: None,
            hearing_at: None,
            hearing_place: None,
            resolution: None,
            duplicate_of: None,
            rating: None,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            assigned_at: None,
            reopen_count: 0,
        }
    }

    /// Fires `event` at local time `at` unless history has ended by then. The state
    /// it leads to is read from the workflow table.
    pub(super) fn fire(
        &mut self,
        event: Event,
        actor: Option<i64>,
        at: NaiveDateTime,
        change: Change,
        payload: String,
    ) -> bool {
        let at = if self.version == 0 {
            at
        } else {
            at.max(self.last + Duration::seconds(1))
        };
        if self.stopped || at >= self.ctx.end {
            self.stopped = true;
            return false;
        }
        let row = transition(event);
        let from = if event == Event::File {
            None
        } else {
            debug_assert!(
                row.from.contains(&self.state),
                "{event:?} from {:?}",
                self.state
            );
            Some(self.state)
        };
        let at_utc = self.ctx.utc(at);
        let now = at_utc.and_utc();
        let ctx = self.ctx;
        self.clock = match from {
            None => ctx.sla.on_file(&ctx.calendar, self.priority, now),
            Some(from) => ctx.sla.on_event(
                &ctx.calendar,
                self.clock,
                self.priority,
                Step {
                    event,
                    from,
                    to: row.to,
                },
                now,
            ),
        };
        match change {
            Change::File | Change::Nothing => {}
            Change::Schedule { hearing_at, place } => {
                self.hearing_at = Some(hearing_at);
                self.hearing_place = Some(place);
                self.first_response_at.get_or_insert(at_utc);
            }
            Change::Assign { to } => {
                self.assignee = Some(to);
                self.first_response_at.get_or_insert(at_utc);
                self.assigned_at.get_or_insert(at_utc);
            }
            Change::Resolve { resolution } => {
                self.resolution = Some(resolution);
                self.resolved_at = Some(at_utc);
            }
            Change::Reopen => {
                self.resolved_at = None;
                self.reopen_count += 1;
            }
            Change::Close { rating } => {
                self.rating = rating;
                self.closed_at = Some(at_utc);
            }
            Change::Withdraw { duplicate_of } => {
                self.duplicate_of = duplicate_of;
                self.closed_at = Some(at_utc);
            }
        }
        self.version += 1;
        self.state = row.to;
        self.last = at;
        self.events.push(EventRow {
            consultation_id: self.id,
            event: event.as_str(),
            actor_id: actor,
            from_state: from.map(State::as_str),
            to_state: row.to.as_str(),
            payload,
            version: self.version,
            created_at: Stamp::new(at_utc),
        });
        true
    }

    /// Whether the walk may go on.
    fn alive(&self) -> bool {
        !self.stopped && !self.state.is_terminal()
    }
}

/// Who acts on one consultation.
#[derive(Clone, Copy)]
pub(super) struct Cast {
    pub(super) requester: i64,
    pub(super) dx: i64,
    pub(super) se: i64,
    /// Another SE, for hand-overs (the same one when there is only one).
    pub(super) other_se: i64,
}

fn rfc3339(ctx: &Ctx, local: NaiveDateTime) -> String {
    // As `DateTime<Utc>::to_rfc3339` writes whole seconds.
    format!("{}+00:00", ctx.utc(local).format("%Y-%m-%dT%H:%M:%S"))
}

fn schedule(
    rng: &mut StdRng,
    life: &mut Life,
    actor: i64,
    at: NaiveDateTime,
    hearing_at: NaiveDateTime,
) -> bool {
    let place = pick(rng, PLACES);
    let mut p = String::with_capacity(128);
    p.push_str("{\"hearing_at\":");
    push_json_str(&mut p, &rfc3339(life.ctx, hearing_at));
    p.push_str(",\"hearing_place\":");
    push_json_str(&mut p, place);
    p.push_str(",\"previous_hearing_at\":");
    match life.hearing_at {
        Some(previous) => push_json_str(&mut p, &rfc3339(life.ctx, previous)),
        None => p.push_str("null"),
    }
    p.push('}');
    life.fire(
        Event::ScheduleHearing,
        Some(actor),
        at,
        Change::Schedule { hearing_at, place },
        p,
    )
}

/// A hearing slot `n` business days after `t`.
fn hearing_slot(ctx: &Ctx, rng: &mut StdRng, t: NaiveDateTime, n: u32) -> NaiveDateTime {
    const SLOTS: &[(u32, u32)] = &[(9, 30), (10, 0), (13, 30), (14, 0), (15, 30), (16, 0)];
    let (h, m) = pick(rng, SLOTS);
    ctx.days
        .after(t.date(), n.max(1))
        .and_hms_opt(h, m, 0)
        .unwrap_or(t)
}

fn resolve(rng: &mut StdRng, life: &mut Life, words: &Words, at: NaiveDateTime) -> bool {
    let resolution = words.resolution(rng);
    let mut p = String::with_capacity(resolution.len() + 40);
    p.push_str("{\"resolution\":");
    push_json_str(&mut p, &resolution);
    p.push_str(",\"system_id\":null}");
    let actor = life.assignee;
    life.fire(Event::Resolve, actor, at, Change::Resolve { resolution }, p)
}

fn close(life: &mut Life, actor: Option<i64>, at: NaiveDateTime, rating: Option<i16>) -> bool {
    let mut p = String::from("{\"rating\":");
    push_json_opt_int(&mut p, rating.map(i64::from));
    p.push('}');
    life.fire(Event::Close, actor, at, Change::Close { rating }, p)
}

fn rating(rng: &mut StdRng) -> i16 {
    match rng.gen_range(0..100) {
        0..=39 => 5,
        40..=74 => 4,
        75..=89 => 3,
        90..=95 => 2,
        _ => 1,
    }
}

/// Business days of work a consultation of this category takes.
fn work_days(rng: &mut StdRng, category: Category) -> u32 {
    let hi = match category {
        Category::LowCodeApp => 45,
        Category::Rpa | Category::AiOcr => 35,
        Category::EApplication | Category::DataUse => 25,
        Category::Other => 15,
    };
    skewed(rng, 1, hi)
}

/// The natural course of a consultation, cut off where history ends.
pub(super) fn walk(
    rng: &mut StdRng,
    life: &mut Life,
    cast: Cast,
    words: &Words,
    duplicate: Option<(i64, String)>,
) {
    let ctx = life.ctx;
    let filed = life.last;
    // Withdrawn before anyone looked: solved in the division, or a duplicate.
    let r: f64 = rng.gen();
    if r < 0.03 {
        let n = rng.gen_range(0..3);
        let at = later(ctx, rng, filed, n);
        let reason = pick(rng, WITHDRAW_BY_REQUESTER);
        life.fire(
            Event::Withdraw,
            Some(cast.requester),
            at,
            Change::Withdraw { duplicate_of: None },
            withdraw_payload(reason, None),
        );
        return;
    }
    if r < 0.05 {
        let n = rng.gen_range(1..4);
        let at = later(ctx, rng, filed, n);
        let (duplicate_of, reason) = match &duplicate {
            Some((id, number)) => (
                Some(*id),
                format!("同じ内容の相談（{number}）と重複しているため、そちらで対応します。"),
            ),
            None => (
                None,
                "DX推進課の相談対象外のため、情報システム課へ引き継ぎました。".to_string(),
            ),
        };
        life.fire(
            Event::Withdraw,
            Some(cast.dx),
            at,
            Change::Withdraw { duplicate_of },
            withdraw_payload(&reason, duplicate_of),
        );
        return;
    }
    // Triage: most get a hearing within the SLA, some late; simple ones skip it.
    let triage = match life.priority {
        Priority::Urgent => 0,
        Priority::High => rng.gen_range(0..2),
        Priority::Normal => rng.gen_range(0..3),
        Priority::Low => rng.gen_range(1..5),
    } + if rng.gen_ratio(1, 10) {
        rng.gen_range(2..6)
    } else {
        0
    };
    let mut t = later(ctx, rng, filed, triage);
    let self_claim = rng.gen_bool(0.4);
    if rng.gen_bool(0.8) {
        let scheduler = if rng.gen_bool(0.7) { cast.dx } else { cast.se };
        let n = skewed(rng, 2, 10);
        let mut hearing = hearing_slot(ctx, rng, t, n);
        if !schedule(rng, life, scheduler, t, hearing) {
            return;
        }
        if rng.gen_ratio(1, 12) {
            // Rescheduled before it took place.
            let at = later(ctx, rng, t, 1).min(hearing - Duration::minutes(30));
            let n = rng.gen_range(2..6);
            let moved = hearing_slot(ctx, rng, hearing, n);
            if at > t && schedule(rng, life, cast.dx, at, moved) {
                t = at;
                hearing = moved;
            }
        }
        if rng.gen_ratio(1, 30) {
            let n = rng.gen_range(1..4);
            let at = later(ctx, rng, t, n);
            let reason = pick(rng, WITHDRAW_BY_REQUESTER);
            life.fire(
                Event::Withdraw,
                Some(cast.requester),
                at,
                Change::Withdraw { duplicate_of: None },
                withdraw_payload(reason, None),
            );
            return;
        }
        // Assigned after the hearing took place.
        let after = rng.gen_range(0..3);
        let at = if after == 0 {
            let minutes = rng.gen_range(60..240);
            hearing + Duration::minutes(minutes)
        } else {
            later(ctx, rng, hearing, after)
        };
        let actor = if self_claim { cast.se } else { cast.dx };
        if !life.fire(
            Event::Assign,
            Some(actor),
            at,
            Change::Assign { to: cast.se },
            assign_payload(cast.se, None, None),
        ) {
            return;
        }
    } else {
        let n = rng.gen_range(0..2);
        let at = later(ctx, rng, t, n);
        let actor = if self_claim { cast.se } else { cast.dx };
        let reason = pick(rng, SKIP_HEARING);
        if !life.fire(
            Event::Assign,
            Some(actor),
            at,
            Change::Assign { to: cast.se },
            assign_payload(cast.se, None, Some(reason)),
        ) {
            return;
        }
    }
    work(rng, life, cast, words);
}

/// From assigned: questions, hand-overs, resolution, and what the requester does then.
fn work(rng: &mut StdRng, life: &mut Life, cast: Cast, words: &Words) {
    let ctx = life.ctx;
    let mut rounds = 0;
    let mut ask_chance = 0.25;
    while life.alive() && rounds < 4 {
        rounds += 1;
        let mut t = life.last;
        if rng.gen_bool(ask_chance) {
            ask_chance = 0.1;
            let n = skewed(rng, 1, 6);
            let at = later(ctx, rng, t, n);
            let assignee = life.assignee;
            if !life.fire(
                Event::RequestInfo,
                assignee,
                at,
                Change::Nothing,
                message_payload(pick(rng, REQUEST_INFO)),
            ) {
                return;
            }
            if rng.gen_ratio(1, 16) {
                // No answer: the DX office closes the file after a few weeks.
                let n = rng.gen_range(15..30);
                let at = later(ctx, rng, at, n);
                life.fire(
                    Event::Withdraw,
                    Some(cast.dx),
                    at,
                    Change::Withdraw { duplicate_of: None },
                    withdraw_payload(
                        "回答をいただけない状態が続いているため、いったん取り下げます。",
                        None,
                    ),
                );
                return;
            }
            let n = skewed(rng, 1, 10);
            let at = later(ctx, rng, at, n);
            if !life.fire(
                Event::ProvideInfo,
                Some(cast.requester),
                at,
                Change::Nothing,
                message_payload(pick(rng, PROVIDE_INFO)),
            ) {
                return;
            }
            t = at;
        }
        if cast.other_se != cast.se && rng.gen_ratio(1, 20) {
            let previous = life.assignee;
            let to = if previous == Some(cast.se) {
                cast.other_se
            } else {
                cast.se
            };
            let n = rng.gen_range(1..5);
            let at = later(ctx, rng, t, n);
            if !life.fire(
                Event::Assign,
                Some(cast.dx),
                at,
                Change::Assign { to },
                assign_payload(to, previous, Some(pick(rng, HANDOVER))),
            ) {
                return;
            }
            t = at;
        }
        if rng.gen_ratio(1, 50) {
            let n = rng.gen_range(1..10);
            let at = later(ctx, rng, t, n);
            life.fire(
                Event::Withdraw,
                Some(cast.requester),
                at,
                Change::Withdraw { duplicate_of: None },
                withdraw_payload(pick(rng, WITHDRAW_BY_REQUESTER), None),
            );
            return;
        }
        let days = if rounds == 1 {
            work_days(rng, words.category)
        } else {
            skewed(rng, 1, 8)
        };
        let at = later(ctx, rng, t, days);
        if !resolve(rng, life, words, at) {
            return;
        }
        let resolved = at;
        let window_ends = resolved + ctx.reopen_window;
        let r: f64 = rng.gen();
        // The last round ends one way or the other: no consultation stays open for years.
        if r < 0.05 && rounds < 4 {
            let n = rng.gen_range(1..5);
            let at = later(ctx, rng, resolved, n);
            if at <= window_ends {
                if !life.fire(
                    Event::Reopen,
                    Some(cast.requester),
                    at,
                    Change::Reopen,
                    reason_payload(pick(rng, REOPEN)),
                ) {
                    return;
                }
                continue;
            }
        }
        let n = skewed(rng, 0, 8);
        let by_requester = later(ctx, rng, resolved, n);
        if r < 0.78 && by_requester <= window_ends {
            close(life, Some(cast.requester), by_requester, Some(rating(rng)));
        } else {
            // Nobody answered: the worker closes it when the reopen window ends.
            let secs = rng.gen_range(1..120);
            let at = window_ends + Duration::seconds(secs);
            close(life, None, at, None);
        }
    }
}

/// A short path to `target`, squeezed between filing and the end of history.
pub(super) fn steer(rng: &mut StdRng, life: &mut Life, cast: Cast, words: &Words, target: State) {
    let ctx = life.ctx;
    let path: &[Event] = match target {
        State::Received => &[],
        State::Hearing => &[Event::ScheduleHearing],
        State::Assigned => &[Event::ScheduleHearing, Event::Assign],
        State::Waiting => &[Event::ScheduleHearing, Event::Assign, Event::RequestInfo],
        State::Resolved => &[Event::ScheduleHearing, Event::Assign, Event::Resolve],
        State::Closed => &[
            Event::ScheduleHearing,
            Event::Assign,
            Event::Resolve,
            Event::Close,
        ],
        State::Withdrawn => &[Event::Withdraw],
    };
    let start = life.last;
    let span = (ctx.end - start)
        .num_seconds()
        .max(2 * path.len() as i64 + 2);
    let step = span / (path.len() as i64 + 1);
    for (i, event) in path.iter().enumerate() {
        let at = start + Duration::seconds(step * (i as i64 + 1));
        let ok = match event {
            Event::ScheduleHearing => {
                let hearing = hearing_slot(ctx, rng, at, 2);
                schedule(rng, life, cast.dx, at, hearing)
            }
            Event::Assign => life.fire(
                Event::Assign,
                Some(cast.dx),
                at,
                Change::Assign { to: cast.se },
                assign_payload(cast.se, None, None),
            ),
            Event::RequestInfo => life.fire(
                Event::RequestInfo,
                Some(cast.se),
                at,
                Change::Nothing,
                message_payload(pick(rng, REQUEST_INFO)),
            ),
            Event::Resolve => resolve(rng, life, words, at),
            Event::Close => close(life, Some(cast.requester), at, Some(rating(rng))),
            _ => life.fire(
                Event::Withdraw,
                Some(cast.requester),
                at,
                Change::Withdraw { duplicate_of: None },
                withdraw_payload(pick(rng, WITHDRAW_BY_REQUESTER), None),
            ),
        };
        if !ok {
            return;
        }
    }
}

fn message_payload(message: &str) -> String {
    let mut p = String::with_capacity(16 + message.len());
    p.push_str("{\"message\":");
    push_json_str(&mut p, message);
    p.push('}');
    p
}

fn reason_payload(reason: &str) -> String {
    let mut p = String::with_capacity(16 + reason.len());
    p.push_str("{\"reason\":");
    push_json_str(&mut p, reason);
    p.push('}');
    p
}

fn withdraw_payload(reason: &str, duplicate_of: Option<i64>) -> String {
    let mut p = String::with_capacity(40 + reason.len());
    p.push_str("{\"duplicate_of\":");
    push_json_opt_int(&mut p, duplicate_of);
    p.push_str(",\"reason\":");
    push_json_str(&mut p, reason);
    p.push('}');
    p
}

fn assign_payload(to: i64, previous: Option<i64>, reason: Option<&str>) -> String {
    let mut p = String::with_capacity(64);
    p.push_str("{\"assignee_id\":");
    push_int(&mut p, to);
    p.push_str(",\"previous_assignee_id\":");
    push_json_opt_int(&mut p, previous);
    p.push_str(",\"reason\":");
    match reason {
        Some(r) => push_json_str(&mut p, r),
        None => p.push_str("null"),
    }
    p.push('}');
    p
}

/// Appends a JSON string literal.
pub(super) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_json_opt_int(out: &mut String, n: Option<i64>) {
    match n {
        Some(n) => push_int(out, n),
        None => out.push_str("null"),
    }
}
