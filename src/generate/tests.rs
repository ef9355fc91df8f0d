//! The producer's output checked against the domain: timelines the workflow table
//! accepts, every state present, the same seed giving the same history, numbers in
//! filing order, search entries as `db::search` makes them. Run without a database:
//! the producer is fed a small made-up staff and its batches are read back.

use std::collections::HashMap;
use std::sync::mpsc;

use chrono::{NaiveDate, NaiveDateTime};

use crate::domain::search::grams;
use crate::domain::workflow::{check_transition, Actor, Rules, Subject, TransitionInput};
use crate::domain::{Event, Role, State};
use crate::settings::Settings;

use super::calendar::{Ctx, Plan};
use super::organisation::People;
use super::producer::{Producer, Tally};
use super::rows::{quick_grams, ConsultationRow, EventRow, SearchDocument};
use super::FISCAL_YEARS;

fn ctx(as_of: NaiveDate) -> Ctx {
    let settings = Settings::defaults(std::path::Path::new("/tmp"));
    Ctx::new(&settings, as_of)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

struct Generated {
    rows: Vec<ConsultationRow>,
    events: Vec<EventRow>,
    tally: Tally,
    ctx_end: NaiveDateTime,
}

fn people() -> People {
    let requesters: Vec<(i64, i64)> = (0..200).map(|i| (1000 + i, 10 + i % 20)).collect();
    People {
        cumulative: (1..=requesters.len()).map(|i| i as f64).collect(),
        requesters,
        known_requester: Some((999, 10)),
        dx: vec![1, 2, 3],
        ses: (100..110).collect(),
    }
}

fn run(count: usize, seed: u64, as_of: NaiveDate) -> Generated {
    let ctx = ctx(as_of);
    let people = people();
    let plan = Plan::new(&ctx, count, seed);
    let (tx, rx) = mpsc::sync_channel(1_000);
    let mut producer = Producer::new(&ctx, &people, seed, 1, HashMap::new());
    let (_spent_tx, spent_rx) = mpsc::channel();
    let tally = producer.run(&plan, tx, spent_rx);
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for mut b in rx.try_iter() {
        rows.append(&mut b.consultations);
        events.append(&mut b.events);
    }
    Generated {
        rows,
        events,
        tally,
        ctx_end: ctx.end_utc,
    }
}

fn role_of(id: i64) -> Role {
    match id {
        1..=3 => Role::DxOffice,
        100..=110 => Role::Helpdesk,
        _ => Role::Requester,
    }
}

#[test]
fn timelines_follow_the_workflow_table_with_allowed_actors() {
    let g = run(5_000, 42, date(2026, 6, 15));
    assert_eq!(g.rows.len(), 5_000);
    assert!(
        g.tally.per_state.iter().all(|n| *n > 0),
        "{:?}",
        g.tally.per_state
    );
    let rules = Rules::default();
    let mut events = g.events.iter().peekable();
    let mut numbers = std::collections::HashSet::new();
    for row in &g.rows {
        assert!(numbers.insert(row.number.clone()), "{} twice", row.number);
        let mut subject = Subject {
            id: row.id,
            state: State::Received,
            requester_id: row.requester_id,
            assignee_id: None,
            resolved_at: None,
        };
        let mut version = 0;
        let mut last = None;
        while let Some(e) = events.next_if(|e| e.consultation_id == row.id) {
            version += 1;
            assert_eq!(e.version, version);
            assert!(e.created_at.at < g.ctx_end, "nothing happens after the end");
            if let Some(last) = last {
                assert!(e.created_at > last, "{} events in order", row.number);
            }
            last = Some(e.created_at);
            let event = Event::parse(e.event).expect("event");
            if event == Event::File {
                assert_eq!(e.from_state, None);
                assert_eq!(e.to_state, "received");
                continue;
            }
            assert_eq!(e.from_state, Some(subject.state.as_str()), "{}", row.number);
            let payload: serde_json::Value =
                serde_json::from_str(&e.payload).expect("payload is JSON");
            let text = |k: &str| payload[k].as_str().map(str::to_string);
            let input = TransitionInput {
                hearing_at: text("hearing_at"),
                hearing_place: text("hearing_place"),
                assignee_id: payload["assignee_id"].as_i64(),
                reason: text("reason"),
                message: text("message"),
                resolution: text("resolution"),
                rating: payload["rating"].as_i64(),
                duplicate_of: payload["duplicate_of"].as_i64(),
                ..Default::default()
            };
            let actor = match e.actor_id {
                Some(id) => Actor::User {
                    id,
                    role: role_of(id),
                },
                None => Actor::System,
            };
            let now = e.created_at.at.and_utc();
            let (to, _) = check_transition(&rules, &subject, actor, event, &input, now)
                .unwrap_or_else(|err| {
                    panic!("{} {}: {err:?} ({:?})", row.number, e.event, e.payload)
                });
            assert_eq!(to.as_str(), e.to_state);
            subject.state = to;
            if let Some(a) = input.assignee_id {
                subject.assignee_id = Some(a);
            }
            match event {
                Event::Resolve => subject.resolved_at = Some(now),
                Event::Reopen => subject.resolved_at = None,
                _ => {}
            }
        }
        assert_eq!(row.version, version, "{}", row.number);
        assert_eq!(row.state, subject.state.as_str(), "{}", row.number);
        assert_eq!(Some(row.updated_at), last);
        assert_eq!(row.assignee_id, subject.assignee_id);
        let open = matches!(row.state, "received" | "hearing" | "assigned");
        assert_eq!(row.due_at.is_some(), open, "{} {}", row.number, row.state);
        if row.state == "closed" && row.rating.is_some() {
            assert!((1..=5).contains(&row.rating.unwrap_or(0)));
        }
        if matches!(row.state, "closed" | "withdrawn") {
            assert!(row.closed_at.is_some());
        }
        if row.state == "waiting" {
            assert!(row.sla_paused_at.is_some());
        }
    }
    assert!(events.next().is_none(), "no stray events");
}

#[test]
fn a_tiny_history_still_shows_every_state() {
    for n in [7usize, 20, 100] {
        let g = run(n, 3, date(2026, 11, 28));
        assert_eq!(g.rows.len(), n);
        assert!(
            g.tally.per_state.iter().all(|c| *c > 0),
            "{n}: {:?}",
            g.tally.per_state
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let a = run(500, 9, date(2026, 5, 1));
    let b = run(500, 9, date(2026, 5, 1));
    let key = |g: &Generated| {
        g.rows
            .iter()
            .map(|r| (r.number.clone(), r.title.clone(), r.state, r.updated_at.at))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
    let c = run(500, 10, date(2026, 5, 1));
    assert_ne!(key(&a), key(&c));
}

#[test]
fn numbers_follow_filing_order_within_each_fiscal_year() {
    let g = run(3_000, 5, date(2026, 11, 28));
    let mut last: HashMap<i32, (i64, NaiveDateTime)> = HashMap::new();
    for r in &g.rows {
        let seq: i64 = r
            .number
            .rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if let Some((prev, at)) = last.get(&r.fiscal_year) {
            assert_eq!(seq, prev + 1);
            assert!(r.created_at.at >= *at);
        } else {
            assert_eq!(seq, 1);
        }
        last.insert(r.fiscal_year, (seq, r.created_at.at));
    }
    assert_eq!(last.len(), FISCAL_YEARS as usize);
}

#[test]
fn quick_grams_agree_with_the_search_index() {
    let g = run(20_000, 13, date(2026, 11, 28));
    for row in &g.rows {
        let document = SearchDocument::of(row);
        assert_eq!(document.title, grams(&row.title), "{}", row.title);
        let public = match &row.resolution {
            Some(r) => grams(&format!("{}\n{r}", row.body)),
            None => grams(&row.body),
        };
        assert_eq!(document.public, public, "{}", row.body);
    }
    for text in [
        "ＲＰＡ　と AI-OCR",
        "a",
        "",
        "申",
        "（kintone）の集計",
        "x1 y",
    ] {
        let mut quick = String::new();
        quick_grams(&mut quick, &[text]);
        assert_eq!(quick, grams(text), "{text}");
    }
}

#[test]
fn texts_contain_the_terms_people_search_for() {
    let g = run(3_000, 11, date(2026, 11, 28));
    for term in [
        "電子申請",
        "給付金",
        "会議録",
        "申請書",
        "RPA",
        "kintone",
        "AI-OCR",
        "受付業務",
        "集計",
    ] {
        let hits = g
            .rows
            .iter()
            .filter(|r| r.title.contains(term) || r.body.contains(term))
            .count();
        assert!(hits > 10, "{term}: {hits}");
    }
}
