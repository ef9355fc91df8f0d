//! Hostile input on every field of every JSON write and every form: text over its
//! limit (the limits of `src/domain`), NUL and other control bytes, invalid UTF-8
//! sent as raw bytes, values of the wrong JSON type, numbers too large for any
//! column, negative ids, unknown enum values and deeply nested JSON. Each answer
//! is a 4xx as API.md says (400 malformed, 413 too large, 422 a field breaks a
//! rule; 409 for a stale `version`), never a 5xx, and nothing is stored.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{future_hearing, TestApp, PASSWORD};
use crate::session::Session;
use digicon::domain::consultation::{
    BODY_MAX_CHARS, CONTACT_MAX_CHARS, PLACE_MAX_CHARS, TEXT_MAX_CHARS, TITLE_MAX_CHARS,
};
use digicon::domain::directory::NAME_MAX_CHARS;
use digicon::domain::ledger::MANUAL_MAX_CHARS;

/// What a field holds, and so which hostile values it gets.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Text with a limit in characters.
    Text(usize),
    /// Text with no limit of its own (e-mail addresses, passwords, codes).
    Free,
    /// A wire enumeration value.
    Choice,
    /// An id or an amount.
    Number,
    /// The `version` a write carries: a wrong one is a 409.
    Version,
    Flag,
    /// A date or time.
    Moment,
}

/// The hostile values of a kind, each with its name.
fn hostile(kind: Kind) -> Vec<(&'static str, Value)> {
    let mut values: Vec<(&'static str, Value)> =
        vec![("an array", json!(["x"])), ("an object", json!({"x": 1}))];
    let text = |values: &mut Vec<(&'static str, Value)>| {
        values.push(("NUL", json!("前\u{0}後")));
        values.push(("a control character", json!("前\u{1b}[31m後")));
        values.push(("a number", json!(42)));
        values.push(("true", json!(true)));
        values.push(("100,001 characters", json!("長".repeat(100_001))));
    };
    match kind {
        Kind::Text(limit) => {
            text(&mut values);
            values.push(("one character too many", json!("字".repeat(limit + 1))));
        }
        Kind::Free => text(&mut values),
        Kind::Choice => {
            text(&mut values);
            values.push(("an unknown value", json!("bogus_value")));
            values.push(("a near miss", json!("Received ")));
        }
        Kind::Number | Kind::Version => {
            values.push(("a string", json!("12")));
            values.push(("a fraction", json!(1.5)));
            values.push(("2^63", json!(9_223_372_036_854_775_808u64)));
            values.push(("1e300", json!(1e300)));
            values.push(("-2^63-1", Value::from(-9.3e18)));
            values.push(("-1", json!(-1)));
            values.push(("true", json!(true)));
        }
        Kind::Flag => {
            values.push(("a string", json!("yes")));
            values.push(("a number", json!(1)));
        }
        Kind::Moment => {
            text(&mut values);
            values.push(("not a date", json!("2025-13-45T99:99:99+09:00")));
            values.push(("year 0", json!("0000-01-01T00:00:00+00:00")));
            values.push(("year 275000", json!("+275000-01-01T00:00:00Z")));
        }
    }
    values
}

/// A JSON write: its valid body (sent as the given user) and its fields.
struct Write {
    method: &'static str,
    path: String,
    token: String,
    body: Value,
    fields: Vec<(&'static str, Kind)>,
}

/// Everything a write could change, read by an admin.
fn world(app: &TestApp, admin: &str, consultations: &[Value], systems: &[Value]) -> String {
    let mut parts = vec![
        app.get("/api/v1/consultations?limit=200", admin)
            .body
            .to_string(),
        app.get("/api/v1/systems?limit=200", admin).body.to_string(),
        app.get("/api/v1/users?limit=200", admin).body.to_string(),
        app.get("/api/v1/departments", admin).body.to_string(),
        crate::attack_matrix::outbox_messages(app, admin),
    ];
    for c in consultations {
        parts.push(
            app.get(&format!("/api/v1/consultations/{}/events", c["id"]), admin)
                .body
                .to_string(),
        );
    }
    for s in systems {
        parts.push(
            app.get(&format!("/api/v1/systems/{}", s["id"]), admin)
                .body
                .to_string(),
        );
    }
    parts.join("\n")
}

/// Raw bytes to a path: for invalid UTF-8, which no JSON library would write.
fn send_bytes(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    bytes: &[u8],
) -> u16 {
    let mut request =
        ureq::request(method, &format!("{}{path}", app.base)).set("Content-Type", content_type);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    match request.send_bytes(bytes) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        // A server may close the connection on an oversized body after answering.
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn every_field_of_every_json_write_refuses_hostile_values_with_a_4xx_and_stores_nothing(
    app: &TestApp,
) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let requester = app.login(&org.requester);
    let dx = app.login(&org.dx);
    let se = app.login(&org.se);
    let received = app.file(&requester, "受付のままの相談");
    let assigned = app.file(&requester, "対応中の相談");
    let assigned = app.must_fire(
        &dx,
        &assigned,
        "assign",
        json!({"assignee_id": org.se.id, "reason": "ヒアリング不要"}),
    );
    let system = app.post(
        "/api/v1/systems",
        &dx,
        json!({"name": "入力試験台帳", "platform": "rpa", "department_id": org.shimin_division,
               "owner_id": org.requester.id}),
    );
    assert_eq!(system.status, 201, "{:?}", system.body);
    let system = system.body;
    let (r, a, s) = (&received["id"], &assigned["id"], &system["id"]);
    let texts = |pairs: &[(&'static str, usize)]| -> Vec<(&'static str, Kind)> {
        pairs.iter().map(|(n, l)| (*n, Kind::Text(*l))).collect()
    };

    let writes = vec![
        Write {
            method: "POST",
            path: "/api/v1/auth/token".into(),
            token: String::new(),
            body: json!({"email": org.dx.email, "password": "wrong but harmless"}),
            fields: vec![("email", Kind::Free), ("password", Kind::Free)],
        },
        Write {
            method: "PATCH",
            path: "/api/v1/me".into(),
            token: dx.clone(),
            body: json!({"locale": "en", "mail_opt_out": ["comment"],
                         "password": "a new long enough password", "current_password": PASSWORD}),
            fields: vec![
                ("locale", Kind::Choice),
                ("password", Kind::Free),
                ("current_password", Kind::Free),
            ],
        },
        Write {
            method: "POST",
            path: "/api/v1/consultations".into(),
            token: requester.clone(),
            body: json!({"title": "件名", "body": "本文", "category": "rpa", "priority": "high",
                         "department_id": org.shimin_section, "desired_by": "2030-01-01",
                         "contact": "内線1234"}),
            fields: [
                texts(&[
                    ("title", TITLE_MAX_CHARS),
                    ("body", BODY_MAX_CHARS),
                    ("contact", CONTACT_MAX_CHARS),
                ]),
                vec![
                    ("category", Kind::Choice),
                    ("priority", Kind::Choice),
                    ("department_id", Kind::Number),
                    ("desired_by", Kind::Moment),
                ],
            ]
            .concat(),
        },
        Write {
            method: "PATCH",
            path: format!("/api/v1/consultations/{r}"),
            token: dx.clone(),
            body: json!({"version": received["version"], "title": "新しい件名",
                         "category": "other", "priority": "urgent"}),
            fields: vec![
                ("version", Kind::Version),
                ("title", Kind::Text(TITLE_MAX_CHARS)),
                ("category", Kind::Choice),
                ("priority", Kind::Choice),
            ],
        },
        Write {
            method: "POST",
            path: format!("/api/v1/consultations/{r}/transitions"),
            token: dx.clone(),
            body: json!({"event": "schedule_hearing", "version": received["version"],
                         "hearing_at": future_hearing(), "hearing_place": "会議室"}),
            fields: vec![
                ("event", Kind::Choice),
                ("version", Kind::Version),
                ("hearing_at", Kind::Moment),
                ("hearing_place", Kind::Text(PLACE_MAX_CHARS)),
            ],
        },
        Write {
            method: "POST",
            path: format!("/api/v1/consultations/{r}/transitions"),
            token: dx.clone(),
            body: json!({"event": "assign", "version": received["version"],
                         "assignee_id": org.se.id, "reason": "急ぎ"}),
            fields: vec![
                ("assignee_id", Kind::Number),
                ("reason", Kind::Text(TEXT_MAX_CHARS)),
            ],
        },
        Write {
            method: "POST",
            path: format!("/api/v1/consultations/{r}/transitions"),
            token: dx.clone(),
            body: json!({"event": "withdraw", "version": received["version"],
                         "reason": "重複", "duplicate_of": assigned["id"]}),
            fields: vec![
                ("reason", Kind::Text(TEXT_MAX_CHARS)),
                ("duplicate_of", Kind::Number),
            ],
        },
        Write {
            method: "POST",
            path: format!("/api/v1/consultations/{a}/transitions"),
            token: se.clone(),
            body: json!({"event": "request_info", "version": assigned["version"],
                         "message": "資料をください"}),
            fields: vec![("message", Kind::Text(TEXT_MAX_CHARS))],
        },
        Write {
            method: "POST",
            path: format!("/api/v1/consultations/{a}/transitions"),
            token: se.clone(),
            body: json!({"event": "resolve", "version": assigned["version"],
                         "resolution": "作りました", "system_id": s}),
            fields: vec![
                ("resolution", Kind::Text(TEXT_MAX_CHARS)),
                ("system_id", Kind::Number),
            ],
        },
        Write {
            method: "POST",
            path: format!("/api/v1/consultations/{a}/comments"),
            token: se.clone(),
            body: json!({"body": "メモ", "internal": true}),
            fields: vec![
                ("body", Kind::Text(TEXT_MAX_CHARS)),
                ("internal", Kind::Flag),
            ],
        },
        Write {
            method: "POST",
            path: "/api/v1/systems".into(),
            token: dx.clone(),
            body: json!({"name": "別の台帳", "platform": "rpa", "phase": "trial",
                         "built_by": "vendor", "department_id": org.shimin_division,
                         "owner_id": org.requester.id, "workflow_before": "紙",
                         "workflow_after": "電子", "hours_saved_per_year": 10,
                         "cost_saved_per_year": 1000, "holds_personal_data": true,
                         "manual_location": "共有フォルダ", "review_on": "2030-04-01"}),
            fields: system_fields(),
        },
        Write {
            method: "PATCH",
            path: format!("/api/v1/systems/{s}"),
            token: dx.clone(),
            body: json!({"version": system["version"], "name": "改名", "platform": "rpa",
                         "phase": "verification", "built_by": "vendor",
                         "department_id": org.shimin_division, "owner_id": org.requester.id,
                         "workflow_before": "紙", "workflow_after": "電子",
                         "hours_saved_per_year": 10, "cost_saved_per_year": 1000,
                         "holds_personal_data": true, "manual_location": "共有フォルダ",
                         "review_on": "2030-04-01", "verified": true}),
            fields: [
                system_fields(),
                vec![("version", Kind::Version), ("verified", Kind::Flag)],
            ]
            .concat(),
        },
        Write {
            method: "POST",
            path: "/api/v1/users".into(),
            token: admin.clone(),
            body: json!({"email": "hostile@city.test", "name": "新人", "role": "requester",
                         "department_id": org.shimin_division, "locale": "ja",
                         "password": "a long enough password"}),
            fields: vec![
                ("email", Kind::Free),
                ("name", Kind::Text(NAME_MAX_CHARS)),
                ("role", Kind::Choice),
                ("department_id", Kind::Number),
                ("locale", Kind::Choice),
                ("password", Kind::Free),
            ],
        },
        Write {
            method: "PATCH",
            path: format!("/api/v1/users/{}", org.se2.id),
            token: admin.clone(),
            body: json!({"name": "高橋", "role": "dx_office", "department_id": org.dx_division,
                         "locale": "en", "active": false, "password": "another long password"}),
            fields: vec![
                ("name", Kind::Text(NAME_MAX_CHARS)),
                ("role", Kind::Choice),
                ("department_id", Kind::Number),
                ("locale", Kind::Choice),
                ("active", Kind::Flag),
                ("password", Kind::Free),
            ],
        },
        Write {
            method: "POST",
            path: "/api/v1/departments".into(),
            token: admin.clone(),
            body: json!({"code": "HOSTILE", "name": "新設課", "kind": "division",
                         "parent_id": org.shimin_bureau, "is_dx_office": false}),
            fields: vec![
                ("code", Kind::Free),
                ("name", Kind::Text(NAME_MAX_CHARS)),
                ("kind", Kind::Choice),
                ("parent_id", Kind::Number),
                ("is_dx_office", Kind::Flag),
            ],
        },
        Write {
            method: "PATCH",
            path: format!("/api/v1/departments/{}", org.hoiku_division),
            token: admin.clone(),
            body: json!({"name": "保育幼稚園課", "active": false}),
            fields: vec![("name", Kind::Text(NAME_MAX_CHARS)), ("active", Kind::Flag)],
        },
    ];

    let consultations = [received.clone(), assigned.clone()];
    let systems = [system.clone()];
    let mut failures = vec![];
    let mut cases = 0;
    for write in &writes {
        let token = (!write.token.is_empty()).then_some(write.token.as_str());
        let before = world(app, &admin, &consultations, &systems);
        let mut attempt = |what: String, status: u16, allowed: &[u16]| {
            cases += 1;
            if !allowed.contains(&status) {
                failures.push(format!(
                    "{} {} {what}: {status} (expected one of {allowed:?})",
                    write.method, write.path
                ));
            }
        };
        let refused: &[u16] = &[400, 401, 413, 422];
        for (field, kind) in &write.fields {
            for (name, value) in hostile(*kind) {
                let mut body = write.body.clone();
                body[*field] = value;
                let reply = app.send(
                    write.method,
                    &write.path,
                    token,
                    Some(&body.to_string()),
                    &[],
                );
                let allowed: &[u16] = match kind {
                    Kind::Version => &[400, 409, 413, 422],
                    _ => refused,
                };
                attempt(format!("{field} = {name}"), reply.status, allowed);
            }
            // A whole body nested past any parser's patience, in this field.
            let mut body = write.body.clone();
            body[*field] = json!("PLACEHOLDER");
            let deep = body
                .to_string()
                .replace("\"PLACEHOLDER\"", &nested(100_000));
            let status = send_bytes(
                app,
                write.method,
                &write.path,
                token,
                "application/json",
                deep.as_bytes(),
            );
            attempt(format!("{field} = 100,000 nested arrays"), status, refused);
            // Invalid UTF-8 inside the field's string.
            let mut body = write.body.clone();
            body[*field] = json!("PLACEHOLDER");
            let raw = body.to_string();
            let mut bytes = vec![];
            let (head, tail) = raw.split_once("PLACEHOLDER").expect("placeholder");
            bytes.extend_from_slice(head.as_bytes());
            bytes.extend_from_slice(b"\xff\xfe\xc3\x28");
            bytes.extend_from_slice(tail.as_bytes());
            let status = send_bytes(
                app,
                write.method,
                &write.path,
                token,
                "application/json",
                &bytes,
            );
            attempt(format!("{field} = invalid UTF-8"), status, refused);
        }
        // Whole bodies: among them the fields as an array in order, which serde
        // would read into a struct.
        let fields_in_order = |fill: &dyn Fn(&Value) -> Value| -> Vec<u8> {
            let values: Vec<Value> = write
                .body
                .as_object()
                .map(|o| o.values().map(fill).collect())
                .unwrap_or_default();
            serde_json::to_vec(&values).expect("array")
        };
        let as_array = fields_in_order(&|v| v.clone());
        let nulls = fields_in_order(&|_| Value::Null);
        for (what, bytes) in [
            ("its values as an array", as_array),
            ("an array of nulls", nulls),
        ] {
            let status = send_bytes(
                app,
                write.method,
                &write.path,
                token,
                "application/json",
                &bytes,
            );
            attempt(what.to_string(), status, refused);
        }
        let oversized = json!({"title": "x".repeat(2 * 1024 * 1024)}).to_string();
        for (what, content_type, bytes) in [
            ("an empty body", "application/json", b"".to_vec()),
            ("a JSON array", "application/json", b"[]".to_vec()),
            ("a JSON string", "application/json", b"\"x\"".to_vec()),
            ("null", "application/json", b"null".to_vec()),
            (
                "truncated JSON",
                "application/json",
                b"{\"title\": \"".to_vec(),
            ),
            (
                "a BOM and JSON",
                "application/json",
                b"\xef\xbb\xbf{}".to_vec(),
            ),
            (
                "form data",
                "application/x-www-form-urlencoded",
                b"title=x".to_vec(),
            ),
            ("2 MiB", "application/json", oversized.into_bytes()),
            (
                "invalid UTF-8 keys",
                "application/json",
                b"{\"\xff\": 1}".to_vec(),
            ),
        ] {
            let status = send_bytes(app, write.method, &write.path, token, content_type, &bytes);
            attempt(what.to_string(), status, refused);
        }
        if world(app, &admin, &consultations, &systems) != before {
            failures.push(format!(
                "{} {}: a refused write changed something",
                write.method, write.path
            ));
        }
    }
    eprintln!("hostile JSON input: {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} hostile inputs were not refused with a 4xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn system_fields() -> Vec<(&'static str, Kind)> {
    vec![
        ("name", Kind::Text(TITLE_MAX_CHARS)),
        ("platform", Kind::Choice),
        ("phase", Kind::Choice),
        ("built_by", Kind::Choice),
        ("department_id", Kind::Number),
        ("owner_id", Kind::Number),
        ("workflow_before", Kind::Text(TEXT_MAX_CHARS)),
        ("workflow_after", Kind::Text(TEXT_MAX_CHARS)),
        ("hours_saved_per_year", Kind::Number),
        ("cost_saved_per_year", Kind::Number),
        ("holds_personal_data", Kind::Flag),
        ("manual_location", Kind::Text(MANUAL_MAX_CHARS)),
        ("review_on", Kind::Moment),
    ]
}

/// Hostile query parameters of the reading routes: never a 5xx.
fn hostile_query_parameters_get_a_4xx_or_an_empty_answer_never_a_5xx(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let values = [
        "%00",
        "a%00b",
        "%FF%FE",
        "%C3%28",
        "-1",
        "99999999999999999999999",
        "1e400",
        "%27%22%3B--",
        "%25%5F%5C",
        "%E2%80%AE",
    ];
    let paths = [
        "/api/v1/consultations?q=",
        "/api/v1/consultations?state=",
        "/api/v1/consultations?assignee=",
        "/api/v1/consultations?department=",
        "/api/v1/consultations?category=",
        "/api/v1/consultations?priority=",
        "/api/v1/consultations?fiscal_year=",
        "/api/v1/consultations?sort=",
        "/api/v1/consultations?limit=",
        "/api/v1/consultations?cursor=",
        "/api/v1/consultations?overdue=",
        "/api/v1/consultations/similar?title=",
        "/api/v1/consultations/similar?body=",
        "/api/v1/systems?q=",
        "/api/v1/systems?department=",
        "/api/v1/systems?phase=",
        "/api/v1/systems?platform=",
        "/api/v1/systems?cursor=",
        "/api/v1/systems/similar?name=",
        "/api/v1/systems/effects?fiscal_year=",
        "/api/v1/dashboard?fiscal_year=",
        "/api/v1/dashboard?department=",
        "/api/v1/export/consultations.csv?q=",
        "/api/v1/export/systems.csv?q=",
        "/api/v1/admin/outbox?status=",
        "/api/v1/admin/outbox?cursor=",
        "/api/v1/users?cursor=",
        "/api/v1/users?limit=",
        "/api/v1/consultations/",
        "/api/v1/systems/",
        "/api/v1/users/",
        "/consultations?q=",
        "/consultations?department=",
        "/systems?q=",
        "/dashboard?department=",
        "/dashboard?fiscal_year=",
        "/consultations/",
        "/systems/",
        "/login?next=",
    ];
    let mut session = Session::new(app);
    session.login(&app.org.admin.email);
    let mut failures = vec![];
    let mut cases = 0;
    for path in paths {
        for value in values {
            cases += 1;
            let full = format!("{path}{value}");
            let status = if path.starts_with("/api/") {
                app.send("GET", &full, Some(&admin), None, &[]).status
            } else {
                session.get(&full).status
            };
            if status >= 500 {
                failures.push(format!("GET {full}: {status}"));
            }
        }
    }
    eprintln!("hostile query parameters: {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} hostile parameters got a 5xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Hostile headers: forged and malformed tokens, oversized and blank headers.
/// A token that is not a live session is a 401; nothing is a 5xx.
fn hostile_headers_and_tokens_get_a_4xx_never_a_5xx(app: &TestApp) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let admin = app.login(&app.org.admin);
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s.as_bytes());
    let (header, payload, signature) = {
        let mut parts = admin.split('.');
        (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        )
    };
    let claims =
        String::from_utf8(URL_SAFE_NO_PAD.decode(&payload).expect("claims")).expect("UTF-8 claims");
    let flipped = format!(
        "{header}.{payload}.{}",
        signature.chars().rev().collect::<String>()
    );
    let unsigned = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
    let other_user = format!(
        "{header}.{}.{signature}",
        b64(&claims.replace(&format!("{}", app.org.admin.id), "1"))
    );
    let long = "A".repeat(6000);
    let forged: Vec<(&str, String)> = vec![
        ("no scheme", admin.clone()),
        ("Basic", "Basic YWRtaW46YWRtaW4=".into()),
        ("an empty bearer", "Bearer ".into()),
        ("three dots", "Bearer a.b.c".into()),
        ("a reversed signature", format!("Bearer {flipped}")),
        ("alg none", format!("Bearer {unsigned}")),
        ("claims of another user", format!("Bearer {other_user}")),
        ("6,000 characters", format!("Bearer {long}")),
        ("two tokens", format!("Bearer {admin} {admin}")),
    ];
    let mut failures = vec![];
    let mut cases = 0;
    for (what, value) in &forged {
        for (method, path, body) in [
            ("GET", "/api/v1/me", None),
            (
                "POST",
                "/api/v1/consultations",
                Some(r#"{"title":"偽","body":"偽","category":"rpa"}"#),
            ),
        ] {
            cases += 1;
            let reply = app.send(
                method,
                path,
                None,
                body,
                &[("Authorization", value.as_str())],
            );
            if reply.status != 401 {
                failures.push(format!("{method} {path} with {what}: {}", reply.status));
            }
        }
    }
    let headers: Vec<(&str, &str, String)> = vec![
        ("Idempotency-Key", "10,000 characters", "k".repeat(10_000)),
        ("Idempotency-Key", "blank", "   ".into()),
        ("Accept-Language", "6,000 characters", "ja;q=".repeat(1200)),
        (
            "Accept-Language",
            "nonsense weights",
            "*;q=abc, en;q=-1, ja;q=2".into(),
        ),
        (
            "Content-Type",
            "JSON with a charset",
            "application/json; charset=shift_jis".into(),
        ),
        (
            "Content-Type",
            "a +json type",
            "application/merge-patch+json".into(),
        ),
        ("X-Request-Id", "6,000 characters", "r".repeat(6000)),
        (
            "X-Forwarded-For",
            "nonsense",
            "999.1.1.1, ::gg, unknown".into(),
        ),
        (
            "Cookie",
            "a session cookie that is not a token",
            "digicon_session=garbage".into(),
        ),
    ];
    for (name, what, value) in &headers {
        cases += 1;
        let reply = app.send(
            "POST",
            "/api/v1/consultations",
            Some(&admin),
            Some(r#"{"title":"見出し試験","body":"本文","category":"rpa"}"#),
            &[(name, value.as_str())],
        );
        if reply.status >= 500 {
            failures.push(format!("{name} {what}: {}", reply.status));
        }
    }
    // Pages with a cookie that is not a session: to the login page.
    for value in ["garbage", "a.b.c", "%00"] {
        cases += 1;
        let mut visitor = Session::new(app);
        visitor
            .cookies
            .insert("digicon_session".into(), value.into());
        let page = visitor.get("/consultations");
        let to_login = page
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login"));
        if page.status != 303 || !to_login {
            failures.push(format!(
                "page with the session cookie {value}: {} to {:?}",
                page.status, page.location
            ));
        }
    }
    eprintln!("hostile headers: {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} hostile headers were not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every form: each field over-long, with NUL, with invalid UTF-8 (as raw bytes),
/// and the whole body over the limit.
fn every_field_of_every_form_refuses_hostile_values_with_a_4xx_and_stores_nothing(app: &TestApp) {
    let org = &app.org;
    let admin = app.login(&org.admin);
    let requester = app.login(&org.requester);
    let c = app.file(&requester, "フォーム試験の相談");
    let dx = app.login(&org.dx);
    let system = app.post(
        "/api/v1/systems",
        &dx,
        json!({"name": "フォーム試験台帳", "platform": "rpa",
               "department_id": org.shimin_division, "owner_id": org.requester.id}),
    );
    assert_eq!(system.status, 201);
    let system = system.body;
    let (cid, sid) = (&c["id"], &system["id"]);
    let hearing = (chrono::Utc::now() + chrono::Duration::days(7))
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("offset"))
        .format("%Y-%m-%dT10:00")
        .to_string();
    let version = c["version"].to_string();
    let system_version = system["version"].to_string();
    let shimin = org.shimin_division.to_string();
    let bureau = org.shimin_bureau.to_string();
    // (who, path, form, fields to attack with their limits; 0 = no limit of its own)
    type FormCase<'a> = (
        &'a str,
        String,
        Vec<(&'static str, String)>,
        Vec<(&'static str, usize)>,
    );
    let forms: Vec<FormCase> = vec![
        (
            &org.requester.email,
            "/consultations".into(),
            vec![
                ("title", "件名".into()),
                ("category", "rpa".into()),
                ("priority", "normal".into()),
                ("current_work", "紙".into()),
                ("wish", "電子化".into()),
                ("contact", "内線".into()),
                ("desired_by", "2030-01-01".into()),
                ("department_id", org.shimin_section.to_string()),
            ],
            vec![
                ("title", TITLE_MAX_CHARS),
                ("category", 0),
                ("priority", 0),
                ("current_work", BODY_MAX_CHARS),
                ("contact", CONTACT_MAX_CHARS),
                ("desired_by", 0),
                ("department_id", 0),
            ],
        ),
        (
            &org.dx.email,
            format!("/consultations/{cid}/events"),
            vec![
                ("event", "schedule_hearing".into()),
                ("version", version.clone()),
                ("hearing_at", hearing.clone()),
                ("hearing_place", "会議室".into()),
            ],
            vec![
                ("event", 0),
                ("version", 0),
                ("hearing_at", 0),
                ("hearing_place", PLACE_MAX_CHARS),
            ],
        ),
        (
            &org.dx.email,
            format!("/consultations/{cid}/events"),
            vec![
                ("event", "assign".into()),
                ("version", version.clone()),
                ("assignee_id", org.se.id.to_string()),
                ("reason", "急ぎ".into()),
            ],
            vec![("assignee_id", 0), ("reason", TEXT_MAX_CHARS)],
        ),
        (
            &org.requester.email,
            format!("/consultations/{cid}/comments"),
            vec![("body", "コメント".into())],
            vec![("body", TEXT_MAX_CHARS)],
        ),
        (
            &org.dx.email,
            "/systems".into(),
            vec![
                ("name", "全く新しい名前の台帳".into()),
                ("platform", "rpa".into()),
                ("phase", "trial".into()),
                ("built_by", "vendor".into()),
                ("department_id", shimin.clone()),
                ("owner_email", org.requester.email.clone()),
                ("workflow_before", "紙".into()),
                ("workflow_after", "電子".into()),
                ("hours_saved_per_year", "10".into()),
                ("cost_saved_per_year", "1000".into()),
                ("manual_location", "共有".into()),
                ("review_on", "2030-04-01".into()),
                ("confirm_different", "true".into()),
            ],
            vec![
                ("name", TITLE_MAX_CHARS),
                ("platform", 0),
                ("phase", 0),
                ("built_by", 0),
                ("department_id", 0),
                ("owner_email", 0),
                ("workflow_before", TEXT_MAX_CHARS),
                ("workflow_after", TEXT_MAX_CHARS),
                ("hours_saved_per_year", 0),
                ("cost_saved_per_year", 0),
                ("manual_location", MANUAL_MAX_CHARS),
                ("review_on", 0),
            ],
        ),
        (
            &org.dx.email,
            format!("/systems/{sid}"),
            vec![
                ("version", system_version.clone()),
                ("name", "改名".into()),
                ("platform", "rpa".into()),
                ("phase", "trial".into()),
                ("built_by", "vendor".into()),
                ("department_id", shimin.clone()),
                ("owner_email", org.requester.email.clone()),
                ("workflow_after", "電子".into()),
                ("manual_location", "共有".into()),
            ],
            vec![
                ("version", 0),
                ("name", TITLE_MAX_CHARS),
                ("workflow_after", TEXT_MAX_CHARS),
                ("manual_location", MANUAL_MAX_CHARS),
            ],
        ),
        (
            &org.admin.email,
            "/admin/users".into(),
            vec![
                ("email", "form-new@city.test".into()),
                ("name", "新人".into()),
                ("role", "requester".into()),
                ("department_id", shimin.clone()),
                ("locale", "ja".into()),
                ("password", "a long enough password".into()),
            ],
            vec![
                ("email", 0),
                ("name", NAME_MAX_CHARS),
                ("role", 0),
                ("department_id", 0),
                ("locale", 0),
                ("password", 0),
            ],
        ),
        (
            &org.admin.email,
            format!("/admin/users/{}", org.se2.id),
            vec![
                ("name", "高橋二郎".into()),
                ("role", "helpdesk".into()),
                ("department_id", org.dx_division.to_string()),
                ("locale", "ja".into()),
                ("active", "true".into()),
            ],
            vec![("name", NAME_MAX_CHARS), ("role", 0), ("department_id", 0)],
        ),
        (
            &org.admin.email,
            "/admin/departments".into(),
            vec![
                ("code", "FORMNEW".into()),
                ("name", "新設課".into()),
                ("kind", "division".into()),
                ("parent_id", bureau.clone()),
            ],
            vec![("code", 0), ("name", NAME_MAX_CHARS), ("parent_id", 0)],
        ),
        (
            &org.admin.email,
            format!("/admin/departments/{}", org.hoiku_division),
            vec![("name", "保育幼稚園課".into()), ("active", "true".into())],
            vec![("name", NAME_MAX_CHARS)],
        ),
        (
            &org.outsider.email,
            "/account/password".into(),
            vec![
                ("current_password", PASSWORD.into()),
                ("password", "a brand new long passphrase".into()),
            ],
            vec![("current_password", 0), ("password", 0)],
        ),
        (
            &org.colleague.email,
            "/settings/language".into(),
            vec![("locale", "en".into())],
            vec![("locale", 0)],
        ),
        (
            "",
            "/login".into(),
            vec![
                ("email", org.dx.email.clone()),
                ("password", "wrong".into()),
            ],
            vec![("email", 0), ("password", 0)],
        ),
    ];
    let consultations = [c.clone()];
    let systems = [system.clone()];
    let mut failures = vec![];
    let mut cases = 0;
    for (who, path, form, fields) in &forms {
        let mut session = Session::new(app);
        if who.is_empty() {
            session.get("/login");
        } else {
            session.login(who);
        }
        let csrf = session.csrf();
        let cookie = session
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let post = |bytes: &[u8]| -> (u16, bool) {
            let result = ureq::AgentBuilder::new()
                .redirects(0)
                .build()
                .post(&format!("{}{path}", app.base))
                .set("Cookie", &cookie)
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_bytes(bytes);
            match result {
                Ok(r) | Err(ureq::Error::Status(_, r)) => {
                    let sets_session = r.all("set-cookie").iter().any(|c| {
                        c.starts_with("digicon_session=") && !c.starts_with("digicon_session=;")
                    });
                    (r.status(), sets_session)
                }
                Err(e) => panic!("{path}: {e}"),
            }
        };
        let encode = |pairs: &[(&str, String)]| -> String {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
                .finish()
        };
        let before = world(app, &admin, &consultations, &systems);
        for (field, limit) in fields {
            let mut attacks: Vec<(String, Vec<u8>)> = vec![];
            let with = |value: String| {
                let mut pairs: Vec<(&str, String)> = form
                    .iter()
                    .filter(|(k, _)| k != field)
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                pairs.push(("_csrf", csrf.clone()));
                pairs.push((field, value));
                encode(&pairs)
            };
            let original = form
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            attacks.push(("NUL".into(), with(format!("{original}\u{0}x")).into_bytes()));
            attacks.push((
                "a control character".into(),
                with(format!("{original}\u{7}")).into_bytes(),
            ));
            if *limit > 0 {
                attacks.push((
                    "one character too many".into(),
                    with("字".repeat(limit + 1)).into_bytes(),
                ));
            } else {
                attacks.push((
                    "100,001 characters".into(),
                    with("長".repeat(100_001)).into_bytes(),
                ));
            }
            let numeric =
                field.ends_with("_id") || *field == "version" || field.ends_with("_per_year");
            if numeric {
                attacks.push(("-1".into(), with("-1".into()).into_bytes()));
                attacks.push((
                    "2^63".into(),
                    with("9223372036854775808".into()).into_bytes(),
                ));
                attacks.push(("a fraction".into(), with("1.5".into()).into_bytes()));
            }
            let raw = with("PLACEHOLDER".into()).replace("PLACEHOLDER", "%FF%FE%C3%28");
            attacks.push(("invalid UTF-8".into(), raw.into_bytes()));
            for (what, bytes) in attacks {
                cases += 1;
                let (status, sets_session) = post(&bytes);
                // A page that shows the form again with the problem is a 4xx too;
                // a redirect means it was stored.
                if !(400..500).contains(&status) || sets_session {
                    failures.push(format!("POST {path} {field} = {what}: {status}"));
                }
            }
        }
        cases += 1;
        let huge = format!("_csrf={csrf}&body={}", "x".repeat(2 * 1024 * 1024));
        let (status, _) = post(huge.as_bytes());
        if !(400..500).contains(&status) {
            failures.push(format!("POST {path} 2 MiB: {status}"));
        }
        if world(app, &admin, &consultations, &systems) != before {
            failures.push(format!("POST {path}: a refused form changed something"));
        }
    }
    eprintln!("hostile form input: {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} hostile form inputs were not refused with a 4xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

both_backends!(
    every_field_of_every_json_write_refuses_hostile_values_with_a_4xx_and_stores_nothing,
    hostile_query_parameters_get_a_4xx_or_an_empty_answer_never_a_5xx,
    hostile_headers_and_tokens_get_a_4xx_never_a_5xx,
    every_field_of_every_form_refuses_hostile_values_with_a_4xx_and_stores_nothing,
);
