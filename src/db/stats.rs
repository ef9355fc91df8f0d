//! The dashboard's rollups (`domain::rollup`): stored, changed by increments in
//! the transaction of each consultation's change, read summed, and rebuilt from
//! the consultations by `digicon reindex` (and after a bulk load).

use std::collections::{BTreeSet, HashMap};

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use super::consultations::Consultation;
use super::schema::{consultation_stats, consultations};
use super::DbConn;
use crate::domain::rollup::{Counted, Facts, WHOLE};
use crate::reports::dashboard::Stat;

type Row = (i32, i64, String, String, i64, i64);

fn stat((fiscal_year, division_id, measure, key, n, total): Row) -> Stat {
    Stat {
        fiscal_year,
        division_id,
        measure,
        key,
        n,
        total,
    }
}

/// The facts as rows, for a scope counted on the spot.
pub fn as_stats(facts: Facts) -> Vec<Stat> {
    facts
        .0
        .into_iter()
        .map(
            |((fiscal_year, division_id, measure, key), (n, total))| Stat {
                fiscal_year,
                division_id,
                measure: measure.to_string(),
                key,
                n,
                total,
            },
        )
        .collect()
}

/// The columns the rollups count, read without the texts (a recount reads them all).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultations)]
struct CountedRow {
    id: i64,
    department_id: i64,
    fiscal_year: i32,
    created_at: chrono::NaiveDateTime,
    category: crate::domain::Category,
    state: crate::domain::State,
    assignee_id: Option<i64>,
    hearing_at: Option<chrono::NaiveDateTime>,
    assigned_at: Option<chrono::NaiveDateTime>,
    resolved_at: Option<chrono::NaiveDateTime>,
    closed_at: Option<chrono::NaiveDateTime>,
    resolution_due_at: Option<chrono::NaiveDateTime>,
    rating: Option<i16>,
    reopen_count: i32,
}

impl CountedRow {
    fn counted(self, division_id: i64) -> Counted {
        Counted {
            division_id,
            fiscal_year: self.fiscal_year,
            created_at: self.created_at,
            category: self.category,
            state: self.state,
            assignee_id: self.assignee_id,
            hearing_at: self.hearing_at,
            assigned_at: self.assigned_at,
            resolved_at: self.resolved_at,
            closed_at: self.closed_at,
            resolution_due_at: self.resolution_due_at,
            rating: self.rating,
            reopen_count: self.reopen_count,
        }
    }
}

/// What the rollups count of a consultation, in its division.
pub fn counted(c: &Consultation, division_id: i64) -> Counted {
    Counted {
        division_id,
        fiscal_year: c.fiscal_year,
        created_at: c.created_at,
        category: c.category,
        state: c.state,
        assignee_id: c.assignee_id,
        hearing_at: c.hearing_at,
        assigned_at: c.assigned_at,
        resolved_at: c.resolved_at,
        closed_at: c.closed_at,
        resolution_due_at: c.resolution_due_at,
        rating: c.rating,
        reopen_count: c.reopen_count,
    }
}

/// Adds the facts' counts to the stored rows (negative counts take away), in
/// statements of many rows: a filing changes about fifteen.
pub fn add(conn: &mut DbConn, facts: &Facts) -> QueryResult<()> {
    let rows: Vec<_> = facts.0.iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let placeholders = |numbered: bool| {
            (0..chunk.len())
                .map(|i| {
                    if numbered {
                        let n = i * 6;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${})",
                            n + 1,
                            n + 2,
                            n + 3,
                            n + 4,
                            n + 5,
                            n + 6
                        )
                    } else {
                        "(?, ?, ?, ?, ?, ?)".to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = |values: String| {
            format!(
                "INSERT INTO consultation_stats (fiscal_year, division_id, measure, key, n, total) \
                 VALUES {values} ON CONFLICT (fiscal_year, division_id, measure, key) DO UPDATE \
                 SET n = consultation_stats.n + excluded.n, total = consultation_stats.total + excluded.total"
            )
        };
        macro_rules! upsert {
            ($conn:expr, $numbered:expr) => {{
                let mut query = diesel::sql_query(sql(placeholders($numbered))).into_boxed();
                for ((year, division, measure, key), (n, total)) in chunk {
                    query = query
                        .bind::<Integer, _>(*year)
                        .bind::<BigInt, _>(*division)
                        .bind::<Text, _>(*measure)
                        .bind::<Text, _>(key.clone())
                        .bind::<BigInt, _>(*n)
                        .bind::<BigInt, _>(*total);
                }
                query.execute($conn)?
            }};
        }
        match conn {
            DbConn::Sqlite(c) => upsert!(c, false),
            DbConn::Postgresql(c) => upsert!(c, true),
        };
    }
    Ok(())
}

/// Rows of one upsert: six parameters each, well under SQLite's limit.
const ROWS_PER_STATEMENT: usize = 100;

/// The rows of some fiscal years: of the whole organisation (`None`) or of some
/// divisions.
pub fn read(conn: &mut DbConn, years: &[i32], divisions: Option<&[i64]>) -> QueryResult<Vec<Stat>> {
    use consultation_stats::dsl as s;
    let mut query = s::consultation_stats
        .filter(s::fiscal_year.eq_any(years.to_vec()))
        .select((
            s::fiscal_year,
            s::division_id,
            s::measure,
            s::key,
            s::n,
            s::total,
        ))
        .into_boxed();
    query = match divisions {
        None => query.filter(s::division_id.eq(WHOLE)),
        Some(ids) => query.filter(s::division_id.eq_any(ids.to_vec())),
    };
    Ok(query.load::<Row>(conn)?.into_iter().map(stat).collect())
}

/// The rows of some fiscal years for every division, of some measures (the
/// table of divisions).
pub fn by_division(conn: &mut DbConn, years: &[i32], measures: &[&str]) -> QueryResult<Vec<Stat>> {
    use consultation_stats::dsl as s;
    Ok(s::consultation_stats
        .filter(s::fiscal_year.eq_any(years.to_vec()))
        .filter(s::measure.eq_any(measures.to_vec()))
        .filter(s::division_id.ne(WHOLE))
        .select((
            s::fiscal_year,
            s::division_id,
            s::measure,
            s::key,
            s::n,
            s::total,
        ))
        .load::<Row>(conn)?
        .into_iter()
        .map(stat)
        .collect())
}

/// The division of every department: itself, or the nearest unit above a section.
pub fn divisions(conn: &mut DbConn) -> QueryResult<HashMap<i64, i64>> {
    Ok(crate::reports::dashboard::divisions(
        &super::dashboard::units(conn)?,
    ))
}

/// Recounts every rollup from the consultations, inquiries and deflections, a
/// batch at a time, in one transaction. Returns how many consultations were
/// counted.
pub fn rebuild(conn: &mut DbConn, zone: &Tz) -> QueryResult<usize> {
    let division_of = divisions(conn)?;
    conn.transaction(|conn| {
        diesel::delete(consultation_stats::table).execute(conn)?;
        recount(conn, zone, &division_of, None)
    })
}

/// Recounts the rows of some divisions only, after a reorganisation moved
/// departments or tickets between them: the whole organisation's rows stay as
/// they are, since every ticket is still counted once. Runs in the caller's
/// transaction; returns how many consultations were counted.
pub fn recount_divisions(
    conn: &mut DbConn,
    zone: &Tz,
    affected: &BTreeSet<i64>,
) -> QueryResult<usize> {
    if affected.is_empty() {
        return Ok(0);
    }
    let division_of = divisions(conn)?;
    let ids: Vec<i64> = affected.iter().copied().collect();
    diesel::delete(consultation_stats::table.filter(consultation_stats::division_id.eq_any(ids)))
        .execute(conn)?;
    recount(conn, zone, &division_of, Some(affected))
}

/// Adds the facts of every consultation, inquiry and deflection, or with `only`
/// those counted under these divisions, and then only to their rows.
fn recount(
    conn: &mut DbConn,
    zone: &Tz,
    division_of: &HashMap<i64, i64>,
    only: Option<&BTreeSet<i64>>,
) -> QueryResult<usize> {
    let division = |department: i64| division_of.get(&department).copied().unwrap_or(department);
    // The departments whose consultations count under the divisions.
    let members: Option<Vec<i64>> = only.map(|divisions| {
        let mut members: BTreeSet<i64> = divisions.clone();
        members.extend(
            division_of
                .keys()
                .filter(|d| divisions.contains(&division(**d))),
        );
        members.into_iter().collect()
    });
    let mut all = Facts::default();
    let mut after = 0i64;
    let mut counted_rows = 0;
    loop {
        let mut query = consultations::table
            .filter(consultations::id.gt(after))
            .order(consultations::id.asc())
            .limit(10_000)
            .select(CountedRow::as_select())
            .into_boxed();
        if let Some(members) = &members {
            query = query.filter(consultations::department_id.eq_any(members.clone()));
        }
        let batch: Vec<CountedRow> = query.load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        counted_rows += batch.len();
        for row in batch {
            let at = division(row.department_id);
            let counted = row.counted(at);
            all.merge(Facts::of(&counted, zone));
        }
    }
    let only_ids: Option<Vec<i64>> = only.map(|d| d.iter().copied().collect());
    inquiry_facts_after(conn, zone, 0, only_ids.as_deref(), &mut all)?;
    deflection_facts_of(conn, zone, &division, members.as_deref(), &mut all)?;
    if only.is_some() {
        all.0.retain(|(_, division, _, _), _| *division != WHOLE);
    }
    add(conn, &all)?;
    Ok(counted_rows)
}

/// Adds the facts of every deflection ("this solved it"), or of those by people
/// of some departments, under the division its user is in now.
fn deflection_facts_of(
    conn: &mut DbConn,
    zone: &Tz,
    division: &dyn Fn(i64) -> i64,
    departments: Option<&[i64]>,
    all: &mut Facts,
) -> QueryResult<()> {
    use super::schema::{deflections, users};
    use crate::domain::inquiry_rollup::deflection_facts;
    let mut after = 0i64;
    loop {
        let mut query = deflections::table
            .inner_join(users::table.on(users::id.eq(deflections::user_id)))
            .filter(deflections::id.gt(after))
            .order(deflections::id.asc())
            .limit(10_000)
            .select((
                deflections::id,
                deflections::created_at,
                users::department_id,
            ))
            .into_boxed();
        if let Some(departments) = departments {
            query = query.filter(users::department_id.eq_any(departments.to_vec()));
        }
        let batch: Vec<(i64, NaiveDateTime, i64)> = query.load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.0;
        for (_, at, department) in batch {
            let day = zone.from_utc_datetime(&at).date_naive();
            let year = crate::domain::fiscal::fiscal_year(day);
            all.merge(deflection_facts(year, division(department), at, zone));
        }
    }
    Ok(())
}

/// Adds the facts of the inquiries after `after_id` (all of them from 0: a
/// recount, after the rows were emptied; a bulk load's new ones otherwise).
pub fn add_inquiries(conn: &mut DbConn, zone: &Tz, after_id: i64) -> QueryResult<usize> {
    let mut all = Facts::default();
    let counted = inquiry_facts_after(conn, zone, after_id, None, &mut all)?;
    add(conn, &all)?;
    Ok(counted)
}

/// Collects the facts of the inquiries after `after_id`, or only of those
/// counted under some divisions (an inquiry counts under its department).
fn inquiry_facts_after(
    conn: &mut DbConn,
    zone: &Tz,
    after_id: i64,
    divisions: Option<&[i64]>,
    all: &mut Facts,
) -> QueryResult<usize> {
    use super::inquiries::Inquiry;
    use super::schema::inquiries;
    use crate::domain::inquiry_rollup::inquiry_facts;
    let mut after = after_id;
    let mut counted = 0;
    loop {
        let mut query = inquiries::table
            .filter(inquiries::id.gt(after))
            .order(inquiries::id.asc())
            .limit(10_000)
            .select(Inquiry::as_select())
            .into_boxed();
        if let Some(divisions) = divisions {
            query = query.filter(inquiries::department_id.eq_any(divisions.to_vec()));
        }
        let batch: Vec<Inquiry> = query.load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        counted += batch.len();
        for inquiry in batch {
            all.merge(inquiry_facts(&inquiry.counted(), zone));
        }
    }
    Ok(counted)
}
