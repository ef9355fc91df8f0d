//! Who sees what (DESIGN.md "Users and roles"): each role against each endpoint.
//! What a caller may not see does not exist for them: 404, shaped exactly like the
//! 404 of an id that was never used, whatever they try to do with it.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{future_hearing, Reply, TestApp};

/// An id no consultation has in a fresh database.
const MISSING_ID: i64 = 987_654_321;

/// Every fixture user, logged in once.
struct Cast {
    requester: String,
    colleague: String,
    outsider: String,
    dx: String,
    se: String,
    se2: String,
    manager: String,
    other_manager: String,
    dx_manager: String,
    admin: String,
}

fn log_everyone_in(app: &TestApp) -> Cast {
    let org = &app.org;
    Cast {
        requester: app.login(&org.requester),
        colleague: app.login(&org.colleague),
        outsider: app.login(&org.outsider),
        dx: app.login(&org.dx),
        se: app.login(&org.se),
        se2: app.login(&org.se2),
        manager: app.login(&org.manager),
        other_manager: app.login(&org.other_manager),
        dx_manager: app.login(&org.dx_manager),
        admin: app.login(&org.admin),
    }
}

/// The ids in the caller's list (one page of 200 is all a test makes).
fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/consultations?limit=200{query}"), token);
    assert_eq!(reply.status, 200, "list{query}: {:?}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("a list has items")
        .iter()
        .map(|c| c["id"].clone())
        .collect()
}

fn timeline_of(app: &TestApp, token: &str, who: &str, id: &Value) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/consultations/{id}/events"), token);
    assert_eq!(reply.status, 200, "{who}: GET events: {:?}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("a timeline has items")
        .clone()
}

fn comments_in(timeline: &[Value]) -> Vec<&Value> {
    timeline.iter().filter(|i| i["kind"] == "comment").collect()
}

fn assert_problem(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    assert_eq!(
        reply.content_type, "application/problem+json",
        "{what}: content type"
    );
    assert_eq!(reply.body["status"], status, "{what}: {:?}", reply.body);
}

fn each_role_sees_exactly_the_consultations_in_its_scope(app: &TestApp) {
    let org = &app.org;
    let cast = log_everyone_in(app);
    let shimin = app.file(&cast.requester, "住民票の交付申請を電子化したい");
    assert_eq!(shimin["department_id"], org.shimin_division);
    let hoiku = app.file(&cast.outsider, "保育所の入所申請をオンライン化したい");
    assert_eq!(hoiku["department_id"], org.hoiku_division);

    // (who, token, sees 市民課's, sees 保育課's, may comment)
    let matrix: [(&str, &str, bool, bool, bool); 10] = [
        ("requester (住民記録係)", &cast.requester, true, false, true),
        ("colleague (市民課)", &cast.colleague, true, false, true),
        ("outsider (保育課)", &cast.outsider, false, true, true),
        ("manager of 市民局", &cast.manager, true, true, false),
        ("manager of 保育課", &cast.other_manager, false, true, false),
        (
            "manager in the DX office",
            &cast.dx_manager,
            true,
            true,
            false,
        ),
        ("dx_office", &cast.dx, true, true, true),
        ("helpdesk se", &cast.se, true, true, true),
        ("helpdesk se2", &cast.se2, true, true, true),
        ("admin", &cast.admin, true, true, true),
    ];
    for (who, token, sees_shimin, sees_hoiku, participates) in matrix {
        let list = listed(app, token, "");
        for (c, visible) in [(&shimin, sees_shimin), (&hoiku, sees_hoiku)] {
            let id = &c["id"];
            let number = c["number"].as_str().unwrap_or_default();
            let what = |endpoint: &str| format!("{who}: {endpoint} of {number}");

            let one = app.get(&format!("/api/v1/consultations/{id}"), token);
            if visible {
                assert_eq!(one.status, 200, "{}: {:?}", what("GET"), one.body);
                assert_eq!(&one.body["id"], id, "{}", what("GET"));
                assert!(one.body["allowed_events"].is_array(), "{}", what("GET"));
            } else {
                assert_problem(&one, 404, &what("GET"));
            }

            let events = app.get(&format!("/api/v1/consultations/{id}/events"), token);
            if visible {
                assert_eq!(
                    events.status,
                    200,
                    "{}: {:?}",
                    what("GET events"),
                    events.body
                );
                assert_eq!(
                    events.body["items"][0]["event"],
                    "file",
                    "{}: {:?}",
                    what("GET events"),
                    events.body
                );
            } else {
                assert_problem(&events, 404, &what("GET events"));
            }

            let comment = app.post(
                &format!("/api/v1/consultations/{id}/comments"),
                token,
                json!({"body": format!("{who} より")}),
            );
            match (visible, participates) {
                (true, true) => {
                    assert_eq!(
                        comment.status,
                        201,
                        "{}: {:?}",
                        what("POST comments"),
                        comment.body
                    );
                    assert_eq!(comment.body["internal"], false, "{}", what("POST comments"));
                }
                (true, false) => assert_problem(&comment, 403, &what("POST comments")),
                (false, _) => assert_problem(&comment, 404, &what("POST comments")),
            }

            assert_eq!(
                list.contains(id),
                visible,
                "{}: listed = {}",
                what("GET list"),
                list.contains(id)
            );
        }
    }

    // Exactly the comments of those who may see and take part were written.
    let staff_view = timeline_of(app, &cast.admin, "admin", &shimin["id"]);
    assert_eq!(
        comments_in(&staff_view).len(),
        6,
        "requester, colleague, dx, se, se2, admin commented on 市民課's: {staff_view:?}"
    );
    let staff_view = timeline_of(app, &cast.admin, "admin", &hoiku["id"]);
    assert_eq!(
        comments_in(&staff_view).len(),
        5,
        "outsider, dx, se, se2, admin commented on 保育課's: {staff_view:?}"
    );
}

fn an_invisible_consultation_is_indistinguishable_from_a_missing_one(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let outsider = app.login(&app.org.outsider);
    let other_manager = app.login(&app.org.other_manager);
    let c = app.file(&requester, "窓口の混雑状況を公開したい");
    let version = c["version"].clone();

    let attempts = |id: &Value| -> Vec<(&'static str, String, Option<Value>)> {
        vec![
            ("GET", format!("/api/v1/consultations/{id}"), None),
            ("GET", format!("/api/v1/consultations/{id}/events"), None),
            (
                "POST",
                format!("/api/v1/consultations/{id}/comments"),
                Some(json!({"body": "見えますか"})),
            ),
            (
                "POST",
                format!("/api/v1/consultations/{id}/transitions"),
                Some(json!({"event": "withdraw", "version": version, "reason": "不要"})),
            ),
            (
                "PATCH",
                format!("/api/v1/consultations/{id}"),
                Some(json!({"version": version, "title": "書き換え"})),
            ),
        ]
    };
    for (who, token) in [
        ("outsider (保育課)", &outsider),
        ("manager of 保育課", &other_manager),
    ] {
        let hidden = attempts(&c["id"]);
        let missing = attempts(&json!(MISSING_ID));
        for ((method, path, body), (_, missing_path, _)) in hidden.into_iter().zip(missing) {
            let body = body.map(|b| b.to_string());
            let seen = app.send(method, &path, Some(token), body.as_deref(), &[]);
            let never = app.send(method, &missing_path, Some(token), body.as_deref(), &[]);
            let what = format!("{who}: {method} {path}");
            assert_problem(&never, 404, &format!("{who}: {method} {missing_path}"));
            assert_problem(&seen, 404, &what);
            assert_eq!(seen.body, never.body, "{what}: the body reveals existence");
            assert_eq!(
                seen.content_type, never.content_type,
                "{what}: the content type reveals existence"
            );
        }
    }

    // Filters narrow what a caller sees; they never widen it.
    for query in [
        format!("&department={}", app.org.shimin_division),
        "&department=SHIMINKA".to_string(),
        "&q=%E6%B7%B7%E9%9B%91".to_string(), // 混雑
    ] {
        assert_eq!(
            listed(app, &outsider, &query),
            Vec::<Value>::new(),
            "outsider: GET list{query}"
        );
    }
    assert_eq!(
        listed(app, &requester, "&q=%E6%B7%B7%E9%9B%91"),
        vec![c["id"].clone()],
        "the requester finds it by the same text"
    );
}

fn events_fired_on_an_invisible_consultation_are_404_and_change_nothing(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let outsider = app.login(&app.org.outsider);
    let other_manager = app.login(&app.org.other_manager);
    let admin = app.login(&app.org.admin);
    let c = app.file(&requester, "公用車の予約を電子化したい");

    let reason = json!({"reason": "不要"});
    let hearing = json!({"hearing_at": future_hearing(), "hearing_place": "会議室B"});
    // Were the consultation visible these would be 403 (not theirs / not their
    // role), 422 (not allowed in `received`) or 409 (stale): all would reveal it.
    let attempts = [
        ("outsider (保育課)", &outsider, "withdraw", reason.clone()),
        (
            "outsider (保育課)",
            &outsider,
            "close",
            json!({"rating": 1}),
        ),
        ("outsider (保育課)", &outsider, "reopen", reason.clone()),
        (
            "outsider (保育課)",
            &outsider,
            "provide_info",
            json!({"message": "追加情報"}),
        ),
        (
            "manager of 保育課",
            &other_manager,
            "withdraw",
            reason.clone(),
        ),
        (
            "manager of 保育課",
            &other_manager,
            "schedule_hearing",
            hearing,
        ),
    ];
    for (who, token, event, fields) in attempts {
        let reply = app.fire(token, &c, event, fields);
        assert_problem(&reply, 404, &format!("{who}: transition {event}"));
    }
    let stale = app.post(
        &format!("/api/v1/consultations/{}/transitions", c["id"]),
        &outsider,
        json!({"event": "withdraw", "version": 99, "reason": "不要"}),
    );
    assert_problem(&stale, 404, "outsider: transition with a stale version");

    let now = app.get(&format!("/api/v1/consultations/{}", c["id"]), &admin);
    assert_eq!(now.status, 200);
    assert_eq!(now.body["version"], 1, "{:?}", now.body);
    assert_eq!(now.body["state"], "received");
    let timeline = timeline_of(app, &admin, "admin", &c["id"]);
    assert_eq!(timeline.len(), 1, "only the filing: {timeline:?}");
}

fn managers_read_but_may_not_comment_or_fire_events(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let admin = app.login(&app.org.admin);
    let c = app.file(&requester, "会議録の作成を AI で支援したい");

    for (who, user) in [
        ("manager of 市民局", &app.org.manager),
        ("manager in the DX office", &app.org.dx_manager),
    ] {
        let token = app.login(user);
        let one = app.get(&format!("/api/v1/consultations/{}", c["id"]), &token);
        assert_eq!(one.status, 200, "{who}: GET: {:?}", one.body);
        assert_eq!(
            one.body["allowed_events"],
            json!([]),
            "{who}: a manager may fire nothing"
        );
        for body in [
            json!({"body": "進捗はいかがですか"}),
            json!({"body": "内部メモ", "internal": true}),
        ] {
            let reply = app.post(
                &format!("/api/v1/consultations/{}/comments", c["id"]),
                &token,
                body.clone(),
            );
            assert_problem(&reply, 403, &format!("{who}: POST comments {body}"));
        }
        for (event, fields) in [
            ("withdraw", json!({"reason": "不要"})),
            (
                "schedule_hearing",
                json!({"hearing_at": future_hearing(), "hearing_place": "会議室C"}),
            ),
            (
                "assign",
                json!({"assignee_id": app.org.se.id, "reason": "急ぎ"}),
            ),
            ("close", json!({"rating": 5})),
        ] {
            let reply = app.fire(&token, &c, event, fields);
            assert_problem(&reply, 403, &format!("{who}: transition {event}"));
        }
    }

    let now = app.get(&format!("/api/v1/consultations/{}", c["id"]), &admin);
    assert_eq!(now.body["version"], 1, "{:?}", now.body);
    assert_eq!(now.body["state"], "received");
    let timeline = timeline_of(app, &admin, "admin", &c["id"]);
    assert_eq!(timeline.len(), 1, "nothing was written: {timeline:?}");
}

fn internal_notes_are_written_by_staff_and_shown_only_to_staff(app: &TestApp) {
    let cast = log_everyone_in(app);
    let c = app.file(
        &cast.requester,
        "証明書発行の手数料をキャッシュレス化したい",
    );
    let comments = format!("/api/v1/consultations/{}/comments", c["id"]);

    for (who, token) in [
        ("dx_office", &cast.dx),
        ("helpdesk", &cast.se),
        ("admin", &cast.admin),
    ] {
        let reply = app.post(
            &comments,
            token,
            json!({"body": format!("内部メモ: {who}"), "internal": true}),
        );
        assert_eq!(reply.status, 201, "{who}: internal note: {:?}", reply.body);
        assert_eq!(reply.body["internal"], true, "{who}: {:?}", reply.body);
    }
    for (who, token) in [
        ("requester", &cast.requester),
        ("colleague", &cast.colleague),
    ] {
        let reply = app.post(
            &comments,
            token,
            json!({"body": format!("内部メモ: {who}"), "internal": true}),
        );
        assert_problem(&reply, 403, &format!("{who}: internal note"));
    }
    for (who, token) in [("requester", &cast.requester), ("dx_office", &cast.dx)] {
        let reply = app.post(&comments, token, json!({"body": format!("公開: {who}")}));
        assert_eq!(reply.status, 201, "{who}: public comment: {:?}", reply.body);
        assert_eq!(reply.body["internal"], false);
    }

    // (who, token, sees internal notes)
    let viewers = [
        ("requester", &cast.requester, false),
        ("colleague", &cast.colleague, false),
        ("manager of 市民局", &cast.manager, false),
        ("manager in the DX office", &cast.dx_manager, false),
        ("dx_office", &cast.dx, true),
        ("helpdesk se", &cast.se, true),
        ("helpdesk se2", &cast.se2, true),
        ("admin", &cast.admin, true),
    ];
    for (who, token, staff) in viewers {
        let timeline = timeline_of(app, token, who, &c["id"]);
        let comments = comments_in(&timeline);
        let bodies: Vec<&str> = comments
            .iter()
            .map(|i| i["payload"]["body"].as_str().unwrap_or_default())
            .collect();
        let internal = comments.iter().filter(|i| i["internal"] == true).count();
        let public = comments.iter().filter(|i| i["internal"] == false).count();
        assert_eq!(public, 2, "{who}: public comments: {bodies:?}");
        if staff {
            assert_eq!(internal, 3, "{who}: internal notes: {bodies:?}");
        } else {
            assert_eq!(internal, 0, "{who}: internal notes leak: {bodies:?}");
            let text = Value::Array(timeline.clone()).to_string();
            assert!(
                !text.contains("内部メモ"),
                "{who}: an internal note's text leaks: {text}"
            );
        }
    }
}

fn requesters_file_only_for_their_division_and_staff_must_name_one(app: &TestApp) {
    let org = &app.org;
    let requester = app.login(&org.requester);
    let outsider = app.login(&org.outsider);
    let dx = app.login(&org.dx);
    let admin = app.login(&org.admin);
    let filing = |department: Option<i64>| {
        let mut body = json!({
            "title": "届出の受付をオンライン化したい",
            "body": "窓口で毎日50件受け付けています。",
            "category": "e_application",
        });
        if let Some(d) = department {
            body["department_id"] = d.into();
        }
        body
    };

    let foreign = app.post(
        "/api/v1/consultations",
        &requester,
        filing(Some(org.hoiku_division)),
    );
    assert_problem(&foreign, 422, "requester filing for 保育課");
    assert!(
        foreign.body["errors"]["department_id"].is_array(),
        "{:?}",
        foreign.body
    );
    assert_eq!(
        listed(app, &admin, ""),
        Vec::<Value>::new(),
        "the refused filing created nothing"
    );

    let own = app.post(
        "/api/v1/consultations",
        &requester,
        filing(Some(org.shimin_division)),
    );
    assert_eq!(
        own.status, 201,
        "naming their own division is fine: {:?}",
        own.body
    );

    let unnamed = app.post("/api/v1/consultations", &dx, filing(None));
    assert_problem(&unnamed, 422, "dx filing without department_id");
    assert!(
        unnamed.body["errors"]["department_id"].is_array(),
        "{:?}",
        unnamed.body
    );

    let on_behalf = app.post(
        "/api/v1/consultations",
        &dx,
        filing(Some(org.shimin_division)),
    );
    assert_eq!(on_behalf.status, 201, "{:?}", on_behalf.body);
    let id = on_behalf.body["id"].clone();
    assert_eq!(on_behalf.body["department_id"], org.shimin_division);
    assert_eq!(on_behalf.body["state"], "received");
    let seen = app.get(&format!("/api/v1/consultations/{id}"), &requester);
    assert_eq!(
        seen.status, 200,
        "the division's requester sees what dx filed for it: {:?}",
        seen.body
    );
    assert!(listed(app, &requester, "").contains(&id));
    let hidden = app.get(&format!("/api/v1/consultations/{id}"), &outsider);
    assert_problem(&hidden, 404, "outsider: GET the filing on behalf of 市民課");
    assert!(!listed(app, &outsider, "").contains(&id));
    assert_eq!(listed(app, &admin, "").len(), 2);
}

fn only_admins_manage_the_directory_but_everyone_knows_who_they_are(app: &TestApp) {
    let org = &app.org;
    let cast = log_everyone_in(app);
    // (who, token, role, department)
    let people = [
        (
            "requester",
            &cast.requester,
            "requester",
            org.shimin_section,
        ),
        (
            "colleague",
            &cast.colleague,
            "requester",
            org.shimin_division,
        ),
        ("outsider", &cast.outsider, "requester", org.hoiku_division),
        ("dx", &cast.dx, "dx_office", org.dx_division),
        ("se", &cast.se, "helpdesk", org.dx_division),
        ("se2", &cast.se2, "helpdesk", org.dx_division),
        ("manager", &cast.manager, "manager", org.shimin_bureau),
        (
            "other_manager",
            &cast.other_manager,
            "manager",
            org.hoiku_division,
        ),
        ("dx_manager", &cast.dx_manager, "manager", org.dx_division),
        ("admin", &cast.admin, "admin", org.dx_division),
    ];
    for (i, (who, token, role, department)) in people.into_iter().enumerate() {
        let me = app.get("/api/v1/me", token);
        assert_eq!(me.status, 200, "{who}: GET /me: {:?}", me.body);
        assert_eq!(me.body["role"], role, "{who}: GET /me: {:?}", me.body);
        assert_eq!(
            me.body["department"]["id"], department,
            "{who}: GET /me: {:?}",
            me.body
        );

        let admin = role == "admin";
        let users = app.get("/api/v1/users", token);
        let departments = app.get("/api/v1/departments", token);
        let new_user = app.post(
            "/api/v1/users",
            token,
            json!({
                "email": format!("new{i}@city.test"), "name": "新人", "role": "requester",
                "department_id": org.shimin_division, "password": "a long password"
            }),
        );
        let new_department = app.post(
            "/api/v1/departments",
            token,
            json!({"code": format!("NEW{i}"), "name": "新設課", "parent_id": org.shimin_bureau}),
        );
        if admin {
            assert_eq!(users.status, 200, "{who}: GET users: {:?}", users.body);
            assert_eq!(users.body["items"].as_array().map(Vec::len), Some(10));
            assert_eq!(
                departments.status, 200,
                "{who}: GET departments: {:?}",
                departments.body
            );
            assert_eq!(departments.body["items"].as_array().map(Vec::len), Some(6));
            assert_eq!(
                new_user.status, 201,
                "{who}: POST users: {:?}",
                new_user.body
            );
            assert_eq!(
                new_department.status, 201,
                "{who}: POST departments: {:?}",
                new_department.body
            );
        } else {
            assert_problem(&users, 403, &format!("{who}: GET users"));
            assert_problem(&departments, 403, &format!("{who}: GET departments"));
            assert_problem(&new_user, 403, &format!("{who}: POST users"));
            assert_problem(&new_department, 403, &format!("{who}: POST departments"));
        }
    }

    let users = app.get("/api/v1/users?limit=200", &cast.admin);
    assert_eq!(
        users.body["items"].as_array().map(Vec::len),
        Some(11),
        "only the admin's user was created: {:?}",
        users.body
    );
    let departments = app.get("/api/v1/departments", &cast.admin);
    assert_eq!(
        departments.body["items"].as_array().map(Vec::len),
        Some(7),
        "only the admin's department was created: {:?}",
        departments.body
    );
}

fn consultation_endpoints_refuse_callers_without_a_valid_token(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let admin = app.login(&app.org.admin);
    let c = app.file(&requester, "議事録の公開を自動化したい");
    let id = &c["id"];
    let filing = json!({"title": "無断", "body": "無断", "category": "other"});
    let endpoints = [
        ("GET", "/api/v1/consultations".to_string(), None),
        ("POST", "/api/v1/consultations".to_string(), Some(filing)),
        ("GET", format!("/api/v1/consultations/{id}"), None),
        (
            "PATCH",
            format!("/api/v1/consultations/{id}"),
            Some(json!({"version": 1, "title": "無断"})),
        ),
        (
            "POST",
            format!("/api/v1/consultations/{id}/transitions"),
            Some(json!({"event": "withdraw", "version": 1, "reason": "無断"})),
        ),
        ("GET", format!("/api/v1/consultations/{id}/events"), None),
        (
            "POST",
            format!("/api/v1/consultations/{id}/comments"),
            Some(json!({"body": "無断"})),
        ),
    ];
    for (label, token) in [
        ("no token", None),
        ("a garbage token", Some("garbage.not-a.jwt")),
    ] {
        for (method, path, body) in &endpoints {
            let body = body.as_ref().map(Value::to_string);
            let reply = app.send(method, path, token, body.as_deref(), &[]);
            assert_problem(&reply, 401, &format!("{method} {path} with {label}"));
        }
    }

    let now = app.get(&format!("/api/v1/consultations/{id}"), &admin);
    assert_eq!(now.body["version"], 1, "{:?}", now.body);
    assert_eq!(now.body["title"], c["title"]);
    assert_eq!(timeline_of(app, &admin, "admin", id).len(), 1);
    assert_eq!(listed(app, &admin, "").len(), 1, "nothing was filed");
}

both_backends!(
    each_role_sees_exactly_the_consultations_in_its_scope,
    an_invisible_consultation_is_indistinguishable_from_a_missing_one,
    events_fired_on_an_invisible_consultation_are_404_and_change_nothing,
    managers_read_but_may_not_comment_or_fire_events,
    internal_notes_are_written_by_staff_and_shown_only_to_staff,
    requesters_file_only_for_their_division_and_staff_must_name_one,
    only_admins_manage_the_directory_but_everyone_knows_who_they_are,
    consultation_endpoints_refuse_callers_without_a_valid_token,
);
