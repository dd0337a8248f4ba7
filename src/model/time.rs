//! Timestamps as Halite shows them.

/// `2026-11-27T08:53:05.123Z` -> `2026-11-27 08:53:05 UTC` (times are shown in UTC, as Salt's JIDs).
pub fn short_time(rfc3339: &str) -> String {
    let t = rfc3339.replace('T', " ");
    let t = t
        .split('.')
        .next()
        .unwrap_or(&t)
        .trim_end_matches('Z')
        .to_string();
    format!("{t} UTC")
}
