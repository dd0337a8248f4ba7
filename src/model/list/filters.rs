//! The list pages' own filters: Minions, Jobs and Activity.

use super::{
    flag, optional_choice, push_flag, push_str, ListFilters, ListParams, NoSort, SortColumn,
};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Longest minion id a filter may name.
pub const MAX_MINION_FILTER: usize = 255;

// ---- Minions --------------------------------------------------------------------------------

/// The Minions list's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinionSort {
    Id,
    Status,
    Os,
    Ip,
    Salt,
    Cpus,
    Mem,
}

impl SortColumn for MinionSort {
    const ALL: &'static [Self] = &[
        MinionSort::Id,
        MinionSort::Status,
        MinionSort::Os,
        MinionSort::Ip,
        MinionSort::Salt,
        MinionSort::Cpus,
        MinionSort::Mem,
    ];
    fn as_str(self) -> &'static str {
        match self {
            MinionSort::Id => "id",
            MinionSort::Status => "status",
            MinionSort::Os => "os",
            MinionSort::Ip => "ip",
            MinionSort::Salt => "salt",
            MinionSort::Cpus => "cpus",
            MinionSort::Mem => "mem",
        }
    }
}

/// The Minions list's filters: one derived status (empty: all).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinionFilters {
    pub status: String,
}

impl ListFilters for MinionFilters {
    const PATH: &'static str = "/minions";
    type Sort = MinionSort;
    /// The status, if one is picked.
    type Valid = Option<crate::model::minions::MinionStatus>;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        MinionFilters {
            status: get("status"),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "status", &self.status);
    }
    fn is_active(&self) -> bool {
        !self.status.is_empty()
    }
    fn validate(self) -> Result<Self::Valid, AppError> {
        if self.status.is_empty() {
            return Ok(None);
        }
        self.status.parse().map(Some).map_err(|_| {
            AppError::invalid(
                "status",
                format!(
                    "Status must be one of {}.",
                    crate::model::minions::STATUSES.join(", ")
                ),
            )
        })
    }
}

// ---- Jobs -----------------------------------------------------------------------------------

/// The Jobs list's filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobFilters {
    /// `running`, `complete` or empty (all).
    pub status: String,
    /// Include Halite's own runner/wheel calls and `saltutil.find_job`.
    pub system: bool,
    /// Ask the master directly instead of the index.
    pub live: bool,
}

/// [`JobFilters`] once checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobFilterQuery {
    /// `None`: every status.
    pub status: Option<crate::model::jobs::JobStatus>,
    pub system: bool,
    pub live: bool,
}

impl ListFilters for JobFilters {
    const PATH: &'static str = "/jobs";
    type Sort = NoSort;
    type Valid = JobFilterQuery;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        JobFilters {
            status: get("status"),
            system: flag(get, "system"),
            live: flag(get, "live"),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "status", &self.status);
        push_flag(out, "system", self.system);
        push_flag(out, "live", self.live);
    }
    fn is_active(&self) -> bool {
        !self.status.is_empty()
    }
    fn validate(self) -> Result<JobFilterQuery, AppError> {
        let status = optional_choice(
            "status",
            &self.status,
            "Status must be running or complete.",
        )?;
        Ok(JobFilterQuery {
            status,
            system: self.system,
            live: self.live,
        })
    }
}

// ---- Activity -------------------------------------------------------------------------------

/// The Activity list's filters (and its live-tail switch, which is URL state too).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityFilters {
    /// `job`, `key`, `minion` (or `system`); empty: all.
    pub category: String,
    /// One of [`crate::model::activity::EVENT_TYPES`]; empty: all.
    pub event_type: String,
    /// Exact minion id; empty: any.
    pub minion: String,
    /// Hide job returns that succeeded without changes.
    pub hide_routine: bool,
    /// Hide `job.new` rows.
    pub hide_dispatch: bool,
    /// One of [`crate::model::activity::RANGES`]; empty: any time.
    pub range: String,
    /// Live tail paused (`live=off`).
    pub paused: bool,
}

impl ListFilters for ActivityFilters {
    const PATH: &'static str = "/activity";
    const ANY_PAGE_SIZE: bool = true;
    type Sort = NoSort;
    type Valid = ActivityFilters;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        ActivityFilters {
            category: get("category"),
            event_type: get("event_type"),
            minion: get("minion").trim().to_string(),
            hide_routine: flag(get, "hide_routine"),
            hide_dispatch: flag(get, "hide_dispatch"),
            range: get("range"),
            paused: get("live") == "off",
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "category", &self.category);
        push_str(out, "event_type", &self.event_type);
        push_str(out, "minion", &self.minion);
        push_flag(out, "hide_routine", self.hide_routine);
        push_flag(out, "hide_dispatch", self.hide_dispatch);
        push_str(out, "range", &self.range);
        if self.paused {
            out.push("live=off".into());
        }
    }
    fn is_active(&self) -> bool {
        !self.category.is_empty()
            || !self.event_type.is_empty()
            || !self.minion.is_empty()
            || self.hide_routine
            || self.hide_dispatch
            || !self.range.is_empty()
    }
    fn validate(self) -> Result<Self, AppError> {
        use crate::model::activity::EVENT_TYPES;
        if !self.category.is_empty() && self.category().is_none() {
            return Err(AppError::invalid(
                "category",
                "Category must be job, key or minion.",
            ));
        }
        if !self.event_type.is_empty() {
            AppError::check_one_of("event_type", "Event type", &self.event_type, EVENT_TYPES)?;
        }
        AppError::check_plain_text("minion", "A minion id", &self.minion, MAX_MINION_FILTER)?;
        if !self.range.is_empty() && self.range_minutes().is_none() {
            return Err(AppError::invalid(
                "range",
                "Range must be 1h, 24h, 7d or 30d.",
            ));
        }
        Ok(ActivityFilters {
            minion: self.minion.trim().to_string(),
            ..self
        })
    }
}

impl ActivityFilters {
    /// The category, if one is picked (and valid).
    pub fn category(&self) -> Option<crate::model::activity::EventCategory> {
        self.category.parse().ok()
    }

    /// The time range in minutes (`None`: any time, or not a range the page offers).
    pub fn range_minutes(&self) -> Option<i64> {
        crate::model::activity::RANGES
            .iter()
            .find(|(r, _)| *r == self.range)
            .map(|(_, m)| *m)
    }
}

impl ListParams<ActivityFilters> {
    /// Whether a (new) event passes the search and filters, as the server's query would
    /// decide. The time range is not checked: a new event is inside any range.
    pub fn matches(&self, e: &crate::model::activity::ActivityEvent) -> bool {
        let f = &self.filters;
        if !f.category.is_empty() && e.category.as_str() != f.category {
            return false;
        }
        if !f.event_type.is_empty() && e.event_type != f.event_type {
            return false;
        }
        if !f.minion.is_empty() && e.minion_id.as_deref() != Some(f.minion.as_str()) {
            return false;
        }
        if f.hide_dispatch && e.event_type == "job.new" {
            return false;
        }
        if f.hide_routine && e.outcome() == Some("ok") {
            return false;
        }
        if !self.q.is_empty() {
            let hay = [
                Some(e.summary.as_str()),
                e.minion_id.as_deref(),
                e.fun.as_deref(),
                e.initiator.as_deref(),
                e.target.as_deref(),
                e.jid.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
            if !hay.contains(&self.q.to_lowercase()) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::list::ListQuery;

    fn err_field(e: AppError) -> String {
        assert!(matches!(e, AppError::Invalid { .. }), "not a 422: {e:?}");
        e.field().unwrap_or_default().to_string()
    }

    #[test]
    fn job_and_activity_filters() {
        let j = JobFilters {
            status: "complete".into(),
            system: true,
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(j.status, Some(crate::model::jobs::JobStatus::Complete));
        assert!(j.system && !j.live);
        assert_eq!(
            JobFilters {
                status: "all".into(),
                ..Default::default()
            }
            .validate()
            .unwrap()
            .status,
            None
        );
        assert_eq!(
            err_field(
                JobFilters {
                    status: "failed".into(),
                    ..Default::default()
                }
                .validate()
                .unwrap_err()
            ),
            "status"
        );
        // Activity takes any page size up to 500 (the Overview widget sizes its own list).
        assert_eq!(
            ListQuery::<ActivityFilters>::try_from(ListParams {
                per_page: 7,
                ..Default::default()
            })
            .unwrap()
            .per_page,
            7
        );
        let a = ActivityFilters {
            category: "key".into(),
            minion: " web-01 ".into(),
            range: "7d".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(a.category, "key");
        assert_eq!(a.minion, "web-01");
        assert_eq!(a.range_minutes(), Some(10080));
        // The field a filter with one bad value is refused on.
        let bad = |set: fn(&mut ActivityFilters)| {
            let mut f = ActivityFilters::default();
            set(&mut f);
            err_field(f.validate().unwrap_err())
        };
        assert_eq!(bad(|f| f.category = "user".into()), "category");
        assert_eq!(bad(|f| f.event_type = "job.kill".into()), "event_type");
        assert_eq!(bad(|f| f.minion = "m".repeat(256)), "minion");
        assert_eq!(bad(|f| f.range = "2h".into()), "range");
    }
}
