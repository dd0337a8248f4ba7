//! Pure ingest of `jobs.list_jobs` replies into `jobs_index` rows (no DB, no Salt).

use crate::salt::replies::JobSummary;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// A `jobs_index` row: what ingest writes and what `store::get` and the Timeline read back.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub jid: String,
    pub function: String,
    pub target: Option<String>,
    pub target_type: Option<String>,
    pub salt_user: Option<String>,
    pub started_at: DateTime<Utc>,
    pub arguments: Option<String>,
}

/// Parse a Salt JID (`YYYYMMDDHHMMSSffffff`, UTC) into its start time.
pub fn parse_jid(jid: &str) -> Option<DateTime<Utc>> {
    if jid.len() != 20 || !jid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(&jid[..14], "%Y%m%d%H%M%S").ok()?;
    let micros: i64 = jid[14..].parse().ok()?;
    Some(Utc.from_utc_datetime(&t) + chrono::Duration::microseconds(micros))
}

/// Whether a string looks like a JID (what URLs and kill requests accept).
pub fn is_jid(s: &str) -> bool {
    parse_jid(s).is_some()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect()
    }
}

/// Rows for the jobs of one `list_jobs` reply; jobs whose JID is not a timestamp are skipped
/// (they cannot be placed in time) and counted.
pub fn rows_from_list_jobs(jobs: &[JobSummary]) -> (Vec<JobRow>, usize) {
    let mut rows = Vec::with_capacity(jobs.len());
    let mut skipped = 0;
    for j in jobs {
        let Some(started) = parse_jid(&j.jid) else {
            skipped += 1;
            continue;
        };
        rows.push(JobRow {
            jid: j.jid.clone(),
            function: clip(&j.function, 128),
            target: j.target.as_deref().map(|t| clip(t, 2048)),
            target_type: j.target_type.as_deref().map(|t| clip(t, 32)),
            salt_user: j.user.as_deref().map(|u| clip(u, 255)),
            started_at: started,
            arguments: match &j.arguments {
                Value::Null => None,
                // Secret-like kwargs and `name=value` words never reach the index.
                v => Some(crate::server::audit::redact(v).to_string()),
            },
        });
    }
    (rows, skipped)
}

/// `start_time` for the next `list_jobs`: 24 h back on the first run, else 5 min before the
/// last successful poll (DECISIONS). Salt compares it with its job cache in the master's local
/// time; Halite assumes the master runs in UTC, as Salt's JIDs do.
pub fn window_start(last_polled: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let from = match last_polled {
        Some(t) => t - chrono::Duration::minutes(5),
        None => now - chrono::Duration::hours(24),
    };
    from.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Whether a function is Halite's own polling or Salt's noise (hidden unless "Include system");
/// keep in step with the `is_system` column of `jobs_index`.
pub fn is_system_function(f: &str) -> bool {
    f.starts_with("runner.")
        || f.starts_with("wheel.")
        || f.starts_with("manage.")
        || matches!(
            f,
            "saltutil.find_job" | "saltutil.running" | "sys.list_functions"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jid_parsing() {
        let t = parse_jid("20261127084920611602").unwrap();
        assert_eq!(
            crate::server::to_text(t),
            "2026-11-27T08:49:20.611Z".to_string()
        );
        assert_eq!(t.timestamp_subsec_micros(), 611602);
        assert!(parse_jid("2026112708492061160").is_none()); // 19 digits
        assert!(parse_jid("2026112708492061160x").is_none());
        assert!(parse_jid("20261327084920611602").is_none()); // month 13
        assert!(parse_jid("").is_none());
        assert!(is_jid("20260101000000000000"));
    }

    #[test]
    fn window() {
        let now = parse_jid("20261127120000000000").unwrap();
        assert_eq!(window_start(None, now), "2026-11-26 12:00:00");
        assert_eq!(window_start(Some(now), now), "2026-11-27 11:55:00");
    }

    #[test]
    fn ingest_fixture() {
        let body = include_str!("../../../tests/fixtures/salt/3008.4/list_jobs.json");
        let v = crate::salt::replies::first_return(body).unwrap();
        let jobs = crate::salt::replies::parse_list_jobs(v).unwrap();
        let (rows, skipped) = rows_from_list_jobs(&jobs);
        assert_eq!(skipped, 0);
        assert_eq!(rows.len(), jobs.len());
        let sleep = rows
            .iter()
            .find(|r| r.jid == "20261127084931524801")
            .unwrap();
        assert_eq!(sleep.function, "test.sleep");
        assert_eq!(sleep.target.as_deref(), Some("web-*"));
        assert_eq!(sleep.target_type.as_deref(), Some("glob"));
        assert_eq!(sleep.salt_user.as_deref(), Some("halite"));
        assert_eq!(
            crate::server::to_text(sleep.started_at),
            "2026-11-27T08:49:31.524Z"
        );
        assert_eq!(sleep.arguments.as_deref(), Some("[30]"));
        let list = rows
            .iter()
            .find(|r| r.jid == "20261127084927282470")
            .unwrap();
        assert_eq!(list.target.as_deref(), Some("web-01,new-01"));
        let present = rows
            .iter()
            .find(|r| r.jid == "20261127084920611602")
            .unwrap();
        assert!(is_system_function(&present.function));
        assert!(!is_system_function("test.ping"));
        assert!(is_system_function("saltutil.find_job"));
    }

    #[test]
    fn bad_jids_are_skipped_and_long_fields_clipped() {
        let jobs = vec![
            JobSummary {
                jid: "not-a-jid".into(),
                function: "test.ping".into(),
                arguments: json!([]),
                target: None,
                target_type: None,
                user: None,
                start_time: None,
            },
            JobSummary {
                jid: "20261127084920611602".into(),
                function: "x".repeat(300),
                arguments: Value::Null,
                target: Some("t".repeat(5000)),
                target_type: Some("glob".into()),
                user: None,
                start_time: None,
            },
        ];
        let (rows, skipped) = rows_from_list_jobs(&jobs);
        assert_eq!(skipped, 1);
        assert_eq!(rows[0].function.len(), 128);
        assert_eq!(rows[0].target.as_ref().unwrap().len(), 2048);
        assert_eq!(rows[0].arguments, None);
    }
}
