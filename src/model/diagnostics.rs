//! The Diagnostics report (`/diagnostics`, `halite admin check`): one verdict per check, what
//! was measured, and for anything not passing the exact fix.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

text_enum! {
    /// A check's outcome. `skip`: it could not run because an earlier check failed (or it does
    /// not apply here); it never makes the report fail by itself.
    pub enum Verdict {
        Pass = "pass",
        Warn = "warn",
        Fail = "fail",
        Skip = "skip",
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id (`salt_api.reachable`, `netapi.clients`, ...), for scripts reading `--json`.
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    /// What was measured, in words (latency, versions, counts...).
    pub measured: String,
    /// The fix, when the verdict is not `pass`: a master-config snippet to paste or the Halite
    /// setting to change.
    pub fix: Option<String>,
}

impl Check {
    pub fn new(id: &str, title: &str, verdict: Verdict, measured: impl Into<String>) -> Self {
        Check {
            id: id.to_string(),
            title: title.to_string(),
            verdict,
            measured: measured.into(),
            fix: None,
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(with = "crate::model::time::utc")]
    pub at: DateTime<Utc>,
    /// Which Halite ran it (version and build).
    pub halite: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// How many checks have `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The report's worst verdict (`skip` counts as nothing).
    pub fn worst(&self) -> Verdict {
        if self.count(Verdict::Fail) > 0 {
            Verdict::Fail
        } else if self.count(Verdict::Warn) > 0 {
            Verdict::Warn
        } else {
            Verdict::Pass
        }
    }

    /// Plain text, for the clipboard and the terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Halite diagnostics, {} ({})\n{} pass, {} warn, {} fail, {} skipped\n",
            crate::model::time::rfc3339(&self.at),
            self.halite,
            self.count(Verdict::Pass),
            self.count(Verdict::Warn),
            self.count(Verdict::Fail),
            self.count(Verdict::Skip),
        );
        for c in &self.checks {
            out.push_str(&format!(
                "\n[{}] {} ({})\n    {}\n",
                c.verdict.as_str().to_uppercase(),
                c.title,
                c.id,
                c.measured
            ));
            if let Some(fix) = &c.fix {
                out.push_str("    fix:\n");
                for line in fix.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_wins_and_skips_do_not_count() {
        let mut r = Report {
            at: Utc::now(),
            halite: "0.1.0".into(),
            checks: vec![Check::new("a", "A", Verdict::Pass, "fine")],
        };
        assert_eq!(r.worst(), Verdict::Pass);
        r.checks
            .push(Check::new("b", "B", Verdict::Skip, "not run"));
        assert_eq!(r.worst(), Verdict::Pass);
        r.checks
            .push(Check::new("c", "C", Verdict::Warn, "slow").fix("do this"));
        assert_eq!(r.worst(), Verdict::Warn);
        r.checks.push(Check::new("d", "D", Verdict::Fail, "down"));
        assert_eq!(r.worst(), Verdict::Fail);
        let text = r.to_text();
        assert!(text.contains("1 pass, 1 warn, 1 fail, 1 skipped"), "{text}");
        assert!(
            text.contains("[WARN] C (c)\n    slow\n    fix:\n      do this\n"),
            "{text}"
        );
    }
}
