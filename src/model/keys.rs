//! Minion keys: rows grouped by state, with what the caller may do to each, and the result of
//! a key action.

pub use crate::model::ids::MinionId;
use serde::{Deserialize, Serialize};

text_enum! {
    /// Where a minion's key is on the master (`minion_snapshots.key_status`).
    pub enum KeyState {
        Accepted = "accepted",
        Pending = "pending",
        Rejected = "rejected",
        Denied = "denied",
    }
}

/// One key row with what this user may do to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub state: KeyState,
    pub can_accept: bool,
    pub can_reject: bool,
    pub can_delete: bool,
}

/// Keys grouped by state; accepted keys are paged (they can be thousands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysView {
    pub pending: Vec<KeyRow>,
    pub rejected: Vec<KeyRow>,
    pub denied: Vec<KeyRow>,
    pub accepted: Vec<KeyRow>,
    pub accepted_total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Result of a key action on one minion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyActionResult {
    pub id: MinionId,
    pub ok: bool,
    pub message: String,
}
