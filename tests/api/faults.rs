//! Faults of the mail path, tried as an operator would: the server killed with
//! `kill -9` while it delivers to a slow SMTP receiver, a receiver that refuses
//! one recipient for good, and one that takes a connection and never answers.
//! Each test prints its figures (`cargo test --test api faults -- --nocapture`).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use digicon::db::outbox::{self as outbox_rows, NewOutbox};
use digicon::db::schema::outbox;
use digicon::db::{self, DbConn};

use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::smtp::{Behaviour, SmtpReceiver};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `digicon serve` as a child process of the test on the test app's database,
/// with extra environment; returns once `/healthz` answers.
pub(crate) fn serve_child(
    app: &TestApp,
    data_dir: &std::path::Path,
    env: &[(&str, String)],
) -> (Child, String) {
    serve_child_in(app, data_dir, env, None, Stdio::inherit())
}

/// Like `serve_child`, started through `sh -c "<shell>; exec digicon serve"` when
/// a shell prefix is given (to set signal dispositions), with its log to `stderr`.
pub(crate) fn serve_child_in(
    app: &TestApp,
    data_dir: &std::path::Path,
    env: &[(&str, String)],
    shell: Option<&str>,
    stderr: Stdio,
) -> (Child, String) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
        .expect("a private data folder");
    let port = free_port();
    let binary = env!("CARGO_BIN_EXE_digicon");
    let mut command = match shell {
        Some(prefix) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("{prefix}; exec \"$0\" serve"), binary]);
            c
        }
        None => {
            let mut c = Command::new(binary);
            c.arg("serve");
            c
        }
    };
    command
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", &app.settings.jwt_secret)
        .env("DIGICON_DATA_DIR", data_dir)
        .env("DIGICON_BIND", format!("127.0.0.1:{port}"))
        .env("DIGICON_WORKER_POLL_MS", "50")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("digicon serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, base)
}

/// `kill -9`: no chance to finish or hand back anything.
pub(crate) fn kill_9(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let _ = child.wait();
}

fn count(conn: &mut DbConn, status: &str) -> i64 {
    outbox::table
        .filter(outbox::status.eq(status.to_string()))
        .count()
        .get_result(conn)
        .expect("count")
}

/// Waits until no message is pending or being sent.
fn wait_settled(app: &TestApp, within: Duration) {
    let mut conn = app.pool.get().expect("connection");
    let deadline = Instant::now() + within;
    loop {
        let unsettled = count(&mut conn, "pending") + count(&mut conn, "sending");
        if unsettled == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{unsettled} messages unsettled");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Queues one plain message to each address.
fn queue(app: &TestApp, addresses: &[String]) {
    let mut conn = app.pool.get().expect("connection");
    let now = db::now();
    let messages: Vec<NewOutbox> = addresses
        .iter()
        .map(|to| NewOutbox {
            kind: "comment",
            consultation_id: None,
            recipient_id: None,
            recipient_email: to.clone(),
            locale: "ja",
            subject: format!("障害試験 {to}"),
            body_text: "本文".into(),
            body_html: "<p>本文</p>".into(),
            calendar: None,
            status: "pending",
            next_attempt_at: now,
            created_at: now,
        })
        .collect();
    for chunk in messages.chunks(50) {
        outbox_rows::insert_all(&mut conn, chunk).expect("queue");
    }
}

/// 40 consultations filed (80 messages: receipt and intake), delivered by a
/// `digicon serve` process to a receiver that takes 50 ms a message; the process
/// is killed with `kill -9` mid-delivery and started again. Every message
/// arrives (lost: 0), a repeat carries the same `Message-ID` (so the receiving
/// system sees one message), at most one repeat per lane in flight, and the mail
/// the dead process held is sent within one lease (20 s) of the restart.
fn kill_9_during_delivery_loses_no_mail_and_resends_within_a_lease(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.run_worker = false) else {
        return;
    };
    let receiver = SmtpReceiver::start_with(Behaviour {
        delay: Duration::from_millis(50),
        ..Behaviour::default()
    });
    let requester = app.login(&app.org.requester);
    for i in 0..40 {
        app.file(&requester, &format!("配信中の停止 {i}"));
    }
    let queued = {
        let mut conn = app.pool.get().expect("connection");
        count(&mut conn, "pending")
    };
    assert!(queued >= 80, "{queued} messages queued");
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("SMTP_URL", receiver.url())];
    let (mut first, _) = serve_child(&app, data.path(), &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.messages().len() < 20 {
        assert!(Instant::now() < deadline, "delivery never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill_9(&mut first);
    let before_restart = receiver.messages().len();
    let restart = Instant::now();
    let (mut second, _) = serve_child(&app, data.path(), &env);
    wait_settled(&app, Duration::from_secs(60));
    let settled = restart.elapsed();

    let received = receiver.messages();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for message in &received {
        let id = message.header("Message-ID").expect("a Message-ID");
        let row = message.header("X-Digicon-Outbox-Id").expect("the row id");
        assert!(
            id.contains(&format!("outbox-{row}@")),
            "{id} names row {row}"
        );
        *by_id.entry(id).or_default() += 1;
    }
    let mut conn = app.pool.get().expect("connection");
    let sent = count(&mut conn, "sent");
    let lost = queued - by_id.len() as i64;
    let duplicated = received.len() - by_id.len();
    let last = received.iter().map(|m| m.at).max().expect("messages");
    let seconds = last.saturating_duration_since(restart).as_secs_f64();
    println!(
        "kill -9 during delivery ({backend:?}): {queued} queued, {before_restart} received \
         before the kill, lost {lost}, duplicated {duplicated}, last message {seconds:.1} s \
         after the restart (all settled after {:.1} s)",
        settled.as_secs_f64()
    );
    assert_eq!(sent, queued, "every row ends sent");
    assert_eq!(lost, 0, "no message lost");
    assert!(
        duplicated <= 8,
        "at most one repeat per lane in flight: {duplicated}"
    );
    assert!(seconds <= 30.0, "resent within a lease: {seconds:.1} s");
    second.kill().expect("stop the server");
    let _ = second.wait();
}

/// 100 messages, one to a recipient the server refuses with 550: 99 delivered,
/// that one failed on its first attempt with the server's answer shown in the
/// admin's outbox list, and nothing tried twice.
fn a_550_recipient_fails_at_once_and_the_others_are_delivered(backend: Backend) {
    let receiver = SmtpReceiver::start_with(Behaviour {
        reject: vec!["nobody@example.jp".into()],
        ..Behaviour::default()
    });
    let url = receiver.url();
    let Some(app) = spawn_app_with(backend, |s| {
        s.smtp_url = Some(url);
        s.mail_concurrency = 4;
    }) else {
        return;
    };
    let mut addresses: Vec<String> = (0..99).map(|i| format!("user{i}@example.jp")).collect();
    addresses.insert(42, "nobody@example.jp".into());
    queue(&app, &addresses);
    wait_settled(&app, Duration::from_secs(60));

    let mut conn = app.pool.get().expect("connection");
    let (sent, failed) = (count(&mut conn, "sent"), count(&mut conn, "failed"));
    let retried: i64 = outbox::table
        .filter(outbox::attempts.gt(1))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    println!(
        "550 among 100 ({backend:?}): {sent} delivered, {failed} failed, {retried} retried, \
         {} received",
        receiver.messages().len()
    );
    assert_eq!((sent, failed, retried), (99, 1, 0));
    assert_eq!(receiver.messages().len(), 99);
    assert!(receiver.to("nobody@example.jp").is_empty());

    let admin = app.login(&app.org.admin);
    let list = app.get("/api/v1/admin/outbox?status=failed", &admin);
    assert_eq!(list.status, 200, "{:?}", list.body);
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["recipient_email"], "nobody@example.jp");
    assert_eq!(items[0]["attempts"], 1);
    let answer = items[0]["last_error"].as_str().unwrap_or_default();
    assert!(
        answer.contains("550") && answer.contains("no such user"),
        "the server's answer is shown: {answer:?}"
    );
}

/// Seconds until `n` messages have arrived.
fn time_until(receiver: &SmtpReceiver, n: usize, start: Instant, limit: Duration) -> Duration {
    while receiver.messages().len() < n {
        assert!(
            start.elapsed() < limit,
            "{} of {n} messages after {:?}",
            receiver.messages().len(),
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// A server that accepts a connection and never answers holds up the lane
/// that drew it until the SMTP timeout (10 s here), and no other: the other
/// lanes deliver everything else while it hangs. Figure: the other lanes' rate
/// against the same run with a well-behaved server.
fn a_hanging_smtp_connection_holds_up_only_its_own_lane(backend: Backend) {
    let lanes = 4;
    let messages = 200;
    let held = 10; // what one lane claims at a time
    let mut rates = vec![];
    for hang in [0, 1] {
        let receiver = SmtpReceiver::start_with(Behaviour {
            delay: Duration::from_millis(20),
            hang_first: hang,
            ..Behaviour::default()
        });
        let url = receiver.url();
        let Some(app) = spawn_app_with(backend, |s| {
            s.smtp_url = Some(url);
            s.mail_concurrency = lanes;
            s.smtp_timeout_secs = 10;
        }) else {
            return;
        };
        let addresses: Vec<String> = (0..messages).map(|i| format!("u{i}@example.jp")).collect();
        let start = Instant::now();
        queue(&app, &addresses);
        // The lanes that did not draw the silent connection deliver all but
        // what the stuck lane holds before its connection times out.
        let others = messages - held;
        let took = time_until(&receiver, others, start, Duration::from_secs(9));
        let working = lanes - hang;
        let rate = others as f64 / took.as_secs_f64();
        println!(
            "{} ({backend:?}): {others} messages in {:.2} s = {rate:.0}/s over {working} \
             lanes, {:.0}/s a lane",
            if hang == 1 {
                "one silent connection"
            } else {
                "all connections answer"
            },
            took.as_secs_f64(),
            rate / working as f64
        );
        rates.push(rate / working as f64);
        // And the stuck message goes out after its timeout, on a new connection.
        wait_settled(&app, Duration::from_secs(40));
        let mut conn = app.pool.get().expect("connection");
        assert_eq!(count(&mut conn, "sent"), messages as i64);
    }
    println!(
        "per-lane rate with a silent connection / without: {:.2}",
        rates[1] / rates[0]
    );
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(crate::helpers::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(crate::helpers::Backend::Postgres) } )*
        }
    };
}

on_both!(
    kill_9_during_delivery_loses_no_mail_and_resends_within_a_lease,
    a_550_recipient_fails_at_once_and_the_others_are_delivered,
    a_hanging_smtp_connection_holds_up_only_its_own_lane,
);
