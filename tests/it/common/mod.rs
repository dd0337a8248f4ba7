//! Test harness: a Halite app on a temp SQLite file, driven through the real router.
#![allow(dead_code)]

pub mod lab;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use halite::app::routes::router;
use halite::server::config::Config;
use halite::server::http::build_state;
use halite::server::state::AppState;
use http_body_util::BodyExt;
use std::collections::HashMap;
use tower::ServiceExt;

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }
    /// `name=value` of the Set-Cookie for the session, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("halite_session="))
            .map(|v| v.split(';').next().unwrap().to_string())
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    pub async fn with_env(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("HALITE_DATA_DIR".into(), dir.path().display().to_string());
        env.insert(
            "COOKIE_SECRET".into(),
            "test-secret-test-secret-test-secret-0001".into(),
        );
        env.insert("COOKIE_SECURE".into(), "false".into());
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        if !env.contains_key("DATABASE_URL") {
            if let Some(url) = pg_database().await {
                env.insert("DATABASE_URL".into(), url);
            }
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        let state = build_state(config).await.unwrap();
        let router = router(state.clone());
        TestApp {
            state,
            router,
            _dir: dir,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res: Response<Body> = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).to_string(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::get(path).header(header::HOST, "halite.test");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    /// Open an event stream (`GET path` with `Accept: text/event-stream`) as `cookie`; the
    /// body is left for the caller to follow.
    pub async fn open_stream(&self, path: &str, cookie: &str) -> Response<Body> {
        let req = Request::get(path)
            .header(header::HOST, "halite.test")
            .header(header::COOKIE, cookie)
            .header(header::ACCEPT, "text/event-stream")
            .body(Body::empty())
            .unwrap();
        self.router.clone().oneshot(req).await.unwrap()
    }

    /// Call a server function (default PostUrl encoding) the way the browser does.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut b = Request::post(format!("/api/{endpoint}"))
            .header(header::HOST, "halite.test")
            .header(header::ORIGIN, "http://halite.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    /// Sign in and return the session cookie pair.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .call(
                "auth/login",
                &[("username", username), ("password", password)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login failed: {}", r.body);
        r.session_cookie().expect("no session cookie")
    }

    /// Sign in as the bootstrap admin (`admin` / `changeme`), its forced change waived.
    pub async fn login_bootstrap_admin(&self) -> String {
        halite::with_db!(&self.state.db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE WHERE username_lower = 'admin'")
                .execute(p)
                .await
                .unwrap();
        });
        self.login("admin", "changeme").await
    }

    /// Create a user with roles, no forced change.
    pub async fn create_user(&self, username: &str, password: &str, roles: &[&str]) {
        halite::server::users::create_user(&self.state.db, username, "", password, false, roles)
            .await
            .unwrap();
    }

    /// Create a custom role `r-<name>` holding `(verb, resource_glob)` grants.
    pub async fn create_role(&self, name: &str, grants: &[(&str, &str)]) {
        let db = &self.state.db;
        let rid = format!("r-{name}");
        halite::with_db!(db, p => {
            sqlx::query(
                "INSERT INTO roles (id, name, name_lower, description) VALUES ($1, $2, $3, '')",
            )
            .bind(&rid)
            .bind(name)
            .bind(name.to_lowercase())
            .execute(p)
            .await
            .unwrap();
            for (i, (verb, glob)) in grants.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ($1, $2, $3, $4)",
                )
                .bind(format!("{rid}-{i}"))
                .bind(&rid)
                .bind(verb)
                .bind(glob)
                .execute(p)
                .await
                .unwrap();
            }
        });
    }

    pub async fn audit_rows(
        &self,
        action: &str,
    ) -> Vec<(String, i64, Option<String>, Option<String>)> {
        // args_json as text (Postgres: jsonb, normalised; compare it parsed).
        halite::with_db!(&self.state.db, p => {
            sqlx::query_as(
                "SELECT decision, result_code, CAST(args_json AS TEXT) AS args_json, username \
                 FROM audit_log WHERE action = $1 ORDER BY id",
            )
            .bind(action)
            .fetch_all(p)
            .await
            .unwrap()
        })
    }
}

/// Under `scripts/with-postgres.sh` (which sets `HALITE_TEST_PG_URL`): a new, empty database in
/// the throwaway cluster, one per test app, and its URL. `None` otherwise: the app uses SQLite.
pub async fn pg_database() -> Option<String> {
    use sqlx::Connection;
    let admin = std::env::var("HALITE_TEST_PG_URL").ok()?;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("cannot reach the throwaway Postgres");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let _ = conn.close().await;
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    Some(format!("{base}/{name}"))
}

/// True when this run's apps use Postgres (under `scripts/with-postgres.sh`).
pub fn on_postgres() -> bool {
    std::env::var_os("HALITE_TEST_PG_URL").is_some()
}

/// Percent-encoding as the app does it.
pub use halite::model::list::url_escape as urlencode;
