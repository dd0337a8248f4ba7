//! Activity: one row of the Salt event feed as the page, the widget and the SSE stream see it,
//! and the filter vocabulary (event types, time ranges).

use crate::model::page::Page;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

text_enum! {
    /// What an activity row is about (`activity_events.category`).
    pub enum EventCategory {
        Job = "job",
        Key = "key",
        Minion = "minion",
        /// Stream gap markers.
        System = "system",
    }
}

impl EventCategory {
    /// The RBAC resource a row of this category is checked as (`job:<jid>`, `key:<id>`,
    /// `minion:<id>`); `None` for system rows, which everyone who sees activity sees.
    pub fn resource(self, minion_id: Option<&str>, jid: Option<&str>) -> Option<String> {
        match self {
            EventCategory::Job => Some(format!("job:{}", jid.unwrap_or_default())),
            EventCategory::Key => Some(format!("key:{}", minion_id.unwrap_or_default())),
            EventCategory::Minion => Some(format!("minion:{}", minion_id.unwrap_or_default())),
            EventCategory::System => None,
        }
    }
}

text_enum! {
    /// The event consumer's connection to salt-api's `/events`.
    pub enum StreamStatus {
        Off = "off",
        Connecting = "connecting",
        Connected = "connected",
        Down = "down",
    }
}

/// One activity row, as the page, the widget and the SSE stream see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ActivityEvent {
    pub id: i64,
    /// When Halite stored it (RFC 3339 with milliseconds on the wire).
    #[serde(with = "crate::model::time::utc")]
    pub ts: DateTime<Utc>,
    pub category: EventCategory,
    /// `job.new`, `job.ret`, `key.accept`, `key.reject`, `key.delete`, `key.pend`,
    /// `minion.start`, `stream.gap`.
    pub event_type: String,
    pub minion_id: Option<String>,
    pub jid: Option<String>,
    pub fun: Option<String>,
    pub success: Option<bool>,
    pub changed: Option<bool>,
    pub initiator: Option<String>,
    pub target: Option<String>,
    pub duration_ms: Option<i64>,
    pub summary: String,
}

impl ActivityEvent {
    /// A row of this kind with nothing else known yet (id 0 and the epoch until it is stored).
    pub fn new(category: EventCategory, event_type: impl Into<String>, summary: String) -> Self {
        ActivityEvent {
            id: 0,
            ts: DateTime::UNIX_EPOCH,
            category,
            event_type: event_type.into(),
            minion_id: None,
            jid: None,
            fun: None,
            success: None,
            changed: None,
            initiator: None,
            target: None,
            duration_ms: None,
            summary,
        }
    }

    /// `failed`, `changes`, `ok` for job returns; `None` for everything else.
    pub fn outcome(&self) -> Option<&'static str> {
        if self.event_type != "job.ret" {
            return None;
        }
        Some(match (self.success, self.changed) {
            (Some(false), _) => "failed",
            (_, Some(true)) => "changes",
            _ => "ok",
        })
    }
}

/// One page of activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The events, newest first.
    #[serde(flatten)]
    pub list: Page<ActivityEvent>,
    /// Whether the event stream is switched on in Settings.
    pub stream_enabled: bool,
    /// The event consumer's state, with when it changed.
    pub stream_state: StreamStatus,
    #[serde(with = "crate::model::time::utc::option")]
    pub stream_since: Option<DateTime<Utc>>,
    /// Categories this user may see (`job`, `key`, `minion`).
    pub categories: Vec<EventCategory>,
}

/// The Overview widget's display settings (same for everyone; SPEC 8.3), and whether the event
/// stream that feeds it is on. The JSON is flat, as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetSettingsView {
    #[serde(flatten)]
    pub settings: crate::model::settings::WidgetSettings,
    /// The event stream is on in Settings and running (Salt connected).
    pub stream_enabled: bool,
}

/// The raw Salt event behind a row (`{tag, data}`), pretty-printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEventView {
    pub id: i64,
    pub raw_json: String,
}

/// Event types a filter may name.
pub const EVENT_TYPES: &[&str] = &[
    "job.new",
    "job.ret",
    "key.accept",
    "key.reject",
    "key.delete",
    "key.pend",
    "minion.start",
    "stream.gap",
];
/// Time ranges the page offers (`since`).
pub const RANGES: &[(&str, i64)] = &[("1h", 60), ("24h", 1440), ("7d", 10080), ("30d", 43200)];
