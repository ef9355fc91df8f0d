//! A small load generator: fixed concurrency for a fixed time against running
//! servers, with a realistic mix of reads and writes, and per route the requests
//! per second, p50/p99 latency and errors. Run it through `scripts/bench-load.sh`,
//! which generates the database and starts the servers; by hand:
//!
//! `BASE_URLS=http://127.0.0.1:8080,http://127.0.0.1:8081 CONCURRENCY=32 DURATION_SECS=30 cargo bench --bench load`
//!
//! `ROUTES=queue_page,consultation_page` keeps only those routes of the mix (with
//! their weights), to measure a route without the others' writes.
//!
//! The users are those of `digicon generate` (`gen-*@gen.digicon.local`).
//! Connection *i* goes to `BASE_URLS[i % n]`, like a round-robin proxy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

const PASSWORD: &str = "generated-pass-2025";

/// What each connection does, with its weight in the mix.
const MIX: [(Route, u32); 12] = [
    (Route::QueuePage, 20),
    (Route::ConsultationPage, 20),
    (Route::NewestOpenPage, 10),
    (Route::ApiQueue, 10),
    (Route::StaffList, 5),
    (Route::ApiConsultation, 10),
    (Route::Timeline, 5),
    (Route::DashboardBureau, 2),
    (Route::DashboardCity, 2),
    (Route::File, 15),
    (Route::Transition, 10),
    (Route::Comment, 10),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    QueuePage,
    ConsultationPage,
    NewestOpenPage,
    ApiQueue,
    StaffList,
    ApiConsultation,
    Timeline,
    DashboardBureau,
    DashboardCity,
    File,
    Transition,
    Comment,
}

impl Route {
    /// The name `ROUTES` uses.
    fn key(self) -> &'static str {
        match self {
            Route::QueuePage => "queue_page",
            Route::ConsultationPage => "consultation_page",
            Route::NewestOpenPage => "newest_open_page",
            Route::StaffList => "staff_list",
            Route::DashboardBureau => "dashboard_bureau",
            Route::DashboardCity => "dashboard_city",
            Route::ApiQueue => "api_list",
            Route::ApiConsultation => "api_consultation",
            Route::Timeline => "timeline",
            Route::File => "file",
            Route::Transition => "transition",
            Route::Comment => "comment",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Route::QueuePage => "page  GET /consultations (queue, 50 rows)",
            Route::ConsultationPage => "page  GET /consultations/{id}",
            Route::NewestOpenPage => "page  GET /consultations/{newest open} (SE)",
            Route::StaffList => "api   GET …?state=received&limit=50 (SE)",
            Route::DashboardBureau => "api   GET /api/v1/dashboard (bureau manager)",
            Route::DashboardCity => "api   GET /api/v1/dashboard (whole city)",
            Route::ApiQueue => "api   GET /api/v1/consultations?limit=50",
            Route::ApiConsultation => "api   GET /api/v1/consultations/{id}",
            Route::Timeline => "api   GET /api/v1/consultations/{id}/events",
            Route::File => "api   POST /api/v1/consultations (file)",
            Route::Transition => "api   POST …/transitions (schedule_hearing)",
            Route::Comment => "api   POST …/comments",
        }
    }
}

struct Tokens {
    requester: String,
    dx: String,
    helpdesk: String,
    manager: String,
    admin: String,
    /// The newest received consultations: the pages the DX office opens all day.
    newest_open: Vec<i64>,
}

/// Latencies (µs) and errors per route, merged from every connection.
#[derive(Default)]
struct Stats {
    latencies: Vec<u64>,
    errors: u64,
    /// The first few error descriptions, to see what went wrong.
    samples: Vec<String>,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn login(agent: &ureq::Agent, base: &str, local: &str) -> String {
    let reply: Value = agent
        .post(&format!("{base}/api/v1/auth/token"))
        .send_json(json!({"email": format!("{local}@gen.digicon.local"), "password": PASSWORD}))
        .unwrap_or_else(|e| panic!("login of {local} at {base}: {e} (is the database generated?)"))
        .into_json()
        .expect("token JSON");
    reply["token"].as_str().expect("token").to_string()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

/// One request; `Err` describes a failure (a status ≥ 400 or no answer).
fn request(
    agent: &ureq::Agent,
    base: &str,
    route: Route,
    tokens: &Tokens,
    max_id: i64,
    filed: &Mutex<Vec<i64>>,
    rng: &mut impl Rng,
) -> Result<(), String> {
    let some_id = rng.gen_range(1..=max_id);
    let bearer = |token: &str| format!("Bearer {token}");
    let result = match route {
        Route::QueuePage => agent
            .get(&format!("{base}/consultations"))
            .set("Authorization", &bearer(&tokens.helpdesk))
            .call(),
        Route::ConsultationPage => agent
            .get(&format!("{base}/consultations/{some_id}"))
            .set("Authorization", &bearer(&tokens.dx))
            .call(),
        Route::NewestOpenPage => {
            let id = tokens.newest_open[rng.gen_range(0..tokens.newest_open.len())];
            agent
                .get(&format!("{base}/consultations/{id}"))
                .set("Authorization", &bearer(&tokens.helpdesk))
                .call()
        }
        Route::StaffList => agent
            .get(&format!(
                "{base}/api/v1/consultations?state=received&limit=50"
            ))
            .set("Authorization", &bearer(&tokens.helpdesk))
            .call(),
        Route::DashboardBureau => agent
            .get(&format!("{base}/api/v1/dashboard"))
            .set("Authorization", &bearer(&tokens.manager))
            .call(),
        Route::DashboardCity => agent
            .get(&format!("{base}/api/v1/dashboard"))
            .set("Authorization", &bearer(&tokens.admin))
            .call(),
        Route::ApiQueue => agent
            .get(&format!(
                "{base}/api/v1/consultations?limit=50&state=received,hearing,assigned&sort=due"
            ))
            .set("Authorization", &bearer(&tokens.dx))
            .call(),
        Route::ApiConsultation => agent
            .get(&format!("{base}/api/v1/consultations/{some_id}"))
            .set("Authorization", &bearer(&tokens.dx))
            .call(),
        Route::Timeline => agent
            .get(&format!("{base}/api/v1/consultations/{some_id}/events"))
            .set("Authorization", &bearer(&tokens.dx))
            .call(),
        Route::File => {
            let reply = agent
                .post(&format!("{base}/api/v1/consultations"))
                .set("Authorization", &bearer(&tokens.requester))
                .send_json(json!({
                    "title": format!("負荷試験の相談 {}", rng.gen::<u32>()),
                    "body": "紙の申請書を毎月300件手入力しています。RPAで自動化できますか。",
                    "category": "e_application",
                }));
            match reply {
                Ok(response) => {
                    let body: Value = response.into_json().map_err(|e| e.to_string())?;
                    if let Some(id) = body["id"].as_i64() {
                        filed.lock().unwrap_or_else(|e| e.into_inner()).push(id);
                    }
                    return Ok(());
                }
                Err(e) => Err(e),
            }
        }
        Route::Transition => {
            // Moves a consultation this run filed (version 1) to its hearing.
            let Some(id) = filed.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                return Ok(());
            };
            agent
                .post(&format!("{base}/api/v1/consultations/{id}/transitions"))
                .set("Authorization", &bearer(&tokens.dx))
                .send_json(json!({
                    "event": "schedule_hearing",
                    "version": 1,
                    "hearing_at": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
                    "hearing_place": "本庁舎5階 会議室A",
                }))
        }
        Route::Comment => agent
            .post(&format!("{base}/api/v1/consultations/{some_id}/comments"))
            .set("Authorization", &bearer(&tokens.dx))
            .send_json(json!({"body": "ヒアリングの日程を調整します。", "internal": true})),
    };
    match result {
        Ok(response) => {
            // Read the whole body, as a browser would.
            let _ = response.into_string();
            Ok(())
        }
        Err(ureq::Error::Status(code, response)) => Err(format!(
            "{code} {}",
            response
                .into_string()
                .unwrap_or_default()
                .chars()
                .take(160)
                .collect::<String>()
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn main() {
    let bases: Vec<String> = env("BASE_URLS", "http://127.0.0.1:8080")
        .split(',')
        .map(|s| s.trim_end_matches('/').to_string())
        .collect();
    let concurrency: usize = env("CONCURRENCY", "32").parse().expect("CONCURRENCY");
    let duration = Duration::from_secs(env("DURATION_SECS", "30").parse().expect("DURATION_SECS"));
    let setup = ureq::Agent::new();
    // Tokens from the first instance: every instance shares the JWT secret.
    let helpdesk = login(&setup, &bases[0], "gen-helpdesk");
    let open: Value = setup
        .get(&format!(
            "{}/api/v1/consultations?state=received&limit=16",
            bases[0]
        ))
        .set("Authorization", &format!("Bearer {helpdesk}"))
        .call()
        .expect("newest open consultations")
        .into_json()
        .expect("JSON");
    let newest_open: Vec<i64> = open["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|c| c["id"].as_i64()).collect())
        .unwrap_or_default();
    assert!(!newest_open.is_empty(), "no received consultation to open");
    let tokens = Arc::new(Tokens {
        requester: login(&setup, &bases[0], "gen-requester"),
        dx: login(&setup, &bases[0], "gen-dx"),
        manager: login(&setup, &bases[0], "gen-manager"),
        admin: login(&setup, &bases[0], "gen-admin"),
        helpdesk,
        newest_open,
    });
    let newest: Value = setup
        .get(&format!(
            "{}/api/v1/consultations?limit=1&sort=-created",
            bases[0]
        ))
        .set("Authorization", &format!("Bearer {}", tokens.dx))
        .call()
        .expect("newest consultation")
        .into_json()
        .expect("JSON");
    let max_id = newest["items"][0]["id"]
        .as_i64()
        .expect("a consultation id");
    let filed = Arc::new(Mutex::new(Vec::<i64>::new()));
    let routes = env("ROUTES", "");
    let mix: Vec<(Route, u32)> = MIX
        .into_iter()
        .filter(|(r, _)| routes.is_empty() || routes.split(',').any(|k| k.trim() == r.key()))
        .collect();
    assert!(
        !mix.is_empty(),
        "ROUTES names none of: {}",
        MIX.map(|(r, _)| r.key()).join(", ")
    );
    let total_weight: u32 = mix.iter().map(|(_, w)| w).sum();
    println!(
        "{concurrency} connections for {}s against {} (newest consultation id {max_id})",
        duration.as_secs(),
        bases.join(", ")
    );
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|i| {
            let base = bases[i % bases.len()].clone();
            let (tokens, filed, mix) = (tokens.clone(), filed.clone(), mix.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let mut rng = rand::thread_rng();
                let mut stats: BTreeMap<Route, Stats> = BTreeMap::new();
                while started.elapsed() < duration {
                    let mut pick = rng.gen_range(0..total_weight);
                    let route = mix
                        .iter()
                        .find(|(_, w)| {
                            if pick < *w {
                                true
                            } else {
                                pick -= w;
                                false
                            }
                        })
                        .map(|(r, _)| *r)
                        .unwrap_or(Route::QueuePage);
                    let start = Instant::now();
                    let outcome = request(&agent, &base, route, &tokens, max_id, &filed, &mut rng);
                    let entry = stats.entry(route).or_default();
                    entry.latencies.push(start.elapsed().as_micros() as u64);
                    if let Err(e) = outcome {
                        entry.errors += 1;
                        if entry.samples.len() < 3 {
                            entry.samples.push(e);
                        }
                    }
                }
                stats
            })
        })
        .collect();
    let mut merged: BTreeMap<Route, Stats> = BTreeMap::new();
    for thread in threads {
        for (route, stats) in thread.join().expect("load thread") {
            let entry = merged.entry(route).or_default();
            entry.latencies.extend(stats.latencies);
            entry.errors += stats.errors;
            entry.samples.extend(stats.samples);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:<48} {:>8} {:>9} {:>9} {:>9} {:>7}",
        "route", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let (mut all, mut errors) = (vec![], 0);
    for (route, mut stats) in merged {
        stats.latencies.sort_unstable();
        println!(
            "{:<48} {:>8} {:>9.0} {:>9.1} {:>9.1} {:>7}",
            route.name(),
            stats.latencies.len(),
            stats.latencies.len() as f64 / elapsed,
            percentile(&stats.latencies, 0.50),
            percentile(&stats.latencies, 0.99),
            stats.errors
        );
        for sample in &stats.samples {
            println!("    error: {sample}");
        }
        errors += stats.errors;
        all.extend(stats.latencies);
    }
    all.sort_unstable();
    println!(
        "{:<48} {:>8} {:>9.0} {:>9.1} {:>9.1} {:>7}",
        "all",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        errors
    );
}
