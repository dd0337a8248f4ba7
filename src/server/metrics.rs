//! Prometheus metrics (`GET /metrics`): the `metrics` facade records everywhere (HTTP here,
//! salt-api calls in `salt`, pollers in the runtime, the event consumer, the hub); one
//! process-wide `metrics-exporter-prometheus` recorder renders the text. Gauges that describe
//! state (connection, stream, pool, minion counts) are read at scrape time instead of being
//! kept up to date on every change.
//!
//! Access: with `METRICS_LISTEN` set, `/metrics` is served only on that address; with
//! `METRICS_TOKEN` set, a scrape must send `Authorization: Bearer <token>` (on either address).

use crate::server::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Histogram buckets (seconds): from a cached page read to a slow Salt call.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use (the server installs it at start; test
/// apps in one process share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only its own");
        }
        describe();
        // The recorder keeps every histogram sample until upkeep folds it into the buckets;
        // without a scraper calling it, memory would grow with every request (~16 bytes each).
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
        }
        handle
    })
}

/// How often histogram samples are folded into their buckets (the exporter's own default).
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "halite_http_requests_total",
        "HTTP requests answered, by method, route and status."
    );
    describe_histogram!(
        "halite_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route (to the response head; streams end later)."
    );
    describe_histogram!(
        "halite_server_fn_duration_seconds",
        Unit::Seconds,
        "Server function latency by function (its endpoint under /api/)."
    );
    describe_counter!(
        "halite_salt_api_requests_total",
        "salt-api requests by call (login, ping, events, local, runner:<fun>, wheel:<fun>) and outcome."
    );
    describe_histogram!(
        "halite_salt_api_duration_seconds",
        Unit::Seconds,
        "salt-api request latency by call, retries included."
    );
    describe_counter!(
        "halite_poller_runs_total",
        "Poller runs by poller and outcome (ok, error)."
    );
    describe_histogram!(
        "halite_poller_duration_seconds",
        Unit::Seconds,
        "Poller run duration by poller."
    );
    describe_gauge!(
        "halite_poller_last_success_timestamp_seconds",
        Unit::Seconds,
        "Unix time of each poller's last successful run on this replica."
    );
    describe_counter!(
        "halite_events_consumed_total",
        "Events read from salt-api's /events."
    );
    describe_counter!(
        "halite_events_stored_total",
        "Activity rows written by the event consumer."
    );
    describe_counter!(
        "halite_hub_lagged_dropped_total",
        "Live events a slow browser stream lost (it is told and reloads)."
    );
    describe_gauge!(
        "halite_hub_subscribers",
        "Live streams (browser tabs) subscribed to this replica's event hub."
    );
    describe_gauge!(
        "halite_event_stream_state",
        "1 for the event consumer's current state (off, connecting, connected, down)."
    );
    describe_gauge!(
        "halite_salt_connection_state",
        "1 for the salt-api connection's current state."
    );
    describe_gauge!(
        "halite_db_pool_connections",
        "Database pool connections by state (idle, in_use)."
    );
    describe_gauge!("halite_minions", "Minions by status, as stored.");
    describe_gauge!(
        "halite_leader",
        "1 when this replica runs the pollers and the event consumer."
    );
    describe_gauge!(
        "halite_build_info",
        "Always 1; labels carry the version and build."
    );
}

/// Label for a request's route: the route pattern it matched (bounded: the router's own
/// table), `static` for the site's files, `other` for anything unmatched.
fn route_label(req: &Request) -> String {
    if let Some(m) = req.extensions().get::<MatchedPath>() {
        return m.as_str().to_string();
    }
    if req.uri().path().starts_with("/pkg/") {
        "static".into()
    } else {
        "other".into()
    }
}

/// Routes under `/api/` that are not server functions.
const NOT_SERVER_FNS: &[&str] = &[
    "/api/activity/stream",
    "/api/auth/watch",
    "/api/inventory/search.csv",
    "/api/inventory/search.json",
    "/api/inventory/search.ndjson",
];

/// Middleware (inside the router, so the matched route is known): count and time every
/// request by route and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = route_label(&req);
    let res = next.run(req).await;
    let took = started.elapsed().as_secs_f64();
    let status = res.status().as_u16().to_string();
    metrics::counter!("halite_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!("halite_http_request_duration_seconds",
        "method" => method, "route" => route.clone())
    .record(took);
    if let Some(name) = route.strip_prefix("/api/") {
        // The exports (`/api/<page>/export.<ext>`) are plain GETs too.
        if !NOT_SERVER_FNS.contains(&route.as_str())
            && !route.contains("/export.")
            && route != "other"
        {
            metrics::histogram!("halite_server_fn_duration_seconds", "fn" => name.to_string())
                .record(took);
        }
    }
    res
}

/// One poller run's outcome.
pub fn poller_run(name: &'static str, took: std::time::Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("halite_poller_runs_total", "poller" => name, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("halite_poller_duration_seconds", "poller" => name)
        .record(took.as_secs_f64());
    if ok {
        metrics::gauge!("halite_poller_last_success_timestamp_seconds", "poller" => name)
            .set(chrono::Utc::now().timestamp() as f64);
    }
}

/// Is this scrape allowed? No token configured: yes. Otherwise the bearer must match
/// (compared in constant time).
fn authorized(headers: &HeaderMap, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    use subtle::ConstantTimeEq;
    sent.len() == token.len() && bool::from(sent.as_bytes().ct_eq(token.as_bytes()))
}

/// `GET /metrics` on the main address: 404 when `METRICS_LISTEN` moves it elsewhere.
pub async fn metrics_main(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.config.metrics_listen.is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    scrape(&state, &headers).await
}

/// `GET /metrics` on the `METRICS_LISTEN` address.
pub async fn metrics_separate(State(state): State<AppState>, headers: HeaderMap) -> Response {
    scrape(&state, &headers).await
}

/// The router for `METRICS_LISTEN`: `/metrics` and nothing else.
pub fn separate_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_separate))
        .with_state(state)
}

async fn scrape(state: &AppState, headers: &HeaderMap) -> Response {
    if !authorized(headers, state.config.metrics_token.as_deref()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "A metrics token is required: send Authorization: Bearer <METRICS_TOKEN>.\n",
        )
            .into_response();
    }
    let handle = handle();
    refresh_gauges(state).await;
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// A state gauge: 1 for the current state's label, 0 for the others.
fn one_hot(name: &'static str, states: impl Iterator<Item = (&'static str, bool)>) {
    for (state, current) in states {
        metrics::gauge!(name, "state" => state).set(if current { 1.0 } else { 0.0 });
    }
}

/// Set the state gauges from what the process knows now.
async fn refresh_gauges(state: &AppState) {
    use crate::model::activity::StreamStatus;
    use crate::model::settings::ConnectionState;
    let rt = &state.runtime;
    let conn = rt.connection().state;
    one_hot(
        "halite_salt_connection_state",
        ConnectionState::ALL
            .iter()
            .map(|s| (s.as_str(), *s == conn)),
    );
    let hub = rt.hub();
    let stream = hub.state().state;
    one_hot(
        "halite_event_stream_state",
        StreamStatus::ALL.iter().map(|s| (s.as_str(), *s == stream)),
    );
    metrics::gauge!("halite_hub_subscribers").set(hub.subscribers() as f64);
    let (size, idle) = crate::with_db!(&state.db, p => (p.size(), p.num_idle()));
    metrics::gauge!("halite_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("halite_db_pool_connections", "state" => "in_use")
        .set(size.saturating_sub(idle as u32) as f64);
    metrics::gauge!("halite_leader").set(if rt.cluster().is_leader() { 1.0 } else { 0.0 });
    metrics::gauge!("halite_build_info",
        "version" => env!("CARGO_PKG_VERSION"), "build" => state.config.build_hash.clone())
    .set(1.0);
    match crate::server::minions::store::status_counts(&state.db).await {
        Ok(counts) => {
            for s in crate::model::minions::MinionStatus::ALL {
                metrics::gauge!("halite_minions", "status" => s.as_str()).set(counts.of(*s) as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count minions"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_token_is_checked_exactly() {
        assert!(authorized(&req(None), None));
        assert!(authorized(&req(Some("Bearer x")), None));
        assert!(authorized(&req(Some("Bearer s3cret")), Some("s3cret")));
        assert!(!authorized(&req(None), Some("s3cret")));
        assert!(!authorized(&req(Some("Bearer s3cre")), Some("s3cret")));
        assert!(!authorized(&req(Some("Bearer s3cret2")), Some("s3cret")));
        assert!(!authorized(&req(Some("Basic s3cret")), Some("s3cret")));
        assert!(!authorized(&req(Some("s3cret")), Some("s3cret")));
    }
}
