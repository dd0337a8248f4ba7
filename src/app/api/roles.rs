//! Roles administration (SPEC 6.11, issue 12): the paged list, one role, create, edit the
//! description, delete, add and remove permission rows, and the live preview of a row. Reads
//! need `view` on `role:<name>`, changes `manage_role` on it; every change is audited.

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::roles::{
    Grant, KindMatch, MatchPreview, RoleDetail, RoleMember, RolePage, RoleSummary, KNOWN_KINDS,
    KNOWN_VERBS,
};

/// Write the audit row of a role change by the signed-in user.
#[cfg(feature = "ssr")]
async fn audit(
    state: &crate::server::state::AppState,
    user: &crate::server::auth::CurrentUser,
    action: &str,
    role_name: &str,
    args: serde_json::Value,
) {
    use crate::server::audit::{record, AuditEntry};
    record(
        &state.db,
        AuditEntry::new(action, &format!("role:{role_name}"))
            .user(&user.id, &user.username)
            .args(args)
            .ip(&crate::server::auth::request_ip()),
    )
    .await;
}

/// The role `id` (404 when unknown) once the signed-in user holds `verb` on `role:<name>`.
#[cfg(feature = "ssr")]
async fn authorised_role(
    verb: &str,
    id: &str,
) -> Result<crate::server::auth::Authorised<RoleSummary>, AppError> {
    let load = async |db: &_| crate::server::roles::require_role(db, id).await;
    crate::server::auth::require_on(verb, load, |r| format!("role:{}", r.name)).await
}

/// One page of roles: search (name, description), sort, paging.
#[server(endpoint = "roles/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_roles(
    #[server(default)] q: String,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<RolePage, AppError> {
    use crate::model::list::{ListParams, ListQuery};
    use crate::model::roles::RoleFilters;
    let (state, _, globs) =
        super::view_scope("role", "You do not have permission to view roles.").await?;
    let lq: ListQuery<RoleFilters> = ListParams {
        q,
        sort,
        dir,
        page,
        per_page,
        filters: RoleFilters,
    }
    .try_into()?;
    Ok(crate::server::roles::list(&state.db, &lq, &globs).await?)
}

/// One role with its permissions and members.
#[server(endpoint = "roles/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_role(id: String) -> Result<RoleDetail, AppError> {
    let (state, user, role) = authorised_role("view", &id).await?;
    let mut d = crate::server::roles::detail(&state.db, role).await?;
    // Members are users: list only those the caller may view (the count stays whole).
    d.members
        .retain(|m| user.can("view", &format!("user:{}", m.username)));
    Ok(d)
}

/// Create a custom role (409 when the name is taken, case-insensitively).
#[server(endpoint = "roles/create")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn create_role(
    name: String,
    #[server(default)] description: String,
) -> Result<RoleSummary, AppError> {
    use crate::model::roles::validate_role_name;
    use crate::server::auth::{require, session};
    // Signed in first (401 before any 422); the permission needs the checked name.
    session()?;
    let name = validate_role_name(&name)?;
    let (state, user) = require("manage_role", &format!("role:{name}")).await?;
    let role = crate::server::roles::create(&state.db, &name, &description).await?;
    let args = serde_json::json!({ "name": role.name, "description": role.description });
    audit(&state, &user, "role.create", &role.name, args).await;
    Ok(role)
}

/// Change a custom role's description.
#[server(endpoint = "roles/update")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn update_role(
    id: String,
    #[server(default)] description: String,
) -> Result<RoleSummary, AppError> {
    let (state, user, role) = authorised_role("manage_role", &id).await?;
    let after = crate::server::roles::update_description(&state.db, &role, &description).await?;
    let args = serde_json::json!({ "before": { "description": role.description }, "after": { "description": after } });
    audit(&state, &user, "role.update", &role.name, args).await;
    Ok(RoleSummary {
        description: after,
        ..role
    })
}

/// Delete a custom role nobody holds.
#[server(endpoint = "roles/delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn delete_role(id: String) -> Result<(), AppError> {
    let (state, user, role) = authorised_role("manage_role", &id).await?;
    crate::server::roles::delete(&state.db, &role).await?;
    let args = serde_json::json!({ "name": role.name, "description": role.description });
    audit(&state, &user, "role.delete", &role.name, args).await;
    Ok(())
}

/// Add a `(verb, resource_glob)` row to a custom role.
#[server(endpoint = "roles/perm-add")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_role_permission(
    role_id: String,
    verb: String,
    resource_glob: String,
) -> Result<Grant, AppError> {
    use crate::server::roles::{add_permission, validate};
    let (state, user, role) = authorised_role("manage_role", &role_id).await?;
    let verb = validate::verb(&verb)?;
    let glob = validate::resource_glob(&resource_glob)?;
    // Nobody hands out (to a role they or others hold) access they do not hold themselves.
    let grant = crate::rbac::Permission::new(&verb, &glob);
    if !crate::rbac::holds(&user.permissions, &grant) {
        return Err(crate::server::auth::deny_by_rule(
            &state,
            &user,
            "manage_role",
            &format!("role:{}", role.name),
            Some("escalation"),
            &format!("You cannot add {verb}:{glob}: it grants access you do not hold yourself."),
        )
        .await);
    }
    let g = add_permission(&state.db, &role, &verb, &glob).await?;
    let args = serde_json::json!({ "verb": g.verb, "resource_glob": g.resource_glob });
    audit(&state, &user, "role.permission.add", &role.name, args).await;
    wake_members(&state, &role.id).await;
    Ok(g)
}

/// Remove a row from a custom role (never the last active `*:*`, nor your own).
#[server(endpoint = "roles/perm-remove")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn remove_role_permission(
    role_id: String,
    permission_id: String,
) -> Result<Grant, AppError> {
    let (state, user, role) = authorised_role("manage_role", &role_id).await?;
    let g =
        crate::server::roles::remove_permission(&state.db, &role, &permission_id, &user.id).await?;
    let args = serde_json::json!({ "verb": g.verb, "resource_glob": g.resource_glob });
    audit(&state, &user, "role.permission.remove", &role.name, args).await;
    wake_members(&state, &role.id).await;
    Ok(g)
}

/// Tell the open streams of a role's members that their grants changed (they re-check at once).
#[cfg(feature = "ssr")]
async fn wake_members(state: &crate::server::state::AppState, role_id: &str) {
    match crate::server::roles::members(&state.db, role_id).await {
        Ok(members) => members.iter().for_each(|m| state.user_changed(&m.id)),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the role's members to wake their streams")
        }
    }
}

/// What a row being typed would match among the minions, keys and jobs the caller may view.
#[server(endpoint = "roles/preview")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn preview_grant(verb: String, resource_glob: String) -> Result<MatchPreview, AppError> {
    use crate::server::roles::{preview, validate};
    let (state, user, _) =
        super::view_scope("role", "You do not have permission to view roles.").await?;
    validate::verb(&verb)?;
    let glob = validate::resource_glob(&resource_glob)?;
    Ok(preview::preview(&state.db, &glob, &user.permissions).await?)
}
