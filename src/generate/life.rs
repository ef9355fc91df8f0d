//! One consultation's life: walked through the workflow from filing to wherever
//! it stands at the end of history, event by event, each from a state and by an
//! actor the workflow table allows, with the SLA clock kept as the desk keeps it.
//! [`walk`] is the natural course (hearing, assignment, [`work`]: questions,
//! hand-overs, resolution, reopening, closing); [`steer`] is a short path to a given
//! state, for the newest few consultations when chance left a state out.

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::Rng;

use crate::domain::effects::{self, Record};
use crate::domain::sla::{SlaClock, Step};
use crate::domain::workflow::{transition, Payload};
use crate::domain::{Category, Event, Priority, State};

use super::calendar::{later, skewed, Ctx};
use super::rows::{EventRow, Stamp};
use super::texts::{
    pick, Words, HANDOVER, PLACES, PROVIDE_INFO, REOPEN, REQUEST_INFO, SKIP_HEARING,
    WITHDRAW_BY_REQUESTER,
};

/// One consultation being walked through the workflow. Events at or after the end
/// of history do not happen, and nothing after them either.
pub(super) struct Life<'c> {
    pub(super) ctx: &'c Ctx,
    id: i64,
    priority: Priority,
    /// The columns the workflow writes, as [`effects::apply`] leaves them: the same
    /// function the desk fires events with, so the generated columns and payloads
    /// are the desk's by construction.
    pub(super) record: Record,
    /// The number of events so far.
    pub(super) version: i32,
    stopped: bool,
    /// When the last event happened, local time.
    pub(super) last: NaiveDateTime,
    pub(super) clock: SlaClock,
    pub(super) events: Vec<EventRow>,
}

impl<'c> Life<'c> {
    /// A consultation filed at local time `filed` (before the end of history): its
    /// first event, with the payload the desk writes on filing
    /// ([`effects::filed`], as the desk writes it).
    pub(super) fn file(
        ctx: &'c Ctx,
        id: i64,
        priority: Priority,
        filed: NaiveDateTime,
        requester: i64,
        number: &str,
        title: &str,
    ) -> Life<'c> {
        let mut life = Life {
            ctx,
            id,
            priority,
            record: Record::default(),
            version: 0,
            stopped: false,
            last: filed,
            clock: SlaClock::default(),
            events: Vec::with_capacity(8),
        };
        let filed_utc = ctx.utc(filed);
        life.clock = ctx
            .sla
            .on_file(&ctx.calendar, priority, filed_utc.and_utc());
        let payload = effects::filed(number, title);
        life.record_event(
            Event::File,
            None,
            Some(requester),
            filed,
            filed_utc,
            &payload,
        );
        life
    }

    /// Fires the event of `payload` at local time `at` unless history has ended by
    /// then. The state it leads to is read from the workflow table; the columns it
    /// changes and the payload it records are [`effects::apply`]'s.
    pub(super) fn fire(&mut self, actor: Option<i64>, at: NaiveDateTime, payload: Payload) -> bool {
        let at = at.max(self.last + Duration::seconds(1));
        if self.stopped || at >= self.ctx.end {
            self.stopped = true;
            return false;
        }
        let event = event_of(&payload);
        let row = transition(event);
        let from = self.record.state;
        debug_assert!(row.from.contains(&from), "{event:?} from {from:?}");
        let at_utc = self.ctx.utc(at);
        let ctx = self.ctx;
        self.clock = ctx.sla.on_event(
            &ctx.calendar,
            self.clock,
            self.priority,
            Step {
                event,
                from,
                to: row.to,
            },
            at_utc.and_utc(),
        );
        let json = effects::apply(&mut self.record, row.to, &payload, at_utc);
        self.record_event(event, Some(from), actor, at, at_utc, &json);
        true
    }

    /// Appends the timeline entry of an event that happened at local time `at`.
    fn record_event(
        &mut self,
        event: Event,
        from: Option<State>,
        actor: Option<i64>,
        at: NaiveDateTime,
        at_utc: NaiveDateTime,
        payload: &serde_json::Value,
    ) {
        self.version += 1;
        self.last = at;
        self.events.push(EventRow {
            consultation_id: self.id,
            event: event.as_str(),
            actor_id: actor,
            from_state: from.map(State::as_str),
            to_state: self.record.state.as_str(),
            // As the desk stores it (`db::consultations::apply`).
            payload: payload.to_string(),
            version: self.version,
            created_at: Stamp::new(at_utc),
        });
    }

    /// The assigned SE, who resolves and asks questions.
    fn assignee(&self) -> Option<i64> {
        self.record.assignee_id
    }

    /// Whether the walk may go on.
    fn alive(&self) -> bool {
        !self.stopped && !self.record.state.is_terminal()
    }
}

/// The event a payload belongs to.
fn event_of(payload: &Payload) -> Event {
    match payload {
        Payload::ScheduleHearing { .. } => Event::ScheduleHearing,
        Payload::Assign { .. } => Event::Assign,
        Payload::RequestInfo { .. } => Event::RequestInfo,
        Payload::ProvideInfo { .. } => Event::ProvideInfo,
        Payload::Resolve { .. } => Event::Resolve,
        Payload::Reopen { .. } => Event::Reopen,
        Payload::Close { .. } => Event::Close,
        Payload::Withdraw { .. } => Event::Withdraw,
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

/// Schedules (or moves) the hearing to local time `hearing_at`, in a random place.
fn schedule(
    rng: &mut StdRng,
    life: &mut Life,
    actor: i64,
    at: NaiveDateTime,
    hearing_at: NaiveDateTime,
) -> bool {
    let place = pick(rng, PLACES).to_string();
    let hearing_at = life.ctx.utc(hearing_at).and_utc();
    life.fire(
        Some(actor),
        at,
        Payload::ScheduleHearing { hearing_at, place },
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

/// Resolves with a note; generated resolutions link no system of the ledger.
fn resolve(rng: &mut StdRng, life: &mut Life, words: &Words, at: NaiveDateTime) -> bool {
    let resolution = words.resolution(rng);
    let actor = life.assignee();
    life.fire(
        actor,
        at,
        Payload::Resolve {
            resolution,
            system_id: None,
            new_system: None,
        },
    )
}

fn close(life: &mut Life, actor: Option<i64>, at: NaiveDateTime, rating: Option<i16>) -> bool {
    life.fire(actor, at, Payload::Close { rating })
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
            Some(cast.requester),
            at,
            Payload::Withdraw {
                reason: reason.to_string(),
                duplicate_of: None,
            },
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
            Some(cast.dx),
            at,
            Payload::Withdraw {
                reason,
                duplicate_of,
            },
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
                Some(cast.requester),
                at,
                Payload::Withdraw {
                    reason: reason.to_string(),
                    duplicate_of: None,
                },
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
            Some(actor),
            at,
            Payload::Assign {
                assignee_id: cast.se,
                reason: None,
            },
        ) {
            return;
        }
    } else {
        let n = rng.gen_range(0..2);
        let at = later(ctx, rng, t, n);
        let actor = if self_claim { cast.se } else { cast.dx };
        let reason = pick(rng, SKIP_HEARING);
        if !life.fire(
            Some(actor),
            at,
            Payload::Assign {
                assignee_id: cast.se,
                reason: Some(reason.to_string()),
            },
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
            let assignee = life.assignee();
            if !life.fire(
                assignee,
                at,
                Payload::RequestInfo {
                    message: pick(rng, REQUEST_INFO).to_string(),
                },
            ) {
                return;
            }
            if rng.gen_ratio(1, 16) {
                // No answer: the DX office closes the file after a few weeks.
                let n = rng.gen_range(15..30);
                let at = later(ctx, rng, at, n);
                life.fire(
                    Some(cast.dx),
                    at,
                    Payload::Withdraw {
                        reason: "回答をいただけない状態が続いているため、いったん取り下げます。"
                            .to_string(),
                        duplicate_of: None,
                    },
                );
                return;
            }
            let n = skewed(rng, 1, 10);
            let at = later(ctx, rng, at, n);
            if !life.fire(
                Some(cast.requester),
                at,
                Payload::ProvideInfo {
                    message: pick(rng, PROVIDE_INFO).to_string(),
                },
            ) {
                return;
            }
            t = at;
        }
        if cast.other_se != cast.se && rng.gen_ratio(1, 20) {
            let previous = life.assignee();
            let to = if previous == Some(cast.se) {
                cast.other_se
            } else {
                cast.se
            };
            let n = rng.gen_range(1..5);
            let at = later(ctx, rng, t, n);
            if !life.fire(
                Some(cast.dx),
                at,
                Payload::Assign {
                    assignee_id: to,
                    reason: Some(pick(rng, HANDOVER).to_string()),
                },
            ) {
                return;
            }
            t = at;
        }
        if rng.gen_ratio(1, 50) {
            let n = rng.gen_range(1..10);
            let at = later(ctx, rng, t, n);
            life.fire(
                Some(cast.requester),
                at,
                Payload::Withdraw {
                    reason: pick(rng, WITHDRAW_BY_REQUESTER).to_string(),
                    duplicate_of: None,
                },
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
                    Some(cast.requester),
                    at,
                    Payload::Reopen {
                        reason: pick(rng, REOPEN).to_string(),
                    },
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
                Some(cast.dx),
                at,
                Payload::Assign {
                    assignee_id: cast.se,
                    reason: None,
                },
            ),
            Event::RequestInfo => life.fire(
                Some(cast.se),
                at,
                Payload::RequestInfo {
                    message: pick(rng, REQUEST_INFO).to_string(),
                },
            ),
            Event::Resolve => resolve(rng, life, words, at),
            Event::Close => close(life, Some(cast.requester), at, Some(rating(rng))),
            _ => life.fire(
                Some(cast.requester),
                at,
                Payload::Withdraw {
                    reason: pick(rng, WITHDRAW_BY_REQUESTER).to_string(),
                    duplicate_of: None,
                },
            ),
        };
        if !ok {
            return;
        }
    }
}
