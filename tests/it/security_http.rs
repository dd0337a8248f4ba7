//! Security findings on the HTTP edge, sessions, sign-in and settings (no Salt lab needed):
//! body limits, the static-file guard, cookie renewal, HSTS, login and password throttling,
//! trusted proxies, the stored salt-api password, redirects, page offsets, the pending badge.

use crate::common::{urlencode, TestApp};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A body of `total` bytes produced lazily in 64 KiB chunks (the test never holds it); `read`
/// counts the bytes the server pulled from it.
fn lazy_body(total: usize, read: Arc<AtomicUsize>) -> Body {
    let chunk = bytes::Bytes::from(vec![b'a'; 64 * 1024]);
    let n = total / chunk.len();
    Body::from_stream(futures::stream::iter((0..n).map(move |_| {
        read.fetch_add(chunk.len(), Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk.clone())
    })))
}

#[tokio::test]
async fn oversized_bodies_get_413_without_being_read() {
    let app = TestApp::new().await;
    // What the server pulled from each 10 MiB body: never more than the limit and a chunk or
    // two in flight. (The process's RSS would say the same, but other tests share the process.)
    let most = halite::server::http::BODY_LIMIT + 256 * 1024;
    let read = Arc::new(AtomicUsize::new(0));
    // Declared length: refused at once.
    let req = Request::post("/api/auth/login")
        .header(header::HOST, "halite.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, (10 * 1024 * 1024).to_string())
        .body(lazy_body(10 * 1024 * 1024, read.clone()))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("too large"), "{}", r.body);
    assert!(
        read.load(Ordering::Relaxed) <= 256 * 1024,
        "a declared 10 MiB body was read: {} bytes",
        read.load(Ordering::Relaxed)
    );
    // Streamed without a length, before sign-in and after: cut off at the limit.
    for path in [
        "/api/auth/login",
        "/api/minions/list",
        "/api/templates/create",
    ] {
        read.store(0, Ordering::Relaxed);
        let req = Request::post(path)
            .header(header::HOST, "halite.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(lazy_body(10 * 1024 * 1024, read.clone()))
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.body
        );
        let n = read.load(Ordering::Relaxed);
        assert!(n <= most, "{path}: read {n} bytes of a 10 MiB body");
    }
    // A normal request still works, and 1 MiB bodies are fine outside auth.
    let r = app
        .call(
            "auth/login",
            &[("username", "admin"), ("password", "x")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let big = "q=".to_string() + &"a".repeat(20 * 1024);
    let req = Request::post("/api/auth/login")
        .header(header::HOST, "halite.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(big))
        .unwrap();
    assert_eq!(
        app.send(req).await.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "auth routes have a smaller limit"
    );
}

#[tokio::test]
async fn page_urls_with_a_file_extension_still_need_a_session() {
    let app = TestApp::new().await;
    for path in ["/settings.js", "/minions/x.txt", "/users.css", "/a/b.wasm"] {
        let r = app.get(path, None).await;
        assert_eq!(r.location(), Some("/login"), "{path}: {}", r.status);
    }
    // Real static files stay public.
    let r = app.get("/robots.txt", None).await;
    assert_ne!(r.location(), Some("/login"));
}

#[tokio::test]
async fn a_sliding_session_reissues_its_cookie_and_hsts_follows_cookie_secure() {
    let app = TestApp::new().await;
    app.create_user("carol", "carol-password-1", &["viewer"])
        .await;
    let cookie = app.login("carol", "carol-password-1").await;
    // Fresh session: nothing to renew.
    let r = app.get("/about", Some(&cookie)).await;
    assert!(r.session_cookie().is_none());
    // Two minutes later the server slides the expiry: the browser gets a fresh Max-Age too.
    halite::with_db!(&app.state.db, p => {
        sqlx::query("UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00.000Z'")
            .execute(p)
            .await
            .unwrap();
    });
    let r = app.get("/about", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.session_cookie().as_deref(), Some(cookie.as_str()));
    let set = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("Max-Age=28800") && set.contains("HttpOnly"),
        "{set}"
    );
    assert!(!r.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

    let secure = TestApp::with_env(&[("COOKIE_SECURE", "true")]).await;
    let r = secure.get("/login", None).await;
    assert!(r.headers[header::STRICT_TRANSPORT_SECURITY]
        .to_str()
        .unwrap()
        .contains("max-age="));
}

#[tokio::test]
async fn parallel_password_guesses_never_pass_the_limit() {
    let app = Arc::new(TestApp::new().await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.call(
                    "auth/login",
                    &[("username", "admin"), ("password", &format!("guess-{i}"))],
                    None,
                )
                .await
                .status
            })
        })
        .collect();
    let mut checked = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 5, "only 5 passwords were checked");
    assert_eq!(throttled, 11);
    // The right password is refused too while the lock holds.
    let r = app
        .call(
            "auth/login",
            &[("username", "admin"), ("password", "changeme")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn change_password_is_throttled() {
    let app = TestApp::new().await;
    app.create_user("dave", "dave-password-1", &["viewer"])
        .await;
    let cookie = app.login("dave", "dave-password-1").await;
    let mut codes = vec![];
    for i in 0..7 {
        let r = app
            .call(
                "auth/change-password",
                &[
                    ("current_password", &format!("wrong-{i}")),
                    ("new_password", "another-password-1"),
                    ("confirm_password", "another-password-1"),
                ],
                Some(&cookie),
            )
            .await;
        codes.push(r.status.as_u16());
    }
    assert_eq!(codes, vec![422, 422, 422, 422, 422, 429, 429]);
}

fn login_from(peer: &str, forwarded_for: Option<&str>) -> Request<Body> {
    let body = format!("username={}&password=wrong", urlencode("erin"));
    let mut b = Request::post("/api/auth/login")
        .header(header::HOST, "halite.test")
        .header(header::ORIGIN, "http://halite.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(x) = forwarded_for {
        b = b.header("x-forwarded-for", x);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    req
}

async fn last_login_ip(app: &TestApp) -> String {
    halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT ip FROM audit_log WHERE action = 'auth.login' ORDER BY id DESC")
        .fetch_one(p)
        .await
        .unwrap())
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // No TRUSTED_PROXIES: the header is the client's claim and is ignored.
    let app = TestApp::new().await;
    app.send(login_from("203.0.113.7:5000", Some("198.51.100.1")))
        .await;
    assert_eq!(last_login_ip(&app).await, "203.0.113.7");

    let app = TestApp::with_env(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    app.send(login_from("127.0.0.1:5000", Some("6.6.6.6, 198.51.100.1")))
        .await;
    assert_eq!(last_login_ip(&app).await, "198.51.100.1");
    // The throttle counts per real client: five failures from one client behind the proxy
    // lock that client only, not everyone else behind the same proxy.
    for _ in 0..5 {
        app.send(login_from("127.0.0.1:5000", Some("198.51.100.1")))
            .await;
    }
    let r = app
        .send(login_from("127.0.0.1:5000", Some("198.51.100.1")))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = app
        .send(login_from("127.0.0.1:5000", Some("198.51.100.2")))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A peer that is not a trusted proxy cannot pick its address.
    app.send(login_from("203.0.113.9:5000", Some("198.51.100.3")))
        .await;
    assert_eq!(last_login_ip(&app).await, "203.0.113.9");
}

/// A tiny HTTP server on loopback that records every request it gets.
async fn recorder() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let s = s.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            s.lock().unwrap().push(format!(
                "{} {} {:?} {}",
                parts.method,
                parts.uri,
                parts.headers.get("x-auth-token"),
                String::from_utf8_lossy(&bytes)
            ));
            (StatusCode::UNAUTHORIZED, "no")
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, seen)
}

/// A server that redirects everything to `to` (307 keeps the method and body).
async fn redirector(to: String) -> String {
    let app = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, format!("{to}/login"))],
            )
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

#[tokio::test]
async fn the_stored_salt_password_never_leaves_for_another_server() {
    let app = TestApp::new().await;
    app.create_user("root2", "root2-password-1", &["admin"])
        .await;
    let cookie = app.login("root2", "root2-password-1").await;
    let (evil, seen) = recorder().await;
    let bounce = redirector(evil.clone()).await;
    // An admin saves the real connection (the password is typed once).
    let r = app
        .call(
            "settings/salt",
            &[
                ("url", "http://127.0.0.1:9"),
                ("username", "saltuser"),
                ("password", "s3cret-salt-pw"),
                ("eauth", "pam"),
                ("verify", "on"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Testing or saving another URL, username or eauth with the password left empty: refused.
    for (endpoint, url, user, eauth) in [
        ("settings/test-salt", evil.as_str(), "saltuser", "pam"),
        ("settings/salt", evil.as_str(), "saltuser", "pam"),
        ("settings/test-salt", "http://127.0.0.1:9", "other", "pam"),
        ("settings/salt", "http://127.0.0.1:9", "saltuser", "file"),
    ] {
        let r = app
            .call(
                endpoint,
                &[
                    ("url", url),
                    ("username", user),
                    ("password", ""),
                    ("eauth", eauth),
                    ("verify", "on"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status.as_u16(), 422, "{endpoint} {url}: {}", r.body);
        assert!(r.body.contains("password again"), "{}", r.body);
    }
    // Turning TLS verification off also needs the password again.
    let r = app
        .call(
            "settings/salt",
            &[
                ("url", "http://127.0.0.1:9"),
                ("username", "saltuser"),
                ("password", ""),
                ("eauth", "pam"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);

    // The same stored connection may be re-saved and tested without re-typing it.
    let r = app
        .call(
            "settings/salt",
            &[
                ("url", "http://127.0.0.1:9"),
                ("username", "saltuser"),
                ("password", ""),
                ("eauth", "pam"),
                ("verify", "on"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A salt-api that redirects: the client follows nothing, so the login body never moves on.
    let r = app
        .call(
            "settings/salt",
            &[
                ("url", bounce.as_str()),
                ("username", "saltuser"),
                ("password", "s3cret-salt-pw"),
                ("eauth", "pam"),
                ("verify", "on"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call("settings/test-salt-saved", &[], Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["ok"], false, "{}", r.body);
    // Give the runtime's own probe a moment to have run too, then check the recorder.
    let probe = halite::salt::SaltClient::new(halite::salt::SaltConfig {
        url: bounce.clone(),
        username: "u".into(),
        password: "p".into(),
        eauth: "pam".into(),
        verify_tls: true,
        timeout: std::time::Duration::from_secs(5),
    })
    .unwrap();
    assert!(probe.login().await.is_err());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| !s.contains("s3cret-salt-pw")),
        "the password reached another server: {seen:?}"
    );
    assert!(seen.is_empty(), "{seen:?}");
    // And the audit rows of settings changes carry the client's IP.
    let body = "minion_state_keys_interval_seconds=300&minion_state_presence_interval_seconds=60&\
        minion_state_grains_interval_seconds=300&minion_state_initial_delay_seconds=10&\
        jobs_poll_interval_seconds=0&fleet_poll_interval_seconds=0&inventory_refresh_minutes=0&\
        inventory_refresh_initial_delay_s=30&event_stream_retention_days=30";
    let mut req = Request::post("/api/settings/pollers")
        .header(header::HOST, "halite.test")
        .header(header::ORIGIN, "http://halite.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &cookie)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(
        "192.0.2.44:4000".parse::<SocketAddr>().unwrap(),
    ));
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ip: String = halite::with_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT ip FROM audit_log WHERE action = 'settings.pollers.update' ORDER BY id DESC",
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(ip, "192.0.2.44");
    app.state.runtime.shutdown().await;
}

#[tokio::test]
async fn page_numbers_are_capped() {
    let app = TestApp::new().await;
    app.create_user("vic", "vic-password-1", &["viewer"]).await;
    let cookie = app.login("vic", "vic-password-1").await;
    for (endpoint, per_page) in [
        ("minions/list", "50"),
        ("jobs/list", "50"),
        ("activity/list", "50"),
    ] {
        let r = app
            .call(
                endpoint,
                &[("page", "900000"), ("per_page", per_page)],
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status.as_u16(), 422, "{endpoint}: {}", r.body);
        assert!(r.body.contains("Page must be"), "{}", r.body);
        let r = app
            .call(
                endpoint,
                &[("page", "2"), ("per_page", per_page)],
                Some(&cookie),
            )
            .await;
        assert_ne!(r.status.as_u16(), 422, "{endpoint}: {}", r.body);
    }
    let r = app
        .call("keys/list", &[("page", "-5")], Some(&cookie))
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
}

#[tokio::test]
async fn pending_badge_and_salt_status_respect_the_callers_scope() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    for (id, st) in [
        ("web-1", "pending"),
        ("db-1", "pending"),
        ("db-2", "pending"),
    ] {
        halite::with_db!(db, p => {
        sqlx::query("INSERT INTO minion_snapshots (minion_id, key_status) VALUES ($1, $2)")
                    .bind(id)
                    .bind(st)
                    .execute(p)
                    .await
                    .unwrap();
        });
    }
    halite::with_db!(db, p => {
    sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-w', 'webkeys', 'webkeys', '')")
            .execute(p)
            .await
            .unwrap();
    });
    halite::with_db!(db, p => {
    sqlx::query("INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ('p-w', 'r-w', 'view', 'key:web-*')")
            .execute(p)
            .await
            .unwrap();
    });
    app.create_user("wendy", "wendy-password-1", &["webkeys"])
        .await;
    app.create_user("vera", "vera-password-1", &["viewer"])
        .await;
    let w = app.login("wendy", "wendy-password-1").await;
    let v = app.login("vera", "vera-password-1").await;
    let r = app.call("keys/pending-count", &[], Some(&w)).await;
    assert_eq!(r.json(), 1, "{}", r.body);
    let r = app.call("keys/pending-count", &[], Some(&v)).await;
    assert_eq!(r.json(), 3, "{}", r.body);

    // The connection detail (it names the salt-api URL) is for administrators only.
    halite::server::settings::save_salt(
        db,
        &app.state.secrets,
        &halite::server::settings::validate_salt(
            "http://127.0.0.1:9",
            "saltuser",
            "pw-pw-pw",
            "pam",
            true,
            true,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    app.state.runtime.boot().await;
    app.create_user("adam", "adam-password-1", &["admin"]).await;
    let a = app.login("adam", "adam-password-1").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = app.call("settings/status", &[], Some(&a)).await;
        let detail = r.json()["connection"]["detail"]
            .as_str()
            .unwrap()
            .to_string();
        if !detail.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the admin never saw the unreachable URL: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let r = app.call("settings/status", &[], Some(&v)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["connection"]["state"], "unreachable", "{}", r.body);
    assert_eq!(r.json()["connection"]["detail"], "", "{}", r.body);
    assert!(!r.body.contains("127.0.0.1:9"), "{}", r.body);
    app.state.runtime.shutdown().await;
}
