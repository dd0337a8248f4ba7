//! Users administration (SPEC 6.11): the list, one user, create, edit, reset password, delete
//! and role membership. Reads need `view` on `user:*` (one user: `user:<username>`), changes
//! `manage_user` on `user:<username>`. The rules and audit rows live in
//! `crate::server::users::service`; these functions authorise, call it, and tell open streams
//! of the changed user to re-check their session at once.

use crate::app::api::form::{FormList, PostForm};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{state::AppState, users::service::Actor};
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::users::{
    ActiveCounts, RoleRef, UserFilters, UserSort, UserSummary, UsersPage, MAX_DISPLAY_NAME,
    MAX_EMAIL,
};

/// The verb that guards every change to a user.
pub const MANAGE: &str = "manage_user";

/// The user `id` names (422 when malformed, 404 when unknown) once the caller holds `verb` on
/// them (`user:<username>`).
#[cfg(feature = "ssr")]
async fn authorised_user(
    verb: &str,
    id: &str,
) -> Result<crate::server::auth::Authorised<UserSummary>, AppError> {
    use crate::server::users::service;
    let id = crate::model::users::validate_id("id", id)?;
    let load = async |db: &_| service::load(db, &id).await;
    crate::server::auth::require_on(verb, load, |t| service::resource(&t.username)).await
}

/// The signed-in caller as the actor of a change, with `manage_user` on the user `id` names
/// (loaded; 404 when there is no such user).
#[cfg(feature = "ssr")]
async fn managed(id: &str) -> Result<(AppState, Actor, UserSummary), AppError> {
    let (state, user, target) = authorised_user(MANAGE, id).await?;
    let actor = Actor::user(&user.id, &user.username, &crate::server::auth::request_ip())
        .holding(user.permissions.clone());
    Ok((state, actor, target))
}

/// Give (`add`) or take the role `role_id` to or from the user `id`, tell their open streams, and
/// return the user as they are now.
#[cfg(feature = "ssr")]
async fn change_role(id: &str, role_id: &str, add: bool) -> Result<UserSummary, AppError> {
    use crate::server::users::service;
    let (state, actor, target) = managed(id).await?;
    let role = service::role_by_id(&state.db, role_id).await?;
    if add {
        service::add_role(&state.db, &actor, &target, &role).await?;
    } else {
        service::remove_role(&state.db, &actor, &target, &role).await?;
    }
    state.user_changed(&target.id);
    service::load(&state.db, &target.id).await
}

/// One page of users: search (username, display name, e-mail), active filter, sort, paging.
#[server(endpoint = "users/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_users(
    #[server(default)] q: String,
    #[server(default)] active: String,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<UsersPage, AppError> {
    use crate::model::list::{ListParams, ListQuery};
    use crate::model::page::Page;
    let (state, _) = crate::server::auth::require("view", "user:*").await?;
    let lq: ListQuery<UserFilters> = ListParams {
        q,
        sort,
        dir,
        page,
        per_page,
        filters: UserFilters { active },
    }
    .try_into()?;
    let (rows, total, counts) = crate::server::users::store::list(&state.db, &lq).await?;
    Ok(UsersPage {
        list: Page::new(rows, total, lq.page, lq.per_page),
        counts,
    })
}

/// One user with their roles.
#[server(endpoint = "users/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_user(id: String) -> Result<UserSummary, AppError> {
    let (_, _, target) = authorised_user("view", &id).await?;
    Ok(target)
}

/// The roles the caller may view, for the pickers.
#[server(endpoint = "users/roles-available")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn roles_available() -> Result<Vec<RoleRef>, AppError> {
    let (state, user) = crate::server::auth::require("view", "user:*").await?;
    let mut roles = crate::server::users::store::all_roles(&state.db).await?;
    // Only the roles the caller may view (a user's own page still names the roles they hold).
    roles.retain(|r| user.can("view", &format!("role:{}", r.name)));
    Ok(roles)
}

/// Create a user. `must_change_pw` is a checkbox (present = on; the form has it checked);
/// `role_ids` are the checked roles' ids.
#[server(endpoint = "users/create", input = PostForm)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn create_user(
    username: String,
    #[server(default)] display_name: String,
    #[server(default)] email: String,
    password: String,
    #[server(default)] must_change_pw: Option<String>,
    #[server(default)] role_ids: FormList,
) -> Result<UserSummary, AppError> {
    use crate::server::auth::{request_ip, require};
    use crate::server::users::service::{self, Actor, CreateUser};
    let parsed = service::parse_username(&username)?;
    let (state, user) = require(MANAGE, &service::resource(&parsed)).await?;
    let actor =
        Actor::user(&user.id, &user.username, &request_ip()).holding(user.permissions.clone());
    let input = CreateUser {
        username,
        display_name,
        email,
        password,
        must_change_pw: crate::model::templates::form_flag(must_change_pw.as_deref()),
        role_ids: role_ids.0,
    };
    service::create(&state.db, &actor, input).await
}

crate::post_form_args!(CreateUser);

/// Change a user's display name and e-mail (sent together, with `profile` set: the edit form;
/// an empty e-mail removes it) and/or the active flag (`is_active`: `true` or `false`; left out,
/// it is kept). Deactivating ends the user's sessions and open streams at once.
#[server(endpoint = "users/update")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn update_user(
    id: String,
    #[server(default)] profile: Option<String>,
    #[server(default)] display_name: String,
    #[server(default)] email: String,
    #[server(default)] is_active: Option<String>,
) -> Result<UserSummary, AppError> {
    use crate::server::users::service::{self, UpdateUser};
    let (state, actor, target) = managed(&id).await?;
    let is_active = match is_active.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(AppError::invalid(
                "is_active",
                "Active must be true or false.",
            ))
        }
    };
    let profile = crate::model::templates::form_flag(profile.as_deref());
    let change = UpdateUser {
        display_name: profile.then_some(display_name),
        email: profile.then_some(email),
        is_active,
    };
    let done = service::update(&state.db, &actor, &target, change).await?;
    if done.changed {
        state.user_changed(&target.id);
    }
    Ok(done.user)
}

/// Set a new password for a user: they must change it at their next sign-in, and every
/// session of theirs ends now. Returns how many sessions ended.
#[server(endpoint = "users/password")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn reset_user_password(id: String, new_password: String) -> Result<u64, AppError> {
    let (state, actor, target) = managed(&id).await?;
    let ended =
        crate::server::users::service::reset_password(&state.db, &actor, &target, &new_password)
            .await?;
    state.user_changed(&target.id);
    Ok(ended)
}

/// Delete a user (not a built-in one, not yourself, not the last active `*:*` holder).
#[server(endpoint = "users/delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn delete_user(id: String) -> Result<(), AppError> {
    let (state, actor, target) = managed(&id).await?;
    crate::server::users::service::delete(&state.db, &actor, &target).await?;
    state.user_changed(&target.id);
    Ok(())
}

/// Give a user a role; their next request (and open streams, at once) use the new grants.
#[server(endpoint = "users/role-add")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_user_role(id: String, role_id: String) -> Result<UserSummary, AppError> {
    change_role(&id, &role_id, true).await
}

/// Take a role from a user (refused when it strips `*:*` from yourself or the last holder).
#[server(endpoint = "users/role-remove")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn remove_user_role(id: String, role_id: String) -> Result<UserSummary, AppError> {
    change_role(&id, &role_id, false).await
}
