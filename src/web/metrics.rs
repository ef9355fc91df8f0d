//! `GET /metrics` in the Prometheus text format, and the per-request bookkeeping
//! behind it. A small registry of our own: a handful of counters and histograms
//! under one mutex is all this needs, and it adds nothing to the dependency tree.
//!
//! Two rules keep it safe to expose:
//! - **Bounded labels.** Methods outside the standard set count as `other` and
//!   requests no route matched as `unmatched`, so a client inventing methods or
//!   paths cannot grow the registry (and the scrape) without end.
//! - **Who may read it.** The counts are city-wide (consultations by state), so
//!   with `DIGICON_METRICS_TOKEN` set a scraper must send it as a bearer token;
//!   unset, only a client on this host that did not come through a proxy may read.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::http::{header, Method};
use actix_web::{get, web, HttpRequest, HttpResponse};
use diesel::dsl::count_star;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::error::AppError;
use super::AppState;
use crate::db::schema::{consultations, outbox};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Requests and latencies per method and route since the process started.
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
}

#[derive(Default)]
struct RouteStats {
    /// Responses by status code.
    statuses: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket of `BUCKETS` (a request counts in every
    /// bucket at least as large as its latency).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// The label of a request method: one of the standard methods, else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl HttpMetrics {
    /// Records one finished request. `route` is the matched pattern
    /// (`/api/v1/consultations/{id}`), so ids do not multiply the series; `None`
    /// (no route matched) counts as `unmatched`.
    pub fn observe(&self, method: &Method, route: Option<&str>, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let key = (
            method_label(method).to_string(),
            route.unwrap_or("unmatched").to_string(),
        );
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let stats = routes.entry(key).or_default();
        *stats.statuses.entry(status).or_default() += 1;
        for (bound, count) in BUCKETS.iter().zip(stats.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        stats.count += 1;
        stats.sum_seconds += seconds;
    }

    fn render(&self, out: &mut String) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route), stats) in routes.iter() {
            for (status, n) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time to the response, by method and route.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route), stats) in routes.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (bound, n) in BUCKETS.iter().zip(stats.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                stats.sum_seconds
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                stats.count
            );
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn gauge(out: &mut String, name: &str, help: &str, label: &str, values: &[(String, i64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(value));
    }
}

/// Why a request may not read the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A token is configured and the request did not carry it (401).
    BadToken,
    /// No token is configured and the request is not from this host (403).
    NotLocal,
}

/// Whether a request may read the metrics. With a configured `token`, exactly
/// `Authorization: Bearer <token>` (compared in constant time) from anywhere;
/// without one, a loopback peer whose request no proxy relayed (a reverse proxy
/// on the same host connects from loopback on behalf of anyone).
pub fn may_read(
    token: Option<&str>,
    authorization: Option<&str>,
    peer: Option<IpAddr>,
    relayed: bool,
) -> Result<(), Refusal> {
    match token {
        Some(expected) => {
            let given = authorization
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, given)| given.trim());
            match given {
                Some(given) if same_secret(given, expected) => Ok(()),
                _ => Err(Refusal::BadToken),
            }
        }
        None => match peer {
            Some(ip) if ip.to_canonical().is_loopback() && !relayed => Ok(()),
            _ => Err(Refusal::NotLocal),
        },
    }
}

/// Compares two secrets in time that depends on neither: both are hashed to
/// the same length first, then every byte is compared.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

/// Whether a proxy relayed the request (it names the original client).
fn relayed(req: &HttpRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::FORWARDED)
        || headers.contains_key("x-forwarded-for")
        || headers.contains_key("x-real-ip")
}

#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format: requests and latency per route, database pool, outbox by status, consultations by state"),
    (status = 401, description = "DIGICON_METRICS_TOKEN is set and the request did not carry it as a bearer token", body = super::error::Problem),
    (status = 403, description = "DIGICON_METRICS_TOKEN is unset and the request is not from this host", body = super::error::Problem),
), security((), ("bearer" = [])))]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    may_read(
        state.settings.metrics_token.as_deref(),
        authorization,
        req.peer_addr().map(|a| a.ip()),
        relayed(&req),
    )
    .map_err(|refusal| match refusal {
        Refusal::BadToken => AppError::unauthorized("error.token_missing"),
        Refusal::NotLocal => AppError::forbidden(),
    })?;
    // Outbox and consultations are counted in the shared database, so every
    // instance reports the same totals; requests and the pool are this instance's.
    let (outbox_by_status, consultations_by_state) = state
        .db(|conn| {
            let outbox: Vec<(String, i64)> = outbox::table
                .group_by(outbox::status)
                .select((outbox::status, count_star()))
                .load(conn)?;
            let consultations: Vec<(String, i64)> = consultations::table
                .group_by(consultations::state)
                .select((consultations::state, count_star()))
                .load(conn)?;
            Ok((outbox, consultations))
        })
        .await?;
    let pool = state.pool.state();
    let mut out = String::with_capacity(8 * 1024);
    state.http_metrics.render(&mut out);
    let in_use = i64::from(pool.connections - pool.idle_connections);
    gauge(
        &mut out,
        "db_pool_connections",
        "Database connections of this instance's pool.",
        "state",
        &[
            ("in_use".into(), in_use),
            ("idle".into(), i64::from(pool.idle_connections)),
            ("max".into(), i64::from(state.pool.max_size())),
        ],
    );
    gauge(
        &mut out,
        "outbox_messages",
        "Mail in the outbox by status (pending and sending are the queue; failed need an admin).",
        "status",
        &outbox_by_status,
    );
    gauge(
        &mut out,
        "consultations",
        "Consultations by workflow state.",
        "state",
        &consultations_by_state,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_in_its_bucket_and_every_larger_one() {
        let recorded = HttpMetrics::default();
        recorded.observe(&Method::GET, Some("/x"), 200, Duration::from_millis(20));
        recorded.observe(&Method::GET, Some("/x"), 404, Duration::from_secs(20));
        let mut out = String::new();
        recorded.render(&mut out);
        assert!(out.contains("http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 1"));
        assert!(out.contains("http_requests_total{method=\"GET\",route=\"/x\",status=\"404\"} 1"));
        assert!(out.contains("le=\"0.01\"} 0"), "{out}");
        assert!(out.contains("le=\"0.025\"} 1"), "{out}");
        assert!(out.contains("le=\"5\"} 1"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 2"), "{out}");
        assert!(out.contains("http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 2"));
    }

    #[test]
    fn invented_methods_and_unmatched_paths_share_one_series() {
        let recorded = HttpMetrics::default();
        for i in 0..200 {
            let method = Method::from_bytes(format!("X{i}QWERTY").as_bytes()).expect("method");
            recorded.observe(&method, None, 404, Duration::from_millis(1));
        }
        recorded.observe(&Method::HEAD, Some("/"), 200, Duration::from_millis(1));
        let mut out = String::new();
        recorded.render(&mut out);
        assert!(out.contains(
            "http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 200"
        ));
        assert!(out.contains("method=\"HEAD\",route=\"/\""));
        assert_eq!(out.lines().count(), 2 + 2 + 2 + 2 * (BUCKETS.len() + 3));
    }

    #[test]
    fn without_a_token_only_unrelayed_loopback_clients_may_read() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(may_read(None, None, ip("127.0.0.1"), false), Ok(()));
        assert_eq!(may_read(None, None, ip("::1"), false), Ok(()));
        assert_eq!(may_read(None, None, ip("::ffff:127.0.0.1"), false), Ok(()));
        for outside in [
            "10.0.0.5",
            "192.168.1.10",
            "203.0.113.7",
            "::ffff:10.0.0.5",
            "fe80::1",
        ] {
            assert_eq!(
                may_read(None, None, ip(outside), false),
                Err(Refusal::NotLocal),
                "{outside}"
            );
        }
        assert_eq!(may_read(None, None, None, false), Err(Refusal::NotLocal));
        assert_eq!(
            may_read(None, None, ip("127.0.0.1"), true),
            Err(Refusal::NotLocal),
            "a proxy on this host relays anyone"
        );
        assert_eq!(
            may_read(None, Some("Bearer anything"), ip("203.0.113.7"), false),
            Err(Refusal::NotLocal),
            "no token configured: a header does not open it"
        );
    }

    #[test]
    fn with_a_token_exactly_that_bearer_token_may_read_from_anywhere() {
        let token = Some("s3cret-metrics-token");
        let outside = Some("203.0.113.7".parse::<IpAddr>().expect("ip"));
        let local = Some("127.0.0.1".parse::<IpAddr>().expect("ip"));
        assert_eq!(
            may_read(token, Some("Bearer s3cret-metrics-token"), outside, true),
            Ok(())
        );
        assert_eq!(
            may_read(token, Some("bearer s3cret-metrics-token"), outside, false),
            Ok(())
        );
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer s3cret-metrics-toke"),
            Some("Bearer s3cret-metrics-token2"),
            Some("Basic s3cret-metrics-token"),
            Some("s3cret-metrics-token"),
        ] {
            assert_eq!(
                may_read(token, wrong, local, false),
                Err(Refusal::BadToken),
                "{wrong:?}, even from loopback"
            );
        }
    }
}
