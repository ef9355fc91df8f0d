//! The outbox worker: delivers queued mail with retries and exponential backoff.
//! Any number of workers may run against one PostgreSQL database; each claims rows
//! the others skip. (The SLA sweep it runs beside is a use case: `app::sweep`.)
//!
//! Each of the `concurrency` lanes claims a few messages for itself and sends them
//! over its own SMTP connection, so a connection that hangs holds up its lane
//! alone (until the SMTP timeout) and never the others. A claim is a short lease
//! (`DIGICON_MAIL_LEASE_SECS`, 30 s) that a keeper thread renews every third of it
//! while the process lives: mail claimed by a process that died is sent again by
//! another within one lease, and a live worker's mail is never taken from it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;

use super::mailer::{Mailer, SendError};
use crate::db::outbox::OutboxRow;
use crate::db::{self, outbox, Pool};
use crate::settings::Settings;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Messages one lane claims at a time.
    pub batch: i64,
    /// After this many failed attempts a message is marked failed for an admin.
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with each further one.
    pub retry_base: Duration,
    /// Lanes sending at the same time, each over its own SMTP connection.
    pub concurrency: usize,
    /// How long a claim holds without renewal; renewed every third of it.
    pub lease: Duration,
}

impl WorkerConfig {
    pub fn from_settings(settings: &Settings) -> WorkerConfig {
        WorkerConfig {
            batch: 10,
            max_attempts: settings.mail_max_attempts,
            retry_base: Duration::seconds(settings.mail_retry_base_secs),
            concurrency: settings.mail_concurrency,
            lease: Duration::seconds(settings.mail_lease_secs.max(1)),
        }
    }
}

pub struct Worker {
    pool: Pool,
    mailer: Mailer,
    config: WorkerConfig,
    /// Claimed and not yet settled: the rows whose leases the keeper renews.
    in_hand: Mutex<BTreeSet<i64>>,
    /// Lanes of one process claim one after another, so that two lanes never
    /// take mail for the same person (each person's mail goes out in order).
    claiming: Mutex<()>,
}

/// What delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl Delivery {
    fn add(&mut self, other: Delivery) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
    }

    fn is_empty(&self) -> bool {
        self.sent + self.retried + self.failed == 0
    }
}

/// What became of one message.
enum Outcome {
    Sent,
    Retry(chrono::NaiveDateTime, String),
    Failed(String),
}

/// Sleeps up to `total`, waking early when `stop` is set.
fn pause(total: StdDuration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(StdDuration::from_millis(100)));
    }
}

impl Worker {
    pub fn new(pool: Pool, mailer: Mailer, config: WorkerConfig) -> Worker {
        Worker {
            pool,
            mailer,
            config,
            in_hand: Mutex::new(BTreeSet::new()),
            claiming: Mutex::new(()),
        }
    }

    /// Delivers continuously until `stop` is set: every lane claims and sends on
    /// its own, resting `poll` when it finds nothing due. Mail claimed but not yet
    /// sent when it stops is put back for the next worker at once.
    pub fn run(&self, stop: &AtomicBool, poll: StdDuration) {
        std::thread::scope(|scope| {
            scope.spawn(|| self.keep_leases(stop));
            for _ in 0..self.config.concurrency.max(1) {
                scope.spawn(|| {
                    while !stop.load(Ordering::SeqCst) {
                        match self.lane_round(stop) {
                            Ok(round) if !round.is_empty() => {}
                            Ok(_) => pause(poll, stop),
                            Err(e) => {
                                log::warn!("mail delivery failed: {e}");
                                pause(poll, stop);
                            }
                        }
                    }
                });
            }
        });
    }

    /// Delivers everything due now and returns (for benchmarks and tests).
    pub fn deliver(&self, stop: &AtomicBool) -> Result<Delivery, String> {
        let keeper = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| self.keep_leases(&keeper));
            let lanes: Vec<_> = (0..self.config.concurrency.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut total = Delivery::default();
                        while !stop.load(Ordering::SeqCst) {
                            let round = self.lane_round(stop)?;
                            if round.is_empty() {
                                break;
                            }
                            total.add(round);
                        }
                        Ok::<_, String>(total)
                    })
                })
                .collect();
            let mut total = Delivery::default();
            let mut result = Ok(());
            for lane in lanes {
                match lane.join() {
                    Ok(Ok(round)) => total.add(round),
                    Ok(Err(e)) => result = Err(e),
                    Err(_) => result = Err("a delivery thread panicked".to_string()),
                }
            }
            keeper.store(true, Ordering::SeqCst);
            result.map(|()| total)
        })
    }

    /// Renews the leases of the mail this process holds, every third of a lease.
    fn keep_leases(&self, stop: &AtomicBool) {
        let every = (self.config.lease / 3)
            .to_std()
            .unwrap_or(StdDuration::from_secs(10));
        while !stop.load(Ordering::SeqCst) {
            pause(every, stop);
            let ids: Vec<i64> = match self.in_hand.lock() {
                Ok(ids) => ids.iter().copied().collect(),
                Err(_) => return,
            };
            if ids.is_empty() {
                continue;
            }
            let renewed = self
                .pool
                .get()
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    outbox::renew(&mut c, &ids, db::now() + self.config.lease)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = renewed {
                log::warn!("cannot renew the leases of {} messages: {e}", ids.len());
            }
        }
    }

    fn hold(&self, ids: &[i64], held: bool) {
        if let Ok(mut in_hand) = self.in_hand.lock() {
            for id in ids {
                if held {
                    in_hand.insert(*id);
                } else {
                    in_hand.remove(id);
                }
            }
        }
    }

    /// One lane claims a few due messages and sends them one after another,
    /// recording each outcome at once, so that a crash repeats at most the
    /// message in flight.
    fn lane_round(&self, stop: &AtomicBool) -> Result<Delivery, String> {
        let rows = {
            let _turn = self
                .claiming
                .lock()
                .map_err(|_| "the claim lock is poisoned".to_string())?;
            let mut conn = self.pool.get().map_err(|e| e.to_string())?;
            let now = db::now();
            let rows = outbox::claim(&mut conn, self.config.batch, now, now + self.config.lease)
                .map_err(|e| e.to_string())?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            self.hold(&ids, true);
            rows
        };
        let mut round = Delivery::default();
        for (i, row) in rows.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                self.release(&rows[i..]);
                break;
            }
            let outcome = self.outcome(row, self.mailer.send(row));
            match &outcome {
                Outcome::Sent => round.sent += 1,
                Outcome::Retry(..) => round.retried += 1,
                Outcome::Failed(_) => round.failed += 1,
            }
            self.record(row.id, &outcome, stop);
            self.hold(&[row.id], false);
        }
        Ok(round)
    }

    /// Whether a delivery's answer was final: a permanent refusal (5xx) fails the
    /// message at once, anything else is tried again later with a doubled wait.
    fn outcome(&self, row: &OutboxRow, result: Result<(), SendError>) -> Outcome {
        match result {
            Ok(()) => Outcome::Sent,
            Err(e) if e.permanent || row.attempts >= self.config.max_attempts => {
                log::warn!(
                    "mail {} to {} failed for good after {} attempts: {}",
                    row.id,
                    row.recipient_email,
                    row.attempts,
                    e.message
                );
                Outcome::Failed(e.message)
            }
            Err(e) => {
                let exponent = u32::try_from(row.attempts.saturating_sub(1))
                    .unwrap_or(0)
                    .min(16);
                let wait = (self.config.retry_base * 2i32.pow(exponent)).min(Duration::hours(6));
                log::info!(
                    "mail {} attempt {} failed ({}); next try in {}s",
                    row.id,
                    row.attempts,
                    e.message,
                    wait.num_seconds()
                );
                Outcome::Retry(db::now() + wait, e.message)
            }
        }
    }

    /// Writes an outcome, trying again while the database is away: a message sent
    /// but not marked would be sent again once its lease ended.
    fn record(&self, id: i64, outcome: &Outcome, stop: &AtomicBool) {
        let mut warned = false;
        loop {
            let written = self
                .pool
                .get()
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    match outcome {
                        Outcome::Sent => outbox::mark_sent(&mut c, id, db::now()),
                        Outcome::Retry(at, error) => outbox::mark_retry(&mut c, id, *at, error),
                        Outcome::Failed(error) => outbox::mark_failed(&mut c, id, error),
                    }
                    .map_err(|e| e.to_string())
                });
            match written {
                Ok(_) => return,
                Err(e) if stop.load(Ordering::SeqCst) => {
                    log::warn!(
                        "mail {id}: its outcome is lost at shutdown ({e}); the lease decides"
                    );
                    return;
                }
                Err(e) => {
                    if !warned {
                        log::warn!("mail {id}: cannot record its outcome yet ({e}); retrying");
                        warned = true;
                    }
                    pause(StdDuration::from_secs(1), stop);
                }
            }
        }
    }

    /// Puts claimed, unsent mail back to be sent at once by whoever comes next.
    fn release(&self, rows: &[OutboxRow]) {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let released = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut c| outbox::release(&mut c, &ids).map_err(|e| e.to_string()));
        if let Err(e) = released {
            log::warn!(
                "cannot put back {} claimed messages ({e}); their leases end soon",
                ids.len()
            );
        }
        self.hold(&ids, false);
    }
}
