//! The work nobody asks for: SLA reminders and breach notices once per due time,
//! closing resolved consultations after the reopen window, and weekly reminders
//! to owners of incomplete ledger entries. [`Background`] runs the sweep on a
//! schedule beside the outbox delivery (`notify::worker`). Any number of
//! instances may sweep one PostgreSQL database: each notice is marked and queued
//! together, and only the instance whose mark took effect queues it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::Connection;

use super::consultations::list::find_and_keep;
use super::consultations::{fire_as, Firing};
use super::{App, Error};
use crate::db::consultations::{self, Scope};
use crate::db::{self, search, sessions, systems, DbConn, Pool};
use crate::domain::ledger::{missing_fields, review_overdue};
use crate::domain::sla::DueKind;
use crate::domain::workflow::{Actor, TransitionInput};
use crate::domain::Event;
use crate::notify::worker::Worker;
use crate::notify::Notifier;

/// Candidates read per kind and sweep; the rest wait for the next sweep.
const BATCH: i64 = 500;

/// Reminders, breach notices and auto-closing (returns how many of those it
/// did), and the similar consultations of new ones.
pub fn sweep(app: &App, conn: &mut DbConn) -> Result<usize, Error> {
    let now = db::now();
    let mut done = super::inquiries::sweep(app, conn, now.and_utc())?;
    // Files no row names (an upload that failed after its file landed).
    if let Err(e) = super::attachments::sweep_files(app, conn) {
        log::warn!("sweeping attachment files: {e}");
    }
    let horizon = now + app.sla.remind_before;
    for (breached, candidates) in [
        (
            false,
            consultations::needing_reminder(conn, now, horizon, BATCH),
        ),
        (true, consultations::needing_breach_notice(conn, now, BATCH)),
    ] {
        for c in candidates? {
            let (Some(due_at), Some(kind)) = (c.due_at, DueKind::running_in(c.state)) else {
                continue;
            };
            let sent = conn.transaction::<_, diesel::result::Error, _>(|conn| {
                if consultations::mark_notified(conn, c.id, due_at, breached)? == 0 {
                    return Ok(false);
                }
                app.notifier.due(conn, &c, kind, due_at, breached)?;
                Ok(true)
            })?;
            done += usize::from(sent);
        }
    }
    let cutoff = now - app.rules.reopen_window;
    for c in consultations::resolved_before(conn, cutoff, BATCH)? {
        let closed = fire_as(
            app,
            conn,
            &Firing {
                scope: &Scope::All,
                actor: Actor::System,
                id: c.id,
                version: c.version,
                event: Event::Close,
                input: &TransitionInput::default(),
                now: Utc::now(),
            },
        );
        match closed {
            Ok(_) => done += 1,
            // Another worker or the requester got there first.
            Err(Error::Stale { .. }) => {}
            Err(e) => log::warn!("auto-closing {}: {e}", c.number),
        }
    }
    done += remind_system_owners(conn, &app.notifier, now, app.today())?;
    sessions::forget_expired(conn, now - super::sessions::KEEP_EXPIRED, BATCH)?;
    find_similar_for_new(conn)?;
    Ok(done)
}

/// New consultations whose similar ones are looked for per sweep, so their
/// pages open without searching.
const SIMILAR_PER_SWEEP: i64 = 20;

fn find_similar_for_new(conn: &mut DbConn) -> Result<(), Error> {
    for id in search::without_similar(conn, SIMILAR_PER_SWEEP)? {
        if let Some(c) = consultations::find(conn, id)? {
            find_and_keep(conn, &c)?;
        }
    }
    Ok(())
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

/// The background thread's work: deliver the outbox continuously and sweep every
/// `sweep_every`.
pub struct Background {
    pub app: Arc<App>,
    pub pool: Pool,
    pub worker: Worker,
    pub sweep_every: StdDuration,
    /// The pause between rounds when there is nothing to send.
    pub poll: StdDuration,
}

impl Background {
    /// Runs until `stop` is set: the outbox lanes deliver on their own threads
    /// (each finishing the message it is sending) while this one sweeps.
    pub fn run(&self, stop: &AtomicBool) {
        std::thread::scope(|scope| {
            scope.spawn(|| self.worker.run(stop, self.poll));
            while !stop.load(Ordering::SeqCst) {
                if let Err(e) = self.sweep() {
                    log::warn!("SLA sweep failed: {e}");
                }
                let next = Instant::now() + self.sweep_every;
                while !stop.load(Ordering::SeqCst) && Instant::now() < next {
                    std::thread::sleep(StdDuration::from_millis(100).min(self.sweep_every));
                }
            }
        });
    }

    /// One sweep on a pooled connection.
    pub fn sweep(&self) -> Result<usize, Error> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        sweep(&self.app, &mut conn)
    }
}
