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

/// Every route of the API that `routes()` registers, as (path, method), read from
/// the sources: each `.service(module::handler)` in `src/web/mod.rs` and the route
/// attribute above that handler in `src/web/module.rs`. Pages, assets and the
/// document itself are not API operations.
pub fn api_routes() -> Vec<(String, String)> {
    let mod_rs = std::fs::read_to_string("src/web/mod.rs").expect("src/web/mod.rs");
    let body = &mod_rs[mod_rs.find("pub fn routes(").expect("routes()")..];
    let mut found = vec![];
    for (at, _) in body.match_indices(".service(") {
        let rest = &body[at + ".service(".len()..];
        let handler = &rest[..rest.find(')').expect("closing paren")];
        let Some((module, name)) = handler.split_once("::") else {
            continue;
        };
        if module == "pages" || module == "assets" || module == "openapi" {
            continue;
        }
        let source = std::fs::read_to_string(format!("src/web/{module}.rs"))
            .unwrap_or_else(|e| panic!("src/web/{module}.rs: {e}"));
        let signature = format!("pub async fn {name}(");
        let position = source
            .find(&signature)
            .unwrap_or_else(|| panic!("{handler} is defined in src/web/{module}.rs"));
        let before = &source[..position];
        let attribute = [
            "#[get(\"",
            "#[post(\"",
            "#[patch(\"",
            "#[put(\"",
            "#[delete(\"",
        ]
        .iter()
        .filter_map(|a| before.rfind(a).map(|i| (i, *a)))
        .max_by_key(|(i, _)| *i)
        .unwrap_or_else(|| panic!("{handler} has a route attribute"));
        let path_start = attribute.0 + attribute.1.len();
        let path = &source[path_start..path_start + source[path_start..].find('"').expect("quote")];
        let method = attribute.1.trim_start_matches("#[").trim_end_matches("(\"");
        found.push((path.to_string(), method.to_string()));
    }
    found
}

#[test]
fn the_openapi_document_covers_every_endpoint() {
    let app = spawn_app(Backend::Sqlite).expect("app");
    let doc = app.send("GET", "/api/openapi.json", None, None, &[]);
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().expect("paths");
    let expected = api_routes();
    assert!(
        expected.len() >= 35,
        "the routes were read from routes(): {expected:?}"
    );
    for required in [
        ("/api/v1/systems/{id}", "patch"),
        ("/api/v1/dashboard", "get"),
        ("/api/v1/export/consultations.csv", "get"),
        ("/api/v1/admin/outbox", "get"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me/sessions", "delete"),
        ("/api/v1/users/{id}/sessions", "delete"),
        ("/api/v1/inquiries", "post"),
        ("/api/v1/inquiries/{id}/transitions", "post"),
    ] {
        assert!(
            expected.contains(&(required.0.to_string(), required.1.to_string())),
            "{required:?} found in routes()"
        );
    }
    let mut missing = vec![];
    for (path, method) in &expected {
        let operation = &paths
            .get(path.as_str())
            .map(|p| p[method.as_str()].clone())
            .unwrap_or_default();
        if !operation.is_object() {
            missing.push(format!("{method} {path} is not documented"));
            continue;
        }
        // A path parameter is in the path; anything else a handler reads from the
        // query string is declared `in: query` (a parameter documented in the wrong
        // place is never sent by clients generated from the document, nor fuzzed).
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap_or_default();
            if parameter["in"] == "path" && !path.contains(&format!("{{{name}}}")) {
                missing.push(format!("{method} {path} declares {name} in the path"));
            }
        }
        let responses = &operation["responses"];
        let secured = path.starts_with("/api/v1/") && path != "/api/v1/auth/token";
        if secured && !responses["401"].is_object() {
            missing.push(format!("{method} {path} does not document 401"));
        }
        if path.contains('{') && secured && !responses["404"].is_object() {
            missing.push(format!("{method} {path} does not document 404"));
        }
        if operation["requestBody"].is_object() {
            for status in ["400", "413", "422"] {
                if !responses[status].is_object() {
                    missing.push(format!("{method} {path} does not document {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
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
