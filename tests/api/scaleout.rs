//! Running as several instances: two servers on one PostgreSQL under concurrent
//! writes, SIGTERM under load, `/metrics`, request ids and `digicon backup`.

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use digicon::db::schema::{consultation_events, consultations, outbox};
use digicon::db::DbConn;
use serde_json::json;

use crate::helpers::{future_hearing, send_to, spawn_app, start, Backend, TestApp};

/// Every consultation's events carry versions 1..=version with no gap or
/// repeat, and the last one leads to its current state.
pub(crate) fn assert_timelines_match_versions(conn: &mut DbConn) -> usize {
    let rows: Vec<(i64, i32, String)> = consultations::table
        .select((
            consultations::id,
            consultations::version,
            consultations::state,
        ))
        .load(conn)
        .expect("consultations");
    let events: Vec<(i64, i32, String)> = consultation_events::table
        .order((
            consultation_events::consultation_id,
            consultation_events::version,
        ))
        .select((
            consultation_events::consultation_id,
            consultation_events::version,
            consultation_events::to_state,
        ))
        .load(conn)
        .expect("events");
    let mut by_consultation: BTreeMap<i64, Vec<(i32, String)>> = BTreeMap::new();
    for (id, version, to_state) in events {
        by_consultation
            .entry(id)
            .or_default()
            .push((version, to_state));
    }
    for (id, version, state) in &rows {
        let timeline = by_consultation.get(id).cloned().unwrap_or_default();
        let versions: Vec<i32> = timeline.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            versions,
            (1..=*version).collect::<Vec<_>>(),
            "consultation {id}: event versions against version {version}"
        );
        assert_eq!(
            timeline.last().map(|(_, s)| s.as_str()),
            Some(state.as_str()),
            "consultation {id}: the last event leads to its state"
        );
    }
    rows.len()
}

/// Waits until the workers have sent every message, then checks each was
/// delivered exactly once: one `.eml` file per sent row.
fn assert_mail_sent_once(app: &TestApp) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = app.pool.get().expect("connection");
    loop {
        let unsent: i64 = outbox::table
            .filter(outbox::status.ne("sent"))
            .count()
            .get_result(&mut *conn)
            .expect("count");
        if unsent == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{unsent} messages still unsent");
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent: i64 = outbox::table.count().get_result(&mut *conn).expect("count");
    let files = std::fs::read_dir(app.settings.mail_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files as i64, sent, "one delivery per outbox row");
    files
}

#[test]
fn two_instances_on_one_postgresql_lose_and_repeat_nothing() {
    let Some(app) = spawn_app(Backend::Postgres) else {
        return;
    };
    // The second instance shares the database, the JWT secret and the mail folder;
    // both run the outbox worker.
    let (second, second_handle) = start(app.settings.clone());
    let bases = [app.base.clone(), second.clone()];
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let ses = [
        (app.login(&app.org.se), app.org.se.id),
        (app.login(&app.org.se2), app.org.se2.id),
    ];
    let threads = 6;
    let per_thread = 6;
    let barrier = Barrier::new(threads);
    let filed: Vec<(i64, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, bases, requester, dx, ses) =
                    (&barrier, &bases, &requester, &dx, &ses);
                s.spawn(move || {
                    barrier.wait();
                    let mut mine = vec![];
                    for i in 0..per_thread {
                        // Filed through one instance, moved on through the other.
                        let (here, there) = (&bases[(t + i) % 2], &bases[(t + i + 1) % 2]);
                        let body = json!({
                            "title": format!("二台構成の相談 {t}-{i}"),
                            "body": "紙の申請書を毎月300件手入力しています。",
                            "category": "e_application",
                        });
                        let c = send_to(
                            here,
                            "POST",
                            "/api/v1/consultations",
                            Some(requester),
                            Some(&body.to_string()),
                            &[],
                        );
                        assert_eq!(c.status, 201, "{:?}", c.body);
                        let id = c.body["id"].as_i64().expect("id");
                        let path = format!("/api/v1/consultations/{id}/transitions");
                        let hearing = json!({"event": "schedule_hearing", "version": 1,
                            "hearing_at": future_hearing(), "hearing_place": "会議室"});
                        let r = send_to(
                            there,
                            "POST",
                            &path,
                            Some(dx),
                            Some(&hearing.to_string()),
                            &[],
                        );
                        assert_eq!(r.status, 200, "{:?}", r.body);
                        // Both SEs race for it, one through each instance.
                        let statuses: Vec<u16> = std::thread::scope(|race| {
                            let racers: Vec<_> = ses
                                .iter()
                                .zip(bases.iter())
                                .map(|((token, se_id), base)| {
                                    let path = &path;
                                    race.spawn(move || {
                                        let assign = json!({"event": "assign", "version": 2, "assignee_id": se_id});
                                        send_to(
                                            base,
                                            "POST",
                                            path,
                                            Some(token),
                                            Some(&assign.to_string()),
                                            &[],
                                        )
                                        .status
                                    })
                                })
                                .collect();
                            racers
                                .into_iter()
                                .map(|h| h.join().expect("racer"))
                                .collect()
                        });
                        let mut sorted = statuses.clone();
                        sorted.sort();
                        assert_eq!(sorted, vec![200, 409], "{statuses:?}");
                        mine.push((id, c.body["number"].as_str().unwrap_or_default().to_string()));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });

    assert_eq!(filed.len(), threads * per_thread);
    let numbers: HashSet<&String> = filed.iter().map(|(_, n)| n).collect();
    assert_eq!(
        numbers.len(),
        filed.len(),
        "consultation numbers are unique"
    );
    let mut conn = app.pool.get().expect("connection");
    let stored = assert_timelines_match_versions(&mut conn);
    assert_eq!(stored, filed.len(), "no consultation lost or doubled");
    let assigned: i64 = consultations::table
        .filter(consultations::state.eq("assigned"))
        .filter(consultations::version.eq(3))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(assigned as usize, filed.len());
    drop(conn);
    let mails = assert_mail_sent_once(&app);
    assert!(mails > 0, "the changes were mailed");
    actix_web::rt::System::new().block_on(second_handle.stop(true));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `digicon serve` as a separate process on the test app's database.
fn serve_process(app: &TestApp, data_dir: &std::path::Path) -> (Child, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_digicon"))
        .arg("serve")
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", &app.settings.jwt_secret)
        .env("DIGICON_DATA_DIR", data_dir)
        .env("DIGICON_BIND", format!("127.0.0.1:{port}"))
        .env("DIGICON_WORKER_POLL_MS", "50")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("digicon serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{base}/readyz")).call().is_err() {
        assert!(Instant::now() < deadline, "the server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, base)
}

/// What became of one filing sent around the time of SIGTERM.
enum Outcome {
    Filed,
    /// No answer: refused at connect, or reset before the server took it up. The
    /// database check below tells this apart from a filing done but not answered.
    Refused,
}

fn sigterm_under_load_completes_or_refuses_every_request(app: &TestApp) {
    let data = tempfile::tempdir().expect("tempdir");
    let (mut child, base) = serve_process(app, data.path());
    let requester = app.login(&app.org.requester);
    let threads = 8;
    let started = Barrier::new(threads + 1);
    let results: Vec<(String, Outcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (base, requester, started) = (&base, &requester, &started);
                s.spawn(move || {
                    // A fresh connection per request: a request is either refused
                    // at connect or sent on a connection the server accepted.
                    let agent = ureq::AgentBuilder::new().max_idle_connections(0).build();
                    let mut results = vec![];
                    started.wait();
                    for i in 0.. {
                        let title = format!("停止中の相談 {t}-{i}");
                        let reply = agent
                            .post(&format!("{base}/api/v1/consultations"))
                            .set("Authorization", &format!("Bearer {requester}"))
                            .send_json(
                                json!({"title": title, "body": "本文です。", "category": "other"}),
                            );
                        match reply {
                            Ok(r) => {
                                assert_eq!(r.status(), 201);
                                results.push((title, Outcome::Filed));
                            }
                            Err(ureq::Error::Transport(_)) => {
                                results.push((title, Outcome::Refused));
                                break;
                            }
                            Err(e) => panic!("request {title} answered with an error: {e}"),
                        }
                    }
                    results
                })
            })
            .collect();
        started.wait();
        std::thread::sleep(Duration::from_millis(700));
        let kill = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(kill.success());
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("load thread"))
            .collect()
    });
    let status = child.wait().expect("the server exits");
    assert!(status.success(), "exit after SIGTERM: {status:?}");

    let filed: HashSet<&str> = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Filed))
        .map(|(t, _)| t.as_str())
        .collect();
    assert!(filed.len() >= threads, "load ran before the signal");
    let mut conn = app.pool.get().expect("connection");
    let stored: Vec<String> = consultations::table
        .select(consultations::title)
        .load(&mut *conn)
        .expect("titles");
    let stored: HashSet<&str> = stored.iter().map(String::as_str).collect();
    assert_eq!(
        stored, filed,
        "exactly the answered filings are stored, each once"
    );
    assert_timelines_match_versions(&mut conn);
}

fn metrics_count_requests_per_route_and_report_the_database(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let c = app.file(&requester, "メトリクスの相談");
    let path = format!("/api/v1/consultations/{}", c["id"]);
    assert_eq!(app.get(&path, &requester).status, 200);
    let reply = app.send(
        "GET",
        "/readyz",
        None,
        None,
        &[("X-Request-Id", "trace-42")],
    );
    assert_eq!(reply.header("x-request-id"), Some("trace-42"));
    let generated = app.send("GET", "/healthz", None, None, &[]);
    let id = generated.header("x-request-id").expect("a generated id");
    assert_eq!(id.len(), 16, "{id}");

    let metrics = app.send("GET", "/metrics", None, None, &[]);
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"));
    let text = metrics.body.as_str().expect("text");
    for expected in [
        "http_requests_total{method=\"POST\",route=\"/api/v1/consultations\",status=\"201\"} 1",
        "http_requests_total{method=\"GET\",route=\"/api/v1/consultations/{id}\",status=\"200\"} 1",
        "http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/consultations/{id}\"} 1",
        "consultations{state=\"received\"} 1",
        "db_pool_connections{state=\"max\"} 4",
        "outbox_messages{status=",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
}

crate::both_backends!(
    sigterm_under_load_completes_or_refuses_every_request,
    metrics_count_requests_per_route_and_report_the_database,
);

/// `digicon backup` while filings run: the copy, restored into a new data
/// folder and served from there, passes `PRAGMA integrity_check`, its timelines
/// are whole and it holds every filing acknowledged before the backup began.
#[test]
fn backup_copies_a_live_sqlite_database_while_it_is_written() {
    let app = spawn_app(Backend::Sqlite).expect("sqlite app");
    let requester = app.login(&app.org.requester);
    let target = app.settings.data_dir.join("backup.db");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let filed = std::sync::Mutex::new(Vec::<String>::new());
    let (output, before) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let title = format!("バックアップ中の相談 {n}");
                app.file(&requester, &title);
                filed.lock().expect("lock").push(title);
                n += 1;
            }
            n
        });
        std::thread::sleep(Duration::from_millis(300));
        let before: Vec<String> = filed.lock().expect("lock").clone();
        let output = Command::new(env!("CARGO_BIN_EXE_digicon"))
            .arg("backup")
            .arg(&target)
            .env("DATABASE_URL", &app.database_url)
            .env("DIGICON_DATA_DIR", &app.settings.data_dir)
            .env("RUST_LOG", "warn")
            .output()
            .expect("digicon backup runs");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(writer.join().expect("writer") > 0);
        (output, before)
    });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Restored into a new data folder, the copy is a database of its own,
    // consistent, and a server starts on it.
    let restored = tempfile::tempdir().expect("tempdir");
    let restored_db = restored.path().join("digicon.db");
    std::fs::copy(&target, &restored_db).expect("restore the copy");
    let restored_url = format!("sqlite://{}", restored_db.display());
    let copy = digicon::db::build_pool(&restored_url, 1).expect("the copy opens");
    let mut conn = copy.get().expect("connection");
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Check = diesel::sql_query("PRAGMA integrity_check")
        .get_result(&mut *conn)
        .expect("integrity check");
    assert_eq!(check.integrity_check, "ok");
    assert!(assert_timelines_match_versions(&mut conn) > 0);
    let titles: HashSet<String> = consultations::table
        .select(consultations::title)
        .load::<String>(&mut *conn)
        .expect("titles")
        .into_iter()
        .collect();
    let missing: Vec<&String> = before.iter().filter(|t| !titles.contains(*t)).collect();
    println!(
        "backup under load: {} acknowledged before it began, {} in the copy, missing {}",
        before.len(),
        titles.len(),
        missing.len()
    );
    assert!(!before.is_empty(), "filings ran before the backup");
    assert!(
        missing.is_empty(),
        "acknowledged before the backup: {missing:?}"
    );
    drop(conn);
    let (mut server, base) = crate::faults::serve_child(
        &app,
        restored.path(),
        &[
            ("DATABASE_URL", restored_url),
            ("DIGICON_WORKER", "off".into()),
        ],
    );
    let ready = ureq::get(&format!("{base}/readyz"))
        .call()
        .map(|r| r.status());
    server.kill().expect("stop the restored server");
    let _ = server.wait();
    assert_eq!(
        ready.ok(),
        Some(200),
        "a server runs on the restored folder"
    );

    // An existing file is never overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_digicon"))
        .arg("backup")
        .arg(&target)
        .env("DATABASE_URL", &app.database_url)
        .env("DIGICON_DATA_DIR", &app.settings.data_dir)
        .output()
        .expect("digicon backup runs");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn two_workers_sweeping_at_once_queue_each_reminder_and_breach_notice_once() {
    let Some(app) = spawn_app(Backend::Postgres) else {
        return;
    };
    let requester = app.login(&app.org.requester);
    // Enough that the two sweeps overlap.
    let ids: Vec<i64> = (0..120)
        .map(|i| {
            app.file(&requester, &format!("期限の近い相談 {i}"))["id"]
                .as_i64()
                .expect("id")
        })
        .collect();
    let now = chrono::Utc::now().naive_utc();
    let mut conn = app.pool.get().expect("connection");
    // Half are due soon (a reminder), half overdue (a breach notice).
    for (i, id) in ids.iter().enumerate() {
        let due = if i % 2 == 0 {
            now + chrono::Duration::hours(2)
        } else {
            now - chrono::Duration::minutes(5)
        };
        diesel::update(consultations::table.find(id))
            .set((
                consultations::due_at.eq(Some(due)),
                consultations::hearing_due_at.eq(Some(due)),
            ))
            .execute(&mut *conn)
            .expect("set due");
    }
    let desk = digicon::app::App::new(&app.settings).expect("app");
    // A pool of their own, so neither sweeper waits for a connection.
    let pool = digicon::db::build_pool(&app.database_url, 4).expect("pool");
    let sweepers = 2;
    let barrier = Barrier::new(sweepers);
    let done: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..sweepers)
            .map(|_| {
                let (barrier, desk, pool) = (&barrier, &desk, &pool);
                s.spawn(move || {
                    let mut conn = pool.get().expect("connection");
                    barrier.wait();
                    (0..3)
                        .map(|_| digicon::app::sweep::sweep(desk, &mut conn).expect("sweep"))
                        .sum::<usize>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sweeper"))
            .sum()
    });
    assert_eq!(done, ids.len(), "each notice queued by exactly one worker");
    let letters: Vec<(Option<i64>, String, String)> = outbox::table
        .filter(outbox::kind.eq_any(["reminder", "breach"]))
        .select((
            outbox::consultation_id,
            outbox::kind,
            outbox::recipient_email,
        ))
        .load(&mut *conn)
        .expect("outbox");
    let distinct: HashSet<&(Option<i64>, String, String)> = letters.iter().collect();
    assert_eq!(distinct.len(), letters.len(), "no letter queued twice");
    let consultations_told: HashSet<Option<i64>> = letters.iter().map(|l| l.0).collect();
    assert_eq!(consultations_told.len(), ids.len());
}

/// A statement that runs past the server's budget (PostgreSQL's
/// `statement_timeout`) answers 503 with `Retry-After` instead of holding the
/// connection, and the server answers normally once the database is free again.
#[test]
fn a_statement_past_its_budget_answers_503_with_retry_after() {
    let Some(app) = crate::helpers::spawn_app_with(Backend::Postgres, |s| {
        s.statement_timeout_ms = 300;
    }) else {
        return;
    };
    let token = app.login(&app.org.dx);
    app.file(&app.login(&app.org.requester), "予算切れの確認");
    let mut blocker = app.pool.get().expect("connection");
    let started = std::time::Instant::now();
    let reply = blocker
        .transaction::<_, diesel::result::Error, _>(|conn| {
            conn.batch_execute("LOCK TABLE consultations IN ACCESS EXCLUSIVE MODE")?;
            Ok(app.get("/api/v1/consultations", &token))
        })
        .expect("lock");
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(reply.header("Retry-After").is_some());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "answered within the budget, not after the lock: {:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/api/v1/consultations", &token).status, 200);
}
