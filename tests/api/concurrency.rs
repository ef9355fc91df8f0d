//! Races: optimistic locking, consultation numbers and idempotent filing under
//! concurrent requests.

use std::collections::HashSet;
use std::sync::Barrier;

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{future_hearing, TestApp};

fn of_two_concurrent_assigns_with_the_same_version_exactly_one_wins(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let dx = app.login(&app.org.dx);
    let ses = [
        (app.login(&app.org.se), app.org.se.id),
        (app.login(&app.org.se2), app.org.se2.id),
    ];
    for round in 0..5 {
        let c = app.file(&requester, &format!("取り合いの相談 {round}"));
        let c = app.must_fire(
            &dx,
            &c,
            "schedule_hearing",
            json!({"hearing_at": future_hearing(), "hearing_place": "会議室"}),
        );
        let barrier = Barrier::new(2);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = ses
                .iter()
                .map(|(token, id)| {
                    let (barrier, c) = (&barrier, &c);
                    s.spawn(move || {
                        barrier.wait();
                        app.fire(token, c, "assign", json!({"assignee_id": id}))
                            .status
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, vec![200, 409], "round {round}: {statuses:?}");
        let timeline = app.timeline(&dx, &c["id"]);
        let assigns = timeline.iter().filter(|e| e["event"] == "assign").count();
        assert_eq!(assigns, 1, "round {round}: one assign event");
        assert_eq!(app.current(&c["id"])["version"], 3);
    }
}

fn concurrent_filings_get_unique_consecutive_numbers(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let threads = 8;
    let per_thread = 5;
    let barrier = Barrier::new(threads);
    let numbers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, requester) = (&barrier, &requester);
                s.spawn(move || {
                    barrier.wait();
                    (0..per_thread)
                        .map(|i| {
                            app.file(requester, &format!("同時起票 {t}-{i}"))["number"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let total = threads * per_thread;
    let unique: HashSet<&String> = numbers.iter().collect();
    assert_eq!(unique.len(), total, "numbers are unique: {numbers:?}");
    let prefix = numbers[0]
        .rsplit_once('-')
        .map(|(p, _)| p.to_string())
        .unwrap_or_default();
    let mut seqs: Vec<usize> = numbers
        .iter()
        .map(|n| {
            let (p, seq) = n.rsplit_once('-').expect("DX-YYYY-NNNN");
            assert_eq!(p, prefix, "one fiscal year");
            seq.parse().expect("digits")
        })
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>(), "no gaps");
}

fn filing_body(title: &str) -> String {
    json!({"title": title, "body": "同じ依頼", "category": "rpa"}).to_string()
}

fn count_consultations(app: &TestApp) -> usize {
    let admin = app.login(&app.org.admin);
    app.get("/api/v1/consultations?limit=200", &admin).body["items"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default()
}

fn a_retried_filing_with_the_same_idempotency_key_creates_nothing_new(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let body = filing_body("再送される起票");
    let key = [("Idempotency-Key", "retry-1")];
    let first = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some(&body),
        &key,
    );
    assert_eq!(first.status, 201);
    let retry = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some(&body),
        &key,
    );
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(retry.body["number"], first.body["number"]);
    assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(retry.header("Location"), first.header("Location"));
    assert_eq!(count_consultations(app), 1);

    let different = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&requester),
        Some(&filing_body("別の内容")),
        &key,
    );
    assert_eq!(different.status, 409, "{:?}", different.body);
    assert_eq!(count_consultations(app), 1);

    // Keys belong to a user: a colleague's request with the same key is a new filing.
    let colleague = app.login(&app.org.colleague);
    let theirs = app.send(
        "POST",
        "/api/v1/consultations",
        Some(&colleague),
        Some(&body),
        &key,
    );
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["id"], first.body["id"]);
    assert_eq!(count_consultations(app), 2);
}

fn concurrent_retries_with_one_idempotency_key_create_one_consultation(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let body = filing_body("同時再送");
    let barrier = Barrier::new(6);
    let ids: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (barrier, requester, body) = (&barrier, &requester, &body);
                s.spawn(move || {
                    barrier.wait();
                    let r = app.send(
                        "POST",
                        "/api/v1/consultations",
                        Some(requester),
                        Some(body),
                        &[("Idempotency-Key", "storm")],
                    );
                    assert_eq!(r.status, 201, "{:?}", r.body);
                    r.body["id"].clone()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(count_consultations(app), 1);
}

both_backends!(
    of_two_concurrent_assigns_with_the_same_version_exactly_one_wins,
    concurrent_filings_get_unique_consecutive_numbers,
    a_retried_filing_with_the_same_idempotency_key_creates_nothing_new,
    concurrent_retries_with_one_idempotency_key_create_one_consultation,
);
