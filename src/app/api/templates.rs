//! Command templates (SPEC 6.8): saved Run commands, private by default, optionally shared with
//! every user. Session only, no RBAC permission; ownership scopes everything, and a template the
//! caller may not see or change answers "not found" so its existence does not leak.
#![allow(clippy::too_many_arguments)] // server functions mirror the form fields one to one

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::templates::{
    command_from_form, command_line, form_flag, is_function_name, parse_args, parse_kwargs,
    validate_command, validate_name_description, CommandSpec, TemplateList, TemplateOut, MAX_ARGS,
    MAX_ARG_LEN, MAX_DESCRIPTION, MAX_FUN, MAX_KWARG_KEY, MAX_NAME, MAX_TARGET, TARGET_TYPES,
};

#[cfg(feature = "ssr")]
fn not_found() -> AppError {
    AppError::NotFound("Template not found".into())
}

#[cfg(feature = "ssr")]
fn client_ip() -> String {
    crate::server::auth::request_parts()
        .map(|p| crate::server::auth::client_info(&p).ip)
        .unwrap_or_default()
}

/// The caller's own templates and every shared one.
#[server(endpoint = "templates/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_templates() -> Result<TemplateList, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    let templates = crate::server::templates::list_visible(&state.db, &user.id).await?;
    Ok(TemplateList {
        total: templates.len() as i64,
        templates,
    })
}

/// One template the caller owns or that is shared (the Run page pre-fills from it).
#[server(endpoint = "templates/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_template(id: String) -> Result<TemplateOut, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    let id = id.trim();
    if id.is_empty() || id.len() > 64 {
        return Err(not_found());
    }
    crate::server::templates::get_visible(&state.db, id, &user.id)
        .await?
        .ok_or_else(not_found)
}

/// Save a command as a template of the caller's. `args_json` is a JSON list of strings,
/// `kwargs_json` a JSON object of string values; `is_shared` is a checkbox (present = shared).
#[server(endpoint = "templates/create")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn create_template(
    name: String,
    #[server(default)] description: String,
    target: String,
    #[server(default)] target_type: String,
    fun: String,
    #[server(default)] args_json: String,
    #[server(default)] kwargs_json: String,
    #[server(default)] is_shared: Option<String>,
) -> Result<TemplateOut, AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::session;
    let (state, user) = session()?;
    let name = name.trim();
    let description = description.trim();
    validate_name_description(name, description)?;
    let command = command_from_form(&target, &target_type, &fun, &args_json, &kwargs_json)?;
    let shared = form_flag(is_shared.as_deref());
    let t =
        crate::server::templates::insert(&state.db, &user.id, name, description, &command, shared)
            .await?;
    record(
        &state.db,
        AuditEntry::new("template.create", &format!("template:{}", t.id))
            .user(&user.id, &user.username)
            .args(serde_json::json!({
                "name": t.name,
                "target": t.target,
                "target_type": t.target_type,
                "fun": t.fun,
                "args": t.args,
                "kwargs": t.kwargs,
                "is_shared": t.is_shared,
            }))
            .ip(&client_ip()),
    )
    .await;
    Ok(t)
}

/// Share a template of the caller's with every user, or make it private again.
#[server(endpoint = "templates/share")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn share_template(id: String, is_shared: bool) -> Result<TemplateOut, AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::session;
    let (state, user) = session()?;
    let t = crate::server::templates::set_shared(&state.db, id.trim(), &user.id, is_shared)
        .await?
        .ok_or_else(not_found)?;
    record(
        &state.db,
        AuditEntry::new("template.share", &format!("template:{}", t.id))
            .user(&user.id, &user.username)
            .args(serde_json::json!({ "name": t.name, "is_shared": is_shared }))
            .ip(&client_ip()),
    )
    .await;
    Ok(t)
}

/// Delete a template of the caller's.
#[server(endpoint = "templates/delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn delete_template(id: String) -> Result<(), AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::session;
    let (state, user) = session()?;
    let id = id.trim();
    let name = crate::server::templates::delete(&state.db, id, &user.id)
        .await?
        .ok_or_else(not_found)?;
    record(
        &state.db,
        AuditEntry::new("template.delete", &format!("template:{id}"))
            .user(&user.id, &user.username)
            .args(serde_json::json!({ "name": name }))
            .ip(&client_ip()),
    )
    .await;
    Ok(())
}
