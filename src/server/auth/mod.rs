//! Authentication (DB sessions behind a signed cookie) and the authorisation helpers every
//! server function uses.

pub mod cookie;
pub mod password;
pub mod throttle;
pub mod watch;

use crate::error::AppError;
use crate::rbac::{self, Permission};
use crate::server::audit::{self, AuditEntry};
use crate::server::db::{Db, Ts};
use crate::server::state::AppState;
use crate::with_db;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};

/// The signed-in user of a request, resolved once by the auth middleware.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub must_change_pw: bool,
    pub theme: String,
    pub permissions: Vec<Permission>,
    /// Storage key (sha256) of the session this request rides on.
    pub session_key: String,
}

impl CurrentUser {
    /// RBAC check against a concrete resource.
    pub fn can(&self, verb: &str, resource: &str) -> bool {
        rbac::allowed(&self.permissions, verb, resource)
    }
}

/// Where a request came from, for audit rows and throttling.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// The client address the auth layer worked out for a request (see [`client_ip`]).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy. A malformed entry stops the walk
/// (everything left of it is the client's own claim). Without trusted proxies the header is
/// never believed.
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: &[&str],
    trusted: &[ipnet::IpNet],
) -> String {
    let Some(peer) = peer else {
        return String::new();
    };
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let mut client = peer;
    let hops = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim);
    for hop in hops.collect::<Vec<_>>().into_iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client.to_string()
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Read client IP and user agent from request parts.
pub fn client_info(parts: &Parts) -> ClientInfo {
    let ip = match parts.extensions.get::<ClientIp>() {
        Some(ClientIp(ip)) => ip.clone(),
        None => parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|ci| ci.0.ip().to_string())
            .unwrap_or_default(),
    };
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(512)
        .collect();
    ClientInfo { ip, user_agent }
}

/// A session joined with its user and the user's permissions, as `resolve_session` and
/// `revalidate` read it: one query, since every request and server function starts here.
struct SessionRow {
    id: String,
    username: String,
    display_name: String,
    expires_at: DateTime<Utc>,
    is_active: bool,
    must_change_pw: bool,
    theme: String,
    last_seen_at: DateTime<Utc>,
    permissions: Vec<Permission>,
}

/// One row of [`SessionRow::load`]'s query: the session and user, and one of the user's grants
/// (`None` for a user without roles).
#[derive(sqlx::FromRow)]
struct SessionGrant {
    id: String,
    username: String,
    display_name: String,
    expires_at: DateTime<Utc>,
    is_active: bool,
    must_change_pw: bool,
    theme: String,
    last_seen_at: DateTime<Utc>,
    verb: Option<String>,
    resource_glob: Option<String>,
}

impl SessionRow {
    async fn load(db: &Db, session_key: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        let rows: Vec<SessionGrant> = with_db!(db, p => {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, s.expires_at, u.is_active, \
                        u.must_change_pw, u.theme, s.last_seen_at, p.verb, p.resource_glob \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 LEFT JOIN user_roles ur ON ur.user_id = u.id \
                 LEFT JOIN permissions p ON p.role_id = ur.role_id \
                 WHERE s.id = $1",
            )
            .bind(session_key)
            .fetch_all(p)
            .await?
        });
        let mut permissions: Vec<Permission> = rows
            .iter()
            .filter_map(|r| match (&r.verb, &r.resource_glob) {
                (Some(v), Some(g)) => Some(Permission::new(v, g)),
                _ => None,
            })
            .collect();
        // As `load_permissions` returns them: sorted, each pair once.
        permissions.sort_by(|a, b| (&a.verb, &a.resource_glob).cmp(&(&b.verb, &b.resource_glob)));
        permissions.dedup();
        Ok(rows.into_iter().next().map(|r| SessionRow {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            expires_at: r.expires_at,
            is_active: r.is_active,
            must_change_pw: r.must_change_pw,
            theme: r.theme,
            last_seen_at: r.last_seen_at,
            permissions,
        }))
    }

    /// Whether the session may be used at `now`: the user is active and it has not expired.
    fn live_at(&self, now: chrono::DateTime<Utc>) -> bool {
        self.is_active && self.expires_at > now
    }

    /// The user this session belongs to.
    fn into_user(self, session_key: String) -> CurrentUser {
        CurrentUser {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            must_change_pw: self.must_change_pw,
            theme: self.theme,
            permissions: self.permissions,
            session_key,
        }
    }
}

/// Create a session row; returns the signed cookie value.
pub async fn create_session(
    state: &AppState,
    user_id: &str,
    client: &ClientInfo,
) -> Result<String, AppError> {
    let sid = cookie::new_session_id();
    let now = Utc::now();
    let expires = now + chrono::Duration::minutes(state.config.session_ttl_minutes);
    with_db!(&state.db, p => {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, last_seen_at, user_agent, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(cookie::storage_key(&sid))
        .bind(user_id)
        .bind(Ts(now))
        .bind(Ts(expires))
        .bind(Ts(now))
        .bind(&client.user_agent)
        .bind(&client.ip)
        .execute(p)
        .await
        .map(|_| ())
    })?;
    Ok(cookie::sign(&state.config.cookie_secret, &sid))
}

/// Resolve the session cookie in a `Cookie` header to the current user, sliding the expiry.
/// `Ok(None)`: no valid session (signed out). `Err`: the database could not say; that is a
/// 500, not "signed out".
pub async fn resolve_session(
    state: &AppState,
    cookie_header: Option<&str>,
) -> Result<Option<CurrentUser>, AppError> {
    Ok(resolve_session_sliding(state, cookie_header)
        .await?
        .map(|(u, _)| u))
}

/// [`resolve_session`], also telling whether the expiry slid on this request (then the cookie's
/// Max-Age is re-issued so browser and server agree on when the session ends).
pub async fn resolve_session_sliding(
    state: &AppState,
    cookie_header: Option<&str>,
) -> Result<Option<(CurrentUser, bool)>, AppError> {
    let Some(value) = cookie_header.and_then(|h| cookie::find_cookie(h, &state.config.cookie_name))
    else {
        return Ok(None);
    };
    let Some(sid) = cookie::verify(&state.config.cookie_secret, value) else {
        return Ok(None);
    };
    let key = cookie::storage_key(&sid);
    let Some(row) = SessionRow::load(&state.db, &key).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if !row.live_at(now) {
        return Ok(None);
    }
    // Sliding expiry, written at most once a minute per session. A failed write does not end
    // the session (the read above succeeded); the cookie is then simply not re-issued.
    let mut slid = false;
    if (now - row.last_seen_at).num_seconds() >= 60 {
        let expires = now + chrono::Duration::minutes(state.config.session_ttl_minutes);
        slid = match with_db!(&state.db, p => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3")
                .bind(Ts(now))
                .bind(Ts(expires))
                .bind(&key)
                .execute(p)
                .await
                .map(|_| ())
        }) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not slide the session expiry");
                false
            }
        };
    }
    Ok(Some((row.into_user(key), slid)))
}

/// Re-check the session a long-lived request rides on (the event stream), by its storage key:
/// `None` when the session row is gone or expired, the user is deactivated or must change the
/// password, or the database cannot say (fail closed). Permissions are reloaded. Read-only: an
/// open stream does not slide the session's expiry.
pub async fn revalidate(db: &Db, session_key: &str) -> Option<CurrentUser> {
    let row = SessionRow::load(db, session_key).await.ok().flatten()?;
    if !row.live_at(Utc::now()) || row.must_change_pw {
        return None;
    }
    Some(row.into_user(session_key.to_string()))
}

/// Union of the permissions of every role the user holds.
pub async fn load_permissions(db: &Db, user_id: &str) -> Result<Vec<Permission>, sqlx::Error> {
    let rows: Vec<(String, String)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT DISTINCT p.verb, p.resource_glob FROM permissions p \
             JOIN user_roles ur ON ur.role_id = p.role_id WHERE ur.user_id = $1 \
             ORDER BY p.verb, p.resource_glob",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(verb, resource_glob)| Permission {
            verb,
            resource_glob,
        })
        .collect())
}

/// Delete one session.
pub async fn delete_session(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    with_db!(db, p => {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(key)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Delete every session of a user except `keep` (if any).
pub async fn delete_user_sessions(
    db: &Db,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    with_db!(db, p => {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id != $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(p)
            .await?;
        Ok(r.rows_affected())
    })
}

/// Remove expired sessions (housekeeping).
pub async fn prune_sessions(db: &Db) -> Result<u64, sqlx::Error> {
    with_db!(db, p => {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(Ts::now())
            .execute(p)
            .await?;
        Ok(r.rows_affected())
    })
}

// ---- helpers for server functions -------------------------------------------------------

/// The app state from the server-function context.
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::Internal("server context missing".into()))
}

/// The request parts from the server-function context.
pub fn request_parts() -> Result<Parts, AppError> {
    leptos::prelude::use_context::<Parts>()
        .ok_or_else(|| AppError::Internal("request context missing".into()))
}

/// The client IP of the current request ("" outside a request).
pub fn request_ip() -> String {
    request_parts()
        .map(|p| client_info(&p).ip)
        .unwrap_or_default()
}

/// The signed-in user, if any (set on the request by the auth middleware).
pub fn maybe_user() -> Option<CurrentUser> {
    leptos::prelude::use_context::<Parts>()?
        .extensions
        .get::<CurrentUser>()
        .cloned()
}

/// A signed-in user who may be in the middle of a forced password change.
pub fn session_allowing_pw_change() -> Result<(AppState, CurrentUser), AppError> {
    let state = app_state()?;
    let user = maybe_user().ok_or_else(|| {
        AppError::Unauthorized("Your session has ended. Please sign in again.".into())
    })?;
    Ok((state, user))
}

/// A signed-in user who has no pending forced password change.
pub fn session() -> Result<(AppState, CurrentUser), AppError> {
    let (state, user) = session_allowing_pw_change()?;
    if user.must_change_pw {
        return Err(AppError::Forbidden(
            "You must change your password before doing anything else.".into(),
        ));
    }
    Ok((state, user))
}

/// What a server function on one record has once its caller may act on it: the state, the
/// caller and the record.
pub type Authorised<T> = (AppState, CurrentUser, T);

/// A server function's preamble on one record: signed in (401 first), the record `load` finds
/// (its own 404), then `verb` on the resource `resource` names for it ([`require`]: an audited
/// 403 otherwise).
pub async fn require_on<T>(
    verb: &str,
    load: impl AsyncFnOnce(&Db) -> Result<T, AppError>,
    resource: impl FnOnce(&T) -> String,
) -> Result<Authorised<T>, AppError> {
    let (state, _) = session()?;
    let record = load(&state.db).await?;
    let (state, user) = require(verb, &resource(&record)).await?;
    Ok((state, user, record))
}

/// A signed-in user holding `verb` on the concrete `resource`; a denial is audited.
pub async fn require(verb: &str, resource: &str) -> Result<(AppState, CurrentUser), AppError> {
    let (state, user) = session()?;
    if user.can(verb, resource) {
        return Ok((state, user));
    }
    let message = format!(
        "You do not have permission to {} {}.",
        verb,
        describe_resource(resource)
    );
    Err(deny(&state, &user, verb, resource, &message).await)
}

/// Refuse with 403 and record the denial (`permission.denied`), for server functions whose check
/// is not a single [`require`] (lists filtered by a user's per-resource grants).
pub async fn deny(
    state: &AppState,
    user: &CurrentUser,
    verb: &str,
    resource: &str,
    message: &str,
) -> AppError {
    deny_by_rule(state, user, verb, resource, None, message).await
}

/// [`deny`], naming the rule that refused (e.g. `indirect-function`, `target-scope`) in the row.
pub async fn deny_by_rule(
    state: &AppState,
    user: &CurrentUser,
    verb: &str,
    resource: &str,
    rule: Option<&str>,
    message: &str,
) -> AppError {
    let mut args = serde_json::json!({ "verb": verb });
    if let Some(rule) = rule {
        args["rule"] = rule.into();
    }
    audit::record(
        &state.db,
        AuditEntry::new("permission.denied", resource)
            .user(&user.id, &user.username)
            .args(args)
            .deny(403)
            .ip(&request_ip()),
    )
    .await;
    AppError::Forbidden(message.to_string())
}

fn describe_resource(resource: &str) -> String {
    match resource.split_once(':') {
        Some((kind, "*")) => format!("all {kind}"),
        Some((kind, id)) => format!("{kind} {id}"),
        None => resource.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let nets: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        // No trusted proxy configured: the header is ignored.
        assert_eq!(client_ip(ip("10.1.1.1"), &["6.6.6.6"], &[]), "10.1.1.1");
        // A peer that is not a trusted proxy cannot claim another address.
        assert_eq!(client_ip(ip("8.8.8.8"), &["6.6.6.6"], &nets), "8.8.8.8");
        // Through a trusted proxy: the right-most untrusted hop, not the client's own claim.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["6.6.6.6, 7.7.7.7, 10.0.0.9"], &nets),
            "7.7.7.7"
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["6.6.6.6", "7.7.7.7:443"], &nets),
            "7.7.7.7"
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["[2001:db8::1]:80"], &nets),
            "2001:db8::1"
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["1.1.1.1, junk"], &nets),
            "10.0.0.2"
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &nets), "10.0.0.2");
        assert_eq!(client_ip(None, &["1.1.1.1"], &nets), "");
    }

    #[test]
    fn resource_descriptions() {
        assert_eq!(describe_resource("settings:*"), "all settings");
        assert_eq!(describe_resource("key:web-01"), "key web-01");
    }
}
