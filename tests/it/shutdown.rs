//! Graceful shutdown of the real binary under load, against the real Salt lab: SIGTERM while
//! pages are being requested and the activity stream is open. In-flight requests finish, the
//! stream ends cleanly, the event consumer writes what it holds (every return of the jobs run
//! just before the signal is a row), and the process exits 0 within 10 s. Its JSON log is
//! then searched for the salt-api password and the cookie secret.
#![cfg(feature = "lab")]

use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use futures::StreamExt;
use std::time::{Duration, Instant};

const MINIONS: &[&str] = &["web-01", "web-02", "db-01", "broken-01"];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn sigterm_under_load_drains_flushes_and_exits_in_time() {
    let _serial = LAB.lock().await;
    let l = lab();
    // The database (SQLite file or Postgres) comes from a test app, set up as an operator
    // would: Salt saved, an operator account. The binary then runs on it.
    let app = TestApp::new().await;
    l.save_to(&app).await;
    app.create_user("ops", "ops-password-123", &["admin"]).await;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = data.path().join("halite.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_halite"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HALITE_DATA_DIR", data.path())
        .env("DATABASE_URL", &app.state.config.database_url)
        .env("COOKIE_SECRET", &app.state.config.cookie_secret)
        .env("COOKIE_SECURE", "false")
        .env("LISTEN_PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| http.get(format!("{base}{path}")).send();
    wait_for("the server", 30, async || {
        get("/healthz").await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    wait_for("the event stream to connect", 60, async || {
        match get("/metrics").await {
            Ok(r) => r
                .text()
                .await
                .is_ok_and(|t| t.contains("halite_event_stream_state{state=\"connected\"} 1")),
            Err(_) => false,
        }
    })
    .await;

    // Sign in; open the live stream.
    let login = http
        .post(format!("{base}/api/auth/login"))
        .header("Origin", &base)
        .form(&[("username", "ops"), ("password", "ops-password-123")])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success(), "{}", login.status());
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("halite_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let stream = http
        .get(format!("{base}/api/activity/stream"))
        .header("Cookie", &cookie)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let reader = tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        let mut bytes = 0usize;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => bytes += c.len(),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(bytes)
    });

    // Pages requested back to back until the server goes away.
    let signalled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pages = {
        let (http, base, cookie, signalled) = (
            http.clone(),
            base.clone(),
            cookie.clone(),
            signalled.clone(),
        );
        tokio::spawn(async move {
            let (mut ok, mut bad) = (0, vec![]);
            loop {
                let sent_after_signal = signalled.load(std::sync::atomic::Ordering::SeqCst);
                let r = http
                    .get(format!("{base}/minions"))
                    .header("Cookie", &cookie)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => match r.text().await {
                        Ok(_) => ok += 1,
                        Err(e) => bad.push(format!("body cut: {e}")),
                    },
                    Ok(r) => bad.push(format!("status {}", r.status())),
                    // Refused once the listener has closed: expected after the signal.
                    Err(_) if sent_after_signal => break,
                    Err(e) if e.is_connect() => break,
                    Err(e) => bad.push(format!("request failed: {e}")),
                }
            }
            (ok, bad)
        })
    };

    // Jobs whose events reach the consumer just before the signal.
    let client = l.client();
    for i in 0..3 {
        let mut req = halite::salt::LocalRequest::simple(&MINIONS.join(","), "list", "test.echo");
        req.tgt = serde_json::json!(MINIONS);
        req.arg = vec![serde_json::json!(format!("shutdown-{i}"))];
        let returns = client.local(&req).await.unwrap();
        assert_eq!(returns.len(), MINIONS.len(), "{returns:?}");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    signalled.store(true, std::sync::atomic::Ordering::SeqCst);
    let pid = child.id().to_string();
    let killed = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = killed.elapsed();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "exit {status:?}\n{log}");
    eprintln!("SIGTERM to exit: {took:?}");

    // The stream ended cleanly; every page request that started got its whole answer.
    let streamed = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the stream ended")
        .unwrap();
    assert!(
        streamed.is_ok(),
        "the stream ended with an error: {streamed:?}"
    );
    let (ok, bad) = pages.await.unwrap();
    assert!(ok > 0, "pages were served");
    assert!(bad.is_empty(), "cut or failed requests: {bad:?}");

    // Nothing the consumer held was lost: each job's start and every return is a row.
    let (news, rets): (i64, i64) = halite::with_db!(&app.state.db, p => {
        sqlx::query_as(
            "SELECT \
               COALESCE(SUM(CASE WHEN event_type = 'job.new' THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN event_type = 'job.ret' THEN 1 ELSE 0 END), 0) \
             FROM activity_events WHERE fun = 'test.echo'",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!((news, rets), (3, 3 * MINIONS.len() as i64), "{log}");
    assert!(
        log.contains("event consumer stopped; pending events written"),
        "{log}"
    );

    // The logs are JSON lines with the request span, and carry no secret.
    assert!(log
        .lines()
        .filter(|l| l.starts_with('{'))
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    assert!(log.contains("\"request_id\""), "request spans in the log");
    assert!(
        !log.contains(&l.password),
        "the salt-api password is in the log"
    );
    assert!(
        !log.contains(&app.state.config.cookie_secret),
        "the cookie secret is in the log"
    );
    assert!(
        !log.contains("ops-password-123"),
        "a user password is in the log"
    );
}
