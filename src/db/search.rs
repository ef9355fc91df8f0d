//! The bigram search index of each backend (see `domain::search`): kept in step by
//! the writes that change a consultation's text, in their own transaction, and
//! queried by the consultation list.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::consultations::{self, Scope};
use super::{comments, DbConn};
use crate::domain::search::{grams, Query};

/// Rewrites the index entry of one consultation from its current text.
pub fn index(conn: &mut DbConn, consultation_id: i64) -> QueryResult<()> {
    let Some(c) = consultations::find(conn, consultation_id)? else {
        return Ok(());
    };
    let notes = comments::for_consultation(conn, consultation_id, true)?;
    write_entry(conn, &c, &notes)
}

/// The index entry of a consultation just filed (it has no comments yet).
pub fn index_new(conn: &mut DbConn, c: &consultations::Consultation) -> QueryResult<()> {
    write_entry(conn, c, &[])
}

fn write_entry(
    conn: &mut DbConn,
    c: &consultations::Consultation,
    notes: &[comments::Comment],
) -> QueryResult<()> {
    let consultation_id = c.id;
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

/// The texts of a new consultation's index entry, for a bulk load.
pub struct NewEntry<'a> {
    pub id: i64,
    pub title: &'a str,
    /// Body, resolution and public comments.
    pub public: Vec<&'a str>,
    /// Internal notes.
    pub staff: Vec<&'a str>,
}

/// Entries per statement (four parameters each).
const ENTRIES_PER_STATEMENT: usize = 200;

/// Writes the index entries of consultations that have none yet (an import), as
/// `index` would have written each, in statements of many rows.
pub fn index_many(conn: &mut DbConn, entries: &[NewEntry]) -> QueryResult<()> {
    for chunk in entries.chunks(ENTRIES_PER_STATEMENT) {
        let texts: Vec<(i64, String, String, String)> = chunk
            .iter()
            .map(|e| {
                (
                    e.id,
                    grams(e.title),
                    grams(&e.public.join("\n")),
                    grams(&e.staff.join("\n")),
                )
            })
            .collect();
        macro_rules! insert {
            ($conn:expr, $head:expr, $row:expr) => {{
                let rows: Vec<String> = (0..texts.len()).map(|i| $row(i * 4)).collect();
                let mut query =
                    diesel::sql_query(format!("{}{}", $head, rows.join(", "))).into_boxed();
                for (id, title, public, staff) in &texts {
                    query = query
                        .bind::<BigInt, _>(*id)
                        .bind::<Text, _>(title.clone())
                        .bind::<Text, _>(public.clone())
                        .bind::<Text, _>(staff.clone());
                }
                query.execute($conn)?
            }};
        }
        match conn {
            DbConn::Sqlite(c) => insert!(
                c,
                "INSERT INTO search_fts (rowid, title, body, staff) VALUES ",
                |_| "(?, ?, ?, ?)".to_string()
            ),
            DbConn::Postgresql(c) => insert!(
                c,
                "INSERT INTO search_documents (consultation_id, title_tsv, public_tsv, staff_tsv) VALUES ",
                |n: usize| format!(
                    "(${}, to_tsvector('simple', ${}), to_tsvector('simple', ${}) || to_tsvector('simple', ${}), to_tsvector('simple', ${}))",
                    n + 1, n + 2, n + 2, n + 3, n + 4
                )
            ),
        };
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

/// Which matches a condition takes: the relevance order shows title matches first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Every part of the query is in the title.
    InTitle,
    /// A match, but not in the title alone.
    Elsewhere,
    /// Any match.
    Any,
}

/// Which part of the index a condition reads: ids below `below`, and how far.
pub struct Window {
    pub below: Option<i64>,
    pub reach: Reach,
}

pub enum Reach {
    /// About the `n` newest matches, so a page stops early instead of reading every match.
    Newest(i64),
    /// Every match.
    All,
    /// Every match, looked up row by row for the rows the list's other filters
    /// leave: quicker on PostgreSQL when those narrow the list to a few departments.
    /// SQLite reads every match from its index either way.
    EachListedRow,
}

impl Window {
    fn below_sql(&self, id: &str) -> String {
        self.below
            .map(|below| format!(" AND {id} < {below}"))
            .unwrap_or_default()
    }
}

/// PostgreSQL cannot read a GIN index in id order, and it estimates a bigram phrase
/// as far rarer than it is (then reads every match), so a window there reads this
/// many of the newest documents per wanted match and checks each; a query too rare
/// to fill a page from them falls back to the whole index, which is cheap because it
/// is rare.
const POSTGRES_DOCUMENTS_PER_MATCH: i64 = 25;

/// The SQL condition "this consultation matches" in the given tier, for the list
/// query; `include_staff` lets internal notes match. `None` when the query has no
/// bigram to look up.
pub fn matches(
    conn: &DbConn,
    query: &Query,
    tier: Tier,
    include_staff: bool,
    window: &Window,
) -> Option<Condition> {
    match conn {
        DbConn::Sqlite(_) => {
            let everywhere = if include_staff {
                "title body staff"
            } else {
                "title body"
            };
            let expr = match tier {
                Tier::InTitle => query.fts5("title")?,
                Tier::Elsewhere => {
                    format!("{} NOT {}", query.fts5(everywhere)?, query.fts5("title")?)
                }
                Tier::Any => query.fts5(everywhere)?,
            };
            Some(Box::new(
                sql::<Bool>(
                    "consultations.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ",
                )
                .bind::<Text, _>(expr)
                .sql(&format!(
                    "{}{})",
                    window.below_sql("rowid"),
                    match window.reach {
                        Reach::Newest(n) => format!(" ORDER BY rowid DESC LIMIT {n}"),
                        Reach::All | Reach::EachListedRow => String::new(),
                    }
                )),
            ))
        }
        DbConn::Postgresql(_) => {
            let everywhere = if include_staff {
                "(public_tsv @@ q OR staff_tsv @@ q)"
            } else {
                "public_tsv @@ q"
            };
            let condition = match tier {
                Tier::InTitle => "title_tsv @@ q".to_string(),
                Tier::Elsewhere => format!("{everywhere} AND NOT title_tsv @@ q"),
                Tier::Any => everywhere.to_string(),
            };
            let expr = query.tsquery()?;
            let below = window.below_sql("consultation_id");
            let (head, tail) = match window.reach {
                Reach::Newest(n) => (
                    format!(
                        "consultations.id IN (SELECT consultation_id FROM \
                         (SELECT * FROM search_documents WHERE true{below} \
                          ORDER BY consultation_id DESC LIMIT {}) AS d, to_tsquery('simple', ",
                        n * POSTGRES_DOCUMENTS_PER_MATCH
                    ),
                    format!(") AS q WHERE {condition})"),
                ),
                Reach::All => (
                    "consultations.id IN (SELECT consultation_id FROM search_documents AS d, \
                     to_tsquery('simple', "
                        .to_string(),
                    format!(") AS q WHERE {condition}{below})"),
                ),
                Reach::EachListedRow => (
                    format!(
                        "(SELECT {condition} FROM search_documents AS d, to_tsquery('simple', "
                    ),
                    ") AS q WHERE d.consultation_id = consultations.id)".to_string(),
                ),
            };
            Some(Box::new(
                sql::<Bool>(&head).bind::<Text, _>(expr).sql(&tail),
            ))
        }
    }
}

/// Postings a similar-search reads per bigram, newest first: a bigram with fewer
/// is rare enough to tell consultations apart.
pub const SIMILAR_PER_TERM: i64 = 200;
/// Postings of a bigram looked through for a caller who sees only some departments.
const SCOPED_WINDOW: i64 = 2_000;

/// How long PostgreSQL may spend on one bigram's postings before it gives up
/// (SQLite's are bounded by reading its index in order).
const POSTINGS_TIMEOUT_MS: u32 = 100;

/// The newest consultations within `scope` whose title or public text has the
/// bigram `term`, at most `limit`; `None` when the database gave up on it. The
/// index is read newest first and stops early, so a common bigram costs its first
/// postings, not all of them.
pub fn postings(
    conn: &mut DbConn,
    term: &str,
    scope: &Scope,
    limit: i64,
) -> QueryResult<Option<Vec<i64>>> {
    let within = match scope {
        Scope::All => None,
        Scope::Departments(ids) if ids.is_empty() => return Ok(Some(vec![])),
        Scope::Departments(ids) => {
            Some(ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
        }
    };
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let hits: Vec<Hit> = match conn {
        DbConn::Sqlite(conn) => {
            let newest =
                "SELECT rowid AS id FROM search_fts WHERE search_fts MATCH ? ORDER BY rowid DESC";
            let sql = match &within {
                None => format!("{newest} LIMIT ?"),
                Some(ids) => format!(
                    "SELECT p.id AS id FROM ({newest} LIMIT {SCOPED_WINDOW}) AS p \
                     JOIN consultations c ON c.id = p.id WHERE c.department_id IN ({ids}) \
                     ORDER BY p.id DESC LIMIT ?"
                ),
            };
            diesel::sql_query(sql)
                .bind::<Text, _>(format!("{{title body}} : \"{term}\""))
                .bind::<BigInt, _>(limit)
                .load(conn)?
        }
        DbConn::Postgresql(conn) => {
            let newest = "SELECT consultation_id AS id FROM search_documents \
                          WHERE public_tsv @@ to_tsquery('simple', $1) ORDER BY consultation_id DESC";
            let sql = match &within {
                None => format!("{newest} LIMIT $2"),
                Some(ids) => format!(
                    "SELECT p.id AS id FROM ({newest} LIMIT {SCOPED_WINDOW}) AS p \
                     JOIN consultations c ON c.id = p.id WHERE c.department_id IN ({ids}) \
                     ORDER BY p.id DESC LIMIT $2"
                ),
            };
            let found = conn.transaction(|conn| {
                diesel::sql_query(format!(
                    "SET LOCAL statement_timeout = {POSTINGS_TIMEOUT_MS}"
                ))
                .execute(conn)?;
                diesel::sql_query(sql)
                    .bind::<Text, _>(format!("'{term}'"))
                    .bind::<BigInt, _>(limit)
                    .load(conn)
            });
            match found {
                Ok(hits) => hits,
                Err(e) if super::is_statement_timeout(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(Some(hits.into_iter().map(|h| h.id).collect()))
}

/// About how many documents the index holds (the newest id), to weigh a bigram by
/// how rare it is.
pub fn documents(conn: &mut DbConn) -> QueryResult<i64> {
    use super::schema::consultations::dsl as c;
    Ok(c::consultations
        .select(diesel::dsl::max(c::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// The consultations found like one before, best first, if they were.
pub fn cached_similar(conn: &mut DbConn, consultation_id: i64) -> QueryResult<Option<Vec<i64>>> {
    use super::schema::similar_cache::dsl as s;
    let ids: Option<String> = s::similar_cache
        .find(consultation_id)
        .select(s::similar_ids)
        .first(conn)
        .optional()?;
    Ok(ids.map(|ids| ids.split(',').filter_map(|id| id.parse().ok()).collect()))
}

/// Keeps what was found like a consultation (the first to store it wins).
pub fn cache_similar(
    conn: &mut DbConn,
    consultation_id: i64,
    ids: &[i64],
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    use super::schema::similar_cache::dsl as s;
    let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let stored = diesel::insert_into(s::similar_cache)
        .values((
            s::consultation_id.eq(consultation_id),
            s::similar_ids.eq(ids),
            s::computed_at.eq(now),
        ))
        .execute(conn);
    match stored {
        Err(e) if super::is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Forgets what was found like a consultation (its text changed).
pub fn forget_similar(conn: &mut DbConn, consultation_id: i64) -> QueryResult<()> {
    use super::schema::similar_cache::dsl as s;
    diesel::delete(s::similar_cache.find(consultation_id)).execute(conn)?;
    Ok(())
}

/// Open consultations nobody has looked for similar ones of yet, newest first.
pub fn without_similar(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<i64>> {
    use super::schema::consultations::dsl as c;
    use super::schema::similar_cache::dsl as s;
    c::consultations
        .filter(c::state.eq_any([
            crate::domain::State::Received,
            crate::domain::State::Hearing,
        ]))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            s::similar_cache.filter(s::consultation_id.eq(c::id)),
        )))
        .order(c::id.desc())
        .limit(limit)
        .select(c::id)
        .load(conn)
}
