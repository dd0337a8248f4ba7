//! The browser's one live event stream (SPEC 7.5): a single `EventSource` on
//! `/api/activity/stream` per tab, opened by the app frame, turned into a [`LiveBus`] of version
//! counters that list pages add to their `Resource` sources, plus the newest events for the
//! Activity page's live tail.
//!
//! * The stream is only opened when the user may follow it (signed in, no pending password
//!   change, allowed to view jobs, keys or minions) and `widget_config()` says it is switched
//!   on: a refused `EventSource` (503/403) logs a console error, so it is never tried blind.
//! * The browser reconnects a dropped stream itself; when it gives up (the stream was turned off
//!   and the reconnect got a 503), Halite checks the setting again with a 1 s → 30 s backoff.
//! * On connect the server replays its ring of recent events, then sends a `replayed` event. On
//!   the tab's first connection that replay is history (the page was rendered after it), so it
//!   only fills `latest`; what comes after the marker is news, however soon. On a reconnect,
//!   replayed events not seen before mean something was missed and bump the counters. Events are
//!   de-duplicated by id.
//! * Counters are bumped at most every 500 ms, so a burst of 1000 events means one refetch.

use crate::app::api::activity::ActivityEvent;
use crate::model::activity::EventCategory;
use leptos::prelude::*;

/// How many recent events [`LiveBus::latest`] keeps.
pub const LATEST_CAP: usize = 200;
/// Counters are bumped (and `latest` updated) at most this often.
pub const BUMP_EVERY_MS: u64 = 500;
/// The SSE route.
pub const STREAM_URL: &str = "/api/activity/stream";
/// The session watch's SSE route.
pub const WATCH_URL: &str = "/api/auth/watch";
/// Where a tab whose session ended goes (the sign-in page says why).
pub const ENDED_URL: &str = "/login?ended=1";

/// Live-stream state shared through context (provided by the app frame).
#[derive(Debug, Clone, Copy)]
pub struct LiveBus {
    /// Bumped after `job.*` events.
    pub jobs: RwSignal<u64>,
    /// Bumped after `key.*` events.
    pub keys: RwSignal<u64>,
    /// Bumped after `minion.*` and `key.*` events (a key change changes a minion's status).
    pub minions: RwSignal<u64>,
    /// Bumped after any event.
    pub activity: RwSignal<u64>,
    /// The newest events received (at most [`LATEST_CAP`]), newest first.
    pub latest: RwSignal<Vec<ActivityEvent>>,
    /// Whether the browser's stream is open.
    pub connected: RwSignal<bool>,
    /// Events the server dropped for this tab because it fell behind.
    pub dropped: RwSignal<u64>,
    /// Events with an id up to this one arrived as the replay of the first connection
    /// (history, not news).
    pub history_until: RwSignal<i64>,
}

impl Default for LiveBus {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveBus {
    /// A bus with nothing received yet (not connected to anything).
    pub fn new() -> Self {
        LiveBus {
            jobs: RwSignal::new(0),
            keys: RwSignal::new(0),
            minions: RwSignal::new(0),
            activity: RwSignal::new(0),
            latest: RwSignal::new(Vec::new()),
            connected: RwSignal::new(false),
            dropped: RwSignal::new(0),
            history_until: RwSignal::new(0),
        }
    }

    /// Id of the newest event that arrived live (not as first-connect history) and matches
    /// `pred`, or 0. Reactive: use it in a `Memo` as a per-item refetch trigger.
    pub fn newest_live(&self, pred: impl Fn(&ActivityEvent) -> bool) -> i64 {
        let floor = self.history_until.get();
        self.latest.with(|l| {
            l.iter()
                .find(|e| e.id > floor && pred(e))
                .map(|e| e.id)
                .unwrap_or(0)
        })
    }
}

/// The bus from context, or an idle one (pages rendered outside the app frame).
pub fn use_live() -> LiveBus {
    use_context::<LiveBus>().unwrap_or_default()
}

/// Which counters an event of this category bumps (besides `activity`, which every event does).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Bumps {
    pub jobs: bool,
    pub keys: bool,
    pub minions: bool,
    pub activity: bool,
}

impl Bumps {
    /// For one event category. A `system` event (a stream gap: keys and jobs were re-synced by
    /// polling) bumps everything.
    pub fn for_category(category: EventCategory) -> Self {
        match category {
            EventCategory::Job => Bumps {
                jobs: true,
                activity: true,
                ..Default::default()
            },
            EventCategory::Key => Bumps {
                keys: true,
                minions: true,
                activity: true,
                ..Default::default()
            },
            EventCategory::Minion => Bumps {
                minions: true,
                activity: true,
                ..Default::default()
            },
            EventCategory::System => Bumps::all(),
        }
    }

    /// Everything (after a gap or a lag).
    pub fn all() -> Self {
        Bumps {
            jobs: true,
            keys: true,
            minions: true,
            activity: true,
        }
    }

    /// Either.
    pub fn or(self, o: Bumps) -> Self {
        Bumps {
            jobs: self.jobs || o.jobs,
            keys: self.keys || o.keys,
            minions: self.minions || o.minions,
            activity: self.activity || o.activity,
        }
    }

    /// Bump the chosen counters on the bus (no-op once the bus is gone).
    pub fn apply(self, bus: &LiveBus) {
        for (on, sig) in [
            (self.jobs, bus.jobs),
            (self.keys, bus.keys),
            (self.minions, bus.minions),
            (self.activity, bus.activity),
        ] {
            if on {
                sig.try_update(|v| *v += 1);
            }
        }
    }
}

/// A `job.ret` of a `state.*` function: by the time it reaches the browser the fleet ingest has
/// stored its run, so fleet-health views refetch on it.
pub fn is_state_return(e: &ActivityEvent) -> bool {
    e.category == EventCategory::Job
        && e.event_type == "job.ret"
        && e.fun.as_deref().is_some_and(|f| f.starts_with("state."))
}

/// Put `arrived` (oldest first) in front of `latest` (newest first), keep [`LATEST_CAP`].
pub fn merge_latest(latest: &mut Vec<ActivityEvent>, arrived: Vec<ActivityEvent>) {
    let mut out: Vec<ActivityEvent> = arrived.into_iter().rev().collect();
    out.append(latest);
    out.sort_by_key(|e| std::cmp::Reverse(e.id));
    out.dedup_by_key(|e| e.id);
    out.truncate(LATEST_CAP);
    *latest = out;
}

/// Follow the stream while `may_follow` is true (browser only; does nothing on the server).
/// Call once, synchronously, in the app frame.
pub fn follow(bus: LiveBus, may_follow: Memo<bool>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if may_follow.get() {
            let conn = client::start(bus);
            on_cleanup(move || client::stop(&conn));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (bus, may_follow);
}

/// While `signed_in`, hold the session watch (`/api/auth/watch`, browser only): when the server
/// says `ended` (an administrator deactivated the user or reset their password, sign-out in
/// another tab, expiry), or a reconnect is refused and the server confirms the session is gone,
/// the tab goes to the sign-in page without waiting for a reload. Call once, in the app frame.
pub fn watch_session(signed_in: Memo<bool>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if signed_in.get() {
            if let Some(w) = client::watch() {
                on_cleanup(move || w.close());
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = signed_in;
}

#[cfg(feature = "hydrate")]
mod client {
    use super::{
        merge_latest, ActivityEvent, Bumps, LiveBus, BUMP_EVERY_MS, ENDED_URL, STREAM_URL,
        WATCH_URL,
    };
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use std::cell::RefCell;
    use std::rc::{Rc, Weak};
    use std::time::Duration;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{Event, EventSource, MessageEvent};

    /// The first retry after the browser gave up; doubled up to [`MAX_BACKOFF_MS`].
    const MIN_BACKOFF_MS: u64 = 1_000;
    const MAX_BACKOFF_MS: u64 = 30_000;
    /// The first replay ends after this long even without the server's `replayed` event.
    const REPLAY_FALLBACK_MS: u64 = 5_000;

    /// One open `EventSource` with its callbacks (dropped only outside those callbacks).
    struct Conn {
        es: EventSource,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_lagged: Closure<dyn FnMut(MessageEvent)>,
        _on_replayed: Closure<dyn FnMut(Event)>,
        _on_open: Closure<dyn FnMut(Event)>,
        _on_error: Closure<dyn FnMut(Event)>,
    }

    struct Inner {
        bus: LiveBus,
        conn: Option<Conn>,
        stopped: bool,
        /// Highest event id received (de-duplicates replays after a reconnect).
        max_seen: i64,
        /// No connection has opened yet.
        first_open: bool,
        /// In the first connection's replay (history), until the server's `replayed` event.
        replaying: bool,
        flush_timer: Option<TimeoutHandle>,
        retry_timer: Option<TimeoutHandle>,
        backoff_ms: u64,
        /// Arrived since the last flush, oldest first.
        buf: Vec<ActivityEvent>,
        bumps: Bumps,
        dropped: u64,
    }

    type Shared = Rc<RefCell<Inner>>;

    /// A running follower (the browser is single-threaded; the wrapper satisfies `on_cleanup`).
    pub struct Handle(SendWrapper<Shared>);

    /// The session watch's `EventSource` and its callbacks (dropped together).
    struct WatchConn {
        es: EventSource,
        _on_ended: Closure<dyn FnMut(Event)>,
        _on_error: Closure<dyn FnMut(Event)>,
    }

    /// A running session watch (the wrapper satisfies `on_cleanup`).
    pub struct Watch(SendWrapper<WatchConn>);

    impl Watch {
        /// Close the stream.
        pub fn close(&self) {
            self.0.es.close();
        }
    }

    /// Open the session watch (see [`super::watch_session`]).
    pub fn watch() -> Option<Watch> {
        let es = EventSource::new(WATCH_URL).ok()?;
        let on_ended =
            Closure::<dyn FnMut(Event)>::new(|_: Event| crate::app::navigate_hard(ENDED_URL));
        let probe = es.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            // The browser gave up reconnecting (the server refused: 401 once the session is
            // gone). A dropped connection it retries by itself is not a sign-out.
            if probe.ready_state() == EventSource::CLOSED {
                leptos::task::spawn_local(async {
                    if matches!(crate::app::api::auth::get_me().await, Ok(None)) {
                        crate::app::navigate_hard(ENDED_URL);
                    }
                });
            }
        });
        es.add_event_listener_with_callback("ended", on_ended.as_ref().unchecked_ref())
            .ok()?;
        es.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(Watch(SendWrapper::new(WatchConn {
            es,
            _on_ended: on_ended,
            _on_error: on_error,
        })))
    }

    /// Start following; the handle is for [`stop`].
    pub fn start(bus: LiveBus) -> Handle {
        let s = Rc::new(RefCell::new(Inner {
            bus,
            conn: None,
            stopped: false,
            max_seen: 0,
            first_open: true,
            replaying: false,
            flush_timer: None,
            retry_timer: None,
            backoff_ms: MIN_BACKOFF_MS,
            buf: Vec::new(),
            bumps: Bumps::default(),
            dropped: 0,
        }));
        check_then_open(Rc::downgrade(&s));
        Handle(SendWrapper::new(s))
    }

    /// Close the stream and cancel every timer.
    pub fn stop(h: &Handle) {
        let (bus, conn, timers) = {
            let mut i = h.0.borrow_mut();
            i.stopped = true;
            let timers = [i.flush_timer.take(), i.retry_timer.take()];
            (i.bus, i.conn.take(), timers)
        };
        for t in timers.into_iter().flatten() {
            t.clear();
        }
        if let Some(c) = conn {
            c.es.close();
        }
        bus.connected.try_set(false);
    }

    /// Ask the server whether the stream is on, then open it (or look again later).
    fn check_then_open(w: Weak<RefCell<Inner>>) {
        leptos::task::spawn_local(async move {
            let cfg = crate::app::api::activity::widget_config().await;
            let Some(s) = w.upgrade() else { return };
            if s.borrow().stopped {
                return;
            }
            match cfg {
                Ok(c) if c.stream_enabled => open(&s),
                // Off: look again at the slowest pace.
                Ok(_) => retry_in(&s, MAX_BACKOFF_MS),
                Err(_) => {
                    let d = next_backoff(&s);
                    retry_in(&s, d);
                }
            }
        });
    }

    fn next_backoff(s: &Shared) -> u64 {
        let mut i = s.borrow_mut();
        let d = i.backoff_ms;
        i.backoff_ms = (i.backoff_ms * 2).min(MAX_BACKOFF_MS);
        d
    }

    fn retry_in(s: &Shared, ms: u64) {
        // Whatever the next connection replays may be news to this page by then.
        s.borrow_mut().first_open = false;
        let w = Rc::downgrade(s);
        let h = set_timeout_with_handle(
            move || {
                if let Some(s) = w.upgrade() {
                    s.borrow_mut().retry_timer = None;
                    if !s.borrow().stopped {
                        check_then_open(Rc::downgrade(&s));
                    }
                }
            },
            Duration::from_millis(ms),
        )
        .ok();
        if let Some(old) = std::mem::replace(&mut s.borrow_mut().retry_timer, h) {
            old.clear();
        }
    }

    /// A stream callback that runs `f` with the shared state while the page still holds it.
    fn callback<E>(
        w: &Weak<RefCell<Inner>>,
        f: impl Fn(&Shared, E) + 'static,
    ) -> Closure<dyn FnMut(E)>
    where
        E: wasm_bindgen::convert::FromWasmAbi + 'static,
        dyn FnMut(E): wasm_bindgen::closure::WasmClosure,
    {
        let w = w.clone();
        Closure::new(move |ev: E| {
            if let Some(s) = w.upgrade() {
                f(&s, ev);
            }
        })
    }

    fn open(s: &Shared) {
        let Ok(es) = EventSource::new(STREAM_URL) else {
            let d = next_backoff(s);
            retry_in(s, d);
            return;
        };
        let w = Rc::downgrade(s);
        let on_message = callback(&w, |s, ev: MessageEvent| {
            if let Some(text) = ev.data().as_string() {
                on_event(s, &text);
            }
        });
        let on_lagged = callback(&w, |s, ev: MessageEvent| {
            let n = ev
                .data()
                .as_string()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("dropped").and_then(|d| d.as_u64()))
                .unwrap_or(1);
            {
                let mut i = s.borrow_mut();
                i.dropped += n;
                i.bumps = Bumps::all();
            }
            schedule_flush(s);
        });
        let on_replayed = callback(&w, |s, _: Event| end_replay(s));
        let on_open = callback(&w, |s, _: Event| {
            let (bus, first) = {
                let mut i = s.borrow_mut();
                i.backoff_ms = MIN_BACKOFF_MS;
                let first = std::mem::replace(&mut i.first_open, false);
                if first {
                    i.replaying = true;
                }
                (i.bus, first)
            };
            bus.connected.try_set(true);
            if first {
                // A server (or a proxy) that never sends the marker must not hold the replay
                // open for good.
                let w = Rc::downgrade(s);
                set_timeout(
                    move || {
                        if let Some(s) = w.upgrade() {
                            end_replay(&s);
                        }
                    },
                    Duration::from_millis(REPLAY_FALLBACK_MS),
                );
            }
        });
        let on_error = callback(&w, |s, _: Event| {
            let (bus, closed) = {
                let i = s.borrow();
                let closed = i
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.es.ready_state() == EventSource::CLOSED);
                (i.bus, closed)
            };
            bus.connected.try_set(false);
            if closed && !s.borrow().stopped {
                // The browser gave up (e.g. 503: the stream was turned off). The Conn is
                // replaced when the retry opens a new one, not here inside its callback.
                let d = next_backoff(s);
                retry_in(s, d);
            }
        });
        es.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        es.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        es.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let _ = es.add_event_listener_with_callback("lagged", on_lagged.as_ref().unchecked_ref());
        let _ =
            es.add_event_listener_with_callback("replayed", on_replayed.as_ref().unchecked_ref());
        let old = s.borrow_mut().conn.replace(Conn {
            es,
            _on_message: on_message,
            _on_lagged: on_lagged,
            _on_replayed: on_replayed,
            _on_open: on_open,
            _on_error: on_error,
        });
        if let Some(c) = old {
            c.es.close();
        }
    }

    fn on_event(s: &Shared, text: &str) {
        let Ok(e) = serde_json::from_str::<ActivityEvent>(text) else {
            return;
        };
        let replaying = {
            let mut i = s.borrow_mut();
            if e.id <= i.max_seen {
                return;
            }
            i.max_seen = e.id;
            if !i.replaying {
                i.bumps = i.bumps.or(Bumps::for_category(e.category));
            }
            i.buf.push(e);
            i.replaying
        };
        if !replaying {
            schedule_flush(s);
        }
    }

    /// The first connection's replay is over: what arrived so far is history.
    fn end_replay(s: &Shared) {
        let (bus, until) = {
            let mut i = s.borrow_mut();
            if !std::mem::replace(&mut i.replaying, false) {
                return;
            }
            (i.bus, i.max_seen)
        };
        bus.history_until.try_set(until);
        flush(s);
    }

    fn schedule_flush(s: &Shared) {
        if s.borrow().flush_timer.is_some() {
            return;
        }
        let w = Rc::downgrade(s);
        let h = set_timeout_with_handle(
            move || {
                if let Some(s) = w.upgrade() {
                    s.borrow_mut().flush_timer = None;
                    flush(&s);
                }
            },
            Duration::from_millis(BUMP_EVERY_MS),
        )
        .ok();
        s.borrow_mut().flush_timer = h;
    }

    /// Hand what arrived to the bus: `latest`, `dropped`, then the counters.
    fn flush(s: &Shared) {
        let (bus, buf, bumps, dropped) = {
            let mut i = s.borrow_mut();
            if i.stopped {
                return;
            }
            (
                i.bus,
                std::mem::take(&mut i.buf),
                std::mem::take(&mut i.bumps),
                std::mem::take(&mut i.dropped),
            )
        };
        if !buf.is_empty() {
            bus.latest.try_update(|l| merge_latest(l, buf));
        }
        if dropped > 0 {
            bus.dropped.try_update(|d| *d += dropped);
        }
        bumps.apply(&bus);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, category: &str) -> ActivityEvent {
        ActivityEvent {
            id,
            ..ActivityEvent::new(
                category.parse().unwrap(),
                format!("{category}.x"),
                String::new(),
            )
        }
    }

    #[test]
    fn categories_bump_the_right_counters() {
        let j = Bumps::for_category(EventCategory::Job);
        assert!(j.jobs && j.activity && !j.keys && !j.minions);
        let k = Bumps::for_category(EventCategory::Key);
        assert!(k.keys && k.minions && k.activity && !k.jobs);
        let m = Bumps::for_category(EventCategory::Minion);
        assert!(m.minions && m.activity && !m.keys && !m.jobs);
        assert_eq!(Bumps::for_category(EventCategory::System), Bumps::all());
        assert_eq!(
            j.or(m),
            Bumps {
                jobs: true,
                minions: true,
                activity: true,
                keys: false
            }
        );
    }

    #[test]
    fn latest_is_newest_first_deduplicated_and_capped() {
        let mut l = vec![ev(3, "job"), ev(2, "job")];
        merge_latest(&mut l, vec![ev(3, "job"), ev(4, "key"), ev(5, "minion")]);
        assert_eq!(l.iter().map(|e| e.id).collect::<Vec<_>>(), vec![5, 4, 3, 2]);
        merge_latest(&mut l, (10..400).map(|i| ev(i, "job")).collect());
        assert_eq!(l.len(), LATEST_CAP);
        assert_eq!(l[0].id, 399);
        assert_eq!(l[LATEST_CAP - 1].id, 200);
    }

    #[test]
    fn counters_and_newest_live() {
        let owner = Owner::new();
        owner.with(|| {
            let bus = LiveBus::new();
            Bumps::for_category(EventCategory::Key).apply(&bus);
            assert_eq!(
                (
                    bus.jobs.get_untracked(),
                    bus.keys.get_untracked(),
                    bus.minions.get_untracked(),
                    bus.activity.get_untracked()
                ),
                (0, 1, 1, 1)
            );
            let mut a = ev(7, "job");
            a.jid = Some("j1".into());
            let mut b = ev(9, "job");
            b.jid = Some("j2".into());
            bus.latest.set(vec![b, a]);
            bus.history_until.set(7);
            // id 7 was history; only 9 counts.
            assert_eq!(bus.newest_live(|e| e.jid.as_deref() == Some("j1")), 0);
            assert_eq!(bus.newest_live(|e| e.jid.as_deref() == Some("j2")), 9);
        });
    }
}
