//! A whole Halite server for the HTTP benchmarks: state built from settings as `halite serve`
//! builds it, salt-api pointed at the simulator, pollers at the cadences the benchmark asks for,
//! served over HTTP on a free port, and the admin signed in like a browser.

use halite::model::settings::PollerSettings;
use halite::server::db::Db;
use halite::server::state::AppState;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct Served {
    pub state: AppState,
    pub db: Db,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// `halite_session=...` of the signed-in admin.
    pub cookie: String,
    /// The data directory (SQLite file); removed when this is dropped.
    pub dir: tempfile::TempDir,
}

/// Start Halite against the simulator at `sim_url` with the pollers `pollers` sets, serve it
/// and sign in as the admin.
pub async fn serve_halite(sim_url: &str, pollers: impl FnOnce(&mut PollerSettings)) -> Served {
    use halite::server::settings;
    let dir = tempfile::tempdir().unwrap();
    let mut env: HashMap<&str, String> = HashMap::from([
        ("HALITE_DATA_DIR", dir.path().display().to_string()),
        (
            "COOKIE_SECRET",
            "bench-secret-bench-secret-bench-secret-01".to_string(),
        ),
        ("COOKIE_SECURE", "false".to_string()),
    ]);
    if super::pg_admin_url().is_some() {
        env.insert("DATABASE_URL", super::db_url(dir.path()).await);
    }
    let config = halite::server::config::Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let state = halite::server::http::build_state(config).await.unwrap();
    let db = state.db.clone();
    let good = settings::validate_salt(sim_url, "halite", "sim-pw", "file", true, true).unwrap();
    settings::save_salt(&db, &state.secrets, &good)
        .await
        .unwrap();
    let mut p = settings::load_view(&db).await.unwrap().pollers;
    pollers(&mut p);
    settings::save_pollers(&db, &p).await.unwrap();
    halite::with_db!(&db, p => {
        sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    state.runtime.boot().await;
    let app = halite::app::routes::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let cookie = login(&base).await;
    Served {
        state,
        db,
        base,
        cookie,
        dir,
    }
}

/// Sign in over HTTP like the browser; the session cookie.
pub async fn login(base: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/auth/login"))
        .header("Origin", base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body("username=admin&password=changeme")
        .send()
        .await
        .unwrap();
    let status = r.status();
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("halite_session="))
        .map(|v| v.split(';').next().unwrap().to_string());
    match cookie {
        Some(c) => c,
        None => panic!(
            "login failed ({status}): {}",
            r.text().await.unwrap_or_default()
        ),
    }
}

/// Rows in `table` now.
pub async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    halite::with_db!(db, p => sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await.unwrap())
}

/// Wait until `table` holds at least `n` rows (the pollers' first ingest), at most `limit`.
pub async fn wait_rows(db: &Db, table: &str, n: i64, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let have = count(db, table).await;
        if have >= n {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < limit,
            "{table}: {have} rows of {n} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until the event stream is connected to the simulator's `/events`.
pub async fn wait_stream(state: &AppState) {
    let hub = state.runtime.hub();
    let t = Instant::now();
    while hub.state().state != halite::model::activity::StreamStatus::Connected {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "event stream not connected: {:?}",
            hub.state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until the poller `name` has finished its first run, at most `limit`; its status.
pub async fn wait_poller(
    state: &AppState,
    name: &str,
    limit: Duration,
) -> halite::model::settings::PollerStatus {
    let t = Instant::now();
    loop {
        let done = state
            .runtime
            .poller_statuses()
            .into_iter()
            .find(|s| s.name == name && s.runs > 0);
        if let Some(s) = done {
            return s;
        }
        assert!(
            t.elapsed() < limit,
            "poller {name} did not run in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
