//! The PostgreSQL writer: binary `COPY` of each batch, over several connections at
//! once, because on PostgreSQL the server's own work (indexes, `to_tsvector`, GIN)
//! is the bottleneck and runs in parallel across connections.

use std::sync::mpsc;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::db::schema::{consultation_events, consultations};

use super::rows::Batch;
use super::GenerateError;

/// PostgreSQL does the heavy work of a load in its backend (index maintenance,
/// `to_tsvector`, GIN), so batches are written over this many connections at once.
/// Batches are independent: nothing in one refers to a row of another that may not
/// be committed yet (see `Producer::run`).
const POSTGRES_WRITERS: usize = 2;

pub(super) fn write(
    c: &mut PgConnection,
    url: &str,
    rx: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    let rx = std::sync::Mutex::new(Some(rx));
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..POSTGRES_WRITERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut own = PgConnection::establish(url)
                        .map_err(|e| GenerateError::Failed(format!("cannot connect: {e}")))?;
                    writer(&mut own, &rx, &spent)
                })
            })
            .collect();
        let mut events = writer(c, &rx, &spent);
        for helper in helpers {
            let written = helper
                .join()
                .map_err(|_| GenerateError::Failed("a writer thread panicked".into()))
                .and_then(|r| r);
            events = match (events, written) {
                (Ok(a), Ok(b)) => Ok(a + b),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        events
    })
}

/// Takes batches from the shared receiver until it is closed, one transaction each.
fn writer(
    c: &mut PgConnection,
    rx: &std::sync::Mutex<Option<mpsc::Receiver<Batch>>>,
    spent: &mpsc::Sender<Batch>,
) -> Result<usize, GenerateError> {
    // Losing the last commits in a crash is acceptable for generated data.
    c.batch_execute("SET synchronous_commit = off;")?;
    let mut events = 0;
    let result = (|| {
        loop {
            let next = match rx.lock() {
                Ok(rx) => rx.as_ref().map(|rx| rx.recv()),
                Err(_) => break,
            };
            let Some(Ok(batch)) = next else { break };
            events += batch.events.len();
            c.transaction::<_, diesel::result::Error, _>(|c| write_batch(c, &batch))?;
            let _ = spent.send(batch);
        }
        Ok::<_, diesel::result::Error>(())
    })();
    if result.is_err() {
        // Close the channel: the other writers stop, and the producer at its next batch.
        if let Ok(mut rx) = rx.lock() {
            rx.take();
        }
    }
    c.batch_execute("SET synchronous_commit = on;")?;
    result?;
    Ok(events)
}

fn write_batch(c: &mut PgConnection, batch: &Batch) -> QueryResult<()> {
    diesel::copy_from(consultations::table)
        .from_insertable(&batch.consultations)
        .execute(c)?;
    diesel::copy_from(consultation_events::table)
        .from_insertable(&batch.events)
        .execute(c)?;
    if !batch.search.is_empty() {
        // The same expressions as `db::search::index`.
        diesel::sql_query(
            "INSERT INTO search_documents (consultation_id, title_tsv, public_tsv, staff_tsv) \
             SELECT u.id, to_tsvector('simple', u.t), \
                    to_tsvector('simple', u.t) || to_tsvector('simple', u.p), \
                    to_tsvector('simple', '') \
             FROM unnest($1, $2, $3) AS u(id, t, p)",
        )
        .bind::<Array<BigInt>, _>(batch.search.iter().map(|d| d.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            batch
                .search
                .iter()
                .map(|d| d.title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            batch
                .search
                .iter()
                .map(|d| d.public.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(c)?;
    }
    Ok(())
}
