//! The audit log as the Audit page, its export and `halite admin audit` read it: the row, the
//! decision, the filters (in the URL like every list) and the page type.

use crate::error::AppError;
use crate::model::list::{optional_choice, push_str, ListFilters, NoSort};
use crate::model::page::Page;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

text_enum! {
    /// Whether the action was allowed or refused (`audit_log.decision`).
    pub enum Decision {
        Allow = "allow",
        Deny = "deny",
    }
}

/// One audit row. `args_json` is redacted when written and again when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditRow {
    pub id: i64,
    #[serde(with = "crate::model::time::utc")]
    pub at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub action: String,
    pub resource: String,
    pub args_json: Option<String>,
    pub salt_jid: Option<String>,
    pub decision: Decision,
    pub result_code: i64,
    pub duration_ms: i64,
    pub ip: String,
}

/// One page of the audit log, newest first, with the actions that exist (the filter's picker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    #[serde(flatten)]
    pub list: Page<AuditRow>,
    pub actions: Vec<String>,
}

/// Longest username a filter may name.
pub const MAX_USER_FILTER: usize = 255;
/// Longest action a filter may name.
pub const MAX_ACTION_FILTER: usize = 128;
/// Longest "resource contains" text.
pub const MAX_RESOURCE_FILTER: usize = 255;
/// Longest time text (`since`, `until`).
pub const MAX_TIME_FILTER: usize = 64;

/// The Audit page's filters, as in its URL (unchecked text).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilters {
    /// Username, exact (case-insensitive).
    pub user: String,
    /// Action, exact (`user.create`).
    pub action: String,
    /// `allow`, `deny` or empty (both).
    pub decision: String,
    /// Text the resource contains.
    pub resource: String,
    /// Inclusive lower bound: RFC 3339, `YYYY-MM-DDTHH:MM[:SS]` (UTC, what a datetime-local
    /// input sends) or a span back from now (`30m`, `24h`, `7d`).
    pub since: String,
    /// Exclusive upper bound, same forms.
    pub until: String,
}

/// [`AuditFilters`] once checked: what the store query takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub action: Option<String>,
    pub decision: Option<Decision>,
    pub resource: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl AuditQuery {
    /// The filters as an audit row's arguments (`export.audit`).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "user": self.user,
            "action": self.action,
            "decision": self.decision,
            "resource": self.resource,
            "since": self.since.as_ref().map(crate::model::time::rfc3339),
            "until": self.until.as_ref().map(crate::model::time::rfc3339),
        })
    }
}

fn checked_text(field: &str, label: &str, v: &str, max: usize) -> Result<Option<String>, AppError> {
    let v = AppError::check_plain_text(field, label, v, max)?;
    Ok((!v.is_empty()).then(|| v.to_string()))
}

/// A time bound as the filters take it (see [`AuditFilters::since`]); `None` when empty.
pub fn parse_time(
    field: &str,
    v: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || {
        AppError::invalid(
            field,
            format!(
                "{v:?} is not a time: use a date and time such as 2026-11-30T08:00 (UTC), \
                 RFC 3339 (2026-11-30T08:00:00Z) or a span back from now (30m, 24h, 7d)."
            ),
        )
    };
    if v.chars().count() > MAX_TIME_FILTER {
        return Err(bad());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(Some(t.and_utc()));
        }
    }
    let unit_at = v.char_indices().last().map_or(0, |(i, _)| i);
    let (n, unit) = v.split_at(unit_at);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let span = match unit {
        "m" if (1..=525_600).contains(&n) => chrono::Duration::minutes(n),
        "h" if (1..=87_600).contains(&n) => chrono::Duration::hours(n),
        "d" if (1..=3_650).contains(&n) => chrono::Duration::days(n),
        _ => return Err(bad()),
    };
    Ok(Some(now - span))
}

impl AuditFilters {
    /// Check the filters against `now` (for spans such as `24h`).
    pub fn validate_at(self, now: DateTime<Utc>) -> Result<AuditQuery, AppError> {
        let user = checked_text("user", "The user", &self.user, MAX_USER_FILTER)?;
        let action = checked_text("action", "The action", &self.action, MAX_ACTION_FILTER)?;
        let resource = checked_text(
            "resource",
            "The resource text",
            &self.resource,
            MAX_RESOURCE_FILTER,
        )?;
        let decision = optional_choice(
            "decision",
            self.decision.trim(),
            "Decision must be allow or deny.",
        )?;
        let since = parse_time("since", &self.since, now)?;
        let until = parse_time("until", &self.until, now)?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(AppError::invalid(
                    "until",
                    "The end of the time range must be after its start.",
                ));
            }
        }
        Ok(AuditQuery {
            user,
            action,
            decision,
            resource,
            since,
            until,
        })
    }
}

impl ListFilters for AuditFilters {
    const PATH: &'static str = "/audit";
    type Sort = NoSort;
    type Valid = AuditQuery;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        AuditFilters {
            user: get("user").trim().to_string(),
            action: get("action"),
            decision: get("decision"),
            resource: get("resource").trim().to_string(),
            since: get("since").trim().to_string(),
            until: get("until").trim().to_string(),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "user", &self.user);
        push_str(out, "action", &self.action);
        push_str(out, "decision", &self.decision);
        push_str(out, "resource", &self.resource);
        push_str(out, "since", &self.since);
        push_str(out, "until", &self.until);
    }
    fn is_active(&self) -> bool {
        [
            &self.user,
            &self.action,
            &self.decision,
            &self.resource,
            &self.since,
            &self.until,
        ]
        .iter()
        .any(|v| !v.is_empty())
    }
    /// Only ever called on the server (spans are measured from the server's clock).
    fn validate(self) -> Result<AuditQuery, AppError> {
        self.validate_at(Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    #[test]
    fn times_in_every_form() {
        let t = |v: &str| parse_time("since", v, now()).unwrap().unwrap();
        let at8 = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        assert_eq!(t("2026-11-30T08:00"), at8);
        assert_eq!(t("2026-11-30T08:00:00"), at8);
        assert_eq!(t("2026-11-30T08:00:00Z"), at8);
        assert_eq!(t("2026-11-30T09:00:00+01:00"), at8);
        assert_eq!(t("4h"), at8);
        assert_eq!(t("240m"), at8);
        assert_eq!(t("1d"), now() - chrono::Duration::days(1));
        assert_eq!(parse_time("since", " ", now()).unwrap(), None);
        for bad in [
            "yesterday",
            "0h",
            "5w",
            "2026-13-01T00:00",
            "h",
            "-3d",
            "9999999d",
            "5é",
        ] {
            let e = parse_time("since", bad, now()).unwrap_err();
            assert_eq!(e.field(), Some("since"), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let f = |f: AuditFilters| {
            f.validate_at(now())
                .unwrap_err()
                .field()
                .map(str::to_string)
        };
        let base = AuditFilters::default();
        assert_eq!(
            f(AuditFilters {
                decision: "maybe".into(),
                ..base.clone()
            }),
            Some("decision".into())
        );
        assert_eq!(
            f(AuditFilters {
                since: "2026-11-30T10:00".into(),
                until: "2026-11-30T10:00".into(),
                ..base.clone()
            }),
            Some("until".into())
        );
        assert_eq!(
            f(AuditFilters {
                user: "u".repeat(256),
                ..base.clone()
            }),
            Some("user".into())
        );
        let ok = AuditFilters {
            user: " Alice ".into(),
            decision: "deny".into(),
            since: "24h".into(),
            ..base
        }
        .validate_at(now())
        .unwrap();
        assert_eq!(ok.user.as_deref(), Some("Alice"));
        assert_eq!(ok.decision, Some(Decision::Deny));
        assert_eq!(ok.since, Some(now() - chrono::Duration::hours(24)));
        assert_eq!(ok.action, None);
    }

    #[test]
    fn url_round_trip() {
        let f = AuditFilters {
            user: "bob".into(),
            action: "user.create".into(),
            decision: "allow".into(),
            resource: "web 1".into(),
            since: "2026-11-30T08:00".into(),
            until: String::new(),
        };
        let p = crate::model::list::ListParams::default().with_filters(f.clone());
        assert_eq!(
            p.href(),
            "/audit?user=bob&action=user.create&decision=allow&resource=web%201&since=2026-11-30T08%3A00"
        );
        assert!(p.filtered());
        let back = AuditFilters::from_query(&|k| match k {
            "user" => "bob".into(),
            "action" => "user.create".into(),
            "decision" => "allow".into(),
            "resource" => "web 1".into(),
            "since" => "2026-11-30T08:00".into(),
            _ => String::new(),
        });
        assert_eq!(back, f);
    }
}
