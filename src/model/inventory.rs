//! Package inventory (SPEC 3.9, 6.9): every package on every minion as `pkg.list_pkgs` reported
//! it, the packages list, a package's version drift, the package search ("which minions run
//! openssl older than 3.0.13?") and the manual refresh. Both builds: the pages render these, the
//! server fills them from its own tables (never from a live salt-api call).

use crate::error::AppError;
use crate::model::list::{optional_choice, push_str, ListFilters, NoSort, SortColumn};
use crate::model::page::Page;
use crate::model::time;
use crate::model::version::VersionRules;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest package name or version a search takes (characters).
pub const MAX_NAME: usize = 255;
/// Longest minion id a search takes (characters).
pub const MAX_MINION: usize = 255;
/// Versions a name search compares at most; past this the answer says `truncated`.
pub const MAX_CANDIDATES: i64 = 50_000;

text_enum! {
    /// Where a minion's packages come from, from its `os_family` grain (DECISIONS): it picks the
    /// version rules. A minion of another family has no source (generic rules).
    pub enum PackageSource {
        Apt = "apt",
        Rpm = "rpm",
        Pacman = "pacman",
    }
}

impl PackageSource {
    /// Debian -> apt, RedHat/Suse -> rpm, Arch -> pacman, else none.
    pub fn from_os_family(os_family: &str) -> Option<Self> {
        match os_family {
            "Debian" => Some(PackageSource::Apt),
            "RedHat" | "Suse" => Some(PackageSource::Rpm),
            "Arch" => Some(PackageSource::Pacman),
            _ => None,
        }
    }

    /// The version rules of packages from this source (`None`: generic).
    pub fn rules(source: Option<Self>) -> VersionRules {
        match source {
            Some(PackageSource::Apt) => VersionRules::Debian,
            Some(PackageSource::Rpm) => VersionRules::Rpm,
            Some(PackageSource::Pacman) => VersionRules::Pacman,
            None => VersionRules::Generic,
        }
    }

    /// As stored: the source's name, or `""` for none.
    pub fn stored(source: Option<Self>) -> &'static str {
        source.map(Self::as_str).unwrap_or("")
    }

    /// From the stored text (`""` or anything unknown: none).
    pub fn from_stored(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

text_enum! {
    /// How a search matches package names.
    pub enum NameOp {
        Eq = "eq",
        Prefix = "prefix",
        Contains = "contains",
    }
}

text_enum! {
    /// How a search compares versions (by the package source's rules).
    pub enum VersionOp {
        Eq = "eq",
        Ne = "ne",
        Lt = "lt",
        Lte = "lte",
        Gt = "gt",
        Gte = "gte",
    }
}

impl VersionOp {
    /// Does `installed <op> wanted` hold, by `rules`?
    pub fn holds(self, rules: VersionRules, installed: &str, wanted: &str) -> bool {
        use std::cmp::Ordering::*;
        let o = rules.compare(installed, wanted);
        match self {
            VersionOp::Eq => o == Equal,
            VersionOp::Ne => o != Equal,
            VersionOp::Lt => o == Less,
            VersionOp::Lte => o != Greater,
            VersionOp::Gt => o == Greater,
            VersionOp::Gte => o != Less,
        }
    }

    /// Symbol for the page (`<`, `≤`, ...).
    pub fn symbol(self) -> &'static str {
        match self {
            VersionOp::Eq => "=",
            VersionOp::Ne => "≠",
            VersionOp::Lt => "<",
            VersionOp::Lte => "≤",
            VersionOp::Gt => ">",
            VersionOp::Gte => "≥",
        }
    }
}

/// One package name on the packages page (over every source, or the one filtered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PackageRow {
    pub name: String,
    /// Minions with any version of it installed.
    pub minion_count: i64,
    /// Distinct (version, arch) pairs installed.
    pub version_count: i64,
    /// Its sources, comma-separated (`apt`, `rpm,apt`; empty for none).
    pub sources: String,
}

/// One page of the packages list, and what the inventory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagesPage {
    #[serde(flatten)]
    pub list: Page<PackageRow>,
    pub status: InventoryStatus,
}

/// What the inventory holds and how fresh it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryStatus {
    /// Minions with a collected package list.
    pub minions: i64,
    /// Distinct package names.
    pub packages: i64,
    /// (minion, package version) facts.
    pub installed: i64,
    #[serde(with = "time::utc::option")]
    pub newest_collected_at: Option<DateTime<Utc>>,
    #[serde(with = "time::utc::option")]
    pub oldest_collected_at: Option<DateTime<Utc>>,
    /// Settings → Pollers: minutes between collections (0: off).
    pub refresh_minutes: i64,
    /// The caller may refresh (`collect:inventory:*`).
    pub can_refresh: bool,
}

/// One installed version of a package: a row of the drift view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct VersionRow {
    /// The version's id (to list its minions).
    pub id: i64,
    pub version: String,
    /// Empty when the package manager named none.
    pub arch: String,
    /// `apt`, `rpm`, `pacman` or empty.
    pub source: String,
    pub minion_count: i64,
}

/// A package's version drift (`/inventory/:name`): newest version first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageVersions {
    pub name: String,
    /// Minions with the package (any version).
    pub minion_count: i64,
    pub versions: Vec<VersionRow>,
}

/// A minion that has one version (the drift view's minion list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct VersionMinion {
    pub minion_id: String,
    /// When its package list was collected (an old time: the minion did not answer since).
    #[serde(with = "time::utc")]
    pub collected_at: DateTime<Utc>,
}

/// The minions of one version, a page at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMinions {
    pub version: VersionRow,
    pub name: String,
    #[serde(flatten)]
    pub list: Page<VersionMinion>,
}

/// One search hit: a package version installed on a minion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PackageHit {
    pub minion_id: String,
    pub name: String,
    pub version: String,
    pub arch: String,
    pub source: String,
    #[serde(with = "time::utc")]
    pub collected_at: DateTime<Utc>,
}

/// One page of search hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    #[serde(flatten)]
    pub list: Page<PackageHit>,
    /// More than [`MAX_CANDIDATES`] versions matched the name: narrow it.
    pub truncated: bool,
}

/// The packages list's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageSort {
    Name,
    Minions,
    Versions,
}

impl SortColumn for PackageSort {
    const ALL: &'static [Self] = &[
        PackageSort::Name,
        PackageSort::Minions,
        PackageSort::Versions,
    ];
    fn as_str(self) -> &'static str {
        match self {
            PackageSort::Name => "name",
            PackageSort::Minions => "minions",
            PackageSort::Versions => "versions",
        }
    }
}

/// The packages list's filter: a source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageFilters {
    pub source: String,
}

fn source_choice(s: &str) -> Result<Option<PackageSource>, AppError> {
    optional_choice("source", s, "Source must be apt, rpm or pacman.")
}

impl ListFilters for PackageFilters {
    const PATH: &'static str = "/inventory";
    type Sort = PackageSort;
    type Valid = Option<PackageSource>;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        PackageFilters {
            source: get("source"),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "source", &self.source);
    }
    fn is_active(&self) -> bool {
        !self.source.is_empty()
    }
    fn validate(self) -> Result<Self::Valid, AppError> {
        source_choice(&self.source)
    }
}

/// The package search's fields (SPEC 6.9 row search), as in the URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchFilters {
    pub name: String,
    /// `eq` (default), `prefix` or `contains`.
    pub name_op: String,
    pub version: String,
    /// `eq`, `ne`, `lt`, `lte`, `gt`, `gte`; needed with a version.
    pub version_op: String,
    pub source: String,
    pub minion: String,
}

/// [`SearchFilters`] once checked: a name or a minion (or both) is always there.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageSearch {
    pub name: Option<(NameOp, String)>,
    pub version: Option<(VersionOp, String)>,
    pub source: Option<PackageSource>,
    pub minion: Option<String>,
}

fn text_field(
    field: &'static str,
    label: &str,
    s: &str,
    max: usize,
) -> Result<Option<String>, AppError> {
    let s = s.trim();
    AppError::check_max_chars(field, label, s, max)?;
    if s.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{label} may not contain control characters."),
        ));
    }
    Ok((!s.is_empty()).then(|| s.to_string()))
}

impl ListFilters for SearchFilters {
    const PATH: &'static str = "/inventory/search";
    type Sort = NoSort;
    type Valid = PackageSearch;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        SearchFilters {
            name: get("name"),
            name_op: get("name_op"),
            version: get("version"),
            version_op: get("version_op"),
            source: get("source"),
            minion: get("minion"),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "name", &self.name);
        push_str(out, "name_op", &self.name_op);
        push_str(out, "version", &self.version);
        push_str(out, "version_op", &self.version_op);
        push_str(out, "source", &self.source);
        push_str(out, "minion", &self.minion);
    }
    fn is_active(&self) -> bool {
        !self.name.is_empty() || !self.minion.is_empty()
    }
    fn validate(self) -> Result<Self::Valid, AppError> {
        let name = text_field("name", "The package name", &self.name, MAX_NAME)?;
        let name_op: NameOp = optional_choice(
            "name_op",
            &self.name_op,
            "Name match must be eq, prefix or contains.",
        )?
        .unwrap_or(NameOp::Eq);
        let version = text_field("version", "The version", &self.version, MAX_NAME)?;
        let version_op: Option<VersionOp> = optional_choice(
            "version_op",
            &self.version_op,
            "Version comparison must be eq, ne, lt, lte, gt or gte.",
        )?;
        let version = match (version, version_op) {
            (Some(v), Some(op)) => Some((op, v)),
            (Some(v), None) => Some((VersionOp::Eq, v)),
            (None, Some(_)) => {
                return Err(AppError::invalid(
                    "version",
                    "Enter the version to compare with, e.g. 3.0.13.",
                ))
            }
            (None, None) => None,
        };
        let minion = text_field("minion", "The minion id", &self.minion, MAX_MINION)?;
        if name.is_none() && minion.is_none() {
            return Err(AppError::invalid(
                "name",
                "Enter a package name or a minion id to search for.",
            ));
        }
        Ok(PackageSearch {
            name: name.map(|n| (name_op, n)),
            version,
            source: source_choice(&self.source)?,
            minion,
        })
    }
}

/// How far a refresh has got (the page polls it while the refresh runs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshProgress {
    /// Minions the target matched.
    pub targeted: i64,
    /// Minions whose answer (or silence) is known.
    pub answered: i64,
    /// Minions whose packages were stored.
    pub refreshed: i64,
    pub done: bool,
}

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshSummary {
    pub minions_targeted: i64,
    pub minions_refreshed: i64,
    /// Packages stored per refreshed minion.
    pub package_counts: BTreeMap<String, i64>,
    /// Targeted minions that did not answer (their previous rows are kept).
    pub no_answer: Vec<String>,
    /// Minions that answered with something that is not a package list (why, per minion).
    pub errors: BTreeMap<String, String>,
    /// Minions whose packages were dropped because their key is no longer accepted.
    pub forgotten: i64,
    pub duration_ms: i64,
}

/// A refresh's progress id from the page: 8 to 64 letters, digits or dashes.
pub fn validate_progress_id(s: &str) -> Result<String, AppError> {
    let ok =
        (8..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(AppError::invalid("progress", "That is not a refresh id."));
    }
    Ok(s.to_string())
}

/// A package name in a path (`/inventory/:name`): 1 to [`MAX_NAME`] characters, no control
/// characters.
pub fn validate_package_name(s: &str) -> Result<String, AppError> {
    text_field("name", "The package name", s, MAX_NAME)?
        .ok_or_else(|| AppError::invalid("name", "Name a package."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(name: &str, op: &str, version: &str, vop: &str, minion: &str) -> SearchFilters {
        SearchFilters {
            name: name.into(),
            name_op: op.into(),
            version: version.into(),
            version_op: vop.into(),
            source: String::new(),
            minion: minion.into(),
        }
    }

    #[test]
    fn search_validation() {
        let s = search(" openssl ", "", "3.0.13", "lt", "")
            .validate()
            .unwrap();
        assert_eq!(s.name, Some((NameOp::Eq, "openssl".into())));
        assert_eq!(s.version, Some((VersionOp::Lt, "3.0.13".into())));
        assert_eq!(
            search("", "", "", "", "").validate().unwrap_err().field(),
            Some("name")
        );
        assert_eq!(
            search("bash", "like", "", "", "")
                .validate()
                .unwrap_err()
                .field(),
            Some("name_op")
        );
        assert_eq!(
            search("bash", "", "", "lt", "")
                .validate()
                .unwrap_err()
                .field(),
            Some("version")
        );
        assert_eq!(
            search("bash", "", "1", "older", "")
                .validate()
                .unwrap_err()
                .field(),
            Some("version_op")
        );
        assert_eq!(
            search(&"x".repeat(256), "", "", "", "")
                .validate()
                .unwrap_err()
                .field(),
            Some("name")
        );
        assert_eq!(
            search("a\u{0}b", "", "", "", "")
                .validate()
                .unwrap_err()
                .field(),
            Some("name")
        );
        let m = search("", "", "", "", "web-01").validate().unwrap();
        assert_eq!(m.minion.as_deref(), Some("web-01"));
        assert!(m.name.is_none());
    }

    #[test]
    fn sources_and_ops() {
        assert_eq!(
            PackageSource::from_os_family("Debian"),
            Some(PackageSource::Apt)
        );
        assert_eq!(
            PackageSource::from_os_family("Suse"),
            Some(PackageSource::Rpm)
        );
        assert_eq!(
            PackageSource::from_os_family("Arch"),
            Some(PackageSource::Pacman)
        );
        assert_eq!(PackageSource::from_os_family("Windows"), None);
        let deb = PackageSource::rules(Some(PackageSource::Apt));
        assert!(VersionOp::Lt.holds(deb, "3.0.11-1~deb12u2", "3.0.13"));
        assert!(!VersionOp::Lt.holds(deb, "3.0.13-1~deb12u1", "3.0.13"));
        assert!(VersionOp::Lt.holds(deb, "3.0.13~rc1", "3.0.13"));
        assert!(VersionOp::Gte.holds(deb, "1:1.0", "2.0"));
        assert!(validate_progress_id("abc-1234").is_ok());
        assert!(validate_progress_id("abc").is_err());
        assert!(validate_progress_id("../../../etc/x").is_err());
    }
}
