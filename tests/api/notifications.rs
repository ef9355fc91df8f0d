//! Mail: delivered over real SMTP to the right people in their language, never lost
//! when the server is down, never sent twice, with hearing invitations, SLA
//! reminders and breach notices, and auto-closing.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use digicon::db::schema::{consultations, outbox};
use icalendar::{Component, EventLike};
use serde_json::{json, Value};

use crate::helpers::{future_hearing, jst_date_in, spawn_app_with, Backend, TestApp};
use crate::smtp::SmtpReceiver;

const WAIT: Duration = Duration::from_secs(10);

fn app_mailing_to(backend: Backend, receiver: &SmtpReceiver) -> Option<TestApp> {
    let url = receiver.url();
    spawn_app_with(backend, move |s| s.smtp_url = Some(url))
}

fn unsent(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().expect("connection");
    digicon::db::outbox::count_unsent(&mut conn).expect("count")
}

/// Messages the worker has not yet tried to send.
fn untried(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().expect("connection");
    outbox::table
        .filter(outbox::attempts.eq(0))
        .count()
        .get_result(&mut *conn)
        .expect("count")
}

fn wait_until_sent(app: &TestApp) {
    let start = std::time::Instant::now();
    while unsent(app) > 0 {
        assert!(
            start.elapsed() < WAIT * 3,
            "the outbox did not drain: {} unsent",
            unsent(app)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn every_step_mails_the_people_involved_in_their_language(app: &TestApp, receiver: &SmtpReceiver) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let me = app.patch("/api/v1/me", &requester, json!({"locale": "en"}));
    assert_eq!(me.status, 200, "{:?}", me.body);

    let c = app.file(&requester, "窓口予約のオンライン化");
    let number = c["number"].as_str().expect("number").to_string();
    wait_until_sent(app);
    let receipt = receiver.to(&app.org.requester.email);
    assert_eq!(receipt.len(), 1, "one receipt");
    assert_eq!(
        receipt[0].mail_from, "digicon@localhost",
        "sent from MAIL_FROM"
    );
    assert_eq!(
        receipt[0].subject(),
        format!("[{number}] Consultation received: 窓口予約のオンライン化")
    );
    let link = format!("http://127.0.0.1:8080/consultations/{}", c["id"]);
    assert!(receipt[0].text().contains(&link), "{}", receipt[0].text());
    assert!(receipt[0].html().contains(&format!("href=\"{link}\"")));
    let intake = receiver.to(&app.org.dx.email);
    assert_eq!(intake.len(), 1);
    assert_eq!(
        intake[0].subject(),
        format!("[{number}] 新しい相談: 窓口予約のオンライン化")
    );
    assert!(
        intake[0].text().contains("佐藤 様"),
        "greeting in Japanese: {}",
        intake[0].text()
    );

    let c = app.must_fire(
        &dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": future_hearing(), "hearing_place": "本庁舎5階"}),
    );
    let c = app.must_fire(&dx, &c, "assign", json!({"assignee_id": app.org.se.id}));
    let note = app.post(
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        &se,
        json!({"body": "課長には内密に", "internal": true}),
    );
    assert_eq!(note.status, 201);
    let public = app.post(
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        &se,
        json!({"body": "様式を送ってください"}),
    );
    assert_eq!(public.status, 201);
    wait_until_sent(app);

    let subjects = |address: &str| -> Vec<String> {
        receiver.to(address).iter().map(|m| m.subject()).collect()
    };
    let requester_mail = subjects(&app.org.requester.email);
    assert_eq!(
        requester_mail.len(),
        4,
        "receipt, hearing, assignment, comment: {requester_mail:?}"
    );
    assert!(requester_mail[1].starts_with(&format!("[{number}] Hearing scheduled")));
    assert!(requester_mail[2].starts_with(&format!("[{number}] An SE is working on it")));
    assert!(requester_mail[3].starts_with(&format!("[{number}] New comment")));
    let se_mail = subjects(&app.org.se.email);
    assert_eq!(
        se_mail,
        vec![format!(
            "[{number}] 担当になりました: 窓口予約のオンライン化"
        )],
        "told of the assignment, not of their own comments"
    );
    let dx_mail = subjects(&app.org.dx.email);
    assert!(
        dx_mail.iter().any(|s| s.contains("内部メモ")),
        "{dx_mail:?}"
    );

    // Nothing staff-only reaches the requester, and every mail has one recipient.
    for m in receiver.to(&app.org.requester.email) {
        assert!(!m.data.contains("課長には内密に") && !m.text().contains("課長には内密に"));
        assert_eq!(m.rcpt_to, vec![app.org.requester.email.clone()]);
        assert!(!m.text().contains(&app.org.se.email));
    }
    let comment_mail = receiver
        .to(&app.org.requester.email)
        .pop()
        .expect("comment mail");
    assert!(comment_mail.text().contains("様式を送ってください"));
}

fn hearing_invitations_carry_a_stable_uid_and_a_rising_sequence(
    app: &TestApp,
    receiver: &SmtpReceiver,
) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let c = app.file(&requester, "ヒアリングの招待");
    // Dates relative to today: a fixed year fails once it has passed.
    let first = format!("{}T10:00:00+09:00", jst_date_in(30));
    let second = format!("{}T14:30:00+09:00", jst_date_in(31));
    let c = app.must_fire(
        &dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": &first, "hearing_place": "本庁舎5階 会議室A"}),
    );
    app.must_fire(
        &dx,
        &c,
        "schedule_hearing",
        json!({"hearing_at": &second, "hearing_place": "オンライン"}),
    );
    wait_until_sent(app);
    let invitations: Vec<String> = receiver
        .to(&app.org.requester.email)
        .iter()
        .filter_map(|m| m.part("text/calendar"))
        .collect();
    assert!(
        invitations.len() >= 2,
        "an invitation per schedule: {}",
        invitations.len()
    );
    let events: Vec<icalendar::Event> = invitations
        .iter()
        .map(|ics| {
            let calendar = icalendar::Calendar::from_str(ics).expect("the .ics parses");
            assert_eq!(calendar.property_value("METHOD"), Some("REQUEST"));
            calendar.components[0].as_event().expect("a VEVENT").clone()
        })
        .collect();
    assert_eq!(
        events[0].get_uid(),
        events[1].get_uid(),
        "one event, updated"
    );
    assert_eq!(events[0].get_sequence(), Some(0));
    assert_eq!(events[1].get_sequence(), Some(1));
    let tokyo = chrono_tz::Asia::Tokyo;
    let start = |e: &icalendar::Event| match e.get_start() {
        Some(icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(at))) => {
            at.with_timezone(&tokyo).to_rfc3339()
        }
        other => panic!("unexpected start {other:?}"),
    };
    assert_eq!(start(&events[0]), first);
    assert_eq!(start(&events[1]), second);
    assert_eq!(events[1].get_location(), Some("オンライン"));
}

fn opted_out_comment_mail_stops_but_transitions_still_arrive(
    app: &TestApp,
    receiver: &SmtpReceiver,
) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let opt = app.patch(
        "/api/v1/me",
        &requester,
        json!({"mail_opt_out": ["comment", "reminder"]}),
    );
    assert_eq!(opt.status, 200);
    assert_eq!(opt.body["mail_opt_out"], json!(["comment", "reminder"]));
    let bad = app.patch(
        "/api/v1/me",
        &requester,
        json!({"mail_opt_out": ["resolved"]}),
    );
    assert_eq!(bad.status, 422, "transitions cannot be turned off");
    let dx = app.login(&app.org.dx);
    let c = app.file(&requester, "配信停止の確認");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    let comment = app.post(
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        &se,
        json!({"body": "ご確認ください"}),
    );
    // Without this the opt-out check below would pass on a comment never made.
    assert_eq!(comment.status, 201, "{:?}", comment.body);
    app.must_fire(
        &se,
        &c,
        "request_info",
        json!({"message": "資料をください"}),
    );
    wait_until_sent(app);
    let subjects: Vec<String> = receiver
        .to(&app.org.requester.email)
        .iter()
        .map(|m| m.subject())
        .collect();
    assert!(
        subjects.iter().all(|s| !s.contains("コメント")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("追加情報のお願い")),
        "{subjects:?}"
    );
}

fn set_due(app: &TestApp, id: &Value, due: chrono::NaiveDateTime) {
    let mut conn = app.pool.get().expect("connection");
    diesel::update(consultations::table.find(id.as_i64().expect("id")))
        .set((
            consultations::due_at.eq(Some(due)),
            consultations::hearing_due_at.eq(Some(due)),
        ))
        .execute(&mut *conn)
        .expect("update");
}

fn reminders_and_breach_notices_go_out_once_each(app: &TestApp, receiver: &SmtpReceiver) {
    let requester = app.login(&app.org.requester);
    let c = app.file(&requester, "期限の確認");
    wait_until_sent(app);
    let before = receiver.to(&app.org.dx.email).len();
    let now = Utc::now().naive_utc();
    // Wait on the mail itself, not on a guess at how long a sweep takes.
    let arrived = |needle: &str| {
        receiver.to(&app.org.dx.email)[before..]
            .iter()
            .any(|m| m.subject().contains(needle))
    };
    let wait_for = |needle: &str| {
        let start = std::time::Instant::now();
        while !arrived(needle) {
            assert!(start.elapsed() < WAIT * 3, "no {needle} mail came");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    set_due(app, &c["id"], now + chrono::Duration::hours(2));
    wait_for("が近づいています");
    set_due(app, &c["id"], now - chrono::Duration::minutes(5));
    wait_for("を過ぎています");
    // Two more sweeps (one a second here) would show a repeat, if any.
    std::thread::sleep(Duration::from_secs(2 * app.settings.sla_sweep_secs));
    wait_until_sent(app);
    let dx_mail: Vec<String> = receiver.to(&app.org.dx.email)[before..]
        .iter()
        .map(|m| m.subject())
        .collect();
    assert_eq!(
        dx_mail
            .iter()
            .filter(|s| s.contains("が近づいています"))
            .count(),
        1,
        "{dx_mail:?}"
    );
    assert_eq!(
        dx_mail
            .iter()
            .filter(|s| s.contains("を過ぎています"))
            .count(),
        1,
        "{dx_mail:?}"
    );
    let manager_mail: Vec<String> = receiver
        .to(&app.org.dx_manager.email)
        .iter()
        .map(|m| m.subject())
        .collect();
    assert_eq!(
        manager_mail.len(),
        1,
        "the DX office manager hears of the breach only: {manager_mail:?}"
    );
    assert!(manager_mail[0].contains("ヒアリング期限を過ぎています"));
}

fn resolved_consultations_close_themselves_after_the_reopen_window(
    app: &TestApp,
    receiver: &SmtpReceiver,
) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let se = app.login(&app.org.se);
    let c = app.file(&requester, "自動完了");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    let c = app.must_fire(&se, &c, "resolve", json!({"resolution": "対応済み"}));
    {
        let mut conn = app.pool.get().expect("connection");
        let long_ago = Utc::now().naive_utc() - chrono::Duration::days(15);
        diesel::update(consultations::table.find(c["id"].as_i64().expect("id")))
            .set(consultations::resolved_at.eq(Some(long_ago)))
            .execute(&mut *conn)
            .expect("update");
    }
    // One token for the whole wait: a login per turn could hit the login limit.
    let path = format!("/api/v1/consultations/{}", c["id"]);
    let start = std::time::Instant::now();
    while app.get(&path, &requester).body["state"] != "closed" {
        assert!(start.elapsed() < WAIT, "not closed by the worker");
        std::thread::sleep(Duration::from_millis(200));
    }
    let timeline = app.timeline(&requester, &c["id"]);
    let close = timeline.last().expect("events");
    assert_eq!(close["event"], "close");
    assert!(close["actor_id"].is_null(), "closed by the system");
    wait_until_sent(app);
    assert!(receiver
        .to(&app.org.se.email)
        .iter()
        .any(|m| m.subject().contains("相談が完了しました")));
}

macro_rules! with_smtp {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() {
                let receiver = crate::smtp::SmtpReceiver::start();
                let url = receiver.url();
                let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, move |s| {
                    s.smtp_url = Some(url);
                    s.sla_sweep_secs = 1;
                }).expect("app");
                super::$name(&app, &receiver)
            } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                let receiver = crate::smtp::SmtpReceiver::start();
                let url = receiver.url();
                if let Some(app) = crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, move |s| {
                    s.smtp_url = Some(url);
                    s.sla_sweep_secs = 1;
                }) {
                    super::$name(&app, &receiver)
                }
            } )*
        }
    };
}

with_smtp!(
    every_step_mails_the_people_involved_in_their_language,
    hearing_invitations_carry_a_stable_uid_and_a_rising_sequence,
    opted_out_comment_mail_stops_but_transitions_still_arrive,
    reminders_and_breach_notices_go_out_once_each,
    resolved_consultations_close_themselves_after_the_reopen_window,
);

fn outbox_ids(receiver: &SmtpReceiver) -> Vec<String> {
    receiver
        .messages()
        .iter()
        .map(|m| m.header("X-Digicon-Outbox-Id").expect("outbox id header"))
        .collect()
}

fn assert_each_once(app: &TestApp, receiver: &SmtpReceiver) {
    let mut conn = app.pool.get().expect("connection");
    let total: i64 = outbox::table.count().get_result(&mut *conn).expect("count");
    let ids = outbox_ids(receiver);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no message twice");
    assert_eq!(ids.len() as i64, total, "every message arrived");
}

fn smtp_down_then_up_delivers_every_message_exactly_once(backend: Backend) {
    let receiver = SmtpReceiver::start();
    receiver.stop();
    let Some(app) = app_mailing_to(backend, &receiver) else {
        return;
    };
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    for i in 0..5 {
        let c = app.file(&requester, &format!("障害中の起票 {i}"));
        app.must_fire(
            &dx,
            &c,
            "schedule_hearing",
            json!({"hearing_at": future_hearing(), "hearing_place": "会議室"}),
        );
    }
    // Wait until the worker has tried (and failed) every message, not a fixed time.
    let start = std::time::Instant::now();
    while untried(&app) > 0 {
        assert!(
            start.elapsed() < WAIT,
            "the worker never tried: {} untried",
            untried(&app)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(unsent(&app) > 0, "nothing can be sent while SMTP is down");
    assert!(receiver.messages().is_empty());
    let back = receiver.restart();
    wait_until_sent(&app);
    assert_each_once(&app, &back);
    assert_eq!(
        back.messages().len(),
        20,
        "5 × (receipt, intake, 2 invitations)"
    );
}

#[test]
fn smtp_down_then_up_delivers_every_message_exactly_once_on_sqlite() {
    smtp_down_then_up_delivers_every_message_exactly_once(Backend::Sqlite);
}

#[test]
fn smtp_down_then_up_delivers_every_message_exactly_once_on_postgres() {
    smtp_down_then_up_delivers_every_message_exactly_once(Backend::Postgres);
}

#[test]
fn failed_mail_is_shown_to_admins_and_can_be_retried() {
    let receiver = SmtpReceiver::start();
    receiver.stop();
    let url = receiver.url();
    let app = spawn_app_with(Backend::Sqlite, move |s| {
        s.smtp_url = Some(url);
        s.mail_max_attempts = 2;
    })
    .expect("app");
    let requester = app.login(&app.org.requester);
    let admin = app.login(&app.org.admin);
    app.file(&requester, "送信失敗");
    let start = std::time::Instant::now();
    let failed = loop {
        let page = app.get("/api/v1/admin/outbox?status=failed", &admin);
        assert_eq!(page.status, 200);
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 2 {
            break items;
        }
        assert!(
            start.elapsed() < WAIT,
            "messages did not fail: {:?}",
            page.body
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(failed
        .iter()
        .all(|m| m["attempts"] == 2 && m["last_error"].is_string()));
    let requester_token = requester;
    assert_eq!(
        app.get("/api/v1/admin/outbox?status=failed", &requester_token)
            .status,
        403
    );
    let back = receiver.restart();
    for m in &failed {
        let retry = app.post(
            &format!("/api/v1/admin/outbox/{}/retry", m["id"]),
            &admin,
            json!({}),
        );
        assert_eq!(retry.status, 200, "{:?}", retry.body);
        assert_eq!(retry.body["status"], "pending");
    }
    let again = app.post(
        &format!("/api/v1/admin/outbox/{}/retry", failed[0]["id"]),
        &admin,
        json!({}),
    );
    assert!(
        again.status == 409 || again.body["status"] == "sent",
        "only failed mail is retried"
    );
    wait_until_sent(&app);
    assert_eq!(back.messages().len(), 2);
}

#[test]
fn without_smtp_mail_is_written_as_eml_files() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).expect("app");
    let requester = app.login(&app.org.requester);
    app.file(&requester, "ファイルに書かれるメール");
    wait_until_sent(&app);
    let dir = app.settings.mail_dir();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("mail folder")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(files.len(), 2, "receipt and intake in {}", dir.display());
    let text = std::fs::read_to_string(files[0].path()).expect("read");
    assert!(text.contains("X-Digicon-Outbox-Id"));
}

#[test]
fn two_worker_processes_on_one_postgres_never_send_a_message_twice() {
    let receiver = SmtpReceiver::start();
    let Some(app) = spawn_app_with(Backend::Postgres, |s| s.run_worker = false) else {
        return;
    };
    let requester = app.login(&app.org.requester);
    for i in 0..150 {
        app.file(&requester, &format!("大量起票 {i}"));
    }
    assert_eq!(unsent(&app), 300);
    let dir = tempfile::tempdir().expect("tempdir");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_digicon"))
            .arg("worker")
            .env("DATABASE_URL", &app.database_url)
            .env("SMTP_URL", receiver.url())
            .env("DIGICON_DATA_DIR", dir.path())
            .env("DIGICON_WORKER_POLL_MS", "10")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("worker starts")
    };
    let mut workers = [spawn(), spawn()];
    let start = std::time::Instant::now();
    while unsent(&app) > 0 && start.elapsed() < WAIT * 6 {
        std::thread::sleep(Duration::from_millis(100));
    }
    for w in &mut workers {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(w.id().to_string())
            .status();
        let status = w.wait().expect("worker exits");
        assert!(
            status.success(),
            "a worker stops cleanly on SIGTERM: {status:?}"
        );
    }
    assert_eq!(unsent(&app), 0);
    assert_each_once(&app, &receiver);
    assert_eq!(receiver.messages().len(), 300);
}
