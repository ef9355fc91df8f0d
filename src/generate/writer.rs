//! Writing the batches: the part common to both backends (the dashboard's indexes
//! are dropped for the load and rebuilt after it), then the backend's own bulk
//! writer, `sqlite` or `postgres`.

use std::sync::mpsc;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::DbConn;

use super::rows::Batch;
use super::{postgres, sqlite, GenerateError};

/// Writes batches as they come and hands each back on `spent` to be freed on the
/// producer's thread. Returns the number of events.
pub(super) fn write_batches(
    conn: &mut DbConn,
    url: &str,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    let saved = drop_stats_indexes(conn)?;
    let written = match conn {
        DbConn::Sqlite(c) => sqlite::write(c, rx, spent),
        DbConn::Postgresql(c) => postgres::write(c, url, rx, spent),
    };
    // Put back even after a failure: the rows written so far stay.
    let started = Instant::now();
    for definition in &saved {
        conn.batch_execute(definition)?;
    }
    log::info!(
        "dashboard indexes rebuilt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    written
}

/// The dashboard's covering indexes (migration `dashboard`). Kept up to date row by
/// row they cut the SQLite load from ~38k to ~14k consultations/s (their keys arrive
/// in random order); built once after the load they take a few seconds.
const STATS_INDEXES: [&str; 2] = ["consultations_filed_stats", "consultations_resolved_stats"];

#[derive(QueryableByName)]
struct IndexDefinition {
    #[diesel(sql_type = Text)]
    definition: String,
}

/// Drops the dashboard's indexes and returns the statements that create them again,
/// as the database itself states them (so the migration stays their only source).
fn drop_stats_indexes(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let names = STATS_INDEXES.map(|n| format!("'{n}'")).join(", ");
    let saved: Vec<IndexDefinition> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(format!(
            "SELECT sql AS definition FROM sqlite_master WHERE type = 'index' AND name IN ({names})"
        ))
        .load(c)?,
        DbConn::Postgresql(c) => diesel::sql_query(format!(
            "SELECT indexdef AS definition FROM pg_indexes WHERE indexname IN ({names})"
        ))
        .load(c)?,
    };
    for name in STATS_INDEXES {
        conn.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    Ok(saved.into_iter().map(|d| d.definition).collect())
}
