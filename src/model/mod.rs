//! The vocabulary both builds share: the types server functions send and receive, the values
//! the server's stores and pollers produce, and the small pure helpers over them (validation,
//! formatting). Nothing here knows about pages, the database or Salt; `app`, `server` and `salt`
//! all import it, and it imports only `error`.

/// A closed set of values stored and sent as fixed lower-case strings: serde and (under `ssr`)
/// sqlx read and write exactly the strings given, so the database and the JSON stay as they were.
/// Generates `ALL`, `as_str`, `Display` and `FromStr` (an unknown string is a [`UnknownValue`]).
macro_rules! text_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        // `text` on Postgres (sqlx would otherwise look for a Postgres enum type of this name).
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(type_name = "text"))]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] #[cfg_attr(feature = "ssr", sqlx(rename = $s))] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored (and JSON) string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err($crate::model::UnknownValue {
                        kind: stringify!($name),
                        value: s.to_string(),
                    }),
                }
            }
        }
    };
}

/// A string that is none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

pub mod activity;
pub mod audit;
pub mod diagnostics;
pub mod fleet;
pub mod ids;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod list;
pub mod minions;
pub mod overview;
pub mod page;
pub mod palette;
pub mod roles;
pub mod run;
pub mod settings;
pub mod templates;
pub mod time;
pub mod timeline;
pub mod users;
pub mod version;
