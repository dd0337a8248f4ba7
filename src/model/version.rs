//! PLACEHOLDER (replaced by the version helper's module): version rules per package source.
use std::cmp::Ordering;

/// Which rules compare two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum VersionRules {
    Debian,
    Rpm,
    Pacman,
    Generic,
}

impl VersionRules {
    /// Compare two versions by these rules.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        a.cmp(b)
    }
}
