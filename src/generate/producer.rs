//! The producer: walks the plan day by day and turns each filing into a whole
//! consultation (number, requester, texts, its life in the workflow, SLA columns,
//! search entry), sending them to the writer in batches. It runs on its own thread
//! so that building rows overlaps writing them.

use std::collections::HashMap;
use std::sync::mpsc;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::effects::Record;
use crate::domain::fiscal::{consultation_number, fiscal_year};
use crate::domain::{Category, Priority, State};

use super::calendar::{office_time, Ctx, Plan};
use super::life::{steer, walk, Cast, Life};
use super::organisation::People;
use super::rows::{Batch, ConsultationRow, SearchDocument, Stamp, BATCH};
use super::texts::{pick, Words};

/// Counts kept by the producer.
pub(super) struct Tally {
    /// Consultations per state, in the order of `State::ALL`.
    pub(super) per_state: [usize; 7],
}

pub(super) fn state_index(state: State) -> usize {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

/// Builds every consultation of the plan, in filing order, on its own thread.
pub(super) struct Producer<'a> {
    ctx: &'a Ctx,
    people: &'a People,
    pub(super) search_index: bool,
    rng: StdRng,
    next_id: i64,
    next_seq: HashMap<i32, i64>,
    /// The latest consultation of each division: what a duplicate duplicates.
    latest: HashMap<i64, (i64, String)>,
    tally: Tally,
}

impl<'a> Producer<'a> {
    pub(super) fn new(
        ctx: &'a Ctx,
        people: &'a People,
        seed: u64,
        first_id: i64,
        first_seq: HashMap<i32, i64>,
    ) -> Producer<'a> {
        Producer {
            ctx,
            people,
            search_index: true,
            rng: StdRng::seed_from_u64(seed),
            next_id: first_id,
            next_seq: first_seq,
            latest: HashMap::new(),
            tally: Tally { per_state: [0; 7] },
        }
    }

    /// Generates every planned consultation and sends them in batches.
    /// Freeing a batch's strings is left to this thread too: the writer sends spent
    /// batches back on `spent`.
    pub(super) fn run(
        &mut self,
        plan: &Plan,
        tx: mpsc::SyncSender<Batch>,
        spent: mpsc::Receiver<Batch>,
    ) -> Tally {
        let total: usize = plan.days.iter().map(|(_, n)| *n as usize).sum();
        let mut done = 0usize;
        let mut batch = Batch::new();
        let mut times = Vec::new();
        for (day, count) in &plan.days {
            times.clear();
            for _ in 0..*count {
                times.push(office_time(&mut self.rng));
            }
            times.sort_unstable();
            for time in &times {
                // The newest few are steered into states chance left out, so that
                // even a small history shows every state.
                let remaining = total - done;
                let missing: Vec<State> = State::ALL
                    .iter()
                    .copied()
                    .filter(|s| self.tally.per_state[state_index(*s)] == 0)
                    .collect();
                let target = (remaining <= missing.len()).then(|| missing[0]);
                self.consultation(day.and_time(*time), target, &mut batch);
                done += 1;
                if batch.consultations.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Batch::new());
                    // Batches may be written concurrently (PostgreSQL): a duplicate
                    // only ever names a consultation of its own batch.
                    self.latest.clear();
                    spent.try_iter().for_each(drop);
                    if tx.send(full).is_err() {
                        return std::mem::replace(&mut self.tally, Tally { per_state: [0; 7] });
                    }
                }
            }
        }
        if !batch.consultations.is_empty() {
            let _ = tx.send(batch);
        }
        std::mem::replace(&mut self.tally, Tally { per_state: [0; 7] })
    }

    fn consultation(&mut self, filed: NaiveDateTime, target: Option<State>, batch: &mut Batch) {
        let ctx = self.ctx;
        let id = self.next_id;
        self.next_id += 1;
        let fy = fiscal_year(filed.date());
        let seq = self.next_seq.entry(fy).or_insert(1);
        let number = consultation_number(fy, *seq);
        *seq += 1;
        let rng = &mut self.rng;
        let (requester, division) = self.people.requester(rng);
        let ses = &self.people.ses;
        let se = rng.gen_range(0..ses.len());
        let other_se = if ses.len() > 1 {
            (se + 1 + rng.gen_range(0..ses.len() - 1)) % ses.len()
        } else {
            se
        };
        let cast = Cast {
            requester,
            dx: pick(rng, &self.people.dx),
            se: ses[se],
            other_se: ses[other_se],
        };
        let category = match rng.gen_range(0..100) {
            0..=34 => Category::LowCodeApp,
            35..=54 => Category::EApplication,
            55..=66 => Category::Rpa,
            67..=74 => Category::AiOcr,
            75..=84 => Category::DataUse,
            _ => Category::Other,
        };
        let priority = match rng.gen_range(0..100) {
            0..=69 => Priority::Normal,
            70..=84 => Priority::High,
            85..=94 => Priority::Low,
            _ => Priority::Urgent,
        };
        let words = Words::draw(rng, category);
        let title = words.title(rng);
        let body = words.body(rng);
        let contact = rng
            .gen_bool(0.8)
            .then(|| format!("内線 {}", rng.gen_range(2000..9000)));
        let desired_by = rng
            .gen_bool(0.4)
            .then(|| filed.date() + Duration::days(rng.gen_range(14..120)));

        let mut life = Life::file(ctx, id, priority, filed, cast.requester, &number, &title);
        let duplicate = self.latest.get(&division).cloned();
        match target {
            None => walk(&mut self.rng, &mut life, cast, &words, duplicate),
            Some(target) => steer(&mut self.rng, &mut life, cast, &words, target),
        }
        self.latest.insert(division, (id, number.clone()));
        // Every workflow column, so that one `effects` adds cannot be left out here.
        let Record {
            state,
            assignee_id,
            hearing_at,
            hearing_place,
            resolution,
            system_id,
            duplicate_of,
            rating,
            first_response_at,
            resolved_at,
            closed_at,
            assigned_at,
            reopen_count,
        } = std::mem::take(&mut life.record);
        self.tally.per_state[state_index(state)] += 1;

        let clock = life.clock;
        let stored = |t: Option<DateTime<Utc>>| t.map(|t| Stamp::new(t.naive_utc()));
        let due_at = stored(clock.due_at);
        // Notices for due times already past went out back then.
        let reminded = due_at.filter(|d| d.at - ctx.remind_before <= ctx.end_utc);
        let breached = due_at.filter(|d| d.at <= ctx.end_utc);
        batch.consultations.push(ConsultationRow {
            id,
            number,
            fiscal_year: fy,
            title,
            body,
            category: category.as_str(),
            priority: priority.as_str(),
            department_id: division,
            requester_id: cast.requester,
            contact,
            desired_by,
            state: state.as_str(),
            assignee_id,
            hearing_at: hearing_at.map(Stamp::new),
            hearing_place,
            resolution,
            system_id,
            duplicate_of,
            rating,
            version: life.version,
            created_at: Stamp::new(ctx.utc(filed)),
            updated_at: Stamp::new(ctx.utc(life.last)),
            first_response_at: first_response_at.map(Stamp::new),
            resolved_at: resolved_at.map(Stamp::new),
            closed_at: closed_at.map(Stamp::new),
            hearing_due_at: stored(clock.hearing_due_at),
            resolution_due_at: stored(clock.resolution_due_at),
            due_at,
            sla_paused_at: stored(clock.paused_at),
            reminded_due_at: reminded,
            breached_due_at: breached,
            assigned_at: assigned_at.map(Stamp::new),
            reopen_count,
        });
        batch.events.append(&mut life.events);
        if self.search_index {
            if let Some(row) = batch.consultations.last() {
                batch.search.push(SearchDocument::of(row));
            }
        }
    }
}
