//! Writing the batches with the backend's own bulk writer, `sqlite` or `postgres`,
//! then recounting the dashboard's rollups once (kept row by row they would slow
//! the load for nothing).

use std::sync::mpsc;
use std::time::Instant;

use chrono_tz::Tz;

use crate::db::{stats, DbConn};

use super::rows::Batch;
use super::{postgres, sqlite, GenerateError};

/// Writes batches as they come and hands each back on `spent` to be freed on the
/// producer's thread. Returns the number of events.
pub(super) fn write_batches(
    conn: &mut DbConn,
    url: &str,
    zone: &Tz,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    let written = match conn {
        DbConn::Sqlite(c) => sqlite::write(c, rx, spent),
        DbConn::Postgresql(c) => postgres::write(c, url, rx, spent),
    };
    // Recount even after a failure: the rows written so far stay.
    let started = Instant::now();
    let counted = stats::rebuild(conn, zone)?;
    log::info!(
        "dashboard rollups of {counted} consultations counted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    written
}
