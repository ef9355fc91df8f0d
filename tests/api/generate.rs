//! `digicon generate`, run as a user would run it, on SQLite and on PostgreSQL: the
//! generated history must be consistent (timelines follow the workflow table,
//! `version` counts the events, numbers are unique and the counters continue
//! them, the search index is what the application would have written, no mail),
//! and the application must work on it (a generated user logs in, search finds
//! generated text, a new filing gets the next number), and each generated event
//! stores the payload the desk stores for the same event.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use digicon::db::schema::{
    consultation_counters, consultation_events, consultations, outbox, users,
};
use digicon::db::{self, DbConn};
use digicon::domain::workflow::transition;
use digicon::domain::{Event, State};
use serde_json::json;

use crate::helpers::{future_hearing, send_to, start, test_settings, Backend};

const COUNT: i64 = 2_000;

fn digicon(database_url: &str, data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digicon"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DIGICON_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env("LANG", "C")
        .output()
        .expect("digicon runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// (consultation, version, event, from, to) of one timeline entry.
type EventStep = (i64, i32, String, Option<String>, String);

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct IndexEntry {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Text)]
    b: String,
    #[diesel(sql_type = Text)]
    c: String,
}

/// The stored search entry of a consultation, as text on either backend.
fn index_entry(conn: &mut DbConn, id: i64) -> IndexEntry {
    match conn {
        DbConn::Sqlite(c) => {
            // The index keeps no text, so each column's tokens are read back in order.
            c.batch_execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms \
                 USING fts5vocab(main, search_fts, instance)",
            )
            .expect("vocabulary table");
            let column = |name: &str| {
                format!(
                    "coalesce((SELECT group_concat(term, ' ' ORDER BY offset) FROM temp.search_terms \
                     WHERE doc = ?1 AND col = '{name}'), '')"
                )
            };
            diesel::sql_query(format!(
                "SELECT {} AS a, {} AS b, {} AS c",
                column("title"),
                column("body"),
                column("staff")
            ))
            .bind::<BigInt, _>(id)
            .get_result(c)
        }
        DbConn::Postgresql(c) => diesel::sql_query(
            "SELECT title_tsv::text AS a, public_tsv::text AS b, staff_tsv::text AS c \
             FROM search_documents WHERE consultation_id = $1",
        )
        .bind::<BigInt, _>(id)
        .get_result(c),
    }
    .expect("an index entry")
}

fn index_size(conn: &mut DbConn) -> i64 {
    match conn {
        DbConn::Sqlite(c) => {
            diesel::sql_query("SELECT COUNT(*) AS n FROM search_fts").get_result::<Count>(c)
        }
        DbConn::Postgresql(c) => {
            diesel::sql_query("SELECT COUNT(*) AS n FROM search_documents").get_result::<Count>(c)
        }
    }
    .expect("count")
    .n
}

/// Checks everything that must hold of the database after generating `expected`
/// consultations in all.
fn check_consistency(conn: &mut DbConn, expected: i64) {
    let rows: Vec<(i64, String, i32, String, i32)> = consultations::table
        .select((
            consultations::id,
            consultations::number,
            consultations::fiscal_year,
            consultations::state,
            consultations::version,
        ))
        .order(consultations::id.asc())
        .load(conn)
        .expect("consultations");
    assert_eq!(rows.len() as i64, expected);

    let states: HashSet<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    for state in State::ALL {
        assert!(
            states.contains(state.as_str()),
            "no {} consultation",
            state.as_str()
        );
    }

    // Numbers: unique, and per fiscal year exactly 1..=counter.
    let numbers: HashSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(numbers.len(), rows.len(), "numbers are unique");
    let mut per_year: HashMap<i32, Vec<i64>> = HashMap::new();
    for (_, number, fy, _, _) in &rows {
        let prefix = format!("DX-{fy}-");
        let seq: i64 = number
            .strip_prefix(&prefix)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{number} is not a number of FY{fy}"));
        per_year.entry(*fy).or_default().push(seq);
    }
    let counters: HashMap<i32, i64> = consultation_counters::table
        .select((
            consultation_counters::fiscal_year,
            consultation_counters::last_seq,
        ))
        .load(conn)
        .expect("counters")
        .into_iter()
        .collect();
    assert_eq!(per_year.len(), 10, "ten fiscal years");
    for (fy, mut seqs) in per_year {
        seqs.sort_unstable();
        let n = seqs.len() as i64;
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "FY{fy} numbered 1..={n}");
        assert_eq!(counters.get(&fy), Some(&n), "counter of FY{fy}");
    }

    // Timelines: version == events, each step a row of the workflow table.
    let events: Vec<EventStep> = consultation_events::table
        .select((
            consultation_events::consultation_id,
            consultation_events::version,
            consultation_events::event,
            consultation_events::from_state,
            consultation_events::to_state,
        ))
        .order((
            consultation_events::consultation_id.asc(),
            consultation_events::version.asc(),
        ))
        .load(conn)
        .expect("events");
    let mut timeline: HashMap<i64, Vec<&EventStep>> = HashMap::new();
    for e in &events {
        timeline.entry(e.0).or_default().push(e);
    }
    for (id, number, _, state, version) in &rows {
        let steps = timeline.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            *version as usize,
            steps.len(),
            "{number}: version vs events"
        );
        let mut current: Option<State> = None;
        for (i, (_, v, event, from, to)) in steps.iter().enumerate() {
            assert_eq!(*v as usize, i + 1, "{number}: versions count up");
            let event = Event::parse(event).expect("known event");
            let row = transition(event);
            assert_eq!(from.as_deref(), current.map(State::as_str), "{number}");
            match current {
                None => assert_eq!(event, Event::File, "{number} starts by filing"),
                Some(s) => assert!(row.from.contains(&s), "{number}: {event:?} from {s:?}"),
            }
            assert_eq!(
                to,
                row.to.as_str(),
                "{number}: {event:?} leads to {:?}",
                row.to
            );
            current = Some(row.to);
        }
        assert_eq!(current.map(State::as_str), Some(state.as_str()), "{number}");
    }

    // Stage times the dashboards read: the first assignment and the reopen count,
    // as the workflow writes them (and the dashboard migration backfills them).
    let stages: Vec<(i64, String, chrono::NaiveDateTime)> = consultation_events::table
        .filter(consultation_events::event.eq_any(["assign", "reopen"]))
        .select((
            consultation_events::consultation_id,
            consultation_events::event,
            consultation_events::created_at,
        ))
        .order(consultation_events::version.asc())
        .load(conn)
        .expect("stage events");
    let mut expected_stages: HashMap<i64, (Option<chrono::NaiveDateTime>, i32)> = HashMap::new();
    for (id, event, at) in stages {
        let entry = expected_stages.entry(id).or_default();
        if event == "assign" {
            entry.0.get_or_insert(at);
        } else {
            entry.1 += 1;
        }
    }
    let stored: Vec<(i64, Option<chrono::NaiveDateTime>, i32)> = consultations::table
        .select((
            consultations::id,
            consultations::assigned_at,
            consultations::reopen_count,
        ))
        .load(conn)
        .expect("stage columns");
    for (id, assigned_at, reopen_count) in stored {
        let want = expected_stages.get(&id).copied().unwrap_or_default();
        assert_eq!((assigned_at, reopen_count), want, "stage columns of {id}");
    }

    let mail: i64 = outbox::table.count().get_result(conn).expect("outbox");
    assert_eq!(mail, 0, "generated history sends no mail");

    // The search index holds every consultation, as the application writes it.
    assert_eq!(index_size(conn), expected);
    for (id, ..) in rows.iter().step_by(97) {
        let generated = index_entry(conn, *id);
        digicon::db::search::index(conn, *id).expect("reindex");
        assert_eq!(index_entry(conn, *id), generated, "index entry of {id}");
    }

    if let DbConn::Sqlite(c) = conn {
        let broken = diesel::sql_query("SELECT COUNT(*) AS n FROM pragma_foreign_key_check")
            .get_result::<Count>(c)
            .expect("foreign key check")
            .n;
        assert_eq!(broken, 0, "foreign keys hold");
    }
}

/// For each event, the sets of keys its stored payloads have.
type PayloadKeys = HashMap<String, HashSet<Vec<String>>>;

/// The payload keys of the events of consultations from `first_id` on.
fn payload_keys(conn: &mut DbConn, first_id: i64) -> PayloadKeys {
    let stored: Vec<(String, String)> = consultation_events::table
        .filter(consultation_events::consultation_id.ge(first_id))
        .select((consultation_events::event, consultation_events::payload))
        .load(conn)
        .expect("payloads");
    let mut keys = PayloadKeys::new();
    for (event, payload) in stored {
        let json: serde_json::Value = serde_json::from_str(&payload).expect("payload is JSON");
        let mut names: Vec<String> = json
            .as_object()
            .unwrap_or_else(|| panic!("{event}: {payload} is not an object"))
            .keys()
            .cloned()
            .collect();
        names.sort();
        keys.entry(event).or_default().insert(names);
    }
    keys
}

/// Fires `event` on consultation `id` through the API, as a person at the desk
/// would; `version` is the one last seen and becomes the new one.
fn fire(
    base: &str,
    token: &str,
    id: &serde_json::Value,
    version: &mut serde_json::Value,
    event: &str,
    mut body: serde_json::Value,
) {
    body["event"] = event.into();
    body["version"] = version.clone();
    let path = format!("/api/v1/consultations/{id}/transitions");
    let reply = send_to(
        base,
        "POST",
        &path,
        Some(token),
        Some(&body.to_string()),
        &[],
    );
    assert_eq!(reply.status, 200, "{event}: {:?}", reply.body);
    *version = reply.body["version"].clone();
}

/// The generated helpdesk stream: every inquiry's timeline follows the inquiry
/// table with its version equal to its events, numbers run 1..n per fiscal year
/// and the counters stand at n, nothing is dated after now.
fn check_inquiries(conn: &mut DbConn, expected: i64) {
    use digicon::db::schema::{inquiries, inquiry_counters, inquiry_events};
    use digicon::domain::inquiry::{inquiry_transition, InquiryEvent, InquiryState};
    let rows: Vec<(i64, String, i32, String, i32, chrono::NaiveDateTime)> = inquiries::table
        .select((
            inquiries::id,
            inquiries::number,
            inquiries::fiscal_year,
            inquiries::state,
            inquiries::version,
            inquiries::updated_at,
        ))
        .load(conn)
        .expect("inquiries");
    assert_eq!(rows.len() as i64, expected);
    let events: Vec<(i64, String, Option<String>, String, i32)> = inquiry_events::table
        .order((inquiry_events::inquiry_id, inquiry_events::version))
        .select((
            inquiry_events::inquiry_id,
            inquiry_events::event,
            inquiry_events::from_state,
            inquiry_events::to_state,
            inquiry_events::version,
        ))
        .load(conn)
        .expect("events");
    // (event, from, to, version) per inquiry.
    type Step = (String, Option<String>, String, i32);
    let mut timelines: HashMap<i64, Vec<Step>> = HashMap::new();
    for (id, event, from, to, version) in events {
        timelines
            .entry(id)
            .or_default()
            .push((event, from, to, version));
    }
    let now = chrono::Utc::now().naive_utc();
    let mut per_year: HashMap<i32, Vec<i64>> = HashMap::new();
    for (id, number, fy, state, version, updated_at) in &rows {
        assert!(*updated_at <= now, "{number} dated in the future");
        let timeline = timelines.get(id).expect("a timeline");
        assert_eq!(
            timeline.len() as i32,
            *version,
            "{number}: version = events"
        );
        let mut at = None::<String>;
        for (n, (event, from, to, v)) in timeline.iter().enumerate() {
            assert_eq!(*v, n as i32 + 1);
            let row = inquiry_transition(InquiryEvent::parse(event).expect("an inquiry event"));
            let from_state = from
                .as_deref()
                .map(|f| InquiryState::parse(f).expect("state"));
            match from_state {
                None => assert!(row.from.is_empty(), "{number}: {event} creates"),
                Some(f) => assert!(row.from.contains(&f), "{number}: {event} from {f:?}"),
            }
            assert_eq!(from, &at, "{number}: {event} starts where the last ended");
            at = Some(to.clone());
        }
        assert_eq!(
            at.as_deref(),
            Some(state.as_str()),
            "{number}: ends in its state"
        );
        let seq: i64 = number
            .strip_prefix(&format!("HD-{fy}-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{number} is HD-{fy}-NNNNN"));
        per_year.entry(*fy).or_default().push(seq);
    }
    for (fy, mut seqs) in per_year {
        seqs.sort_unstable();
        let n = seqs.len() as i64;
        assert_eq!(
            seqs,
            (1..=n).collect::<Vec<_>>(),
            "FY{fy} numbers without gaps"
        );
        let counter: i64 = inquiry_counters::table
            .find(fy)
            .select(inquiry_counters::last_seq)
            .first(conn)
            .expect("counter");
        assert_eq!(counter, n, "FY{fy} counter");
    }
}

fn a_generated_history_is_consistent_and_usable(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(settings) = test_settings(backend, dir.path()) else {
        return;
    };
    let url = settings.database_url.clone();
    let count = COUNT.to_string();
    let out = digicon(
        &url,
        dir.path(),
        &["generate", "--consultations", &count, "--seed", "7"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(report.contains("generated 2000 consultations"), "{report}");
    assert!(report.contains("consultations/s"), "{report}");
    for state in State::ALL {
        assert!(report.contains(state.as_str()), "{report}");
    }
    let password = report
        .lines()
        .find_map(|l| l.strip_prefix("every generated user's password: "))
        .expect("the password is printed")
        .trim()
        .to_string();

    let pool = db::build_pool(&url, 1).expect("pool");
    let mut conn = pool.get().expect("connection");
    check_consistency(&mut conn, COUNT);

    assert!(
        report.contains("generated 7000 helpdesk inquiries"),
        "{report}"
    );
    check_inquiries(&mut conn, 7_000);

    let staff: i64 = users::table.count().get_result(&mut *conn).expect("users");
    assert_eq!(staff, 8_000);
    let hash: String = users::table
        .filter(users::email.eq("gen-requester@gen.digicon.local"))
        .select(users::password_hash)
        .first(&mut *conn)
        .expect("gen-requester exists");
    assert!(digicon::domain::password::verify(&password, &hash));

    // A second run refuses, unless asked to append.
    let again = digicon(&url, dir.path(), &["generate", "--consultations", "10"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--append"), "{}", text(&again));
    let more = digicon(
        &url,
        dir.path(),
        &[
            "generate",
            "--consultations",
            "500",
            "--seed",
            "8",
            "--append",
        ],
    );
    assert!(more.status.success(), "{}", text(&more));
    assert!(
        String::from_utf8_lossy(&more.stdout).contains("created 0 departments and 0 users"),
        "{}",
        text(&more)
    );
    check_consistency(&mut conn, COUNT + 500);

    // The application on the generated database.
    let (base, handle) = start(settings);
    let login = send_to(
        &base,
        "POST",
        "/api/v1/auth/token",
        None,
        Some(
            &json!({ "email": "gen-requester@gen.digicon.local", "password": password })
                .to_string(),
        ),
        &[],
    );
    assert_eq!(login.status, 200, "{:?}", login.body);
    let token = login.body["token"].as_str().expect("token").to_string();

    let mine = send_to(
        &base,
        "GET",
        "/api/v1/consultations?limit=5",
        Some(&token),
        None,
        &[],
    );
    assert_eq!(mine.status, 200, "{:?}", mine.body);

    let dx_login = send_to(
        &base,
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({ "email": "gen-dx@gen.digicon.local", "password": password }).to_string()),
        &[],
    );
    assert_eq!(dx_login.status, 200, "{:?}", dx_login.body);
    let dx = dx_login.body["token"].as_str().expect("token").to_string();
    for term in ["電子申請", "集計", "kintone"] {
        let path = format!(
            "/api/v1/consultations?q={}&limit=3",
            form_urlencoded::byte_serialize(term.as_bytes()).collect::<String>()
        );
        let found = send_to(&base, "GET", &path, Some(&dx), None, &[]);
        assert_eq!(found.status, 200, "{:?}", found.body);
        let items = found.body["items"].as_array().expect("items");
        assert!(
            !items.is_empty(),
            "search for {term} finds generated consultations"
        );
    }

    // Exports page through the whole list (several pages) without losing a row.
    let export = ureq::get(&format!("{base}/api/v1/export/consultations.csv"))
        .set("Authorization", &format!("Bearer {dx}"))
        .call()
        .expect("export");
    let mut csv_bytes = Vec::new();
    std::io::Read::read_to_end(&mut export.into_reader(), &mut csv_bytes).expect("csv");
    let numbers: HashSet<String> = csv::Reader::from_reader(&csv_bytes[3..])
        .records()
        .map(|r| r.expect("row")[0].to_string())
        .collect();
    assert_eq!(numbers.len() as i64, COUNT + 500, "every consultation once");
    let dashboard = send_to(&base, "GET", "/api/v1/dashboard", Some(&dx), None, &[]);
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);
    assert!(
        dashboard.body["filed"].as_i64() > Some(0),
        "{:?}",
        dashboard.body
    );

    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let fy = digicon::domain::fiscal::fiscal_year(today);
    let last: i64 = consultation_counters::table
        .find(fy)
        .select(consultation_counters::last_seq)
        .first(&mut *conn)
        .optional()
        .expect("counter")
        .unwrap_or(0);
    let filed = send_to(
        &base,
        "POST",
        "/api/v1/consultations",
        Some(&token),
        Some(
            &json!({
                "title": "生成データの上で新しい相談",
                "body": "番号が続きから振られることを確かめます。",
                "category": "other",
            })
            .to_string(),
        ),
        &[],
    );
    assert_eq!(filed.status, 201, "{:?}", filed.body);
    assert_eq!(
        filed.body["number"],
        digicon::domain::fiscal::consultation_number(fy, last + 1)
    );

    // Every event, fired at the desk, stores a payload with the keys the generated
    // ones have.
    let generated = payload_keys(&mut conn, 0);
    let se_login = send_to(
        &base,
        "POST",
        "/api/v1/auth/token",
        None,
        Some(
            &json!({ "email": "gen-helpdesk@gen.digicon.local", "password": password }).to_string(),
        ),
        &[],
    );
    assert_eq!(se_login.status, 200, "{:?}", se_login.body);
    let se = se_login.body["token"].as_str().expect("token").to_string();
    let se_id: i64 = users::table
        .filter(users::email.eq("gen-helpdesk@gen.digicon.local"))
        .select(users::id)
        .first(&mut *conn)
        .expect("gen-helpdesk exists");
    let id = filed.body["id"].clone();
    let mut version = filed.body["version"].clone();
    let steps = [
        (
            &dx,
            "schedule_hearing",
            json!({ "hearing_at": future_hearing(), "hearing_place": "本庁舎5階 会議室A" }),
        ),
        (&dx, "assign", json!({ "assignee_id": se_id })),
        (
            &se,
            "request_info",
            json!({ "message": "画面の写しをください。" }),
        ),
        (
            &token,
            "provide_info",
            json!({ "message": "添付しました。" }),
        ),
        (
            &se,
            "resolve",
            json!({ "resolution": "設定を直しました。" }),
        ),
        (&token, "reopen", json!({ "reason": "まだ動きません。" })),
        (
            &se,
            "resolve",
            json!({ "resolution": "もう一度直しました。" }),
        ),
        (&token, "close", json!({ "rating": 5 })),
    ];
    for (who, event, body) in steps {
        fire(&base, who, &id, &mut version, event, body);
    }
    let second = send_to(
        &base,
        "POST",
        "/api/v1/consultations",
        Some(&token),
        Some(
            &json!({ "title": "取り下げる相談", "body": "課内で解決しました。", "category": "other" })
                .to_string(),
        ),
        &[],
    );
    assert_eq!(second.status, 201, "{:?}", second.body);
    let mut second_version = second.body["version"].clone();
    fire(
        &base,
        &token,
        &second.body["id"],
        &mut second_version,
        "withdraw",
        json!({ "reason": "課内で解決しました。" }),
    );
    let desk = payload_keys(&mut conn, id.as_i64().expect("id"));
    assert_eq!(
        desk.len(),
        Event::ALL.len(),
        "the desk fired every event: {desk:?}"
    );
    for (event, keys) in &desk {
        assert_eq!(
            generated.get(event),
            Some(keys),
            "payload keys of {event}: generated vs desk"
        );
    }

    actix_web::rt::System::new().block_on(handle.stop(false));
}

#[test]
fn generating_on_sqlite() {
    a_generated_history_is_consistent_and_usable(Backend::Sqlite);
}

#[test]
fn generating_on_postgres() {
    a_generated_history_is_consistent_and_usable(Backend::Postgres);
}
