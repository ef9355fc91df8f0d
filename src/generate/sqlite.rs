//! The SQLite writer. SQLite has one writer at a time, so this thread is the
//! bottleneck of a SQLite load and everything here is about doing less per row:
//! multi-row `INSERT`s of a fixed size, prepared once and re-bound, on the inner
//! connection; transactions of several batches (FTS5 writes an index segment per
//! commit); `synchronous = OFF` and no foreign-key checks during the load.

use std::sync::mpsc;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;

use crate::db::schema::{consultation_events, consultations};

use super::rows::Batch;
use super::GenerateError;

/// Batches per SQLite transaction. FTS5 writes a new index segment at every commit,
/// so commits are grouped (the data itself would be as fast in smaller ones).
const SQLITE_BATCHES_PER_COMMIT: usize = 5;

/// FTS5 settings for a bulk load: no incremental merging (one `optimize` at the end
/// instead) and a pending-terms buffer big enough for a whole transaction.
const FTS_BULK: &str = "INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 0); \
     INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 268435456);";
/// FTS5's defaults, put back afterwards.
const FTS_DEFAULTS: &str = "INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 4); \
     INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 1048576);";

pub(super) fn write(
    c: &mut SqliteConnection,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    // Foreign keys are off for the reason `insert_prepared` gives; synchronous = OFF
    // risks the file only if the machine itself fails during the load.
    c.batch_execute(
        "PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
    )?;
    let mut events = 0;
    let mut searched = false;
    let started = Instant::now();
    let result = (|| {
        let mut open = 0;
        for batch in rx.iter() {
            if open == 0 {
                c.batch_execute("BEGIN IMMEDIATE")?;
            }
            if !batch.search.is_empty() && !searched {
                searched = true;
                c.batch_execute(FTS_BULK)?;
            }
            events += batch.events.len();
            write_batch(c, &batch)?;
            open += 1;
            if open == SQLITE_BATCHES_PER_COMMIT {
                c.batch_execute("COMMIT")?;
                open = 0;
            }
            let _ = spent.send(batch);
        }
        if open > 0 {
            c.batch_execute("COMMIT")?;
        }
        log::info!(
            "rows written after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if searched {
            let merging = Instant::now();
            c.batch_execute("INSERT INTO search_fts (search_fts) VALUES ('optimize');")?;
            log::info!(
                "search index merged in {:.1} s",
                merging.elapsed().as_secs_f64()
            );
        }
        Ok::<_, diesel::result::Error>(())
    })();
    if result.is_err() {
        // Dropping the receiver (on return) stops the producer at its next batch.
        let _ = c.batch_execute("ROLLBACK");
    }
    let restored = c.batch_execute(if searched { FTS_DEFAULTS } else { "" });
    c.batch_execute(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -2000; \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    result?;
    restored?;
    Ok(events)
}

fn write_batch(c: &mut SqliteConnection, batch: &Batch) -> QueryResult<()> {
    insert_prepared::<_, SQLITE_CONSULTATIONS>(
        c,
        &batch.consultations,
        |c, rows| {
            diesel::insert_or_ignore_into(consultations::table)
                .values(rows)
                .execute(c)
        },
        |c, rows| {
            diesel::insert_or_ignore_into(consultations::table)
                .values(rows)
                .execute(c)
        },
    )?;
    insert_prepared::<_, SQLITE_EVENTS>(
        c,
        &batch.events,
        |c, rows| {
            diesel::insert_or_ignore_into(consultation_events::table)
                .values(rows)
                .execute(c)
        },
        |c, rows| {
            diesel::insert_or_ignore_into(consultation_events::table)
                .values(rows)
                .execute(c)
        },
    )?;
    for chunk in batch.search.chunks(SQLITE_SEARCH) {
        let mut sql = String::from("INSERT INTO search_fts (rowid, title, body, staff) VALUES ");
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, '')"
            } else {
                ", (?, ?, ?, '')"
            });
        }
        let mut query = diesel::sql_query(sql).into_boxed::<Sqlite>();
        for d in chunk {
            query = query
                .bind::<BigInt, _>(d.id)
                .bind::<Text, _>(&d.title)
                .bind::<Text, _>(&d.public);
        }
        query.execute(c)?;
    }
    Ok(())
}

/// Rows per SQLite statement: fixed, so that diesel prepares each statement once and
/// only binds new values (SQLite allows 32,766 parameters per statement).
const SQLITE_CONSULTATIONS: usize = 250;
const SQLITE_EVENTS: usize = 1000;
const SQLITE_SEARCH: usize = 200;

/// Inserts `rows` in statements of exactly `N` rows (prepared once and cached), and
/// the remainder in one last statement.
///
/// The statements are `INSERT OR IGNORE` and foreign keys are not enforced during
/// the load: a multi-row `INSERT` that may abort makes SQLite copy every page it
/// touches into a statement journal, which costs a third of the load. The rows are
/// consistent by construction, and a row a constraint would have refused is not
/// silently lost: each statement must report all its rows inserted.
fn insert_prepared<T, const N: usize>(
    c: &mut SqliteConnection,
    rows: &[T],
    full: impl Fn(&mut SqliteConnection, &[T; N]) -> QueryResult<usize>,
    rest: impl Fn(&mut SqliteConnection, &[T]) -> QueryResult<usize>,
) -> QueryResult<()> {
    let check = |inserted: usize, expected: usize| {
        if inserted == expected {
            Ok(())
        } else {
            Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "a constraint refused {} generated rows",
                    expected - inserted
                )
                .into(),
            ))
        }
    };
    let mut chunks = rows.chunks_exact(N);
    for chunk in &mut chunks {
        if let Ok(array) = <&[T; N]>::try_from(chunk) {
            check(full(c, array)?, N)?;
        }
    }
    let remainder = chunks.remainder();
    if !remainder.is_empty() {
        check(rest(c, remainder)?, remainder.len())?;
    }
    Ok(())
}
