//! Fuzzing the API from its own OpenAPI document with schemathesis (PyPI, 4.x):
//! generated requests, valid and invalid, with a real admin token. No answer may
//! be a 5xx, every answer must match what the document says of its operation (a
//! documented status, content type and schema), a request the schema forbids must
//! be refused, and an operation that needs a token must refuse none or a bad one. It runs as an admin, then as a
//! requester (whose refusals must be documented too); operations that end sessions
//! run last, with a second admin's token, so the first tokens live through the runs.
//!
//! Budget: `DIGICON_FUZZ_EXAMPLES` cases per operation and phase (default 10, about
//! 20 s a backend here); `DIGICON_FUZZ_SEED` for another seed; on SQLite and on
//! PostgreSQL (`DIGICON_FUZZ_BACKEND=sqlite`: SQLite only). `scripts/fuzz-api.sh`
//! runs a long one by hand.
//! Under `CI=true` a missing schemathesis fails the test; elsewhere it says why and
//! passes.

use std::process::Command;

use serde_json::json;

use crate::helpers::{spawn_app, Backend, TestApp, PASSWORD};

/// How schemathesis is started: `python3 -m schemathesis.cli` (4.x has no
/// `python3 -m schemathesis`), overridable with `SCHEMATHESIS`.
fn schemathesis() -> Vec<String> {
    match std::env::var("SCHEMATHESIS") {
        Ok(command) if !command.trim().is_empty() => {
            command.split_whitespace().map(str::to_string).collect()
        }
        _ => vec!["python3".into(), "-m".into(), "schemathesis.cli".into()],
    }
}

fn available() -> Result<String, String> {
    let command = schemathesis();
    let output = Command::new(&command[0])
        .args(&command[1..])
        .arg("--version")
        .output()
        .map_err(|e| format!("{}: {e}", command.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!(
            "{} --version: {}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Operations that end the token's session (or can: a password reset or a
/// deactivation of the admin themself).
const SESSION_ENDING: &str =
    "^(POST /api/v1/auth/logout|DELETE /api/v1/me/sessions|DELETE /api/v1/users/\\{id\\}/sessions|PATCH /api/v1/users/\\{id\\}|PATCH /api/v1/me)$";

/// A few records so that ids the fuzzer tries exist.
fn seed_records(app: &TestApp, admin: &str) {
    let requester = app.login(&app.org.requester);
    for title in ["印鑑登録の電子申請", "会議室予約のアプリ化"] {
        app.file(&requester, title);
    }
    let system = app.post(
        "/api/v1/systems",
        admin,
        json!({"name": "会議室予約アプリ", "platform": "low_code_app",
               "department_id": app.org.shimin_division, "owner_id": app.org.requester.id}),
    );
    assert_eq!(system.status, 201, "{:?}", system.body);
}

fn run(app: &TestApp, token: &str, examples: &str, seed: &str, select: &[&str]) -> (bool, String) {
    let command = schemathesis();
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(&command[0])
        .args(&command[1..])
        .arg("run")
        .arg(format!("{}/api/openapi.json", app.base))
        .args(["--url", &app.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth,negative_data_rejection",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", examples])
        .args(["--seed", seed])
        // One worker: hypothesis parses sources with `ast` and CPython 3.11 can fail
        // that from two threads at once ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--generation-database", "none"])
        .args(["--suppress-health-check", "all"])
        .args(["--no-color", "--output-truncate", "false"])
        .args(select)
        .current_dir(dir.path())
        .env_remove("SCHEMATHESIS_HOOKS")
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn fuzz(backend: Backend) {
    let version = match available() {
        Ok(version) => version,
        Err(why) => {
            let message = format!(
                "schemathesis is not installed ({why}); `pip install schemathesis==4.32.5`"
            );
            crate::postgres::skip("the API fuzz", &message);
            return;
        }
    };
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let examples = std::env::var("DIGICON_FUZZ_EXAMPLES").unwrap_or_else(|_| "10".into());
    let seed = std::env::var("DIGICON_FUZZ_SEED").unwrap_or_else(|_| "20261201".into());
    let admin = app.login(&app.org.admin);
    seed_records(&app, &admin);

    let (ok, main) = run(
        &app,
        &admin,
        &examples,
        &seed,
        &["--exclude-name-regex", SESSION_ENDING],
    );
    // Still signed in: nothing in the first run ended the session.
    assert_eq!(
        app.get("/api/v1/me", &admin).status,
        200,
        "the fuzz run ended its own session"
    );
    // The same as a requester: what they may not do or see is answered as documented.
    let requester = app.login(&app.org.requester);
    let (ok_requester, as_requester) = run(
        &app,
        &requester,
        &examples,
        &seed,
        &["--exclude-name-regex", SESSION_ENDING],
    );
    // The session-ending operations, as a second admin who may lose their session.
    let second = app.post(
        "/api/v1/users",
        &admin,
        json!({"email": "fuzz-admin@city.test", "name": "ファズ", "role": "admin",
               "department_id": app.org.dx_division, "password": PASSWORD}),
    );
    assert_eq!(second.status, 201, "{:?}", second.body);
    let second = app.login(&crate::helpers::User {
        id: second.body["id"].as_i64().expect("id"),
        email: "fuzz-admin@city.test".into(),
    });
    let (ok_ending, ending) = run(
        &app,
        &second,
        &examples,
        &seed,
        &["--include-name-regex", SESSION_ENDING],
    );
    eprintln!(
        "{version} on {backend:?}:\n{main}\n--- as a requester:\n{as_requester}\n--- session-ending operations:\n{ending}"
    );
    assert!(ok, "schemathesis found failures:\n{main}");
    assert!(
        ok_requester,
        "schemathesis found failures as a requester:\n{as_requester}"
    );
    assert!(ok_ending, "schemathesis found failures:\n{ending}");
}

#[test]
fn the_api_on_sqlite_answers_schemathesis_without_server_errors_and_as_documented() {
    fuzz(Backend::Sqlite);
}

/// PostgreSQL refuses some text SQLite keeps (NUL): the fuzz found that there.
#[test]
fn the_api_on_postgres_answers_schemathesis_without_server_errors_and_as_documented() {
    if std::env::var("DIGICON_FUZZ_BACKEND").is_ok_and(|b| b == "sqlite") {
        return;
    }
    fuzz(Backend::Postgres);
}
