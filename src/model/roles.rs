//! Roles administration and effective access: the types the Roles pages and the access check
//! exchange, the roles list's filters, and the vocabulary a permission row may use (verbs and
//! resource kinds). The rules that check a row live in `server::roles::validate` (they need the
//! glob reasoning of `server::sqlglob`).

use crate::error::AppError;
use crate::model::list::{ListFilters, SortColumn};
use crate::model::page::Page;
use serde::{Deserialize, Serialize};

/// Every verb an endpoint checks (SPEC 5.4 and DECISIONS), in the order the pickers show them.
pub const KNOWN_VERBS: &[&str] = &[
    "view",
    "run",
    "accept",
    "reject",
    "delete",
    "execute",
    "kill",
    "collect",
    "edit",
    "manage_user",
    "manage_role",
];

/// Every resource kind a grant's glob may name before its `:`.
pub const KNOWN_KINDS: &[&str] = &[
    "minion",
    "key",
    "job",
    "salt",
    "inventory",
    "audit",
    "settings",
    "setting",
    "user",
    "role",
    "grain",
    "pillar",
    "event",
];

/// Longest role name.
pub const MAX_ROLE_NAME: usize = 64;
/// Longest role description.
pub const MAX_ROLE_DESCRIPTION: usize = 255;
/// Longest verb of a grant.
pub const MAX_VERB: usize = 64;
/// Longest resource glob of a grant (and concrete resource of an access check).
pub const MAX_RESOURCE: usize = 255;
/// Sample names a preview shows per kind.
pub const PREVIEW_SAMPLES: usize = 10;
/// Minion ids the access page's picker offers at most.
pub const PICKER_LIMIT: i64 = 50;

/// One row of the roles list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoleSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_builtin: bool,
    pub member_count: i64,
    pub permission_count: i64,
}

/// One permission row of a role: `(verb, resource_glob)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Grant {
    pub id: String,
    pub verb: String,
    pub resource_glob: String,
}

impl Grant {
    /// `verb:resource_glob`, as the docs write a permission.
    pub fn label(&self) -> String {
        format!("{}:{}", self.verb, self.resource_glob)
    }
}

/// A user holding a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoleMember {
    pub id: String,
    pub username: String,
    pub is_active: bool,
}

/// A role with its permissions and members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDetail {
    pub role: RoleSummary,
    pub permissions: Vec<Grant>,
    pub members: Vec<RoleMember>,
}

/// One page of roles.
pub type RolePage = Page<RoleSummary>;

/// The roles list's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSort {
    Name,
    Members,
    Permissions,
}

impl SortColumn for RoleSort {
    const ALL: &'static [Self] = &[RoleSort::Name, RoleSort::Members, RoleSort::Permissions];
    fn as_str(self) -> &'static str {
        match self {
            RoleSort::Name => "name",
            RoleSort::Members => "members",
            RoleSort::Permissions => "permissions",
        }
    }
}

/// The roles list has a search (name, description) and no other filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleFilters;

impl ListFilters for RoleFilters {
    const PATH: &'static str = "/roles";
    type Sort = RoleSort;
    type Valid = ();
    fn from_query(_get: &dyn Fn(&str) -> String) -> Self {
        RoleFilters
    }
    fn to_query(&self, _out: &mut Vec<String>) {}
    fn is_active(&self) -> bool {
        false
    }
    fn validate(self) -> Result<(), AppError> {
        Ok(())
    }
}

/// What a grant's resource glob matches among one kind of current rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindMatch {
    pub count: i64,
    /// Up to [`PREVIEW_SAMPLES`] names, in order (keys carry their state: `web-01 (pending)`).
    pub samples: Vec<String>,
}

/// What a grant would match among the minions, keys and jobs the asker may view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchPreview {
    pub minions: KindMatch,
    pub keys: KindMatch,
    pub jobs: KindMatch,
}

fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl MatchPreview {
    /// One line: `matches 12 minions: web-01, web-02, ... · 1 key · 0 jobs`.
    pub fn summary(&self) -> String {
        let part = |m: &KindMatch, one: &str, many: &str| {
            let mut s = counted(m.count, one, many);
            if !m.samples.is_empty() {
                s.push_str(": ");
                s.push_str(&m.samples.join(", "));
                if m.count > m.samples.len() as i64 {
                    s.push_str(", ...");
                }
            }
            s
        };
        format!(
            "matches {} · {} · {}",
            part(&self.minions, "minion", "minions"),
            part(&self.keys, "key", "keys"),
            part(&self.jobs, "job", "jobs")
        )
    }
}

/// A grant a user holds, with the role it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserGrant {
    pub role_id: String,
    pub role_name: String,
    pub verb: String,
    pub resource_glob: String,
}

impl UserGrant {
    /// `verb:resource_glob`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.verb, self.resource_glob)
    }
}

/// The answer to "may this user do `verb` on `resource`?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessCheck {
    pub allowed: bool,
    /// The grant that allowed it (the first match in role-name order); `None` when denied.
    pub decided_by: Option<UserGrant>,
    /// The verdict as shown: `Allowed by role ops grant accept:key:new-*`,
    /// `Denied: no grant matches`, `Denied: user inactive`.
    pub reason: String,
}

/// Check a role name: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn validate_role_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_ROLE_NAME {
        return Err(AppError::invalid(
            "name",
            format!("A role name is 1 to {MAX_ROLE_NAME} characters."),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(AppError::invalid(
            "name",
            "A role name may hold only letters, digits, '-', '_' and '.'.",
        ));
    }
    Ok(name.to_string())
}

/// Check a role description: at most 255 characters, no control characters (trimmed).
pub fn validate_description(description: &str) -> Result<String, AppError> {
    let d = description.trim();
    if d.chars().count() > MAX_ROLE_DESCRIPTION {
        return Err(AppError::invalid(
            "description",
            format!("A description is at most {MAX_ROLE_DESCRIPTION} characters."),
        ));
    }
    if d.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "description",
            "A description cannot hold control characters or line breaks.",
        ));
    }
    Ok(d.to_string())
}

/// Check a concrete verb (an access check asks about one verb, not a glob).
pub fn validate_known_verb(verb: &str) -> Result<String, AppError> {
    let verb = verb.trim();
    if KNOWN_VERBS.contains(&verb) {
        return Ok(verb.to_string());
    }
    Err(AppError::invalid(
        "verb",
        format!(
            "Unknown verb {verb:?}: use one of {}.",
            KNOWN_VERBS.join(", ")
        ),
    ))
}

/// Check a concrete resource (`key:web-01`): 1 to 255 characters, no whitespace or control
/// characters.
pub fn validate_resource(resource: &str) -> Result<String, AppError> {
    let r = resource.trim();
    if r.is_empty() || r.chars().count() > MAX_RESOURCE {
        return Err(AppError::invalid(
            "resource",
            format!("A resource is 1 to {MAX_RESOURCE} characters, like key:web-01."),
        ));
    }
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AppError::invalid(
            "resource",
            "A resource cannot hold spaces or control characters.",
        ));
    }
    Ok(r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert_eq!(validate_role_name(" key-ops ").unwrap(), "key-ops");
        assert!(validate_role_name("a.b_c-1").is_ok());
        assert!(validate_role_name("").is_err());
        assert!(validate_role_name("has space").is_err());
        assert!(validate_role_name("semi;colon").is_err());
        assert!(validate_role_name(&"x".repeat(65)).is_err());
        assert!(validate_role_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn descriptions_and_resources() {
        assert!(validate_description(&"d".repeat(255)).is_ok());
        assert!(validate_description(&"d".repeat(256)).is_err());
        assert!(validate_description("two\nlines").is_err());
        assert!(validate_resource("key:web-01").is_ok());
        assert!(validate_resource("key:web 01").is_err());
        assert!(validate_resource("").is_err());
        assert!(validate_known_verb("accept").is_ok());
        let e = validate_known_verb("acept").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Unknown verb \"acept\": use one of view, run"));
    }

    #[test]
    fn preview_summary() {
        let p = MatchPreview {
            minions: KindMatch {
                count: 12,
                samples: vec!["web-01".into(), "web-02".into()],
            },
            keys: KindMatch {
                count: 1,
                samples: vec!["web-03 (pending)".into()],
            },
            jobs: KindMatch::default(),
        };
        assert_eq!(
            p.summary(),
            "matches 12 minions: web-01, web-02, ... · 1 key: web-03 (pending) · 0 jobs"
        );
    }
}
