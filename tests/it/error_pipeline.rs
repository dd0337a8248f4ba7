//! The error pipeline: every response carries a request id; a database that fails while the
//! session is resolved answers 500 (not "signed out"); a poller's database failure is reported
//! as a database error, not as Salt's.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use halite::salt::{SaltClient, SaltConfig};
use halite::server::poller::PollError;
use std::time::Duration;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::new().await;
    let a = app.get("/healthz", None).await;
    let b = app.get("/login", None).await;
    let denied = app.call("settings/get", &[], None).await;
    let ids: Vec<String> = [&a, &b, &denied]
        .iter()
        .map(|r| {
            r.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .expect("x-request-id on the response")
                .to_string()
        })
        .collect();
    assert!(ids.iter().all(|id| id.len() == 36), "{ids:?}");
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");

    // An id a proxy in front already set is kept.
    let r = app
        .send(
            Request::get("/healthz")
                .header(header::HOST, "halite.test")
                .header("x-request-id", "proxy-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "proxy-42");

    // Anything that does not look like an id is replaced, not written into the log.
    for odd in ["a b", "x".repeat(65).as_str(), "id;drop", ""] {
        let r = app
            .send(
                Request::get("/healthz")
                    .header(header::HOST, "halite.test")
                    .header("x-request-id", odd)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let id = r.headers["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 36, "{odd:?} was kept as {id:?}");
    }
}

#[tokio::test]
async fn a_database_failure_while_resolving_the_session_is_a_500_not_signed_out() {
    let app = TestApp::new().await;
    app.create_user("vera", "vera-password", &["viewer"]).await;
    let cookie = app.login("vera", "vera-password").await;
    assert_eq!(
        app.call("auth/me", &[], Some(&cookie)).await.json()["username"],
        "vera"
    );

    // The permissions query now fails.
    halite::with_db!(&app.state.db, p => {
        sqlx::query("ALTER TABLE user_roles RENAME TO user_roles_gone")
            .execute(p)
            .await
            .unwrap();
    });

    let direct = halite::server::auth::resolve_session(&app.state, Some(&cookie)).await;
    let err = direct.expect_err("a database error, not Ok(None)");
    assert_eq!(err.status(), 500);
    assert!(
        std::error::Error::source(&err).is_some(),
        "keeps the sqlx cause"
    );

    let me = app.call("auth/me", &[], Some(&cookie)).await;
    assert_eq!(me.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", me.body);
    assert!(me.json().get("Internal").is_some(), "{}", me.body);
    assert!(
        !me.body.contains("user_roles"),
        "no SQL detail to the browser: {}",
        me.body
    );

    // A page is not redirected to the sign-in form either.
    let page = app.get("/minions", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(page.location(), None);

    // Without a (valid) cookie nothing is asked of the database: still simply signed out.
    assert!(
        halite::server::auth::resolve_session(&app.state, Some("halite_session=forged"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.get("/minions", None).await.location(), Some("/login"));
}

#[tokio::test]
async fn a_poller_database_failure_is_a_database_error() {
    let cfg = salt_sim::SimConfig {
        minions: 5,
        pending: 1,
        rejected: 0,
        ..salt_sim::SimConfig::default()
    };
    let (username, password) = (cfg.username.clone(), cfg.password.clone());
    let sim = tokio::task::spawn_blocking(move || salt_sim::router(cfg))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sim).await.unwrap() });
    let client = SaltClient::new(SaltConfig {
        url: format!("http://{addr}"),
        username,
        password: password.into(),
        eauth: "pam".into(),
        verify_tls: true,
        timeout: Duration::from_secs(10),
    })
    .unwrap();

    let app = TestApp::new().await;
    let db = &app.state.db;
    halite::server::minions::poller::poll_keys(&client, db)
        .await
        .expect("keys poll works against the simulator");

    halite::with_db!(db, p => {
    sqlx::query("ALTER TABLE minion_snapshots RENAME TO minion_snapshots_gone")
            .execute(p)
            .await
            .unwrap();
    });
    let err = halite::server::minions::poller::poll_keys(&client, db)
        .await
        .expect_err("the table is gone");
    assert!(matches!(err, PollError::Db(_)), "{err:?}");
    // What the status board shows.
    let shown = err.to_string();
    assert!(shown.starts_with("Database error: "), "{shown}");
    assert!(!shown.contains("Salt"), "{shown}");
}
