//! Timestamps as Halite shows them.

/// `2026-11-27T08:53:05.123Z` -> `2026-11-27 08:53:05 UTC` (times are shown in UTC, as Salt's JIDs).
pub fn short_time(rfc3339: &str) -> String {
    let t = rfc3339.replace('T', " ");
    let t = t
        .split('.')
        .next()
        .unwrap_or(&t)
        .trim_end_matches('Z')
        .to_string();
    format!("{t} UTC")
}

/// A UTC time as Halite shows it: `2026-11-27 08:53:05 UTC` (same text as [`short_time`]).
pub fn short_utc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A UTC time as RFC 3339 text with milliseconds and `Z` (`2026-11-27T08:53:05.123Z`): the
/// form the database stores and the JSON carries.
pub fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `#[serde(with = "crate::model::time::utc")]`: a `DateTime<Utc>` on the wire as
/// [`rfc3339`] text (chrono's own serializer would drop `.000`), read back from any RFC 3339.
/// A duration in milliseconds as people read it: `850 ms`, `12.3 s`, `2m 05s`; `—` for a value
/// that is not a finite, non-negative number.
pub fn duration_ms_text(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".into();
    }
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as i64;
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

pub mod utc {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(d)
    }

    /// The same for `Option<DateTime<Utc>>` (`null` for `None`).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&super::super::rfc3339(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<DateTime<Utc>>::deserialize(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn utc_keeps_the_stored_text() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "utc")]
            at: chrono::DateTime<Utc>,
            #[serde(with = "utc::option")]
            maybe: Option<chrono::DateTime<Utc>>,
        }
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 8, 53, 5).unwrap();
        let t = T {
            at,
            maybe: Some(at),
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2026-11-27T08:53:05.000Z","maybe":"2026-11-27T08:53:05.000Z"}"#
        );
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        let none = T { at, maybe: None };
        let json = serde_json::to_string(&none).unwrap();
        assert!(json.ends_with(r#""maybe":null}"#));
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), none);
        assert_eq!(short_utc(&at), short_time("2026-11-27T08:53:05.000Z"));
    }
}
