//! The outbox worker: delivers queued mail with retries and exponential backoff.
//! Any number of workers may run against one PostgreSQL database; each claims rows
//! the others skip. (The SLA sweep it runs beside is a use case: `app::sweep`.)

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Duration;

use super::mailer::Mailer;
use crate::db::outbox::OutboxRow;
use crate::db::{self, outbox, Pool};
use crate::settings::Settings;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub batch: i64,
    /// After this many failed attempts a message is marked failed for an admin.
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with each further one.
    pub retry_base: Duration,
    /// Messages sent at the same time, each over its own SMTP connection.
    pub concurrency: usize,
    /// How long a claimed message is reserved for the worker sending it.
    pub lease: Duration,
}

impl WorkerConfig {
    pub fn from_settings(settings: &Settings) -> WorkerConfig {
        WorkerConfig {
            batch: 50,
            max_attempts: settings.mail_max_attempts,
            retry_base: Duration::seconds(settings.mail_retry_base_secs),
            concurrency: settings.mail_concurrency,
            lease: Duration::minutes(5),
        }
    }
}

pub struct Worker {
    pool: Pool,
    mailer: Mailer,
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
    pub fn new(pool: Pool, mailer: Mailer, config: WorkerConfig) -> Worker {
        Worker {
            pool,
            mailer,
            config,
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
}
