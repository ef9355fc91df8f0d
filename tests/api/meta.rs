//! Checks on the project itself: migrations, the OpenAPI document, health checks.

use std::collections::BTreeSet;

use crate::helpers::{spawn_app, Backend};

fn names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = names("migrations/sqlite");
    let postgres = names("migrations/postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        for file in ["up.sql", "down.sql"] {
            for backend in ["sqlite", "postgres"] {
                let path = format!("migrations/{backend}/{name}/{file}");
                assert!(std::path::Path::new(&path).exists(), "{path}");
            }
        }
    }
}

/// Every `.rs` file under a folder, with its text.
fn sources(dir: &str) -> Vec<(String, String)> {
    let mut found = vec![];
    let mut folders = vec![std::path::PathBuf::from(dir)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                found.push((path.display().to_string(), text));
            }
        }
    }
    assert!(!found.is_empty(), "no sources under {dir}");
    found
}

#[test]
fn the_rules_and_use_cases_know_nothing_of_http_and_nothing_below_web_imports_it() {
    let mut offences = vec![];
    for dir in ["src/domain", "src/app"] {
        for (path, text) in sources(dir) {
            if text.contains("actix") {
                offences.push(format!("{path} mentions actix"));
            }
        }
    }
    for dir in [
        "src/domain",
        "src/app",
        "src/db",
        "src/notify",
        "src/reports",
    ] {
        for (path, text) in sources(dir) {
            if text.contains("crate::web") {
                offences.push(format!("{path} imports crate::web"));
            }
        }
    }
    // The rules are pure: no storage, mail or use cases below them.
    for (path, text) in sources("src/domain") {
        for layer in [
            "crate::db",
            "crate::app",
            "crate::notify",
            "crate::settings",
        ] {
            if text.contains(layer) {
                offences.push(format!("{path} imports {layer}"));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn the_openapi_document_covers_every_endpoint() {
    let app = spawn_app(Backend::Sqlite).expect("app");
    let doc = app.send("GET", "/api/openapi.json", None, None, &[]);
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().expect("paths");
    let expected = [
        ("/api/v1/auth/token", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/consultations", "get"),
        ("/api/v1/consultations", "post"),
        ("/api/v1/consultations/{id}", "get"),
        ("/api/v1/consultations/{id}", "patch"),
        ("/api/v1/consultations/{id}/transitions", "post"),
        ("/api/v1/consultations/{id}/events", "get"),
        ("/api/v1/consultations/{id}/comments", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/departments", "get"),
        ("/api/v1/departments", "post"),
        ("/api/v1/departments/{id}", "patch"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in expected {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        if path.starts_with("/api/v1/") && path != "/api/v1/auth/token" {
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
        }
    }
    let transition = &paths["/api/v1/consultations/{id}/transitions"]["post"]["responses"];
    for status in ["200", "403", "404", "409", "422"] {
        assert!(
            transition[status].is_object(),
            "transitions document {status}"
        );
    }
    assert!(doc.body["components"]["schemas"]["Problem"].is_object());
}

#[test]
fn health_and_readiness_answer() {
    let app = spawn_app(Backend::Sqlite).expect("app");
    assert_eq!(app.send("GET", "/healthz", None, None, &[]).status, 200);
    let ready = app.send("GET", "/readyz", None, None, &[]);
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
}
