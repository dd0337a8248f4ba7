//! The axum application: state construction, router, middleware (auth, page guard, origin check,
//! security headers), health endpoints.

use crate::app::{shell, App};
use crate::server::audit::{self, AuditEntry};
use crate::server::auth::{self, CurrentUser};
use crate::server::config::Config;
use crate::server::state::AppState;
use crate::server::{db, users};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

/// Default CSP for responses that are not pages (pages add a nonce-based one while rendering).
pub const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// Open the database, seed roles, bootstrap the admin and build the shared state.
pub async fn build_state(mut config: Config) -> Result<AppState, String> {
    config.ensure_cookie_secret().map_err(|e| e.to_string())?;
    if config.cookie_secret_generated {
        tracing::warn!(
            path = %config.data_dir.join("cookie_secret").display(),
            "COOKIE_SECRET is not set: using a generated secret stored in the data directory. \
             Set COOKIE_SECRET (32+ characters) in production."
        );
    }
    let db = db::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot open database: {e}"))?;
    users::seed_builtin_roles(&db)
        .await
        .map_err(|e| format!("cannot seed roles: {e}"))?;
    if users::bootstrap_admin(
        &db,
        &config.bootstrap_admin_username,
        &config.bootstrap_admin_password,
    )
    .await
    .map_err(|e| format!("cannot create the bootstrap admin: {e}"))?
    {
        tracing::warn!(
            username = %config.bootstrap_admin_username,
            "created the bootstrap admin; it must change its password at first sign-in"
        );
    }
    let leptos_options = LeptosOptions::builder()
        .output_name("halite")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(
            format!("{}:{}", config.listen_host, config.listen_port)
                .parse::<std::net::SocketAddr>()
                .unwrap_or_else(|_| {
                    std::net::SocketAddr::from(([127, 0, 0, 1], config.listen_port))
                }),
        )
        .build();
    let runtime = crate::server::runtime::Runtime::new(
        db.clone(),
        config.cookie_secret.clone(),
        crate::server::pollers(),
        std::time::Duration::from_secs(config.salt_health_interval_secs),
    );
    Ok(AppState {
        leptos_options,
        db,
        config: Arc::new(config),
        throttle: Arc::default(),
        audit_limiter: Arc::default(),
        started_at: chrono::Utc::now(),
        runtime,
    })
}

/// The whole HTTP application for a state (tests build one per temp database).
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let ctx_state = state.clone();
    let shell_opts = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/api/activity/stream",
            get(crate::server::activity::sse::stream),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx_state.clone()),
            move || shell(shell_opts.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(api_error_status))
        .layer(middleware::from_fn_with_state(state.clone(), auth_guard))
        .layer(middleware::from_fn(security_headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let db_ok = db::ping(&state.db).await;
    let missing =
        crate::server::settings::missing_salt_fields(&state.db, &state.config.cookie_secret)
            .await
            .unwrap_or_default();
    let salt = if missing.is_empty() {
        "degraded"
    } else {
        "unconfigured"
    };
    let body = serde_json::json!({ "db": if db_ok { "ok" } else { "error" }, "salt": salt });
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

fn is_static(path: &str) -> bool {
    const EXT: &[&str] = &[
        "css",
        "js",
        "wasm",
        "ico",
        "png",
        "svg",
        "jpg",
        "webp",
        "txt",
        "woff",
        "woff2",
        "map",
        "webmanifest",
    ];
    path.starts_with("/pkg/")
        || path
            .rsplit('/')
            .next()
            .and_then(|last| last.rsplit_once('.'))
            .is_some_and(|(_, ext)| EXT.contains(&ext))
}

fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
        || is_static(path))
}

/// Host part of an Origin or Referer value (`http://h:p/x` -> `h:p`).
fn origin_host(v: &str) -> Option<&str> {
    let rest = v.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Is a mutating request same-origin? Requests with neither header (scripts, curl) pass:
/// browsers always send Origin on cross-site POSTs, and the cookie is SameSite=Lax.
pub fn same_origin(host: Option<&str>, origin: Option<&str>, referer: Option<&str>) -> bool {
    let Some(host) = host else {
        return origin.is_none() && referer.is_none();
    };
    match (origin, referer) {
        (Some(o), _) => origin_host(o) == Some(host),
        (None, Some(r)) => origin_host(r) == Some(host),
        (None, None) => true,
    }
}

fn redirect_to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// Resolve the session once per request, reject cross-origin mutations, and send people who
/// are not signed in (or must change their password) to the right page.
async fn auth_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_static(&path) {
        return next.run(req).await;
    }
    let cookie_header = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (host, origin, referer) = {
        let h = |n: header::HeaderName| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (h(header::HOST), h(header::ORIGIN), h(header::REFERER))
    };
    let user: Option<CurrentUser> = auth::resolve_session(&state, cookie_header.as_deref()).await;

    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !same_origin(host.as_deref(), origin.as_deref(), referer.as_deref())
    {
        {
            let ip = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|ci| ci.0.ip().to_string())
                .unwrap_or_default();
            let mut entry = AuditEntry::new("request.cross_origin", &path)
                .args(serde_json::json!({ "origin": origin, "referer": referer }))
                .deny(403)
                .ip(&ip);
            if let Some(u) = &user {
                entry = entry.user(&u.id, &u.username);
            }
            // Header values are the client's: cut them, and cap such rows per IP.
            audit::record_limited(&state.db, &state.audit_limiter, entry).await;
            return (
                StatusCode::FORBIDDEN,
                Json(serde_json::json!({ "Forbidden": "Cross-origin requests are not allowed." })),
            )
                .into_response();
        }
    }

    if method == Method::GET && is_page(&path) {
        match (&user, path.as_str()) {
            (Some(u), "/login") => {
                return redirect_to(if u.must_change_pw {
                    "/change-password"
                } else {
                    "/"
                })
            }
            (None, "/login") => {}
            (None, _) => return redirect_to("/login"),
            (Some(u), p) if u.must_change_pw && p != "/change-password" => {
                return redirect_to("/change-password")
            }
            _ => {}
        }
    }
    if let Some(u) = user {
        req.extensions_mut().insert(u);
    }
    next.run(req).await
}

/// Server functions whose arguments cannot even be decoded answer 500 from the framework;
/// turn such a body (an `AppError` that is not `Internal`) into its real status (400/422).
async fn api_error_status(req: Request<Body>, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    if let Ok(e) = serde_json::from_slice::<crate::error::AppError>(&bytes) {
        if !matches!(e, crate::error::AppError::Internal(_)) {
            parts.status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_rules() {
        assert!(same_origin(Some("h:8080"), Some("http://h:8080"), None));
        assert!(!same_origin(Some("h:8080"), Some("http://evil:8080"), None));
        assert!(!same_origin(Some("h:8080"), Some("null"), None));
        assert!(same_origin(
            Some("h:8080"),
            None,
            Some("http://h:8080/login")
        ));
        assert!(!same_origin(Some("h:8080"), None, Some("https://evil/x")));
        assert!(same_origin(Some("h:8080"), None, None));
    }

    #[test]
    fn page_classification() {
        assert!(is_page("/"));
        assert!(is_page("/minions/web-01"));
        assert!(is_page("/minions/web01.example.com"));
        assert!(!is_page("/api/auth/login"));
        assert!(!is_page("/pkg/halite.wasm"));
        assert!(!is_page("/favicon.svg"));
        assert!(!is_page("/healthz"));
    }
}
