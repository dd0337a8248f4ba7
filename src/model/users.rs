//! Users administration: the list rows and detail, the list's filters and sort columns, and the
//! validation of a user's fields (both builds: the form shows the same limits the server checks).

use crate::error::AppError;
use crate::model::list::{push_str, ListFilters, SortColumn};
use crate::model::page::Page;
use crate::model::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::model::ids::Username;

/// Longest display name (characters).
pub const MAX_DISPLAY_NAME: usize = 255;
/// Longest e-mail address (characters).
pub const MAX_EMAIL: usize = 320;

/// A role as a user holds it (or may be given it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

/// One user, as the list and the detail page show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: String,
    pub username: Username,
    pub display_name: String,
    pub email: Option<String>,
    pub is_active: bool,
    pub is_builtin: bool,
    pub must_change_pw: bool,
    #[serde(with = "time::utc")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::utc::option")]
    pub last_login_at: Option<DateTime<Utc>>,
    pub roles: Vec<RoleRef>,
}

/// How many users the search matches, active and not (the filter chips' counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveCounts {
    pub active: i64,
    pub inactive: i64,
}

impl ActiveCounts {
    /// The count for a filter value (`""`: all).
    pub fn get(&self, filter: &str) -> i64 {
        match filter {
            "active" => self.active,
            "inactive" => self.inactive,
            _ => self.active + self.inactive,
        }
    }
}

/// One page of users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    #[serde(flatten)]
    pub list: Page<UserSummary>,
    pub counts: ActiveCounts,
}

/// The Users list's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    Username,
    DisplayName,
    Email,
    LastLogin,
    Created,
}

impl SortColumn for UserSort {
    const ALL: &'static [Self] = &[
        UserSort::Username,
        UserSort::DisplayName,
        UserSort::Email,
        UserSort::LastLogin,
        UserSort::Created,
    ];
    fn as_str(self) -> &'static str {
        match self {
            UserSort::Username => "username",
            UserSort::DisplayName => "display_name",
            UserSort::Email => "email",
            UserSort::LastLogin => "last_login",
            UserSort::Created => "created",
        }
    }
}

/// The active filter's values (empty: all).
pub const ACTIVE_FILTERS: &[&str] = &["active", "inactive"];

/// The Users list's filters: `active` is `""`, `active` or `inactive`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserFilters {
    pub active: String,
}

impl ListFilters for UserFilters {
    const PATH: &'static str = "/users";
    type Sort = UserSort;
    /// `None`: everyone; `Some(true)`: active users only.
    type Valid = Option<bool>;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        UserFilters {
            active: get("active"),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "active", &self.active);
    }
    fn is_active(&self) -> bool {
        !self.active.is_empty()
    }
    fn validate(self) -> Result<Self::Valid, AppError> {
        match self.active.as_str() {
            "" => Ok(None),
            "active" => Ok(Some(true)),
            "inactive" => Ok(Some(false)),
            _ => Err(AppError::invalid(
                "active",
                "The active filter must be active, inactive or empty.",
            )),
        }
    }
}

/// A display name, trimmed: at most [`MAX_DISPLAY_NAME`] characters, no control characters.
pub fn validate_display_name(s: &str) -> Result<String, AppError> {
    AppError::check_plain_text("display_name", "The display name", s, MAX_DISPLAY_NAME)
        .map(str::to_string)
}

/// An optional e-mail address, trimmed (`None` when empty): at most [`MAX_EMAIL`] characters,
/// exactly one `@` with text on both sides, no spaces or control characters.
pub fn validate_email(s: &str) -> Result<Option<String>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = |m: &str| Err(AppError::invalid("email", m.to_string()));
    if s.chars().count() > MAX_EMAIL {
        return bad(&format!(
            "The e-mail address is limited to {MAX_EMAIL} characters."
        ));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("The e-mail address may not contain spaces.");
    }
    match s.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(Some(s.to_string()))
        }
        _ => bad("The e-mail address must look like name@example.com (one @)."),
    }
}

/// A user or role id from a form: 1 to 64 characters of letters, digits and `-`.
pub fn validate_id(field: &'static str, s: &str) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(AppError::invalid(field, "That is not a valid id."));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(validate_email(" ").unwrap(), None);
        assert_eq!(validate_email(" a@b.c ").unwrap().as_deref(), Some("a@b.c"));
        for bad in ["a", "a@", "@b", "a@b@c", "a b@c", "a@b\tc"] {
            assert_eq!(
                validate_email(bad).unwrap_err().field(),
                Some("email"),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "x".repeat(320));
        assert!(validate_email(&long).is_err());
    }

    #[test]
    fn display_names_and_filters() {
        assert_eq!(validate_display_name("  Ann ").unwrap(), "Ann");
        assert!(validate_display_name(&"x".repeat(256)).is_err());
        assert!(validate_display_name(&"x".repeat(255)).is_ok());
        assert_eq!(
            UserFilters {
                active: "inactive".into()
            }
            .validate()
            .unwrap(),
            Some(false)
        );
        assert!(UserFilters {
            active: "yes".into()
        }
        .validate()
        .is_err());
        assert!(validate_id("id", "ab-12").is_ok());
        assert!(validate_id("id", "a b").is_err());
    }
}
