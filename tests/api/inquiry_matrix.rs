//! The inquiry routes in the role × endpoint × division matrix: every fixture
//! user against an inquiry asked in their division and one asked in another.
//! Expectations come from DESIGN.md's rules (see `attack_matrix`), never from
//! the server; a refused write leaves the inquiry exactly as it was.

use serde_json::{json, Value};

use crate::attack_matrix::{Division, Misses, Who, EVERYONE};
use crate::both_backends;
use crate::helpers::TestApp;

fn visible_or_404(who: Who, division: Division, status: u16) -> u16 {
    if who.sees(division) {
        status
    } else {
        404
    }
}

/// Everything an admin reads about an inquiry: the record and its timeline.
fn inquiry_state(app: &TestApp, admin: &str, id: &Value) -> String {
    let record = app.get(&format!("/api/v1/inquiries/{id}"), admin);
    let timeline = app.get(&format!("/api/v1/inquiries/{id}/events"), admin);
    format!("{}\n{}", record.body, timeline.body)
}

fn every_role_meets_the_inquiry_routes_as_the_rules_say(app: &TestApp) {
    let tokens: Vec<(Who, String)> = EVERYONE
        .iter()
        .map(|w| (*w, app.login(w.user(app))))
        .collect();
    let token = |who: Who| {
        tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.clone())
            .expect("token")
    };
    let admin = token(Who::Admin);
    let ask = |who: Who, subject: &str| {
        app.post(
            "/api/v1/inquiries",
            &token(who),
            json!({"subject": subject, "question": "質問", "topic": "how_to"}),
        )
    };
    let mut misses = Misses::new();
    let mut cells = 0;
    // Anyone may ask the helpdesk.
    for who in EVERYONE {
        let reply = ask(who, &format!("{who:?} の質問"));
        misses.check("POST /inquiries", who, 201, reply.status, &reply.body);
        cells += 1;
    }
    let ours = ask(Who::Requester, "市民課の質問").body;
    let theirs = ask(Who::Outsider, "保育課の質問").body;
    for (division, inquiry) in [(Division::Shimin, &ours), (Division::Hoiku, &theirs)] {
        let id = &inquiry["id"];
        for who in EVERYONE {
            let t = token(who);
            let read = app.get(&format!("/api/v1/inquiries/{id}"), &t);
            misses.check(
                "GET inquiry",
                who,
                visible_or_404(who, division, 200),
                read.status,
                &read.body,
            );
            let events = app.get(&format!("/api/v1/inquiries/{id}/events"), &t);
            misses.check(
                "GET events",
                who,
                visible_or_404(who, division, 200),
                events.status,
                &events.body,
            );
            let listed = app.get("/api/v1/inquiries?limit=200", &t).body["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["id"] == *id));
            if listed != who.sees(division) {
                misses.fail(format!("{who:?} list shows {division:?}: {listed}"));
            }
            let before = inquiry_state(app, &admin, id);
            let public = app.post(
                &format!("/api/v1/inquiries/{id}/comments"),
                &t,
                json!({"body": "コメント"}),
            );
            let expected = visible_or_404(who, division, if who.is_manager() { 403 } else { 201 });
            misses.check("public comment", who, expected, public.status, &public.body);
            let note = app.post(
                &format!("/api/v1/inquiries/{id}/comments"),
                &t,
                json!({"body": "内部メモ", "internal": true}),
            );
            let expected = visible_or_404(who, division, if who.is_staff() { 201 } else { 403 });
            misses.check("internal note", who, expected, note.status, &note.body);
            // Answering: the helpdesk only. Fired at the current version; the
            // one success moves the inquiry on, so it is the last cell per division.
            if who != Who::Se {
                let version =
                    app.get(&format!("/api/v1/inquiries/{id}"), &admin).body["version"].clone();
                let snapshot = inquiry_state(app, &admin, id);
                let answer = app.post(
                    &format!("/api/v1/inquiries/{id}/transitions"),
                    &t,
                    json!({"event": "answer", "version": version, "answer": "回答"}),
                );
                misses.check(
                    "answer",
                    who,
                    visible_or_404(who, division, 403),
                    answer.status,
                    &answer.body,
                );
                if answer.status >= 400 && inquiry_state(app, &admin, id) != snapshot {
                    misses.fail(format!("{who:?} refused answer changed {division:?}"));
                }
            }
            if public.status >= 400
                && note.status >= 400
                && inquiry_state(app, &admin, id) != before
            {
                misses.fail(format!("{who:?} refused comments changed {division:?}"));
            }
            cells += 6;
        }
        let version = app.get(&format!("/api/v1/inquiries/{id}"), &admin).body["version"].clone();
        let answer = app.post(
            &format!("/api/v1/inquiries/{id}/transitions"),
            &token(Who::Se),
            json!({"event": "answer", "version": version, "answer": "回答"}),
        );
        misses.check("answer", Who::Se, 200, answer.status, &answer.body);
        cells += 1;
    }
    // The FAQ: everyone reads it and gets suggestions; the helpdesk, the DX
    // office and admins write it.
    for who in EVERYONE {
        let t = token(who);
        let written = app.post(
            "/api/v1/faq",
            &t,
            json!({"title": format!("{who:?}"), "question": "質問", "answer": "回答", "topic": "other"}),
        );
        let expected = if who.is_staff() { 201 } else { 403 };
        misses.check("POST /faq", who, expected, written.status, &written.body);
        let first = app.get("/api/v1/faq", &t);
        misses.check("GET /faq", who, 200, first.status, &first.body);
        if let Some(id) = first.body["items"][0]["id"].as_i64() {
            let one = app.get(&format!("/api/v1/faq/{id}"), &t);
            misses.check("GET /faq/{id}", who, 200, one.status, &one.body);
            let edit = app.patch(
                &format!("/api/v1/faq/{id}"),
                &t,
                json!({"version": one.body["version"], "title": "改", "question": "質問", "answer": "回答", "topic": "other"}),
            );
            let expected = if who.is_staff() { 200 } else { 403 };
            misses.check("PATCH /faq/{id}", who, expected, edit.status, &edit.body);
        }
        let suggest = app.get("/api/v1/faq/suggest?text=質問の回答", &t);
        misses.check("GET /faq/suggest", who, 200, suggest.status, &suggest.body);
        cells += 5;
    }
    misses.assert_none(cells);
}

both_backends!(every_role_meets_the_inquiry_routes_as_the_rules_say);
