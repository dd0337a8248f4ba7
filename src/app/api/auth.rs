//! Sign-in, sign-out, password change, the current user, and per-user preferences.

use crate::error::AppError;
use crate::rbac::Permission;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in user as the browser sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub must_change_pw: bool,
    pub theme: String,
    pub permissions: Vec<Permission>,
    pub build_hash: String,
}

impl Me {
    /// Same RBAC rule as the server (for hiding UI; the server still checks).
    pub fn can(&self, verb: &str, resource: &str) -> bool {
        crate::rbac::allowed(&self.permissions, verb, resource)
    }
}

/// The current user, or `None` when not signed in.
#[server(endpoint = "auth/me")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_me() -> Result<Option<Me>, AppError> {
    use crate::server::auth::{app_state, maybe_user};
    let state = app_state()?;
    Ok(maybe_user().map(|u| Me {
        username: u.username,
        display_name: u.display_name,
        must_change_pw: u.must_change_pw,
        theme: u.theme,
        permissions: u.permissions,
        build_hash: state.config.build_hash.clone(),
    }))
}

/// Sign in. Returns the path to continue to. The same message for every kind of failure.
#[server(endpoint = "auth/login")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn login(username: String, password: String) -> Result<String, AppError> {
    login_impl(username, password).await
}

#[cfg(feature = "ssr")]
async fn login_impl(username: String, password: String) -> Result<String, AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{
        self, app_state, client_info, cookie, password as pw, request_parts,
    };
    use crate::server::users;
    use std::time::Duration;

    let state = app_state()?;
    let client = client_info(&request_parts()?);
    let username = username.trim().to_string();
    if username.is_empty() || password.is_empty() {
        return Err(AppError::Invalid {
            field: None,
            message: "Enter your username and password.".into(),
        });
    }
    if username.chars().count() > 255 || password.chars().count() > 1024 {
        return Err(AppError::Invalid {
            field: None,
            message: "Username or password is too long.".into(),
        });
    }
    let cfg = &state.config;
    // The attempt is counted before the password is checked, so parallel guesses cannot pass
    // the limit while their checks run; a success clears the count.
    if let Err(wait) = state.throttle.attempt(
        &username,
        &client.ip,
        cfg.login_max_failures,
        Duration::from_secs(cfg.login_window_secs),
    ) {
        crate::server::audit::record_limited(
            &state.db,
            &state.audit_limiter,
            AuditEntry::new("auth.login", &format!("user:{username}"))
                .username(&username)
                .args(serde_json::json!({ "reason": "throttled" }))
                .deny(429)
                .ip(&client.ip),
        )
        .await;
        return Err(AppError::throttled("failed sign-in attempts", wait));
    }
    let row = users::find_for_login(&state.db, &username).await?;
    let hash = row
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| pw::dummy_hash().to_string());
    let ok = pw::verify_async(password, hash).await?;
    let row = match row {
        Some(r) if ok && r.is_active => r,
        _ => {
            crate::server::audit::record_limited(
                &state.db,
                &state.audit_limiter,
                AuditEntry::new("auth.login", &format!("user:{username}"))
                    .username(&username)
                    .deny(401)
                    .ip(&client.ip),
            )
            .await;
            return Err(AppError::Unauthorized(
                "Invalid username or password.".into(),
            ));
        }
    };
    state.throttle.clear(&username, &client.ip);
    let value = auth::create_session(&state, &row.id, &client).await?;
    crate::with_db!(&state.db, p => {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(crate::server::db::Ts::now())
            .bind(&row.id)
            .execute(p)
            .await?;
    });
    if let Some(ro) = use_context::<leptos_axum::ResponseOptions>() {
        let header = cookie::set_cookie_header(
            &cfg.cookie_name,
            &value,
            cfg.session_ttl_minutes * 60,
            cfg.cookie_secure,
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&header) {
            ro.append_header(axum::http::header::SET_COOKIE, v);
        }
    }
    record(
        &state.db,
        AuditEntry::new("auth.login", &format!("user:{}", row.username))
            .user(&row.id, &row.username)
            .ip(&client.ip),
    )
    .await;
    Ok(if row.must_change_pw {
        "/change-password"
    } else {
        "/"
    }
    .to_string())
}

/// Sign out: delete the session and clear the cookie.
#[server(endpoint = "auth/logout")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn logout() -> Result<(), AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{self, app_state, client_info, cookie, maybe_user, request_parts};
    let state = app_state()?;
    let ip = client_info(&request_parts()?).ip;
    if let Some(u) = maybe_user() {
        auth::delete_session(&state.db, &u.session_key).await?;
        record(
            &state.db,
            AuditEntry::new("auth.logout", &format!("user:{}", u.username))
                .user(&u.id, &u.username)
                .ip(&ip),
        )
        .await;
    }
    if let Some(ro) = use_context::<leptos_axum::ResponseOptions>() {
        let h = cookie::clear_cookie_header(&state.config.cookie_name, state.config.cookie_secure);
        if let Ok(v) = axum::http::HeaderValue::from_str(&h) {
            ro.append_header(axum::http::header::SET_COOKIE, v);
        }
    }
    Ok(())
}

/// Change the signed-in user's password; ends their other sessions.
#[server(endpoint = "auth/change-password")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    change_password_impl(current_password, new_password, confirm_password).await
}

#[cfg(feature = "ssr")]
async fn change_password_impl(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{
        self, client_info, password as pw, request_parts, session_allowing_pw_change,
    };
    use crate::server::users;

    let (state, user) = session_allowing_pw_change()?;
    let ip = client_info(&request_parts()?).ip;
    let resource = format!("user:{}", user.username);
    let deny = |code: u16, reason: &str| {
        AuditEntry::new("auth.change_password", &resource)
            .user(&user.id, &user.username)
            .args(serde_json::json!({ "reason": reason }))
            .deny(code)
            .ip(&ip)
    };
    if current_password.chars().count() > 1024 {
        return Err(AppError::invalid(
            "current_password",
            "The current password is wrong.",
        ));
    }
    // Guessing the current password from a stolen session is throttled like sign-in.
    let scope = format!("change-password:{}", user.id);
    if let Err(wait) = state.throttle.attempt(
        &scope,
        &ip,
        state.config.login_max_failures,
        std::time::Duration::from_secs(state.config.login_window_secs),
    ) {
        record(&state.db, deny(429, "throttled")).await;
        return Err(AppError::throttled("wrong current passwords", wait));
    }
    let row = users::find_for_login(&state.db, &user.username)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Your account no longer exists.".into()))?;
    if !pw::verify_async(current_password.clone(), row.password_hash).await? {
        record(&state.db, deny(422, "wrong current password")).await;
        return Err(AppError::invalid(
            "current_password",
            "The current password is wrong.",
        ));
    }
    if let Err(m) = pw::validate_new(&new_password) {
        record(&state.db, deny(422, "new password rejected")).await;
        return Err(AppError::invalid("new_password", m));
    }
    if new_password == current_password {
        record(&state.db, deny(422, "new password equals current")).await;
        return Err(AppError::invalid(
            "new_password",
            "The new password must differ from the current one.",
        ));
    }
    if new_password != confirm_password {
        return Err(AppError::invalid(
            "confirm_password",
            "The two new passwords do not match.",
        ));
    }
    state.throttle.clear(&scope, &ip);
    users::set_password(&state.db, &user.id, &new_password, false).await?;
    let ended = auth::delete_user_sessions(&state.db, &user.id, Some(&user.session_key)).await?;
    record(
        &state.db,
        AuditEntry::new("auth.change_password", &resource)
            .user(&user.id, &user.username)
            .args(serde_json::json!({ "other_sessions_ended": ended }))
            .ip(&ip),
    )
    .await;
    Ok(())
}

/// Remember the user's colour theme (`dark` or `light`).
#[server(endpoint = "prefs/theme")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn set_theme(theme: String) -> Result<(), AppError> {
    use crate::server::auth::session_allowing_pw_change;
    let (state, user) = session_allowing_pw_change()?;
    if theme != "dark" && theme != "light" {
        return Err(AppError::invalid("theme", "Theme must be dark or light."));
    }
    crate::with_db!(&state.db, p => {
        sqlx::query("UPDATE users SET theme = $1 WHERE id = $2")
            .bind(&theme)
            .bind(&user.id)
            .execute(p)
            .await?;
    });
    Ok(())
}
