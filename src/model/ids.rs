//! Identifiers that are checked once, where they enter (a URL, a form, a server-function
//! argument), and then travel typed: a `MinionId`, `Jid` or `Username` is always valid.
//! Each is a string on the wire and in the database (serde `try_from`/`into` `String`, sqlx
//! transparent), so JSON and stored values are unchanged.

use crate::error::AppError;

/// A string newtype whose constructor is `$check`.
macro_rules! checked_id {
    ($(#[$m:meta])* $name:ident, $check:path) => {
        $(#[$m])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(String);

        impl $name {
            /// Check `s` and wrap it; a 422 naming the field when it is not valid.
            pub fn new(s: impl Into<String>) -> Result<Self, AppError> {
                let s = s.into();
                $check(&s)?;
                Ok($name(s))
            }
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The identifier as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = AppError;
            fn try_from(s: String) -> Result<Self, AppError> {
                $name::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = AppError;
            fn from_str(s: &str) -> Result<Self, AppError> {
                $name::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

/// Characters Salt reads as glob or list syntax in a key `match` (or as a path), never in an id.
pub const FORBIDDEN_ID_CHARS: &[char] = &['*', '?', '[', ']', ',', '/', '\\'];

/// An exact minion id as the API accepts it: 1 to 255 printable characters, no whitespace, and
/// none of `* ? [ ] , / \` (Salt would read them as a glob, a list or a path).
fn check_minion_id(id: &str) -> Result<(), AppError> {
    if id.is_empty()
        || id.chars().count() > 255
        || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AppError::invalid(
            "id",
            "A minion id is 1 to 255 printable characters without spaces.",
        ));
    }
    if let Some(c) = id.chars().find(|c| FORBIDDEN_ID_CHARS.contains(c)) {
        return Err(AppError::invalid(
            "id",
            format!(
                "{id:?} is not a minion id: {c:?} is glob or list syntax. Name each minion exactly."
            ),
        ));
    }
    Ok(())
}

/// A JID from a URL or form: 20 digits.
fn check_jid(jid: &str) -> Result<(), AppError> {
    if jid.len() == 20 && jid.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "jid",
            "A job id (JID) is 20 digits, e.g. 20261127084920611602.",
        ))
    }
}

/// A username: 1-255 characters, no control characters or surrounding spaces.
fn check_username(username: &str) -> Result<(), AppError> {
    let n = username.chars().count();
    if n == 0 || n > 255 {
        return Err(AppError::invalid(
            "username",
            "A username must be 1 to 255 characters long.",
        ));
    }
    if username.trim() != username || username.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            "username",
            "A username may not start or end with spaces or contain control characters.",
        ));
    }
    Ok(())
}

checked_id!(
    /// One exact minion id (never a glob or a list): what key actions and the minion detail
    /// page take.
    MinionId,
    check_minion_id
);

checked_id!(
    /// A Salt job id: 20 digits (`YYYYMMDDHHMMSSffffff`).
    Jid,
    check_jid
);

checked_id!(
    /// A Halite username (compared case-insensitively in the database).
    Username,
    check_username
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_check_and_serde_round_trips() {
        assert!(MinionId::new("web-01").is_ok());
        for bad in ["", "web *", "web-*", "a,b", "a/b", "x\u{7}"] {
            let e = MinionId::new(bad).unwrap_err();
            assert_eq!(e.field(), Some("id"), "{bad:?}");
        }
        assert!("20261127084920611602".parse::<Jid>().is_ok());
        assert_eq!(
            Jid::new("123").unwrap_err().field(),
            Some("jid"),
            "short JID"
        );
        assert!(Username::new("admin").is_ok());
        assert!(Username::new(" admin").is_err());
        assert!(Username::new("x".repeat(256)).is_err());

        let id = MinionId::new("web-01").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"web-01\"");
        assert_eq!(serde_json::from_str::<MinionId>("\"web-01\"").unwrap(), id);
        assert!(serde_json::from_str::<MinionId>("\"web-*\"").is_err());
        assert_eq!(id, *"web-01");
        assert_eq!(id.to_string(), "web-01");
    }
}
