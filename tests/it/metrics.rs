//! `/metrics` scraped through the real router: the text is Prometheus's, requests are counted by
//! route and status, state gauges come from the database, and the token and the separate
//! listener guard it. The recorder is process-wide, so counters here only ever grow: the tests
//! compare before and after, or look for series no other test makes.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

/// The value of the first sample of `name` whose labels include every `(key, value)`.
pub fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

async fn scrape(app: &TestApp, auth: Option<&str>) -> (StatusCode, String) {
    let mut b = Request::get("/metrics").header(header::HOST, "halite.test");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    let r = app.send(b.body(Body::empty()).unwrap()).await;
    (r.status, r.body)
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_state() {
    let app = TestApp::new().await;
    let (status, before) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let ok = |b: &str| {
        sample(
            b,
            "halite_http_requests_total",
            &[("route", "/healthz"), ("status", "200")],
        )
        .unwrap_or(0.0)
    };
    for _ in 0..3 {
        assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    }
    // A page without a session is redirected: counted under its route with its status.
    assert_eq!(app.get("/minions", None).await.status.as_u16(), 303);
    let (_, body) = scrape(&app, None).await;
    assert!(
        ok(&body) >= ok(&before) + 3.0,
        "three more /healthz 200s:\n{body}"
    );
    assert!(
        sample(
            &body,
            "halite_http_requests_total",
            &[("route", "/minions"), ("status", "303")]
        )
        .is_some(),
        "{body}"
    );
    // Latency is a histogram with buckets, per route.
    assert!(
        body.lines().any(
            |l| l.starts_with("halite_http_request_duration_seconds_bucket{")
                && l.contains("route=\"/healthz\"")
        ),
        "{body}"
    );
    // An unknown path is one `other` series, never its own label.
    app.get("/no-such-page-x7", None).await;
    let (_, body) = scrape(&app, None).await;
    assert!(
        !body.contains("no-such-page-x7"),
        "unmatched paths are not labels"
    );
    // Server functions have their own latency series, by endpoint.
    let r = app
        .call(
            "auth/login",
            &[("username", "admin"), ("password", "wrong")],
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.body);
    let (_, body) = scrape(&app, None).await;
    assert!(
        sample(
            &body,
            "halite_server_fn_duration_seconds_count",
            &[("fn", "auth/login")]
        )
        .is_some_and(|n| n >= 1.0),
        "{body}"
    );
    // State gauges: the pool, the minion counts from the database, the stream and connection.
    assert!(sample(&body, "halite_db_pool_connections", &[("state", "idle")]).is_some());
    for s in ["online", "offline", "pending", "rejected", "denied"] {
        assert!(
            sample(&body, "halite_minions", &[("status", s)]).is_some(),
            "halite_minions{{status={s}}}: {body}"
        );
    }
    assert!(sample(&body, "halite_event_stream_state", &[("state", "off")]).is_some());
    assert!(sample(
        &body,
        "halite_salt_connection_state",
        &[("state", "connected")]
    )
    .is_some());
    assert_eq!(sample(&body, "halite_build_info", &[]), Some(1.0));
    // Text exposition format, with HELP lines.
    assert!(
        body.contains("# TYPE halite_http_requests_total counter"),
        "{body}"
    );
    assert!(body.contains("# HELP halite_minions"), "{body}");
}

#[tokio::test]
async fn minion_gauges_follow_the_database() {
    let app = TestApp::new().await;
    halite::with_db!(&app.state.db, p => {
        for (id, key) in [("m-metrics-1", "rejected"), ("m-metrics-2", "rejected"), ("m-metrics-3", "denied")] {
            sqlx::query("INSERT INTO minion_snapshots (minion_id, key_status) VALUES ($1, $2)")
                .bind(id)
                .bind(key)
                .execute(p)
                .await
                .unwrap();
        }
    });
    // The gauges are process-wide and every app's scrape sets them from its own database:
    // another test may scrape in between, so some scrape of ours must show ours.
    let mut last = String::new();
    for _ in 0..50 {
        let (_, body) = scrape(&app, None).await;
        let rejected = sample(&body, "halite_minions", &[("status", "rejected")]);
        let denied = sample(&body, "halite_minions", &[("status", "denied")]);
        if rejected == Some(2.0) && denied == Some(1.0) {
            return;
        }
        last = body;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no scrape showed 2 rejected and 1 denied:\n{last}");
}

#[tokio::test]
async fn a_metrics_token_is_required_when_set() {
    let token = "scrape-token-0123456789";
    let app = TestApp::with_env(&[("METRICS_TOKEN", token)]).await;
    let (s, body) = scrape(&app, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Bearer"), "{body}");
    assert!(!body.contains("halite_"), "nothing leaks without the token");
    let (s, _) = scrape(&app, Some("Bearer scrape-token-012345678X")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = scrape(&app, Some(&format!("Basic {token}"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, body) = scrape(&app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("halite_http_requests_total"), "{body}");
    // The token never shows in the start-up configuration line.
    assert!(!format!("{:?}", app.state.config).contains(token));
}

#[tokio::test]
async fn a_short_or_spaced_metrics_token_is_refused_at_start() {
    for bad in ["short", "has a space in it, sixteen+"] {
        let e = halite::server::config::Config::from_lookup(|k| {
            (k == "METRICS_TOKEN").then(|| bad.to_string())
        })
        .unwrap_err();
        assert!(e.to_string().contains("METRICS_TOKEN"), "{e}");
    }
    let e = halite::server::config::Config::from_lookup(|k| {
        (k == "METRICS_LISTEN").then(|| "localhost".to_string())
    })
    .unwrap_err();
    assert!(e.to_string().contains("METRICS_LISTEN"), "{e}");
}

#[tokio::test]
async fn metrics_listen_moves_metrics_off_the_main_address() {
    let app = TestApp::with_env(&[("METRICS_LISTEN", "127.0.0.1:0")]).await;
    let (s, _) = scrape(&app, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not on the main address");
    let separate = halite::server::metrics::separate_router(app.state.clone());
    let r = separate
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(r.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains("halite_minions"));
    // The separate address serves nothing else.
    let separate = halite::server::metrics::separate_router(app.state.clone());
    let r = separate
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
