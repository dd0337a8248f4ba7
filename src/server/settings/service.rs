//! Saving a settings section and testing a connection: what the Settings page's server
//! functions call. Each save is checked, stored, audited and (for Salt and pollers) reloads the
//! runtime. Apart from the settings store (`super`) because it needs the app state.

use super::*;
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::CurrentUser;
use crate::server::state::AppState;

/// Save the Salt API section for `user` (audited as `settings.salt.update`) and reload the
/// runtime. An empty password keeps the stored one, but only towards the stored connection.
pub async fn update_salt(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    input: SaltInput,
) -> Result<SettingsView, AppError> {
    if input.password.is_none() {
        let stored = load_salt_connection(&state.db, &state.secrets).await?;
        if !may_reuse_password(&stored, &input) {
            return Err(password_needed());
        }
    }
    save_salt(&state.db, &state.secrets, &input).await?;
    record(
        &state.db,
        AuditEntry::new("settings.salt.update", "settings:salt")
            .user(&user.id, &user.username)
            .ip(ip)
            .args(serde_json::json!({
                "url": input.url, "username": input.username, "eauth": input.eauth,
                "verify": input.verify, "password_changed": input.password.is_some(),
            })),
    )
    .await;
    state.runtime.settings_changed().await;
    Ok(load_view(&state.db).await?)
}

/// A settings section the page saves as a whole (Pollers, Activity widget): stored, audited as
/// `settings.<NAME>.update` on `settings:<NAME>` with its values as the arguments, and the
/// runtime reloaded when `RELOAD`.
pub trait Section: serde::Serialize + Sync {
    const NAME: &'static str;
    const RELOAD: bool;
    fn save(&self, db: &Db) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send;
}

impl Section for PollerSettings {
    const NAME: &'static str = "pollers";
    const RELOAD: bool = true;
    fn save(&self, db: &Db) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send {
        save_pollers(db, self)
    }
}

/// Display only: no reload.
impl Section for WidgetSettings {
    const NAME: &'static str = "widget";
    const RELOAD: bool = false;
    fn save(&self, db: &Db) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send {
        save_widget(db, self)
    }
}

/// Save a [`Section`] for `user`, audit it and (if it asks) reload the runtime.
pub async fn update_section<S: Section>(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    section: S,
) -> Result<SettingsView, AppError> {
    section.save(&state.db).await?;
    record(
        &state.db,
        AuditEntry::new(
            &format!("settings.{}.update", S::NAME),
            &format!("settings:{}", S::NAME),
        )
        .user(&user.id, &user.username)
        .ip(ip)
        .args(serde_json::to_value(&section).unwrap_or_default()),
    )
    .await;
    if S::RELOAD {
        state.runtime.settings_changed().await;
    }
    Ok(load_view(&state.db).await?)
}

/// Log in with `config` and count the connected minions (`manage.present`); audited as
/// `settings.salt.test`. Nothing is stored.
pub async fn test_connection(
    db: &Db,
    user: &CurrentUser,
    ip: &str,
    config: SaltConfig,
) -> SaltTestResult {
    let started = std::time::Instant::now();
    let url = config.url.clone();
    let result = async {
        let client = SaltClient::new(config)?;
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
        db,
        AuditEntry::new("settings.salt.test", "settings:salt")
            .user(&user.id, &user.username)
            .ip(ip)
            .args(serde_json::json!({ "url": url, "ok": out.ok }))
            .duration_ms(started.elapsed().as_millis() as i64),
    )
    .await;
    out
}
