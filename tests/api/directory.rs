//! The admin's directory: departments and users over the API.

use serde_json::json;

use crate::both_backends;
use crate::helpers::TestApp;

fn an_admin_builds_a_department_tree_and_adds_a_user_who_can_log_in(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let bureau = app.post(
        "/api/v1/departments",
        &admin,
        json!({"code": "KANKYO", "name": "環境局"}),
    );
    assert_eq!(bureau.status, 201, "{:?}", bureau.body);
    assert_eq!(bureau.body["kind"], "bureau");
    let division = app.post(
        "/api/v1/departments",
        &admin,
        json!({"code": "GOMI", "name": "ごみ減量推進課", "parent_id": bureau.body["id"]}),
    );
    assert_eq!(division.status, 201);
    assert_eq!(division.body["kind"], "division");
    assert_eq!(division.body["parent_id"], bureau.body["id"]);

    let user = app.post(
        "/api/v1/users",
        &admin,
        json!({
            "email": "Nakamura@City.Test", "name": "中村", "role": "requester",
            "department_id": division.body["id"], "locale": "en", "password": "a long password"
        }),
    );
    assert_eq!(user.status, 201, "{:?}", user.body);
    assert_eq!(user.body["email"], "nakamura@city.test");
    assert_eq!(user.body["department"]["code"], "GOMI");
    assert!(user.body.get("password_hash").is_none());

    let login = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"email": "nakamura@city.test", "password": "a long password"}).to_string()),
        &[],
    );
    assert_eq!(login.status, 200);
    let token = login.body["token"].as_str().expect("token");
    let filed = app.file(token, "ごみ分別アプリ");
    assert_eq!(filed["department_id"], division.body["id"]);
}

fn directory_mistakes_are_reported_per_field(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let duplicate = app.post(
        "/api/v1/departments",
        &admin,
        json!({"code": "DX", "name": "重複"}),
    );
    assert_eq!(duplicate.status, 422);
    assert!(duplicate.body["errors"]["code"].is_array());
    let orphan = app.post(
        "/api/v1/departments",
        &admin,
        json!({"code": "X1", "name": "x", "parent_id": 99999}),
    );
    assert_eq!(orphan.status, 422);
    assert!(orphan.body["errors"]["parent_id"].is_array());
    let bad_user = app.post("/api/v1/users", &admin, json!({
        "email": "TANAKA@city.test", "name": "", "role": "wizard", "department_id": 99999, "password": "short"
    }));
    assert_eq!(bad_user.status, 422);
    for field in ["name", "role", "password"] {
        assert!(
            bad_user.body["errors"][field].is_array(),
            "{field}: {:?}",
            bad_user.body
        );
    }
    let taken = app.post(
        "/api/v1/users",
        &admin,
        json!({
            "email": "TANAKA@city.test", "name": "田中", "role": "requester",
            "department_id": app.org.shimin_division, "password": "a long password"
        }),
    );
    assert_eq!(taken.status, 422);
    assert!(taken.body["errors"]["email"].is_array());
    let users = app.get("/api/v1/users?limit=200", &admin);
    assert_eq!(
        users.body["items"].as_array().map(Vec::len),
        Some(10),
        "nothing was created"
    );
}

fn users_are_listed_page_by_page(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let mut seen = vec![];
    let mut path = "/api/v1/users?limit=3".to_string();
    loop {
        let page = app.get(&path, &admin);
        assert_eq!(page.status, 200);
        seen.extend(
            page.body["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|u| u["id"].clone()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/users?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
}

fn an_admin_cannot_deactivate_themselves(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let own = format!("/api/v1/users/{}", app.org.admin.id);
    let refused = app.patch(&own, &admin, serde_json::json!({"active": false}));
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(
        refused.body["errors"]["active"].is_array(),
        "{:?}",
        refused.body
    );
    assert_eq!(app.get("/api/v1/me", &admin).status, 200, "still signed in");
    let other = format!("/api/v1/users/{}", app.org.se2.id);
    let done = app.patch(&other, &admin, serde_json::json!({"active": false}));
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["active"], false);
}

both_backends!(
    an_admin_cannot_deactivate_themselves,
    an_admin_builds_a_department_tree_and_adds_a_user_who_can_log_in,
    directory_mistakes_are_reported_per_field,
    users_are_listed_page_by_page,
);
