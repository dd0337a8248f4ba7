//! EventHub (SPEC 7.4): in-process fan-out of stored activity rows to every browser stream,
//! with a replay ring of the last 500 and a bounded queue per subscriber. A slow subscriber
//! loses its own oldest events (and is told); the consumer never waits for anyone.

use crate::model::activity::{ActivityEvent, StreamStatus};
use bytes::Bytes;
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events replayed to a new subscriber.
pub const RING: usize = 500;
/// Per-subscriber queue length (SPEC says 1000; tokio's broadcast rounds to a power of two).
pub const QUEUE: usize = 1024;

/// Connection state of the upstream consumer, for the page and the banner.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamState {
    pub state: StreamStatus,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub detail: String,
}

/// One published row with its SSE frame (`data: <json>\n\n`), serialised once when it is
/// published and shared by every stream that sends it (a stream copies bytes, it does not
/// serialise again).
#[derive(Debug)]
pub struct HubEvent {
    pub event: ActivityEvent,
    pub frame: Bytes,
}

impl HubEvent {
    /// Wrap a stored row and render its frame.
    pub fn new(event: ActivityEvent) -> Self {
        let json = serde_json::to_vec(&event).unwrap_or_default();
        let mut frame = Vec::with_capacity(json.len() + 8);
        frame.extend_from_slice(b"data: ");
        // Compact JSON has no raw newline (serde escapes them), so one `data:` line holds it.
        frame.extend_from_slice(&json);
        frame.extend_from_slice(b"\n\n");
        HubEvent {
            event,
            frame: Bytes::from(frame),
        }
    }
}

impl Deref for HubEvent {
    type Target = ActivityEvent;
    fn deref(&self) -> &ActivityEvent {
        &self.event
    }
}

/// The hub; one per process, owned by the runtime.
pub struct EventHub {
    tx: broadcast::Sender<Arc<HubEvent>>,
    ring: Mutex<Ring>,
    state: Mutex<StreamState>,
}

/// The replay ring and the id of the newest row published (rows arrive in id order; one the
/// hub has passed is not published again, so the local consumer and the replica relay may both
/// offer the same row).
#[derive(Default)]
struct Ring {
    rows: VecDeque<Arc<HubEvent>>,
    last_id: Option<i64>,
}

impl Default for EventHub {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(QUEUE);
        EventHub {
            tx,
            ring: Mutex::new(Ring {
                rows: VecDeque::with_capacity(RING),
                last_id: None,
            }),
            state: Mutex::new(StreamState {
                state: StreamStatus::Off,
                since: None,
                detail: String::new(),
            }),
        }
    }
}

impl EventHub {
    /// Publish stored rows, in id order; rows at or below the newest id already published are
    /// skipped. Returns how many were published.
    pub fn publish(&self, events: Vec<ActivityEvent>) -> usize {
        // Render the frames before taking the lock (a row the hub already passed is rendered
        // for nothing, which only happens on a replica's overlapping catch-up).
        let events: Vec<Arc<HubEvent>> = events
            .into_iter()
            .map(|e| Arc::new(HubEvent::new(e)))
            .collect();
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for e in events {
            if ring.last_id.is_some_and(|last| e.id <= last) {
                continue;
            }
            ring.last_id = Some(e.id);
            if ring.rows.len() == RING {
                ring.rows.pop_front();
            }
            ring.rows.push_back(e.clone());
            // No receivers is fine.
            let _ = self.tx.send(e);
            n += 1;
        }
        n
    }

    /// The id of the newest row published, if any.
    pub fn last_id(&self) -> Option<i64> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).last_id
    }

    /// Treat every row up to `id` as published (a replica joining the relay starts from the
    /// newest stored row, not from the table's first).
    pub fn skip_to(&self, id: i64) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.last_id = Some(ring.last_id.map_or(id, |l| l.max(id)));
    }

    /// The replay ring and a live receiver, taken atomically (no gap, no duplicate).
    pub fn subscribe(&self) -> (Vec<Arc<HubEvent>>, broadcast::Receiver<Arc<HubEvent>>) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        (ring.rows.iter().cloned().collect(), rx)
    }

    /// Number of connected browser streams.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Set the consumer state.
    pub fn set_state(&self, state: StreamStatus, detail: impl Into<String>) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if g.state != state {
            g.since = Some(chrono::Utc::now());
        }
        g.state = state;
        g.detail = detail.into();
    }

    /// The consumer state.
    pub fn state(&self) -> StreamState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64) -> ActivityEvent {
        ActivityEvent {
            id,
            ..ActivityEvent::new(
                crate::model::activity::EventCategory::Job,
                "job.new",
                String::new(),
            )
        }
    }

    #[tokio::test]
    async fn ring_replay_and_slow_subscribers() {
        let hub = EventHub::default();
        hub.publish((0..600).map(ev).collect());
        let (replay, mut rx) = hub.subscribe();
        assert_eq!(replay.len(), RING);
        assert_eq!(replay[0].id, 100);
        // A subscriber that never reads loses its oldest events and learns how many.
        hub.publish((600..600 + QUEUE as i64 + 5).map(ev).collect());
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 5),
            other => panic!("expected lag, got {other:?}"),
        }
        assert_eq!(rx.recv().await.unwrap().id, 605);
        // A fresh subscriber is unaffected.
        let (_, mut rx2) = hub.subscribe();
        hub.publish(vec![ev(9999)]);
        assert_eq!(rx2.recv().await.unwrap().id, 9999);
    }

    #[tokio::test]
    async fn a_row_offered_twice_is_published_once() {
        let hub = EventHub::default();
        let (_, mut rx) = hub.subscribe();
        assert_eq!(hub.publish(vec![ev(1), ev(2), ev(3)]), 3);
        // The relay offers an overlapping range: only the new rows go out, in order.
        assert_eq!(hub.publish(vec![ev(2), ev(3), ev(4), ev(5)]), 2);
        hub.skip_to(8);
        assert_eq!(hub.publish(vec![ev(7), ev(8), ev(9)]), 1);
        hub.skip_to(3); // never backwards
        assert_eq!(hub.last_id(), Some(9));
        let mut got = vec![];
        while let Ok(e) = rx.try_recv() {
            got.push(e.id);
        }
        assert_eq!(got, vec![1, 2, 3, 4, 5, 9]);
    }
}
