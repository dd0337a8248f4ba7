//! The `app_settings` singleton row (runtime settings edited in the UI).

use crate::app::api::settings::{PollerSettings, SaltSettings, SettingsView, WidgetSettings};
use crate::server::db::Db;

/// Read the settings row as the page sees it (no password, only whether one is set).
pub async fn load_view(db: &Db) -> Result<SettingsView, sqlx::Error> {
    let r: SettingsRow = sqlx::query_as("SELECT * FROM app_settings WHERE id = 1")
        .fetch_one(db)
        .await?;
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
        updated_at: r.updated_at,
    })
}

/// Which Salt connection fields are missing (`salt.url`, `salt.username`, `salt.password`).
pub async fn missing_salt_fields(db: &Db, cookie_secret: &str) -> Result<Vec<String>, sqlx::Error> {
    let (url, user, pw): (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT salt_api_url, salt_api_username, salt_api_password_encrypted FROM app_settings WHERE id = 1",
    )
    .fetch_one(db)
    .await?;
    let mut missing = Vec::new();
    if url.as_deref().unwrap_or("").is_empty() {
        missing.push("salt.url".to_string());
    }
    if user.as_deref().unwrap_or("").is_empty() {
        missing.push("salt.username".to_string());
    }
    let pw_ok = pw
        .as_deref()
        .and_then(|p| crate::server::secrets::decrypt(cookie_secret, p))
        .is_some();
    if !pw_ok {
        missing.push("salt.password".to_string());
    }
    Ok(missing)
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
    updated_at: String,
}
