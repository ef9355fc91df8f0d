//! The background worker: delivers the outbox with retries and exponential
//! backoff, sends SLA reminders and breach notices once per due time, and closes
//! resolved consultations after the reopen window. Any number of workers may run
//! against one PostgreSQL database; each claims rows the others skip.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::Connection;

use super::mailer::Mailer;
use super::Notifier;
use crate::db::consultations::{self, Scope};
use crate::db::outbox::OutboxRow;
use crate::db::{self, outbox, systems, DbConn, Pool};
use crate::desk::{Desk, Fire};
use crate::domain::ledger::{missing_fields, review_overdue};
use crate::domain::sla::DueKind;
use crate::domain::workflow::{Actor, TransitionInput};
use crate::domain::Event;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Pause between rounds when there is nothing to send.
    pub poll: StdDuration,
    pub batch: i64,
    /// After this many failed attempts a message is marked failed for an admin.
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with each further one.
    pub retry_base: Duration,
    pub sweep_every: StdDuration,
    /// Messages sent at the same time, each over its own SMTP connection.
    pub concurrency: usize,
    /// How long a claimed message is reserved for the worker sending it.
    pub lease: Duration,
}

pub struct Worker {
    pool: Pool,
    mailer: Mailer,
    desk: Arc<Desk>,
    config: WorkerConfig,
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl Worker {
    pub fn new(pool: Pool, mailer: Mailer, desk: Arc<Desk>, config: WorkerConfig) -> Worker {
        Worker {
            pool,
            mailer,
            desk,
            config,
        }
    }

    /// Runs until `stop` is set; the message being sent is finished first.
    pub fn run(&self, stop: &AtomicBool) {
        let mut last_sweep: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) {
            if last_sweep.is_none_or(|at| at.elapsed() >= self.config.sweep_every) {
                if let Err(e) = self.sweep() {
                    log::warn!("SLA sweep failed: {e}");
                }
                last_sweep = Some(Instant::now());
            }
            let busy = match self.deliver(stop) {
                Ok(round) => round.sent + round.retried + round.failed > 0,
                Err(e) => {
                    log::warn!("mail delivery round failed: {e}");
                    false
                }
            };
            if !busy {
                std::thread::sleep(self.config.poll);
            }
        }
    }

    /// Claims a batch of due messages and sends them over several SMTP connections
    /// at once: lettre waits for a TCP acknowledgement at the end of each message,
    /// so one connection alone cannot go beyond a few dozen messages a second.
    pub fn deliver(&self, stop: &AtomicBool) -> Result<Delivery, String> {
        let rows = {
            let mut conn = self.pool.get().map_err(|e| e.to_string())?;
            let now = db::now();
            outbox::claim(&mut conn, self.config.batch, now, now + self.config.lease)
                .map_err(|e| e.to_string())?
        };
        if rows.is_empty() {
            return Ok(Delivery::default());
        }
        // One lane per recipient group keeps each person's mail in the order written.
        let lanes = self.config.concurrency.max(1);
        let mut groups: Vec<Vec<OutboxRow>> = vec![vec![]; lanes];
        for row in rows {
            let lane = row.recipient_email.bytes().fold(0usize, |h, b| {
                h.wrapping_mul(31).wrapping_add(usize::from(b))
            }) % lanes;
            groups[lane].push(row);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = groups
                .iter()
                .filter(|g| !g.is_empty())
                .map(|group| scope.spawn(move || self.deliver_lane(group, stop)))
                .collect();
            let mut total = Delivery::default();
            for handle in handles {
                let lane = handle
                    .join()
                    .map_err(|_| "a delivery thread panicked".to_string())??;
                total.sent += lane.sent;
                total.retried += lane.retried;
                total.failed += lane.failed;
            }
            Ok(total)
        })
    }

    /// Sends claimed messages one after another, recording each outcome at once so
    /// that a crash can repeat at most the message in flight.
    fn deliver_lane(&self, rows: &[OutboxRow], stop: &AtomicBool) -> Result<Delivery, String> {
        let mut round = Delivery::default();
        for row in rows {
            if stop.load(Ordering::SeqCst) {
                // Unsent claims are picked up again when their lease ends.
                break;
            }
            let result = self.mailer.send(row);
            // A connection only for the update: sending must not hold one the
            // web requests need.
            let mut conn = self.pool.get().map_err(|e| e.to_string())?;
            let now = db::now();
            let outcome = match result {
                Ok(()) => {
                    round.sent += 1;
                    outbox::mark_sent(&mut conn, row.id, now)
                }
                Err(e) if e.permanent || row.attempts >= self.config.max_attempts => {
                    log::warn!(
                        "mail {} to {} failed for good: {}",
                        row.id,
                        row.recipient_email,
                        e.message
                    );
                    round.failed += 1;
                    outbox::mark_failed(&mut conn, row.id, &e.message)
                }
                Err(e) => {
                    let exponent = u32::try_from(row.attempts.saturating_sub(1))
                        .unwrap_or(0)
                        .min(16);
                    let wait =
                        (self.config.retry_base * 2i32.pow(exponent)).min(Duration::hours(6));
                    log::info!(
                        "mail {} attempt {} failed ({}); next try in {}s",
                        row.id,
                        row.attempts,
                        e.message,
                        wait.num_seconds()
                    );
                    round.retried += 1;
                    outbox::mark_retry(&mut conn, row.id, now + wait, &e.message)
                }
            };
            outcome.map_err(|e| e.to_string())?;
        }
        Ok(round)
    }

    /// Reminders, breach notices and auto-closing. Returns how many things it did.
    pub fn sweep(&self) -> Result<usize, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let conn = &mut *conn;
        let now = db::now();
        let desk = &self.desk;
        let mut done = 0;
        let horizon = now + desk.sla.remind_before;
        for (breached, candidates) in [
            (
                false,
                consultations::needing_reminder(conn, now, horizon, 500),
            ),
            (true, consultations::needing_breach_notice(conn, now, 500)),
        ] {
            for c in candidates.map_err(|e| e.to_string())? {
                let (Some(due_at), Some(kind)) = (c.due_at, DueKind::running_in(c.state)) else {
                    continue;
                };
                // Marking and queueing happen together, and only the worker whose
                // mark changed the row queues: each notice goes out once.
                let sent = conn
                    .transaction::<_, diesel::result::Error, _>(|conn| {
                        if consultations::mark_notified(conn, c.id, due_at, breached)? == 0 {
                            return Ok(false);
                        }
                        desk.notifier.due(conn, &c, kind, due_at, breached)?;
                        Ok(true)
                    })
                    .map_err(|e| e.to_string())?;
                done += usize::from(sent);
            }
        }
        let cutoff = now - desk.rules.reopen_window;
        for c in consultations::resolved_before(conn, cutoff, 500).map_err(|e| e.to_string())? {
            let result = desk.fire(
                conn,
                &Fire {
                    scope: &Scope::All,
                    actor: Actor::System,
                    id: c.id,
                    version: c.version,
                    event: Event::Close,
                    input: &TransitionInput::default(),
                    now: Utc::now(),
                },
            );
            match result {
                Ok(_) => done += 1,
                // Another worker or the requester got there first.
                Err(e) if e.kind == crate::web::error::Kind::Conflict => {}
                Err(e) => log::warn!("auto-closing {}: {e}", c.number),
            }
        }
        let today = Utc::now()
            .with_timezone(&desk.calendar.timezone)
            .date_naive();
        done +=
            remind_system_owners(conn, &desk.notifier, now, today).map_err(|e| e.to_string())?;
        Ok(done)
    }
}

/// How often at most a system's owner is reminded of what its ledger entry lacks.
pub const SYSTEM_REMINDER_EVERY: Duration = Duration::days(7);

/// Reminds the owners of production systems that lack a required field or are past
/// their review date, at most once a week each. As with SLA reminders, the mark and
/// the mail are written together, and only the worker whose mark took effect queues.
pub fn remind_system_owners(
    conn: &mut DbConn,
    notifier: &Notifier,
    now: NaiveDateTime,
    today: NaiveDate,
) -> diesel::QueryResult<usize> {
    let mut sent = 0;
    for system in systems::due_for_reminder(conn, now - SYSTEM_REMINDER_EVERY)? {
        let fields = system.fields();
        let missing = missing_fields(&fields);
        let overdue = review_overdue(&fields, today);
        if missing.is_empty() && !overdue {
            continue;
        }
        let queued = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            if systems::mark_reminded(conn, &system, now)? == 0 {
                return Ok(false);
            }
            notifier.system_reminder(conn, &system, &missing, overdue)?;
            Ok(true)
        })?;
        sent += usize::from(queued);
    }
    Ok(sent)
}
