//! The bigram search index of each backend (see `domain::search`): kept in step by
//! the writes that change a consultation's text, in their own transaction, and
//! queried by the consultation list.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::consultations::{self};
use super::{comments, DbConn};
use crate::domain::search::{grams, Query};

/// Rewrites the index entry of one consultation from its current text.
pub fn index(conn: &mut DbConn, consultation_id: i64) -> QueryResult<()> {
    let Some(c) = consultations::find(conn, consultation_id)? else {
        return Ok(());
    };
    let notes = comments::for_consultation(conn, consultation_id, true)?;
    let mut public = vec![c.body.as_str()];
    public.extend(c.resolution.as_deref());
    public.extend(
        notes
            .iter()
            .filter(|n| !n.internal)
            .map(|n| n.body.as_str()),
    );
    let staff: Vec<&str> = notes
        .iter()
        .filter(|n| n.internal)
        .map(|n| n.body.as_str())
        .collect();
    let (title, body, staff) = (
        grams(&c.title),
        grams(&public.join("\n")),
        grams(&staff.join("\n")),
    );
    match conn {
        DbConn::Sqlite(conn) => {
            diesel::sql_query("DELETE FROM search_fts WHERE rowid = ?")
                .bind::<BigInt, _>(consultation_id)
                .execute(conn)?;
            diesel::sql_query(
                "INSERT INTO search_fts (rowid, title, body, staff) VALUES (?, ?, ?, ?)",
            )
            .bind::<BigInt, _>(consultation_id)
            .bind::<Text, _>(title)
            .bind::<Text, _>(body)
            .bind::<Text, _>(staff)
            .execute(conn)?;
        }
        DbConn::Postgresql(conn) => {
            diesel::sql_query(
                "INSERT INTO search_documents (consultation_id, title_tsv, public_tsv, staff_tsv) \
                 VALUES ($1, to_tsvector('simple', $2), to_tsvector('simple', $2) || to_tsvector('simple', $3), \
                         to_tsvector('simple', $4)) \
                 ON CONFLICT (consultation_id) DO UPDATE SET title_tsv = EXCLUDED.title_tsv, \
                   public_tsv = EXCLUDED.public_tsv, staff_tsv = EXCLUDED.staff_tsv",
            )
            .bind::<BigInt, _>(consultation_id)
            .bind::<Text, _>(title)
            .bind::<Text, _>(body)
            .bind::<Text, _>(staff)
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Rebuilds the whole index (`digicon reindex`), a batch per transaction. Returns
/// how many consultations were indexed.
pub fn rebuild(conn: &mut DbConn, batch: i64) -> QueryResult<usize> {
    use super::schema::consultations::dsl as c;
    let mut after = 0i64;
    let mut done = 0;
    loop {
        let ids: Vec<i64> = c::consultations
            .filter(c::id.gt(after))
            .order(c::id.asc())
            .limit(batch)
            .select(c::id)
            .load(conn)?;
        let Some(last) = ids.last().copied() else {
            return Ok(done);
        };
        conn.transaction(|conn| ids.iter().try_for_each(|id| index(conn, *id)))?;
        done += ids.len();
        after = last;
    }
}

/// A condition on the consultations table, boxed for either backend.
pub type Condition = Box<
    dyn BoxableExpression<
        super::schema::consultations::table,
        <DbConn as Connection>::Backend,
        SqlType = Bool,
    >,
>;

/// The SQL condition "this consultation matches", for the list query. `columns`
/// chooses what is searched: the title only, or everything the caller may read.
pub fn matches(
    conn: &DbConn,
    query: &Query,
    title_only: bool,
    include_staff: bool,
) -> Option<Condition> {
    match conn {
        DbConn::Sqlite(_) => {
            let columns = match (title_only, include_staff) {
                (true, _) => "title",
                (false, true) => "title body staff",
                (false, false) => "title body",
            };
            let expr = query.fts5(columns)?;
            Some(Box::new(
                sql::<Bool>(
                    "consultations.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ",
                )
                .bind::<Text, _>(expr)
                .sql(")"),
            ))
        }
        DbConn::Postgresql(_) => {
            let condition = match (title_only, include_staff) {
                (true, _) => "title_tsv @@ q",
                (false, true) => "(public_tsv @@ q OR staff_tsv @@ q)",
                (false, false) => "public_tsv @@ q",
            };
            let expr = query.tsquery()?;
            Some(Box::new(
                sql::<Bool>("consultations.id IN (SELECT consultation_id FROM search_documents, to_tsquery('simple', ")
                    .bind::<Text, _>(expr)
                    .sql(&format!(") AS q WHERE {condition})")),
            ))
        }
    }
}
