//! Search at scale: on a generated database (`digicon generate` fills the index),
//! how long 2- and 4-character Japanese queries take through
//! the list query the API runs, against the plain alternatives (a trigram index,
//! a LIKE scan), and how fast filing goes with the index kept in step.
//!
//! `scripts/bench-search.sh` generates the databases and runs this on both; by hand:
//! `DATABASE_URL=sqlite:///tmp/gen.db cargo bench --bench search`
//! (or a postgres:// URL). `RUNS` (default 21) sets the repetitions per query;
//! `PARTS` (default `queries,baselines,filing`) which parts run, `FILERS` (default 1)
//! how many connections file at once — the baselines
//! build a trigram index, which takes minutes at a million consultations.

use std::time::Instant;

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use digicon::app::{consultations::file_as, App};
use digicon::db::consultations::{self, ListQuery, Scope};
use digicon::db::{self, DbConn};
use digicon::domain::consultation::NewConsultationFields;
use digicon::domain::queue::Sort;
use digicon::domain::{Category, Priority};
use digicon::settings::Settings;
use digicon::startup::prepare_database;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = vec![];
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), last.expect("at least one run"))
}

fn list(conn: &mut DbConn, q: &str, scope: Scope) -> usize {
    let query = ListQuery {
        scope,
        states: vec![],
        assignee: None,
        departments: None,
        category: None,
        priority: None,
        overdue_at: None,
        text: Some(q.to_string()),
        include_staff_text: false,
        fiscal_year: None,
        sort: Sort::Relevance,
        limit: 50,
        after: None,
    };
    consultations::list(conn, &query).expect("list").0.len()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut DbConn, sql: &str, bind: &str) -> i64 {
    let rows: Vec<Count> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).bind::<Text, _>(bind).load(c),
        DbConn::Postgresql(c) => diesel::sql_query(sql).bind::<Text, _>(bind).load(c),
    }
    .expect("count");
    rows.first().map(|r| r.n).unwrap_or_default()
}

fn main() -> Result<(), String> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL to a generated database".to_string())?;
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(21);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut settings = Settings::defaults(dir.path());
    settings.database_url = url;
    let pool = prepare_database(&settings)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let postgres = matches!(*conn, DbConn::Postgresql(_));
    let total: i64 = db::schema::consultations::table
        .count()
        .get_result(&mut *conn)
        .map_err(|e| e.to_string())?;
    println!(
        "{} consultations on {}",
        total,
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    let parts = std::env::var("PARTS").unwrap_or_else(|_| "queries,baselines,filing".into());
    let one_division = db::schema::consultations::table
        .select(db::schema::consultations::department_id)
        .first::<i64>(&mut *conn)
        .map_err(|e| e.to_string())?;
    for q in ["申請", "会議", "電子申請", "受付業務"]
        .into_iter()
        .filter(|_| parts.contains("queries"))
    {
        let (ms, hits) = time(runs, || list(&mut conn, q, Scope::All));
        let (scoped_ms, scoped) = time(runs, || {
            list(&mut conn, q, Scope::Departments(vec![one_division]))
        });
        println!("bigram index  q={q:<6} whole city: median {ms:7.2} ms ({hits} shown)   one division: median {scoped_ms:7.2} ms ({scoped} shown)");
    }
    // The plain alternatives, for comparison.
    if !parts.contains("baselines") {
    } else if postgres {
        conn.batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm; \
             CREATE INDEX IF NOT EXISTS bench_trgm ON consultations USING GIN ((title || ' ' || body) gin_trgm_ops)",
        )
        .map_err(|e| e.to_string())?;
        for q in ["申請", "電子申請"] {
            let (ms, n) = time(3, || {
                count(
                    &mut conn,
                    "SELECT count(*) AS n FROM consultations WHERE (title || ' ' || body) ILIKE $1",
                    &format!("%{q}%"),
                )
            });
            println!("pg_trgm ILIKE q={q:<6} median {ms:9.2} ms, {n} matches (2 characters: no trigram, so no index use)");
        }
    } else {
        conn.batch_execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS bench_trigram USING fts5(text, tokenize = 'trigram'); \
             INSERT INTO bench_trigram (rowid, text) SELECT id, title || ' ' || body FROM consultations \
               WHERE NOT EXISTS (SELECT 1 FROM bench_trigram LIMIT 1)",
        )
        .map_err(|e| e.to_string())?;
        for q in ["申請", "電子申請"] {
            let (ms, n) = time(3, || {
                count(
                    &mut conn,
                    "SELECT count(*) AS n FROM bench_trigram WHERE bench_trigram MATCH ?",
                    &format!("\"{q}\""),
                )
            });
            let remark = if q.chars().count() < 3 {
                " (under 3 characters the trigram index silently finds nothing)"
            } else {
                ""
            };
            println!("FTS5 trigram  q={q:<6} median {ms:9.2} ms, {n} matches{remark}");
            let (ms, n) = time(3, || {
                count(
                    &mut conn,
                    "SELECT count(*) AS n FROM consultations WHERE title LIKE ? OR body LIKE ?",
                    &format!("%{q}%"),
                )
            });
            println!("LIKE scan     q={q:<6} median {ms:9.2} ms, {n} matches");
        }
    }
    // Filing with the index in place.
    if !parts.contains("filing") {
        return Ok(());
    }
    let app = App::new(&settings)?;
    let requester: i64 = db::schema::users::table
        .filter(db::schema::users::role.eq("requester"))
        .select(db::schema::users::id)
        .first(&mut *conn)
        .map_err(|e| e.to_string())?;
    // Several filers show what the database does with concurrent commits
    // (PostgreSQL groups them; SQLite takes one writer at a time).
    let filers: usize = std::env::var("FILERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let filings = 1000;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..filers)
            .map(|filer| {
                let (pool, app) = (&pool, &app);
                scope.spawn(move || -> Result<(), String> {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    for i in (filer..filings).step_by(filers) {
                        let fields = NewConsultationFields {
                            title: format!("電子申請の受付業務をデジタル化したい {i}"),
                            body: "紙の申請書を毎月300件手入力しています。会議録の作成にも時間がかかります。"
                                .repeat(3),
                            category: Category::EApplication,
                            priority: Priority::Normal,
                            department_id: Some(one_division),
                            desired_by: None,
                            contact: None,
                        };
                        file_as(
                            app,
                            &mut conn,
                            &fields,
                            requester,
                            one_division,
                            None,
                            Utc::now(),
                        )
                        .map_err(|e| format!("{e:?}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| "a filer panicked".to_string())?)
    })?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "filing with the index: {filings} in {seconds:.2} s = {:.0} per second ({filers} connection(s), mail queued too)",
        filings as f64 / seconds
    );
    Ok(())
}
