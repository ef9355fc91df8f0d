//! Browser tests: the real app on port 0, driven through headless Chromium with
//! `chromedriver` and fantoccini. The pages are checked against the contract in
//! `tests/browser/PAGES.md` (ids, names and data attributes, never translated text).
//! Screenshots go to `target/screenshots/`.
//!
//! Run: `cargo test --test browser` (needs `apt-get install -y chromium chromium-driver`;
//! outside CI the tests skip, with a message, when those are missing).

// The API tests' app starter and its siblings; not every helper is used here.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../api/smtp.rs"]
mod smtp;

mod harness;

mod access;
mod admin_import;
mod dashboard;
mod effects;
mod escaping;
mod helpdesk;
mod language;
mod ledger;
mod login;
mod queue;
mod workflow;
