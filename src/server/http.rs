//! The axum application: state construction, the router around the pages, middleware (auth,
//! page guard, origin check, security headers), health endpoints.

use crate::error::AppError;
use crate::server::audit::{self, AuditEntry};
use crate::server::auth::{self, CurrentUser};
use crate::server::config::Config;
use crate::server::state::AppState;
use crate::server::{db, users};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

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
    crate::server::metrics::handle();
    let leptos_options = LeptosOptions::builder()
        .output_name("halite")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .hash_files(crate::server::assets::bundle().hashed)
        .site_addr(
            format!("{}:{}", config.listen_host, config.listen_port)
                .parse::<std::net::SocketAddr>()
                .unwrap_or_else(|_| {
                    std::net::SocketAddr::from(([127, 0, 0, 1], config.listen_port))
                }),
        )
        .build();
    let secrets = Arc::new(crate::server::secrets::SecretsCipher::new(
        &config.cookie_secret,
    ));
    let runtime = crate::server::runtime::Runtime::new(
        db.clone(),
        secrets.clone(),
        crate::server::pollers(),
        std::time::Duration::from_secs(config.salt_health_interval_secs),
    );
    Ok(AppState {
        leptos_options,
        db,
        config: Arc::new(config),
        secrets,
        throttle: Arc::default(),
        audit_limiter: Arc::default(),
        started_at: chrono::Utc::now(),
        runtime,
        user_events: tokio::sync::broadcast::channel(256).0,
        exports: Arc::new(tokio::sync::Semaphore::new(
            crate::server::export::MAX_EXPORTS,
        )),
        shutdown: tokio_util::sync::CancellationToken::new(),
    })
}

/// `GET /api/<page>/export.csv|json|ndjson` for every exported table (`server::export`).
fn export_routes(r: Router<AppState>) -> Router<AppState> {
    use crate::server::export::routes;
    let r = routes::<audit::export::AuditExport>(r, "/api/audit/export");
    let r = routes::<crate::server::minions::export::MinionsExport>(r, "/api/minions/export");
    let r = routes::<crate::server::keys::KeysExport>(r, "/api/keys/export");
    let r = routes::<crate::server::jobs::export::JobsExport>(r, "/api/jobs/export");
    let r = routes::<crate::server::jobs::export::JobResultsExport>(r, "/api/jobs/results/export");
    let r = routes::<crate::server::activity::export::ActivityExport>(r, "/api/activity/export");
    let r = routes::<crate::server::templates::TemplatesExport>(r, "/api/templates/export");
    let r = routes::<crate::server::users::export::UsersExport>(r, "/api/users/export");
    let r = routes::<crate::server::fleet::export::FleetExport>(r, "/api/fleet/export");
    let r = routes::<crate::server::roles::export::RolesExport>(r, "/api/roles/export");
    let r = routes::<crate::server::inventory::export::PackagesExport>(r, "/api/inventory/export");
    routes::<crate::server::inventory::export::InventoryExport>(r, "/api/inventory/search")
}

/// The whole HTTP application around `pages`, the Leptos page routes and server functions that
/// the app layer builds (its `routes::router`): health, the activity stream, the exports
/// and every middleware layer. The pages come from above so that `server` never imports `app`.
pub fn router_with_pages(state: AppState, pages: Router<AppState>) -> Router {
    export_routes(Router::new())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::server::metrics::metrics_main))
        .route(
            "/api/activity/stream",
            get(crate::server::activity::sse::stream),
        )
        .route("/api/auth/watch", get(crate::server::auth::watch::watch))
        // The bundle: the `.br`/`.gz` beside each file (`halite assets compress`) to a browser
        // that accepts it, and conditional requests answered with `304` (leptos_axum's file
        // fallback passes on only `Accept-Encoding`, so a reload always got the whole file).
        .nest_service(
            "/pkg",
            tower_http::services::ServeDir::new(
                std::path::Path::new(&*state.leptos_options.site_root)
                    .join(&*state.leptos_options.site_pkg_dir),
            )
            .precompressed_br()
            .precompressed_gzip(),
        )
        // A page render that stalls (a leptos SSR race) is rendered again, never left hanging.
        .merge(pages.layer(crate::server::page_watchdog::PageWatchdogLayer::new()))
        .layer(middleware::from_fn_with_state(state.clone(), auth_guard))
        .layer(middleware::from_fn(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(middleware::from_fn(static_cache))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(middleware::from_fn(crate::server::metrics::track_http))
        // Outermost: every request gets an id (a UUID, or the `x-request-id` a proxy in front
        // already set), runs inside a `request` span carrying method, path and that id (so one
        // log query by `request_id` follows a request through the server functions it calls),
        // and answers with the id in `x-request-id`.
        .layer(PropagateRequestIdLayer::new(HeaderName::from_static(
            REQUEST_ID,
        )))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(request_done),
        )
        .layer(SetRequestIdLayer::new(
            HeaderName::from_static(REQUEST_ID),
            MakeRequestUuid,
        ))
        .layer(middleware::map_request(drop_odd_request_id))
        .with_state(state)
}

/// An incoming `x-request-id` is kept only when it looks like an id (1 to 64 of `A-Z a-z 0-9 . _ -`,
/// what proxies send); anything else is dropped and a fresh id is made, so a client cannot put
/// arbitrary text into every log line of its request.
async fn drop_odd_request_id(mut req: Request) -> Request {
    let odd = req.headers().get(REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        b.is_empty()
            || b.len() > 64
            || !b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    });
    if odd {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// The header that carries a request's id, on the request and on its response.
pub const REQUEST_ID: &str = "x-request-id";

/// The span every request runs in (see [`router_with_pages`]).
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        route = %route,
        request_id = %id,
        // Filled in by the auth guard once the session is known.
        user = tracing::field::Empty,
    )
}

/// One line per answered request, inside its span (so it carries the id, route and user):
/// status and latency. Streams log here when their head is sent, not when they end.
fn request_done(res: &Response, latency: std::time::Duration, _span: &tracing::Span) {
    tracing::info!(
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request answered"
    );
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers and carries every migration of this build. Salt is
/// reported as it is (`ok`, `degraded` with the reason, `unconfigured`) but never fails
/// readiness: pages serve from the database through a Salt outage.
async fn readyz(State(state): State<AppState>) -> Response {
    use crate::model::settings::ConnectionState;
    let db_ok = db::ping(&state.db).await;
    let (expected, applied) = db::migration_versions(&state.db).await;
    let migrated = applied == Some(expected);
    let conn = state.runtime.connection();
    let salt = match conn.state {
        ConnectionState::Connected => "ok",
        ConnectionState::Unconfigured => "unconfigured",
        // Not connected yet: say whether there is anything to connect to.
        ConnectionState::Starting => {
            let missing = crate::server::settings::missing_salt_fields(&state.db, &state.secrets)
                .await
                .unwrap_or_default();
            if missing.is_empty() {
                "degraded"
            } else {
                "unconfigured"
            }
        }
        ConnectionState::Unreachable | ConnectionState::LoginFailed => "degraded",
    };
    let cluster = state.runtime.cluster();
    let view = crate::server::cluster::view(&cluster, &state.db).await.ok();
    let ready = db_ok && migrated;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "db": if db_ok { "ok" } else { "error" },
        "migrations": {
            "expected": expected,
            "applied": applied,
            "state": if migrated { "ok" } else { "pending" },
        },
        "salt": salt,
        "salt_state": conn.state,
        "salt_detail": conn.detail,
        "salt_since": conn.since,
        "replica": {
            "id": cluster.replica_id(),
            "role": if cluster.is_leader() { "leader" } else { "follower" },
            "leader": view.as_ref().and_then(|v| v.leader.clone()),
            "leader_since": view.as_ref().and_then(|v| v.leader_since),
        },
        "replicas": view.map(|v| v.replicas).unwrap_or_default(),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Files served from the site root without a session: the build's `/pkg/` and the few files in
/// `public/`. Anything else, whatever its extension, is a page behind the auth guard.
fn is_static(path: &str) -> bool {
    const PUBLIC_FILES: &[&str] = &["/favicon.svg", "/favicon.ico", "/robots.txt"];
    (path.starts_with("/pkg/") && !path.contains("/../")) || PUBLIC_FILES.contains(&path)
}

/// Largest request body for sign-in and password changes.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;
/// Largest request body for everything else (server functions included).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Refuse oversized bodies with 413 before anything reads them: by `Content-Length` at once,
/// and for a streamed body as soon as it passes the limit (at most `limit` bytes are held).
/// server_fn reads the raw body itself, so axum's `DefaultBodyLimit` would not apply.
async fn body_limit(req: Request, next: Next) -> Response {
    let limit = if req.uri().path().starts_with("/api/auth/") {
        AUTH_BODY_LIMIT
    } else {
        BODY_LIMIT
    };
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(serde_json::json!({ "Invalid": {
                "field": null,
                "message": format!("The request is too large (at most {} KiB).", limit / 1024),
            }})),
        )
            .into_response()
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) && declared.is_none() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => too_large(),
    }
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
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|ci| ci.0.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ip = auth::client_ip(peer, &forwarded, &state.config.trusted_proxies);
    req.extensions_mut().insert(auth::ClientIp(ip));
    // A database that cannot say who this is answers 500, not "signed out".
    let resolved = match auth::resolve_session_sliding(&state, cookie_header.as_deref()).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // The server slid the session's expiry: send the cookie again with a fresh Max-Age.
    let refreshed_cookie = match (&resolved, &cookie_header) {
        (Some((_, true)), Some(h)) => auth::cookie::find_cookie(h, &state.config.cookie_name)
            .map(|v| {
                auth::cookie::set_cookie_header(
                    &state.config.cookie_name,
                    v,
                    state.config.session_ttl_minutes * 60,
                    state.config.cookie_secure,
                )
            })
            .and_then(|h| HeaderValue::from_str(&h).ok()),
        _ => None,
    };
    let user: Option<CurrentUser> = resolved.map(|(u, _)| u);

    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !same_origin(host.as_deref(), origin.as_deref(), referer.as_deref())
    {
        {
            let ip = req
                .extensions()
                .get::<auth::ClientIp>()
                .map(|c| c.0.clone())
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
            return AppError::Forbidden("Cross-origin requests are not allowed.".into())
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
        tracing::Span::current().record("user", u.username.as_str());
        req.extensions_mut().insert(u);
    }
    let mut res = next.run(req).await;
    if let Some(v) = refreshed_cookie {
        // A response that sets the cookie itself (sign-in, sign-out) wins.
        if !res.headers().contains_key(header::SET_COOKIE) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// A bundle file whose name carries its content hash (`hash-files`, see
/// [`crate::server::assets::Bundle`]) is cached for a year and never asked again: a new build
/// has new names. Any other file under `/pkg/` keeps its name from build to build, so a browser
/// must ask again each time (`no-cache`) and gets `304 Not Modified` while the file's
/// `Last-Modified` holds: an upgraded server never runs against a cached old WASM.
async fn static_cache(req: Request<Body>, next: Next) -> Response {
    let path = req.uri().path();
    let pkg = path.starts_with("/pkg/");
    let immutable = path
        .strip_prefix("/pkg/")
        .is_some_and(|name| crate::server::assets::bundle().is_immutable(name));
    let mut res = next.run(req).await;
    if immutable && res.status() == StatusCode::OK {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        return res;
    }
    if pkg && res.status().is_server_error() {
        // `ServeDir` answers 500 for a path the file system refuses (an encoded NUL, ...):
        // there is no such file.
        tracing::warn!(status = %res.status(), "static file not served");
        return (StatusCode::NOT_FOUND, "Not found.").into_response();
    }
    if pkg && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    res
}

async fn security_headers(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if state.config.cookie_secure {
        // The cookie only travels over HTTPS: tell browsers to never use plain HTTP here.
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
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
        assert!(!is_page("/robots.txt"));
        // An extension does not make a path a static file (it used to skip the auth guard).
        assert!(is_page("/minions/x.js"));
        assert!(is_page("/settings.txt"));
        assert!(is_page("/pkg/../settings"));
    }
}
