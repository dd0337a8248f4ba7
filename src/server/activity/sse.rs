//! `GET /api/activity/stream` (SPEC 7.4): the browser's live feed. Session auth; the replay
//! ring, a `replayed` event, then live events; `: keepalive` every 20 s; 503 when the event stream is off, 403 (and
//! a `permission.denied` audit row) when nothing is visible. An open stream re-checks its
//! session every [`RECHECK`], and at once when its user's account changes: it ends when the session is gone (logout, password change,
//! deactivation, expiry, forced password change) and re-filters with the user's current
//! permissions (ending when nothing is visible any more).

use super::hub::{EventHub, HubEvent};
use crate::model::activity::{ActivityEvent, EventCategory};
use crate::rbac::{self, Permission};
use crate::server::audit::{self, AuditEntry};
use crate::server::auth::{self, CurrentUser};
use crate::server::db::Db;
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, Stream};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use crate::server::auth::watch::RecheckTimer;
/// How often an open stream re-checks its session (well within the 20 s keepalive).
pub use crate::server::auth::watch::RECHECK;

/// Whether a user may see one event (per resource, as the page's SQL filter).
pub fn visible(user: &CurrentUser, e: &ActivityEvent) -> bool {
    e.category
        .resource(e.minion_id.as_deref(), e.jid.as_deref())
        .is_none_or(|r| user.can("view", &r))
}

/// The categories whose every event `user` may see (a `view` grant covering `job:*`, `key:*` or
/// `minion:*`): the stream skips the per-event check for those. `rbac::holds` is conservative,
/// so a category not listed here is checked event by event, never shown by mistake.
fn seen_whole(user: &CurrentUser) -> Vec<EventCategory> {
    [
        EventCategory::Job,
        EventCategory::Key,
        EventCategory::Minion,
    ]
    .into_iter()
    .filter(|c| {
        c.resource(Some("*"), Some("*"))
            .is_some_and(|r| rbac::holds(&user.permissions, &Permission::new("view", &r)))
    })
    .collect()
}

/// Frames coalesced into one body chunk at most: a browser that keeps up gets a burst's
/// waiting frames in one write instead of one write per event.
const MAX_CHUNK: usize = 64 * 1024;
/// A comment line this often when nothing else was sent (as axum's `KeepAlive`).
const KEEPALIVE: Duration = Duration::from_secs(20);

struct Feed {
    replay: VecDeque<Arc<HubEvent>>,
    rx: Receiver<Arc<HubEvent>>,
    user: CurrentUser,
    /// [`seen_whole`] of `user`, kept in step with it.
    whole: Vec<EventCategory>,
    db: Db,
    recheck: RecheckTimer,
    /// The end-of-replay event was sent.
    replayed: bool,
    /// The hub closed (shutdown): send what is gathered, then end.
    closed: bool,
    /// When the next keepalive is due if nothing is sent before.
    keepalive_at: tokio::time::Instant,
    _hub: Arc<EventHub>,
}

impl Feed {
    /// Hand `out` to the body (when it holds anything) and push the keepalive back.
    fn send(&mut self, out: BytesMut) -> Option<Bytes> {
        if out.is_empty() {
            return None;
        }
        self.keepalive_at = tokio::time::Instant::now() + KEEPALIVE;
        Some(out.freeze())
    }

    /// Add one received event's frame if this user may see it.
    fn add(&self, out: &mut BytesMut, e: &HubEvent) {
        if self.whole.contains(&e.category) || visible(&self.user, e) {
            out.extend_from_slice(&e.frame);
        }
    }

    /// Add everything already waiting in the queue, up to [`MAX_CHUNK`] bytes.
    fn drain_ready(&mut self, out: &mut BytesMut) {
        while out.len() < MAX_CHUNK {
            match self.rx.try_recv() {
                Ok(e) => self.add(out, &e),
                Err(TryRecvError::Lagged(n)) => lagged(out, n),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Closed) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }
}

/// This browser fell behind: it loses its own oldest events and is told how many.
fn lagged(out: &mut BytesMut, n: u64) {
    metrics::counter!("halite_hub_lagged_dropped_total").increment(n);
    out.extend_from_slice(format!("event: lagged\ndata: {{\"dropped\":{n}}}\n\n").as_bytes());
}

/// The user behind the stream now, or `None` when the stream must end.
async fn still_allowed(db: &Db, session_key: &str) -> Option<CurrentUser> {
    let user = auth::revalidate(db, session_key).await?;
    let vis = super::store::Visibility::of(&user.permissions);
    (!vis.categories().is_empty()).then_some(user)
}

/// The named event that ends the replay: what follows it is live (the browser tells news from
/// history by it, not by timing).
pub const REPLAYED: &str = "replayed";

fn feed(f: Feed) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    stream::unfold(f, |mut f| async move {
        let mut out = BytesMut::new();
        while out.len() < MAX_CHUNK {
            let Some(e) = f.replay.pop_front() else { break };
            f.add(&mut out, &e);
        }
        if !out.is_empty() {
            return f.send(out).map(|b| (Ok(b), f));
        }
        if !f.replayed {
            f.replayed = true;
            out.extend_from_slice(format!("event: {REPLAYED}\ndata: end of replay\n\n").as_bytes());
            return f.send(out).map(|b| (Ok(b), f));
        }
        loop {
            if f.closed {
                return None;
            }
            let received = tokio::select! {
                r = f.rx.recv() => r,
                _ = f.recheck.due() => {
                    match still_allowed(&f.db, &f.user.session_key).await {
                        Some(user) => {
                            f.whole = seen_whole(&user);
                            f.user = user;
                        }
                        None => return None,
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(f.keepalive_at) => {
                    out.extend_from_slice(b": keepalive\n\n");
                    return f.send(out).map(|b| (Ok(b), f));
                }
            };
            match received {
                Ok(e) => f.add(&mut out, &e),
                Err(RecvError::Lagged(n)) => lagged(&mut out, n),
                Err(RecvError::Closed) => return None,
            }
            f.drain_ready(&mut out);
            if let Some(b) = f.send(std::mem::take(&mut out)) {
                return Some((Ok(b), f));
            }
        }
    })
}

/// The handler.
pub async fn stream(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    req: Request,
) -> Response {
    let Some(Extension(user)) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            "Sign in to follow the event stream.",
        )
            .into_response();
    };
    if user.must_change_pw {
        return (StatusCode::FORBIDDEN, "Change your password first.").into_response();
    }
    let Some(hub) = state.runtime.hub_if_enabled() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Event stream not enabled. An administrator can turn it on in Settings → Pollers.",
        )
            .into_response();
    };
    let vis = super::store::Visibility::of(&user.permissions);
    if vis.categories().is_empty() {
        let (parts, _) = req.into_parts();
        audit::record(
            &state.db,
            AuditEntry::new("permission.denied", "activity:stream")
                .user(&user.id, &user.username)
                .args(serde_json::json!({ "verb": "view" }))
                .deny(403)
                .ip(&auth::client_info(&parts).ip),
        )
        .await;
        return (
            StatusCode::FORBIDDEN,
            "You may not view jobs, keys or minions, so there is no activity to show.",
        )
            .into_response();
    }
    let (replay, rx) = hub.subscribe();
    let recheck = RecheckTimer::new(&state, &user.id, RECHECK);
    let f = Feed {
        replay: replay.into(),
        rx,
        whole: seen_whole(&user),
        user,
        db: state.db.clone(),
        recheck,
        replayed: false,
        closed: false,
        keepalive_at: tokio::time::Instant::now() + KEEPALIVE,
        _hub: hub,
    };
    // Shutdown ends the stream (the browser reconnects to whichever replica answers).
    let ends = state.shutdown.clone().cancelled_owned();
    // The frames are written as the hub rendered them (axum's `Sse` would re-encode each
    // event for each browser); the headers are the ones `Sse` sets.
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(futures::StreamExt::take_until(feed(f), ends)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(grants: &[(&str, &str)]) -> CurrentUser {
        CurrentUser {
            id: "u".into(),
            username: "u".into(),
            display_name: "u".into(),
            must_change_pw: false,
            theme: "dark".into(),
            permissions: grants.iter().map(|(v, r)| Permission::new(v, r)).collect(),
            session_key: "k".into(),
        }
    }

    #[test]
    fn only_categories_granted_whole_skip_the_per_event_check() {
        use EventCategory::*;
        assert_eq!(seen_whole(&user(&[("*", "*")])), vec![Job, Key, Minion]);
        assert_eq!(seen_whole(&user(&[("view", "*")])), vec![Job, Key, Minion]);
        assert_eq!(
            seen_whole(&user(&[("view", "job:*"), ("view", "minion:web-*")])),
            vec![Job]
        );
        assert_eq!(seen_whole(&user(&[("view", "key:web-*")])), vec![]);
        assert_eq!(seen_whole(&user(&[("accept", "*")])), vec![]);
        assert_eq!(seen_whole(&user(&[("v*", "minion:*")])), vec![Minion]);
        assert_eq!(seen_whole(&user(&[("view", "minion:?*")])), vec![]);
    }
}
