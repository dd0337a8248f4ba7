//! `GET /api/activity/stream` (SPEC 7.4): the browser's live feed. Session auth; the replay
//! ring, a `replayed` event, then live events; `: keepalive` every 20 s; 503 when the event stream is off, 403 (and
//! a `permission.denied` audit row) when nothing is visible. An open stream re-checks its
//! session every [`RECHECK`], and at once when its user's account changes: it ends when the session is gone (logout, password change,
//! deactivation, expiry, forced password change) and re-filters with the user's current
//! permissions (ending when nothing is visible any more).

use super::hub::EventHub;
use crate::model::activity::ActivityEvent;
use crate::server::audit::{self, AuditEntry};
use crate::server::auth::{self, CurrentUser};
use crate::server::db::Db;
use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{self, Stream};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::server::auth::watch::RecheckTimer;
/// How often an open stream re-checks its session (well within the 20 s keepalive).
pub use crate::server::auth::watch::RECHECK;

/// Whether a user may see one event (per resource, as the page's SQL filter).
pub fn visible(user: &CurrentUser, e: &ActivityEvent) -> bool {
    e.category
        .resource(e.minion_id.as_deref(), e.jid.as_deref())
        .is_none_or(|r| user.can("view", &r))
}

fn frame(e: &ActivityEvent) -> Event {
    Event::default().data(serde_json::to_string(e).unwrap_or_default())
}

struct Feed {
    replay: VecDeque<Arc<ActivityEvent>>,
    rx: Receiver<Arc<ActivityEvent>>,
    user: CurrentUser,
    db: Db,
    recheck: RecheckTimer,
    /// The end-of-replay event was sent.
    replayed: bool,
    _hub: Arc<EventHub>,
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

fn feed(f: Feed) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
    stream::unfold(f, |mut f| async move {
        while let Some(e) = f.replay.pop_front() {
            if visible(&f.user, &e) {
                return Some((Ok(frame(&e)), f));
            }
        }
        if !f.replayed {
            f.replayed = true;
            return Some((
                Ok(Event::default().event(REPLAYED).data("end of replay")),
                f,
            ));
        }
        loop {
            let received = tokio::select! {
                r = f.rx.recv() => r,
                _ = f.recheck.due() => {
                    match still_allowed(&f.db, &f.user.session_key).await {
                        Some(user) => f.user = user,
                        None => return None,
                    }
                    continue;
                }
            };
            match received {
                Ok(e) if visible(&f.user, &e) => return Some((Ok(frame(&e)), f)),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    metrics::counter!("halite_hub_lagged_dropped_total").increment(n);
                    // This browser fell behind: it loses its own oldest events and is told.
                    let ev = Event::default()
                        .event("lagged")
                        .data(format!("{{\"dropped\":{n}}}"));
                    return Some((Ok(ev), f));
                }
                Err(RecvError::Closed) => return None,
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
        user,
        db: state.db.clone(),
        recheck,
        replayed: false,
        _hub: hub,
    };
    // Shutdown ends the stream (the browser reconnects to whichever replica answers).
    let ends = state.shutdown.clone().cancelled_owned();
    Sse::new(futures::StreamExt::take_until(feed(f), ends))
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(20))
                .text("keepalive"),
        )
        .into_response()
}
