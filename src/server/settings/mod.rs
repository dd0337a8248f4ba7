//! The `app_settings` singleton row (runtime settings edited in the UI).

use crate::error::AppError;
use crate::model::settings::{
    PollerSettings, SaltSettings, SaltTestResult, SettingsView, WidgetSettings,
};
use crate::salt::{SaltClient, SaltConfig, SaltError, SaltPassword};
use crate::server::db::{Db, Ts};
use crate::server::secrets::SecretsCipher;
use crate::with_db;
use std::time::Duration;

pub mod service;

/// Read the settings row as the page sees it (no password, only whether one is set).
pub async fn load_view(db: &Db) -> Result<SettingsView, sqlx::Error> {
    let r: SettingsRow = with_db!(db, p => {
        sqlx::query_as("SELECT * FROM app_settings WHERE id = 1")
            .fetch_one(p)
            .await?
    });
    Ok(SettingsView {
        salt: SaltSettings {
            url: r.salt_api_url.unwrap_or_default(),
            username: r.salt_api_username.unwrap_or_default(),
            password_set: r.salt_api_password_encrypted.is_some(),
            verify: r.salt_api_verify,
            eauth: r.salt_api_eauth,
        },
        pollers: PollerSettings {
            inventory_refresh_minutes: r.inventory_refresh_minutes,
            inventory_refresh_initial_delay_s: r.inventory_refresh_initial_delay_s,
            fleet_poll_interval_seconds: r.fleet_poll_interval_seconds,
            jobs_poll_interval_seconds: r.jobs_poll_interval_seconds,
            minion_state_keys_interval_seconds: r.minion_state_keys_interval_seconds,
            minion_state_presence_interval_seconds: r.minion_state_presence_interval_seconds,
            minion_state_grains_interval_seconds: r.minion_state_grains_interval_seconds,
            minion_state_initial_delay_seconds: r.minion_state_initial_delay_seconds,
            event_stream_enabled: r.event_stream_enabled,
            event_stream_retention_days: r.event_stream_retention_days,
            jobs_retention_days: r.jobs_retention_days,
            audit_retention_days: r.audit_retention_days,
        },
        widget: WidgetSettings {
            hide_dispatch: r.widget_hide_dispatch,
            hide_routine: r.widget_hide_routine,
            show_jobs: r.widget_show_jobs,
            show_keys: r.widget_show_keys,
            show_minions: r.widget_show_minions,
            event_count: r.widget_event_count,
            heartbeat_minutes: r.widget_heartbeat_minutes,
        },
        updated_at: crate::server::to_text(r.updated_at),
    })
}

/// Which Salt connection fields are missing (`salt.url`, `salt.username`, `salt.password`).
pub async fn missing_salt_fields(
    db: &Db,
    secrets: &SecretsCipher,
) -> Result<Vec<String>, sqlx::Error> {
    Ok(missing_fields(
        &load_salt_connection(db, secrets).await?.salt,
    ))
}

/// The connection fields `stored` lacks, as the banner and the readiness probe name them.
pub fn missing_fields(stored: &SaltInput) -> Vec<String> {
    let mut missing = Vec::new();
    if stored.url.is_none() {
        missing.push("salt.url".to_string());
    }
    if stored.username.is_none() {
        missing.push("salt.username".to_string());
    }
    if stored.password.is_none() {
        missing.push("salt.password".to_string());
    }
    missing
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct SettingsRow {
    id: i64,
    salt_api_url: Option<String>,
    salt_api_username: Option<String>,
    salt_api_password_encrypted: Option<String>,
    salt_api_verify: bool,
    salt_api_eauth: String,
    inventory_refresh_minutes: i64,
    inventory_refresh_initial_delay_s: i64,
    fleet_poll_interval_seconds: i64,
    jobs_poll_interval_seconds: i64,
    minion_state_keys_interval_seconds: i64,
    minion_state_presence_interval_seconds: i64,
    minion_state_grains_interval_seconds: i64,
    minion_state_initial_delay_seconds: i64,
    event_stream_enabled: bool,
    event_stream_retention_days: i64,
    widget_hide_dispatch: bool,
    widget_hide_routine: bool,
    widget_show_jobs: bool,
    widget_show_keys: bool,
    widget_show_minions: bool,
    widget_event_count: i64,
    widget_heartbeat_minutes: i64,
    updated_at: chrono::DateTime<chrono::Utc>,
    jobs_retention_days: i64,
    audit_retention_days: i64,
}

/// How long any salt-api client waits for one request. One rule for every client, so the
/// connection tests on the Settings page judge the connection exactly as the runtime will use it.
pub const SALT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client configuration; every [`SaltClient`](crate::salt::SaltClient) Halite builds comes
/// from here.
pub fn salt_config(
    url: String,
    username: String,
    password: SaltPassword,
    eauth: String,
    verify: bool,
) -> SaltConfig {
    SaltConfig {
        url,
        username,
        password,
        eauth,
        verify_tls: verify,
        timeout: SALT_REQUEST_TIMEOUT,
    }
}

/// The stored Salt connection, password decrypted; empty text reads as `None`.
#[derive(Debug, Clone)]
pub struct StoredSalt {
    /// The stored fields; the password is `None` when unset or unreadable.
    pub salt: SaltInput,
    /// A password is stored but cannot be decrypted (COOKIE_SECRET changed?).
    pub password_unreadable: bool,
}

impl StoredSalt {
    /// The client configuration, when URL, username and password are all there.
    pub fn config(&self) -> Option<SaltConfig> {
        let s = &self.salt;
        Some(salt_config(
            s.url.clone()?,
            s.username.clone()?,
            s.password.clone()?,
            s.eauth.clone(),
            s.verify,
        ))
    }
}

/// Read the stored Salt connection: the one place the stored password is decrypted (for the
/// runtime, the two connection tests and the "is Salt configured" checks).
pub async fn load_salt_connection(
    db: &Db,
    secrets: &SecretsCipher,
) -> Result<StoredSalt, sqlx::Error> {
    let (url, username, encrypted, eauth, verify): (
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        bool,
    ) = with_db!(db, p => {
        sqlx::query_as(
            "SELECT salt_api_url, salt_api_username, salt_api_password_encrypted, salt_api_eauth, \
             salt_api_verify FROM app_settings WHERE id = 1",
        )
        .fetch_one(p)
        .await?
    });
    let password = encrypted.as_deref().and_then(|p| secrets.decrypt(p));
    Ok(StoredSalt {
        password_unreadable: password.is_none() && encrypted.is_some(),
        salt: SaltInput {
            url: url.filter(|s| !s.is_empty()),
            username: username.filter(|s| !s.is_empty()),
            password,
            eauth,
            verify,
        },
    })
}

/// When the settings row was last saved (a replica compares it with what it last loaded).
pub async fn updated_at(db: &Db) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
    with_db!(db, p => sqlx::query_scalar("SELECT updated_at FROM app_settings WHERE id = 1")
        .fetch_one(p)
        .await)
}

/// The poller settings the runtime starts a generation with.
pub async fn load_pollers(db: &Db) -> Result<PollerSettings, sqlx::Error> {
    Ok(load_view(db).await?.pollers)
}

/// May `input` (with an empty password field) reuse the stored password? Only towards the stored
/// URL, username and eauth, with TLS checks no weaker: otherwise anyone who may edit settings could
/// send the "write-only" password to a server of their choice.
pub fn may_reuse_password(stored: &StoredSalt, input: &SaltInput) -> bool {
    let stored = &stored.salt;
    input.url.is_none()
        || (stored.url == input.url
            && stored.username == input.username
            && stored.eauth == input.eauth
            && (input.verify || !stored.verify))
}

/// The error for a changed connection without the password.
pub fn password_needed() -> crate::error::AppError {
    crate::error::AppError::invalid(
        "password",
        "Enter the salt-api password again: changing the URL, username, eauth or TLS check needs it \
         (the stored password is only ever sent to the stored URL).",
    )
}

/// The eauth back-ends salt-api offers.
pub const EAUTH_CHOICES: &[&str] = &["pam", "sharedsecret", "ldap", "file", "auto"];

/// The Salt section's fields: validated from the form ([`validate_salt`]) or read back from the
/// database (in [`StoredSalt`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SaltInput {
    /// `None` clears the URL (disables Salt).
    pub url: Option<String>,
    pub username: Option<String>,
    /// `None` keeps the stored password.
    pub password: Option<SaltPassword>,
    pub eauth: String,
    pub verify: bool,
}

/// Validate the Salt section; `require_password` for Test Connection with unsaved values.
pub fn validate_salt(
    url: &str,
    username: &str,
    password: &str,
    eauth: &str,
    verify: bool,
    require_all: bool,
) -> Result<SaltInput, crate::error::AppError> {
    use crate::error::AppError;
    let url = url.trim();
    let url = if url.is_empty() {
        if require_all {
            return Err(AppError::invalid(
                "url",
                "Enter the salt-api URL, e.g. https://salt.example.com:8000",
            ));
        }
        None
    } else {
        if url.len() > 2083 {
            return Err(AppError::invalid(
                "url",
                "The URL is longer than 2083 characters.",
            ));
        }
        let parsed = reqwest::Url::parse(url).map_err(|_| {
            AppError::invalid("url", "This is not a valid URL. Include the scheme and port, e.g. https://salt.example.com:8000")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AppError::invalid(
                "url",
                "The URL must start with http:// or https://",
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(AppError::invalid("url", "The URL needs a host name."));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(AppError::invalid(
                "url",
                "Put the credentials in the username and password fields, not in the URL.",
            ));
        }
        Some(url.trim_end_matches('/').to_string())
    };
    let username = username.trim();
    if username.chars().count() > 255 {
        return Err(AppError::invalid(
            "username",
            "The username is longer than 255 characters.",
        ));
    }
    if username.is_empty() && (url.is_some() || require_all) {
        return Err(AppError::invalid(
            "username",
            "Enter the salt-api username.",
        ));
    }
    if password.chars().count() > 1024 {
        return Err(AppError::invalid(
            "password",
            "The password is longer than 1024 characters.",
        ));
    }
    if require_all && password.is_empty() {
        return Err(AppError::invalid(
            "password",
            "Enter the password to test with.",
        ));
    }
    AppError::check_one_of("eauth", "eauth", eauth, EAUTH_CHOICES)?;
    Ok(SaltInput {
        url,
        username: (!username.is_empty()).then(|| username.to_string()),
        password: (!password.is_empty()).then(|| SaltPassword::from(password)),
        eauth: eauth.to_string(),
        verify,
    })
}

/// Store the Salt section (password encrypted; kept when not given).
pub async fn save_salt(
    db: &Db,
    secrets: &SecretsCipher,
    input: &SaltInput,
) -> Result<(), sqlx::Error> {
    let enc = input.password.as_ref().map(|p| secrets.encrypt(p));
    with_db!(db, p => {
        sqlx::query(
            "UPDATE app_settings SET salt_api_url = $1, salt_api_username = $2, \
             salt_api_password_encrypted = COALESCE($3, salt_api_password_encrypted), \
             salt_api_eauth = $4, salt_api_verify = $5, updated_at = $6 WHERE id = 1",
        )
        .bind(&input.url)
        .bind(&input.username)
        .bind(&enc)
        .bind(&input.eauth)
        .bind(input.verify)
        .bind(Ts::now())
        .execute(p)
        .await?;
    });
    Ok(())
}

/// The configuration Test Connection tries for unsaved values: the typed password, or the
/// stored one when the field was left empty, but only towards the stored connection
/// ([`may_reuse_password`]).
pub async fn config_to_test(
    db: &Db,
    secrets: &SecretsCipher,
    input: SaltInput,
) -> Result<SaltConfig, AppError> {
    let Some(url) = input.url.clone() else {
        return Err(AppError::invalid("url", "Enter the salt-api URL to test."));
    };
    let password = match input.password.clone() {
        Some(p) => p,
        None => {
            let stored = load_salt_connection(db, secrets).await?;
            if !may_reuse_password(&stored, &input) {
                return Err(password_needed());
            }
            stored
                .salt
                .password
                .ok_or_else(|| AppError::invalid("password", "Enter the password to test with."))?
        }
    };
    Ok(salt_config(
        url,
        input.username.unwrap_or_default(),
        password,
        input.eauth,
        input.verify,
    ))
}

/// Parse a whole number in a range with a message naming the field.
pub fn parse_range(
    field: &str,
    label: &str,
    raw: &str,
    min: i64,
    max: i64,
) -> Result<i64, crate::error::AppError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            crate::error::AppError::invalid(
                field,
                format!("{label} must be a whole number from {min} to {max}."),
            )
        })
}

/// Store the Pollers section.
pub async fn save_pollers(db: &Db, p: &PollerSettings) -> Result<(), sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query(
            "UPDATE app_settings SET inventory_refresh_minutes = $1, inventory_refresh_initial_delay_s = $2, \
             fleet_poll_interval_seconds = $3, jobs_poll_interval_seconds = $4, \
             minion_state_keys_interval_seconds = $5, minion_state_presence_interval_seconds = $6, \
             minion_state_grains_interval_seconds = $7, minion_state_initial_delay_seconds = $8, \
             event_stream_enabled = $9, event_stream_retention_days = $10, jobs_retention_days = $11, audit_retention_days = $12, \
             updated_at = $13 WHERE id = 1",
        )
        .bind(p.inventory_refresh_minutes)
        .bind(p.inventory_refresh_initial_delay_s)
        .bind(p.fleet_poll_interval_seconds)
        .bind(p.jobs_poll_interval_seconds)
        .bind(p.minion_state_keys_interval_seconds)
        .bind(p.minion_state_presence_interval_seconds)
        .bind(p.minion_state_grains_interval_seconds)
        .bind(p.minion_state_initial_delay_seconds)
        .bind(p.event_stream_enabled)
        .bind(p.event_stream_retention_days)
        .bind(p.jobs_retention_days)
        .bind(p.audit_retention_days)
        .bind(Ts::now())
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Store the Activity widget section.
pub async fn save_widget(db: &Db, w: &WidgetSettings) -> Result<(), sqlx::Error> {
    with_db!(db, p => {
        sqlx::query(
            "UPDATE app_settings SET widget_hide_dispatch = $1, widget_hide_routine = $2, widget_show_jobs = $3, \
             widget_show_keys = $4, widget_show_minions = $5, widget_event_count = $6, widget_heartbeat_minutes = $7, \
             updated_at = $8 WHERE id = 1",
        )
        .bind(w.hide_dispatch)
        .bind(w.hide_routine)
        .bind(w.show_jobs)
        .bind(w.show_keys)
        .bind(w.show_minions)
        .bind(w.event_count)
        .bind(w.heartbeat_minutes)
        .bind(Ts::now())
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Prune the audit log by the `audit_retention_days` setting (the runtime runs this at start and
/// hourly).
pub async fn prune_audit(db: &Db) -> Result<u64, sqlx::Error> {
    let days = load_view(db).await?.pollers.audit_retention_days;
    crate::server::audit::prune(db, days, chrono::Utc::now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_validation() {
        let ok = validate_salt(
            " http://127.0.0.1:8000/ ",
            "halite",
            "pw",
            "file",
            false,
            true,
        )
        .unwrap();
        assert_eq!(ok.url.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(ok.password.as_ref().map(SaltPassword::expose), Some("pw"));
        let keep = validate_salt("https://salt:8000", "u", "", "pam", true, false).unwrap();
        assert_eq!(keep.password, None, "empty password keeps the stored one");
        let cleared = validate_salt("", "", "", "pam", true, false).unwrap();
        assert_eq!(cleared.url, None);
        for (url, user, pw, eauth, field) in [
            ("ftp://x", "u", "p", "pam", "url"),
            ("not a url", "u", "p", "pam", "url"),
            ("http://u:p@h:8000", "u", "p", "pam", "url"),
            ("http://h:8000", "", "p", "pam", "username"),
            ("http://h:8000", "u", "p", "kerberos", "eauth"),
            ("", "u", "p", "pam", "url"),
            ("http://h:8000", "u", "", "pam", "password"),
        ] {
            let e = validate_salt(url, user, pw, eauth, true, true).unwrap_err();
            assert_eq!(e.field(), Some(field), "{url} {user} {eauth}");
            assert_eq!(e.status(), 422);
        }
        let long = format!("http://h/{}", "a".repeat(2100));
        assert!(validate_salt(&long, "u", "p", "pam", true, false).is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("f", "Keys", "300", 0, 86400).unwrap(), 300);
        let e = parse_range("f", "Keys", "86401", 0, 86400).unwrap_err();
        assert!(e.to_string().contains("from 0 to 86400"));
        assert!(parse_range("f", "Keys", "1.5", 0, 10).is_err());
        assert!(parse_range("f", "Keys", "-1", 0, 10).is_err());
    }
}
