//! `GET /api/auth/watch`: a tiny event stream that tells an open tab its session ended (an
//! administrator deactivated the user or reset their password, sign-out elsewhere, expiry), so
//! the tab signs out without a reload. It sends `: watching` once, keepalives every 20 s, and
//! `event: ended` followed by the end of the stream when the session is gone. The session is
//! re-checked every [`RECHECK`] and at once when the user's account changes
//! ([`AppState::user_changed`]); [`RecheckTimer`] is that schedule, shared with the activity
//! stream.

use crate::server::auth::{self, CurrentUser};
use crate::server::db::Db;
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver, Sender};
use tokio::time::{Interval, MissedTickBehavior};

/// How often an open stream re-checks its session when nothing told it to earlier.
pub const RECHECK: Duration = Duration::from_secs(5);

/// When a long-lived request should look at its session again: every period, and at once when
/// its user's account changed.
pub struct RecheckTimer {
    changed: Receiver<String>,
    /// Keeps the channel open, so `changed` never reports it closed.
    _keep: Sender<String>,
    tick: Interval,
    user_id: String,
}

impl RecheckTimer {
    /// A timer for `user_id`'s stream; the first periodic check is one `every` from now.
    pub fn new(state: &AppState, user_id: &str, every: Duration) -> Self {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        RecheckTimer {
            changed: state.user_events.subscribe(),
            _keep: state.user_events.clone(),
            tick,
            user_id: user_id.to_string(),
        }
    }

    /// Resolves when a check is due. Cancel-safe (for `select!`).
    pub async fn due(&mut self) {
        loop {
            tokio::select! {
                _ = self.tick.tick() => return,
                r = self.changed.recv() => match r {
                    Ok(id) if id == self.user_id => return,
                    // Missed notices may have named this user.
                    Err(RecvError::Lagged(_)) => return,
                    Ok(_) | Err(RecvError::Closed) => continue,
                },
            }
        }
    }
}

struct Watch {
    db: Db,
    session_key: String,
    timer: RecheckTimer,
    started: bool,
    ended: bool,
}

/// The handler: 401 without a session, 403 during a forced password change.
pub async fn watch(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Response {
    let Some(Extension(user)) = user else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    if user.must_change_pw {
        return (StatusCode::FORBIDDEN, "Change your password first.").into_response();
    }
    let w = Watch {
        db: state.db.clone(),
        timer: RecheckTimer::new(&state, &user.id, RECHECK),
        session_key: user.session_key,
        started: false,
        ended: false,
    };
    let events = stream::unfold(w, |mut w| async move {
        if w.ended {
            return None;
        }
        if !w.started {
            w.started = true;
            return Some((
                Ok::<_, std::convert::Infallible>(Event::default().comment("watching")),
                w,
            ));
        }
        loop {
            w.timer.due().await;
            if auth::revalidate(&w.db, &w.session_key).await.is_none() {
                w.ended = true;
                return Some((Ok(Event::default().event("ended").data("ended")), w));
            }
        }
    });
    let ends = state.shutdown.clone().cancelled_owned();
    Sse::new(futures::StreamExt::take_until(events, ends))
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(20))
                .text("keepalive"),
        )
        .into_response()
}
