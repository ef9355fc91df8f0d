//! How fast the worker delivers the outbox to a local SMTP server.
//!
//! `cargo bench --bench mail` (SQLite in a temporary folder), or with
//! `DATABASE_URL=postgres://…` for PostgreSQL; `MESSAGES=5000` sets the count and
//! `CONCURRENCY=4` the SMTP connections used at once (default 8).
//! Prints messages per second. The receiver is the tests' SMTP server.

#[path = "../tests/api/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use digicon::db::outbox::{self, NewOutbox};
use digicon::db::{self};
use digicon::notify::mailer::Mailer;
use digicon::notify::worker::{Worker, WorkerConfig};
use digicon::settings::Settings;
use digicon::startup::prepare_database;

fn main() -> Result<(), String> {
    let messages: usize = std::env::var("MESSAGES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut settings = Settings::defaults(dir.path());
    if let Some(n) = std::env::var("CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        settings.mail_concurrency = n;
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        settings.database_url = url;
    }
    let receiver = smtp::SmtpReceiver::start();
    settings.smtp_url = Some(receiver.url());
    let pool = prepare_database(&settings)?;
    let body_text = "田中 様\n\n相談への対応が完了しました。内容を確認してください。\n".repeat(8);
    let body_html = format!("<p>{}</p>", body_text.replace('\n', "<br>"));
    {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let now = db::now();
        for i in 0..messages {
            outbox::insert_all(
                &mut conn,
                &[NewOutbox {
                    kind: "resolved",
                    consultation_id: None,
                    recipient_id: None,
                    recipient_email: format!("user{i}@city.example.jp"),
                    locale: "ja",
                    subject: format!("[DX-2025-{i:04}] 対応が完了しました: 申請受付のオンライン化"),
                    body_text: body_text.clone(),
                    body_html: body_html.clone(),
                    calendar: None,
                    status: "pending",
                    next_attempt_at: now,
                    created_at: now,
                }],
            )
            .map_err(|e| e.to_string())?;
        }
    }
    let mailer = Mailer::new(
        settings.smtp_url.as_deref(),
        &settings.mail_dir(),
        &settings.mail_from,
        std::time::Duration::from_secs(settings.smtp_timeout_secs),
    )?;
    let worker = Worker::new(pool.clone(), mailer, WorkerConfig::from_settings(&settings));
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let mut sent = 0;
    while sent < messages {
        let round = worker.deliver(&stop)?;
        if round.sent == 0 {
            return Err(format!("stalled after {sent} messages: {round:?}"));
        }
        sent += round.sent;
    }
    let seconds = start.elapsed().as_secs_f64();
    let backend = if settings.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "{backend}, {} SMTP connections: delivered {sent} messages in {seconds:.2} s = {:.0} messages/s (received {})",
        settings.mail_concurrency,
        sent as f64 / seconds,
        receiver.messages().len()
    );
    Ok(())
}
