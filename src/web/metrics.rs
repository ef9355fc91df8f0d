//! `GET /metrics` in the Prometheus text format, and the per-request bookkeeping
//! behind it. A small registry of our own: a handful of counters and histograms
//! under one mutex is all this needs, and it adds nothing to the dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use diesel::dsl::count_star;
use diesel::prelude::*;

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

impl HttpMetrics {
    /// Records one finished request. `route` is the matched pattern
    /// (`/api/v1/consultations/{id}`), so ids do not multiply the series.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let stats = routes
            .entry((method.to_string(), route.to_string()))
            .or_default();
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

#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format: requests and latency per route, database pool, outbox by status, consultations by state"),
))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
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
        recorded.observe("GET", "/x", 200, Duration::from_millis(20));
        recorded.observe("GET", "/x", 404, Duration::from_secs(20));
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
}
