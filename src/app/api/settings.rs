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
    let missing =
        crate::server::settings::missing_salt_fields(&state.db, &state.config.cookie_secret)
            .await?;
    let can_edit = user.can("edit", "settings:*");
    let mut connection = state.runtime.connection();
    if !can_edit {
        // The detail names the salt-api URL and the error: for administrators only.
        connection.detail = String::new();
    }
    Ok(SaltSetupStatus {
        configured: missing.is_empty(),
        missing,
        can_edit,
        connection,
    })
}

/// Connection state and poller health (admin).
#[server(endpoint = "settings/runtime")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn runtime_status() -> Result<RuntimeView, AppError> {
    use crate::server::auth::require;
    let (state, _) = require("edit", "settings:*").await?;
    Ok(RuntimeView {
        connection: state.runtime.connection(),
        pollers: state.runtime.poller_statuses(),
    })
}

#[cfg(feature = "ssr")]
fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("on" | "true" | "1" | "yes"))
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
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::require;
    use crate::server::settings;
    let (state, user) = require("edit", "settings:*").await?;
    let input =
        settings::validate_salt(&url, &username, &password, &eauth, checked(&verify), false)?;
    if input.password.is_none() {
        let (stored, _) = settings::load_runtime(&state.db).await?;
        if !settings::may_reuse_password(&stored, &input) {
            return Err(settings::password_needed());
        }
    }
    settings::save_salt(&state.db, &state.config.cookie_secret, &input).await?;
    record(
        &state.db,
        AuditEntry::new("settings.salt.update", "settings:salt")
            .user(&user.id, &user.username)
            .ip(&crate::server::auth::request_ip())
            .args(serde_json::json!({
                "url": input.url, "username": input.username, "eauth": input.eauth,
                "verify": input.verify, "password_changed": input.password.is_some(),
            })),
    )
    .await;
    state.runtime.reload().await;
    Ok(settings::load_view(&state.db).await?)
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
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::require;
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
    settings::save_pollers(&state.db, &p).await?;
    record(
        &state.db,
        AuditEntry::new("settings.pollers.update", "settings:pollers")
            .user(&user.id, &user.username)
            .ip(&crate::server::auth::request_ip())
            .args(serde_json::to_value(&p).unwrap_or_default()),
    )
    .await;
    state.runtime.reload().await;
    Ok(settings::load_view(&state.db).await?)
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
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::require;
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
    settings::save_widget(&state.db, &w).await?;
    record(
        &state.db,
        AuditEntry::new("settings.widget.update", "settings:widget")
            .user(&user.id, &user.username)
            .ip(&crate::server::auth::request_ip())
            .args(serde_json::to_value(&w).unwrap_or_default()),
    )
    .await;
    Ok(settings::load_view(&state.db).await?)
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
    use crate::server::auth::require;
    use crate::server::settings;
    let (state, user) = require("edit", "settings:*").await?;
    let mut input =
        settings::validate_salt(&url, &username, &password, &eauth, checked(&verify), false)?;
    if input.url.is_none() {
        return Err(AppError::invalid("url", "Enter the salt-api URL to test."));
    }
    if input.password.is_none() {
        // Test with the stored password when the field was left empty, but only against
        // the stored connection.
        let (row, _) = settings::load_runtime(&state.db).await?;
        if !settings::may_reuse_password(&row, &input) {
            return Err(settings::password_needed());
        }
        input.password = row.password(&state.config.cookie_secret);
        if input.password.is_none() {
            return Err(AppError::invalid(
                "password",
                "Enter the password to test with.",
            ));
        }
    }
    Ok(test_connection(&state, &user, input).await)
}

/// Test the stored credentials without re-typing the password.
#[server(endpoint = "settings/test-salt-saved")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn test_saved_salt_connection() -> Result<SaltTestResult, AppError> {
    use crate::server::auth::require;
    use crate::server::settings;
    let (state, user) = require("edit", "settings:*").await?;
    let (row, _) = settings::load_runtime(&state.db).await?;
    let password = row.password(&state.config.cookie_secret);
    let input = settings::SaltInput {
        url: row.url.filter(|s| !s.is_empty()),
        username: row.username.filter(|s| !s.is_empty()),
        password,
        eauth: row.eauth,
        verify: row.verify,
    };
    if input.url.is_none() || input.username.is_none() || input.password.is_none() {
        return Ok(SaltTestResult {
            ok: false,
            detail: "No complete Salt API settings are saved yet.".into(),
            minion_count: None,
        });
    }
    Ok(test_connection(&state, &user, input).await)
}

#[cfg(feature = "ssr")]
async fn test_connection(
    state: &crate::server::state::AppState,
    user: &crate::server::auth::CurrentUser,
    input: crate::server::settings::SaltInput,
) -> SaltTestResult {
    use crate::salt::{SaltClient, SaltConfig, SaltError};
    use crate::server::audit::{record, AuditEntry};
    let started = std::time::Instant::now();
    let url = input.url.clone().unwrap_or_default();
    let result = async {
        let client = SaltClient::new(SaltConfig {
            url: url.clone(),
            username: input.username.clone().unwrap_or_default(),
            password: input.password.clone().unwrap_or_default(),
            eauth: input.eauth.clone(),
            verify_tls: input.verify,
            timeout: std::time::Duration::from_secs(15),
        })?;
        let login = client.login().await?;
        let present = client.manage_present().await?;
        Ok::<_, SaltError>((login, present))
    }
    .await;
    let out = match result {
        Ok((login, present)) => SaltTestResult {
            ok: true,
            detail: format!(
                "Logged in to {url} as {} (eauth {}); {} minion{} connected.",
                login.user,
                login.eauth,
                present.len(),
                if present.len() == 1 { "" } else { "s" }
            ),
            minion_count: Some(present.len()),
        },
        Err(SaltError::Api { status: 401, .. }) => SaltTestResult {
            ok: false,
            detail: "salt-api refused the username or password (401). Check the credentials and the eauth back-end."
                .into(),
            minion_count: None,
        },
        Err(e) => SaltTestResult {
            ok: false,
            detail: e.to_string(),
            minion_count: None,
        },
    };
    record(
        &state.db,
        AuditEntry::new("settings.salt.test", "settings:salt")
            .user(&user.id, &user.username)
            .ip(&crate::server::auth::request_ip())
            .args(serde_json::json!({ "url": url, "ok": out.ok }))
            .duration_ms(started.elapsed().as_millis() as i64),
    )
    .await;
    out
}
