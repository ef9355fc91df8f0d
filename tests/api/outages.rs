//! Faults of the database and the process: PostgreSQL stopped under load, SQLite
//! locked by another writer, and the server killed with `kill -9` among
//! concurrent filers. Each prints its figures
//! (`cargo test --test api outages -- --nocapture`).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use digicon::db::schema::{consultations, outbox};
use serde_json::json;

use crate::faults::{kill_9, serve_child, serve_child_in};
use crate::helpers::{spawn_app_in, spawn_app_with, test_settings, Backend, TestApp};
use crate::postgres::OwnServer;
use crate::scaleout::assert_timelines_match_versions;

/// One filing request as the client saw it.
struct Attempt {
    title: String,
    started: Instant,
    took: Duration,
    /// `None`: no answer at all (refused or timed out).
    status: Option<u16>,
    retry_after: bool,
}

/// Files consultations from `threads` clients until `stop`, each request on a
/// fresh connection with a 15 s timeout.
fn file_until(base: &str, token: &str, threads: usize, stop: &AtomicBool) -> Vec<Attempt> {
    let started = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let started = &started;
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .max_idle_connections(0)
                        .timeout(Duration::from_secs(15))
                        .build();
                    let mut attempts = vec![];
                    started.wait();
                    for i in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let title = format!("障害中の相談 {t}-{i}");
                        let at = Instant::now();
                        let reply = agent
                            .post(&format!("{base}/api/v1/consultations"))
                            .set("Authorization", &format!("Bearer {token}"))
                            .send_json(
                                json!({"title": title, "body": "本文です。", "category": "other"}),
                            );
                        let (status, retry_after) = match &reply {
                            Ok(r) => (Some(r.status()), r.header("Retry-After").is_some()),
                            Err(ureq::Error::Status(code, r)) => {
                                (Some(*code), r.header("Retry-After").is_some())
                            }
                            Err(ureq::Error::Transport(_)) => (None, false),
                        };
                        attempts.push(Attempt {
                            title,
                            started: at,
                            took: at.elapsed(),
                            status,
                            retry_after,
                        });
                        if status != Some(201) {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                    attempts
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a filing thread"))
            .collect()
    })
}

fn stored_titles(app: &TestApp) -> HashSet<String> {
    let mut conn = app.pool.get().expect("connection");
    consultations::table
        .select(consultations::title)
        .load::<String>(&mut *conn)
        .expect("titles")
        .into_iter()
        .collect()
}

/// PostgreSQL stopped for 10 s while 4 clients file: every request answers
/// (201, or 503 with `Retry-After`) within 5 s, `/readyz` says not ready, the
/// first filing after the database is back succeeds within 5 s without a
/// restart, every acknowledged filing is stored, and the worker sends the mail.
#[test]
fn postgresql_stopped_for_10_s_answers_503_within_seconds_and_recovers_by_itself() {
    let Some(server) = OwnServer::start("outage") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(Backend::Sqlite, dir.path()).expect("settings");
    settings.database_url = server.database_url("digicon_outage");
    let app = spawn_app_in(dir, settings);
    let token = app.login(&app.org.requester);
    let stop = AtomicBool::new(false);
    let (mut down_at, mut up_at, mut ready_while_down) = (None, None, None);
    let attempts = std::thread::scope(|s| {
        let load = s.spawn(|| file_until(&app.base, &token, 4, &stop));
        std::thread::sleep(Duration::from_secs(2));
        server.stop();
        down_at = Some(Instant::now());
        std::thread::sleep(Duration::from_secs(4));
        let asked = Instant::now();
        let ready = ureq::get(&format!("{}/readyz", app.base)).call();
        ready_while_down = Some((
            match ready {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(code, _)) => code,
                Err(e) => panic!("/readyz did not answer: {e}"),
            },
            asked.elapsed(),
        ));
        std::thread::sleep(Duration::from_secs(6));
        server.resume();
        up_at = Some(Instant::now());
        std::thread::sleep(Duration::from_secs(8));
        stop.store(true, Ordering::SeqCst);
        load.join().expect("load")
    });
    let (down_at, up_at) = (down_at.expect("stopped"), up_at.expect("started"));
    let (ready_status, ready_took) = ready_while_down.expect("asked");

    let unanswered: Vec<&Attempt> = attempts.iter().filter(|a| a.status.is_none()).collect();
    let odd: Vec<(u16, bool)> = attempts
        .iter()
        .filter_map(|a| a.status.map(|s| (s, a.retry_after)))
        .filter(|(s, retry)| *s != 201 && !(*s == 503 && *retry))
        .collect();
    let while_down: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.started >= down_at && a.started < up_at)
        .collect();
    let longest_down = while_down.iter().map(|a| a.took).max().unwrap_or_default();
    let first_success = attempts
        .iter()
        .filter(|a| a.status == Some(201) && a.started >= up_at)
        .map(|a| (a.started + a.took).saturating_duration_since(up_at))
        .min()
        .expect("a filing succeeded after the database came back");
    let acknowledged: HashSet<String> = attempts
        .iter()
        .filter(|a| a.status == Some(201))
        .map(|a| a.title.clone())
        .collect();
    let stored = stored_titles(&app);
    let lost = acknowledged.difference(&stored).count();
    let refused = attempts.iter().filter(|a| a.status == Some(503)).count();
    println!(
        "PostgreSQL down 10 s under 4 filers: {} requests, {} acknowledged, {refused} answered \
         503, {} unanswered; longest response while down {:.2} s over {} requests; /readyz \
         while down {ready_status} in {:.2} s; first success {:.2} s after the restart; \
         acknowledged lost {lost}",
        attempts.len(),
        acknowledged.len(),
        unanswered.len(),
        longest_down.as_secs_f64(),
        while_down.len(),
        ready_took.as_secs_f64(),
        first_success.as_secs_f64(),
    );
    assert!(unanswered.is_empty(), "every request answered");
    assert!(odd.is_empty(), "only 201 or 503 with Retry-After: {odd:?}");
    assert!(refused > 0, "the outage was felt");
    assert!(longest_down <= Duration::from_secs(5), "{longest_down:?}");
    assert_eq!(ready_status, 503);
    assert!(ready_took <= Duration::from_secs(5), "{ready_took:?}");
    assert!(first_success <= Duration::from_secs(5), "{first_success:?}");
    assert_eq!(lost, 0, "no acknowledged filing lost");
    // The worker resumed: the mail of every filing goes out.
    let mut conn = app.pool.get().expect("connection");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let unsent: i64 = outbox::table
            .filter(outbox::status.ne("sent"))
            .count()
            .get_result(&mut *conn)
            .expect("count");
        if unsent == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{unsent} messages unsent");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Another writer holding SQLite's write lock past the server's budget makes a
/// filing answer 503 with `Retry-After` (not hang, not 500); once the lock is
/// gone the same filing succeeds.
#[test]
fn sqlite_locked_by_another_writer_answers_503_with_retry_after() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.statement_timeout_ms = 500).expect("app");
    let token = app.login(&app.org.requester);
    let body = json!({"title": "ロック中の相談", "body": "本文です。", "category": "other"});
    let mut blocker = app.pool.get().expect("connection");
    blocker
        .batch_execute("BEGIN IMMEDIATE")
        .expect("the write lock");
    let asked = Instant::now();
    let reply = app.post("/api/v1/consultations", &token, body.clone());
    let took = asked.elapsed();
    blocker.batch_execute("ROLLBACK").expect("release");
    println!(
        "SQLite locked: {} in {:.2} s",
        reply.status,
        took.as_secs_f64()
    );
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(reply.header("Retry-After").is_some());
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(app.post("/api/v1/consultations", &token, body).status, 201);
}

/// `kill -9` while 8 clients file through a `digicon serve` process: after a
/// restart every filing answered 201 is there with its timeline and its mail
/// (delivered by the restarted worker), and each fiscal year's numbers run
/// 1..n without a gap.
fn kill_9_among_8_filers_keeps_every_acknowledged_filing(app: &TestApp) {
    let data = tempfile::tempdir().expect("tempdir");
    let (mut child, base) = serve_child(app, data.path(), &[]);
    let token = app.login(&app.org.requester);
    let stop = AtomicBool::new(false);
    let attempts = std::thread::scope(|s| {
        let load = s.spawn(|| file_until(&base, &token, 8, &stop));
        std::thread::sleep(Duration::from_millis(1500));
        kill_9(&mut child);
        stop.store(true, Ordering::SeqCst);
        load.join().expect("load")
    });
    let (mut second, _) = serve_child(app, data.path(), &[]);
    let acknowledged: HashSet<String> = attempts
        .iter()
        .filter(|a| a.status == Some(201))
        .map(|a| a.title.clone())
        .collect();
    let stored = stored_titles(app);
    let missing = acknowledged.difference(&stored).count();

    let mut conn = app.pool.get().expect("connection");
    let numbers: Vec<String> = consultations::table
        .select(consultations::number)
        .load(&mut *conn)
        .expect("numbers");
    let mut per_year: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for number in &numbers {
        let (year, n) = number.rsplit_once('-').expect("DX-YYYY-NNNN");
        per_year
            .entry(year.to_string())
            .or_default()
            .push(n.parse().expect("a number"));
    }
    let gaps: usize = per_year
        .values_mut()
        .map(|ns| {
            ns.sort_unstable();
            ns.iter()
                .enumerate()
                .filter(|(i, n)| **n as usize != i + 1)
                .count()
        })
        .sum();
    let without_mail: i64 = consultations::table
        .filter(diesel::dsl::not(diesel::dsl::exists(outbox::table.filter(
            outbox::consultation_id.eq(consultations::id.nullable()),
        ))))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    println!(
        "kill -9 among 8 filers ({}): {} acknowledged, {} stored, missing {missing}, gaps in \
         numbers {gaps}, consultations without mail {without_mail}",
        if app.database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        acknowledged.len(),
        stored.len(),
    );
    assert!(acknowledged.len() >= 8, "the load ran before the kill");
    assert_eq!(missing, 0, "every acknowledged filing survives");
    assert_eq!(gaps, 0, "numbers without gaps: {per_year:?}");
    assert_eq!(without_mail, 0, "every filing has its mail");
    assert_timelines_match_versions(&mut conn);
    // The restarted worker delivers everything, the dead one's claims included.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let unsent: i64 = outbox::table
            .filter(outbox::status.ne("sent"))
            .count()
            .get_result(&mut *conn)
            .expect("count");
        if unsent == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{unsent} messages unsent");
        std::thread::sleep(Duration::from_millis(100));
    }
    second.kill().expect("stop the server");
    let _ = second.wait();
}

crate::both_backends!(kill_9_among_8_filers_keeps_every_acknowledged_filing);

/// Sets the largest file a running process may write (`prlimit`), in bytes: the
/// soft limit only, so that it may be raised again without privileges.
fn limit_file_size(pid: u32, bytes: Option<u64>) {
    let limit = format!(
        "{}:unlimited",
        bytes.map_or("unlimited".to_string(), |b| b.to_string())
    );
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit --fsize={limit}");
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A full disk, played by a file-size limit on the server process (mounting a
/// small file system needs privileges a test cannot count on; `SIGXFSZ` is
/// ignored, as a server should, so writes past the limit fail with `EFBIG`):
/// filings answer 503 with `Retry-After` and the log says the disk is full;
/// nothing is half-written (every consultation has its timeline and its mail,
/// `PRAGMA integrity_check` is ok); once there is room again filings succeed
/// without a restart.
#[test]
fn sqlite_on_a_full_disk_answers_503_and_recovers_once_there_is_room() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.run_worker = false).expect("app");
    let token = app.login(&app.org.requester);
    let data = tempfile::tempdir().expect("tempdir");
    let log_path = data.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let (mut child, base) =
        serve_child_in(&app, data.path(), &[], Some("trap '' XFSZ"), log.into());
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(15))
        .build();
    let file = |title: &str| -> (u16, bool) {
        let reply = agent
            .post(&format!("{base}/api/v1/consultations"))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(json!({"title": title, "body": "本文です。", "category": "other"}));
        match reply {
            Ok(r) => (r.status(), false),
            Err(ureq::Error::Status(code, r)) => (code, r.header("Retry-After").is_some()),
            Err(e) => panic!("{title}: no answer: {e}"),
        }
    };
    for i in 0..3 {
        assert_eq!(file(&format!("空きのある時の相談 {i}")).0, 201);
    }
    let db_path = app
        .database_url
        .strip_prefix("sqlite://")
        .expect("a SQLite URL")
        .to_string();
    let wal = format!("{db_path}-wal");
    let room = file_size(db_path.as_ref()).max(file_size(wal.as_ref())) + 64 * 1024;
    limit_file_size(child.id(), Some(room));

    let mut acknowledged = HashSet::new();
    let (mut full, mut odd) = (0, vec![]);
    let started = Instant::now();
    for i in 0.. {
        let title = format!("ディスク満杯の相談 {i}");
        match file(&title) {
            (201, _) => {
                acknowledged.insert(title);
            }
            (503, true) => full += 1,
            other => odd.push(other),
        }
        if full >= 3 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let before_full = acknowledged.len();
    limit_file_size(child.id(), None);
    let freed = Instant::now();
    let mut recovered = None;
    for i in 0..100 {
        let (status, _) = file(&format!("空きが戻った相談 {i}"));
        if status == 201 {
            acknowledged.insert(format!("空きが戻った相談 {i}"));
            recovered = Some(freed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    kill_9(&mut child);
    let logged = std::fs::read_to_string(&log_path).unwrap_or_default();
    let stored = stored_titles(&app);
    let missing = acknowledged.difference(&stored).count();
    let mut conn = app.pool.get().expect("connection");
    let integrity: Vec<String> = diesel::sql_query("PRAGMA integrity_check")
        .load::<Integrity>(&mut *conn)
        .expect("integrity_check")
        .into_iter()
        .map(|r| r.integrity_check)
        .collect();
    let without_mail: i64 = consultations::table
        .filter(diesel::dsl::not(diesel::dsl::exists(outbox::table.filter(
            outbox::consultation_id.eq(consultations::id.nullable()),
        ))))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    println!(
        "SQLite with {room} bytes a file: {before_full} filed after the limit before it was full, {full} answered 503, \
         other answers {odd:?}; first filing {:.2} s after room was made; missing {missing}, \
         without mail {without_mail}, integrity {integrity:?}",
        recovered.map_or(f64::NAN, |d| d.as_secs_f64()),
    );
    assert!(full >= 3, "the disk filled up: {full} 503s");
    assert!(odd.is_empty(), "only 201 or 503 with Retry-After: {odd:?}");
    assert!(
        logged.contains("the disk is full"),
        "the log says why: {logged}"
    );
    assert_eq!(integrity, vec!["ok".to_string()]);
    assert_eq!(missing, 0);
    assert_eq!(without_mail, 0, "no consultation without its mail");
    assert_timelines_match_versions(&mut conn);
    let recovered = recovered.expect("filings succeed once there is room");
    assert!(recovered < Duration::from_secs(5), "{recovered:?}");
}

#[derive(QueryableByName)]
struct Integrity {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}
