//! Runtime settings (admin) and the settings status every session may read.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Salt API connection as shown on the page (the password is never sent back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaltSettings {
    pub url: String,
    pub username: String,
    pub password_set: bool,
    pub verify: bool,
    pub eauth: String,
}

/// Poller cadences and the event stream switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollerSettings {
    pub inventory_refresh_minutes: i64,
    pub inventory_refresh_initial_delay_s: i64,
    pub fleet_poll_interval_seconds: i64,
    pub jobs_poll_interval_seconds: i64,
    pub minion_state_keys_interval_seconds: i64,
    pub minion_state_presence_interval_seconds: i64,
    pub minion_state_grains_interval_seconds: i64,
    pub minion_state_initial_delay_seconds: i64,
    pub event_stream_enabled: bool,
    pub event_stream_retention_days: i64,
}

/// Overview recent-activity widget display settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetSettings {
    pub hide_dispatch: bool,
    pub hide_routine: bool,
    pub show_jobs: bool,
    pub show_keys: bool,
    pub show_minions: bool,
    pub event_count: i64,
    pub heartbeat_minutes: i64,
}

/// Everything on the Settings page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub salt: SaltSettings,
    pub pollers: PollerSettings,
    pub widget: WidgetSettings,
    pub updated_at: String,
}

/// Whether Salt is configured (drives the first-run prompt and the shell banner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaltSetupStatus {
    pub configured: bool,
    pub missing: Vec<String>,
    pub can_edit: bool,
}

/// Full settings (admin only: `edit:settings:*`).
#[server(endpoint = "settings/get")]
pub async fn get_settings() -> Result<SettingsView, AppError> {
    use crate::server::auth::{require, respond};
    respond(
        async {
            let (state, _user) = require("edit", "settings:*").await?;
            Ok(crate::server::settings::load_view(&state.db).await?)
        }
        .await,
    )
}

/// Is Salt configured? Any signed-in user may ask.
#[server(endpoint = "settings/status")]
pub async fn settings_status() -> Result<SaltSetupStatus, AppError> {
    use crate::server::auth::{respond, session};
    respond(
        async {
            let (state, user) = session()?;
            let missing = crate::server::settings::missing_salt_fields(
                &state.db,
                &state.config.cookie_secret,
            )
            .await?;
            Ok(SaltSetupStatus {
                configured: missing.is_empty(),
                missing,
                can_edit: user.can("edit", "settings:*"),
            })
        }
        .await,
    )
}
