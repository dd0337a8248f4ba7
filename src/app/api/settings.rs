//! Runtime settings (admin) and the settings status every session may read.
#![allow(clippy::too_many_arguments)] // server functions mirror the form fields one to one

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::settings::{
    PollerSettings, PollerStatus, RuntimeView, SaltConnection, SaltSettings, SaltSetupStatus,
    SaltTestResult, SettingsView, WidgetSettings,
};

/// Full settings (admin only: `edit:settings:*`).
#[server(endpoint = "settings/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_settings() -> Result<SettingsView, AppError> {
    use crate::server::auth::require;
    let (state, _user) = require("edit", "settings:*").await?;
    Ok(crate::server::settings::load_view(&state.db).await?)
}

/// Is Salt configured? Any signed-in user may ask.
#[server(endpoint = "settings/status")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn settings_status() -> Result<SaltSetupStatus, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    // What this replica's runtime read when its generation started (a save reloads it): no
    // settings read and no password decryption per page.
    let missing = match state.runtime.missing_salt_fields() {
        Some(m) => m,
        None => crate::server::settings::missing_salt_fields(&state.db, &state.secrets).await?,
    };
    let can_edit = user.can("edit", "settings:*");
    let mut connection = state.runtime.connection();
    if !can_edit {
        // The detail names the salt-api URL and the error: for administrators only.
        connection.detail = String::new();
    }
    let now = chrono::Utc::now();
    let pollers = state
        .runtime
        .poller_statuses()
        .iter()
        .map(|p| crate::model::settings::PollerFreshness::of(p, now))
        .collect();
    Ok(SaltSetupStatus {
        configured: missing.is_empty(),
        missing,
        can_edit,
        connection,
        pollers,
    })
}

/// Connection state, poller health and the replicas (admin).
#[server(endpoint = "settings/runtime")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn runtime_status() -> Result<RuntimeView, AppError> {
    use crate::server::auth::require;
    let (state, _) = require("edit", "settings:*").await?;
    let cluster = crate::server::cluster::view(&state.runtime.cluster(), &state.db).await?;
    Ok(RuntimeView {
        connection: state.runtime.connection(),
        pollers: state.runtime.poller_statuses(),
        cluster,
    })
}

#[cfg(feature = "ssr")]
fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("on" | "true" | "1" | "yes"))
}

/// The Salt API form (saved or tried) once the caller may edit settings: the state, the
/// caller and the checked values.
#[cfg(feature = "ssr")]
async fn salt_form(
    url: &str,
    username: &str,
    password: &str,
    eauth: &str,
    verify: &Option<String>,
) -> Result<crate::server::auth::Authorised<crate::server::settings::SaltInput>, AppError> {
    let (state, user) = crate::server::auth::require("edit", "settings:*").await?;
    let input = crate::server::settings::validate_salt(
        url,
        username,
        password,
        eauth,
        checked(verify),
        false,
    )?;
    Ok((state, user, input))
}

/// Save the Salt API section and reload the runtime. An empty password keeps the stored one;
/// an empty URL disconnects Salt.
#[server(endpoint = "settings/salt")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn save_salt_settings(
    url: String,
    username: String,
    #[server(default)] password: String,
    eauth: String,
    #[server(default)] verify: Option<String>,
) -> Result<SettingsView, AppError> {
    use crate::server::auth::request_ip;
    let (state, user, input) = salt_form(&url, &username, &password, &eauth, &verify).await?;
    crate::server::settings::service::update_salt(&state, &user, &request_ip(), input).await
}

/// Save the Pollers section (ranges per SPEC 8.2) and reload the runtime.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "settings/pollers")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn save_poller_settings(
    minion_state_keys_interval_seconds: String,
    minion_state_presence_interval_seconds: String,
    minion_state_grains_interval_seconds: String,
    minion_state_initial_delay_seconds: String,
    jobs_poll_interval_seconds: String,
    fleet_poll_interval_seconds: String,
    inventory_refresh_minutes: String,
    inventory_refresh_initial_delay_s: String,
    #[server(default)] event_stream_enabled: Option<String>,
    event_stream_retention_days: String,
    #[server(default)] jobs_retention_days: Option<String>,
    #[server(default)] audit_retention_days: Option<String>,
) -> Result<SettingsView, AppError> {
    use crate::server::auth::{request_ip, require};
    use crate::server::settings::{self, parse_range};
    let (state, user) = require("edit", "settings:*").await?;
    let jobs_retention_days = match jobs_retention_days {
        Some(v) => parse_range("jobs_retention_days", "Job retention", &v, 1, 3650)?,
        None => {
            settings::load_view(&state.db)
                .await?
                .pollers
                .jobs_retention_days
        }
    };
    let audit_retention_days = match audit_retention_days {
        Some(v) => parse_range("audit_retention_days", "Audit retention", &v, 1, 3650)?,
        None => {
            settings::load_view(&state.db)
                .await?
                .pollers
                .audit_retention_days
        }
    };
    let p = PollerSettings {
        jobs_retention_days,
        audit_retention_days,
        minion_state_keys_interval_seconds: parse_range(
            "minion_state_keys_interval_seconds",
            "Keys interval",
            &minion_state_keys_interval_seconds,
            0,
            86400,
        )?,
        minion_state_presence_interval_seconds: parse_range(
            "minion_state_presence_interval_seconds",
            "Presence interval",
            &minion_state_presence_interval_seconds,
            0,
            86400,
        )?,
        minion_state_grains_interval_seconds: parse_range(
            "minion_state_grains_interval_seconds",
            "Grains interval",
            &minion_state_grains_interval_seconds,
            0,
            86400,
        )?,
        minion_state_initial_delay_seconds: parse_range(
            "minion_state_initial_delay_seconds",
            "Minion poller initial delay",
            &minion_state_initial_delay_seconds,
            0,
            3600,
        )?,
        jobs_poll_interval_seconds: parse_range(
            "jobs_poll_interval_seconds",
            "Jobs interval",
            &jobs_poll_interval_seconds,
            0,
            86400,
        )?,
        fleet_poll_interval_seconds: parse_range(
            "fleet_poll_interval_seconds",
            "Fleet interval",
            &fleet_poll_interval_seconds,
            0,
            86400,
        )?,
        inventory_refresh_minutes: parse_range(
            "inventory_refresh_minutes",
            "Inventory refresh",
            &inventory_refresh_minutes,
            0,
            1440,
        )?,
        inventory_refresh_initial_delay_s: parse_range(
            "inventory_refresh_initial_delay_s",
            "Inventory initial delay",
            &inventory_refresh_initial_delay_s,
            0,
            3600,
        )?,
        event_stream_enabled: checked(&event_stream_enabled),
        event_stream_retention_days: parse_range(
            "event_stream_retention_days",
            "Event retention",
            &event_stream_retention_days,
            1,
            365,
        )?,
    };
    settings::service::update_section(&state, &user, &request_ip(), p).await
}

/// Save the Activity widget section (display only; no reload).
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "settings/widget")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn save_widget_settings(
    #[server(default)] hide_dispatch: Option<String>,
    #[server(default)] hide_routine: Option<String>,
    #[server(default)] show_jobs: Option<String>,
    #[server(default)] show_keys: Option<String>,
    #[server(default)] show_minions: Option<String>,
    event_count: String,
    heartbeat_minutes: String,
) -> Result<SettingsView, AppError> {
    use crate::server::auth::{request_ip, require};
    use crate::server::settings::{self, parse_range};
    let (state, user) = require("edit", "settings:*").await?;
    let w = WidgetSettings {
        hide_dispatch: checked(&hide_dispatch),
        hide_routine: checked(&hide_routine),
        show_jobs: checked(&show_jobs),
        show_keys: checked(&show_keys),
        show_minions: checked(&show_minions),
        event_count: parse_range("event_count", "Events shown", &event_count, 1, 50)?,
        heartbeat_minutes: parse_range(
            "heartbeat_minutes",
            "Heartbeat window",
            &heartbeat_minutes,
            5,
            1440,
        )?,
    };
    settings::service::update_section(&state, &user, &request_ip(), w).await
}

/// Try unsaved connection values: log in and count minions with `manage.present`.
#[server(endpoint = "settings/test-salt")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn test_salt_connection(
    url: String,
    username: String,
    #[server(default)] password: String,
    eauth: String,
    #[server(default)] verify: Option<String>,
) -> Result<SaltTestResult, AppError> {
    use crate::server::auth::request_ip;
    use crate::server::settings;
    let (state, user, input) = salt_form(&url, &username, &password, &eauth, &verify).await?;
    let config = settings::config_to_test(&state.db, &state.secrets, input).await?;
    Ok(settings::service::test_connection(&state.db, &user, &request_ip(), config).await)
}

/// Test the stored credentials without re-typing the password.
#[server(endpoint = "settings/test-salt-saved")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn test_saved_salt_connection() -> Result<SaltTestResult, AppError> {
    use crate::server::auth::{request_ip, require};
    use crate::server::settings;
    let (state, user) = require("edit", "settings:*").await?;
    let stored = settings::load_salt_connection(&state.db, &state.secrets).await?;
    let Some(config) = stored.config() else {
        return Ok(SaltTestResult {
            ok: false,
            detail: "No complete Salt API settings are saved yet.".into(),
            minion_count: None,
        });
    };
    Ok(settings::service::test_connection(&state.db, &user, &request_ip(), config).await)
}
