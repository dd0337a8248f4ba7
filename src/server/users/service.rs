//! The users administration's rules, shared by the server functions and `halite admin`: checks,
//! the "last active `*:*` holder / yourself" protection, sessions ended, and one audit row per
//! change. Callers authorise first and tell live streams (`AppState::user_changed`) afterwards.

use crate::error::AppError;
use crate::model::ids::Username;
use crate::model::users::{validate_display_name, validate_email, RoleRef, UserSummary};
use crate::rbac::{self, Permission};
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::{self, password};
use crate::server::db::Db;
use serde_json::{json, Map, Value};

use super::store;

/// Who makes a change: a signed-in user, or the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `None` for the command line.
    pub user_id: Option<String>,
    pub username: String,
    pub ip: String,
    /// What the actor holds, for the "only pass on what you hold" rule; `None` (the command
    /// line, run by whoever owns the database) is not limited.
    pub grants: Option<Vec<Permission>>,
}

impl Actor {
    /// A signed-in user, from an address.
    pub fn user(user_id: &str, username: &str, ip: &str) -> Self {
        Actor {
            user_id: Some(user_id.to_string()),
            username: username.to_string(),
            ip: ip.to_string(),
            grants: None,
        }
    }

    /// The grants a signed-in actor holds (their session's permissions).
    pub fn holding(mut self, grants: Vec<Permission>) -> Self {
        self.grants = Some(grants);
        self
    }

    /// `halite admin` (audited as user `cli`, no user id).
    pub fn cli() -> Self {
        Actor {
            user_id: None,
            username: "cli".into(),
            ip: String::new(),
            grants: None,
        }
    }

    fn is(&self, user_id: &str) -> bool {
        self.user_id.as_deref() == Some(user_id)
    }

    /// An allowed audit row for `action` on a user, by this actor.
    fn entry(&self, action: &str, target: &Username) -> AuditEntry {
        let e = AuditEntry::new(action, &resource(target)).ip(&self.ip);
        match &self.user_id {
            Some(id) => e.user(id, &self.username),
            None => e.username(&self.username),
        }
    }

    async fn audit(&self, db: &Db, action: &str, target: &Username, args: Value) {
        record(db, self.entry(action, target).args(args)).await;
    }

    /// Refuse (audited 403) a change that would hand out `grants` the actor does not hold: a
    /// role given to someone (or to a new user), or control over an account that holds more
    /// than the actor (its password, its activation, its roles).
    async fn may_pass_on(
        &self,
        db: &Db,
        target: &Username,
        grants: &[Permission],
        refusal: &str,
    ) -> Result<(), AppError> {
        match &self.grants {
            Some(held) if !rbac::holds_all(held, grants) => {
                let e = self
                    .entry("permission.denied", target)
                    .args(json!({ "verb": "manage_user", "rule": "escalation" }))
                    .deny(403);
                record(db, e).await;
                Err(AppError::Forbidden(refusal.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// [`Actor::may_pass_on`] for every grant `target` holds now.
    async fn may_manage(&self, db: &Db, target: &UserSummary) -> Result<(), AppError> {
        let theirs = auth::load_permissions(db, &target.id).await?;
        self.may_pass_on(
            db,
            &target.username,
            &theirs,
            &format!(
                "{} holds access you do not hold yourself; only someone holding all of it may change this account.",
                target.username
            ),
        )
        .await
    }

    /// [`Actor::may_pass_on`] for the grants of `roles`.
    async fn may_give(
        &self,
        db: &Db,
        target: &Username,
        roles: &[RoleRef],
    ) -> Result<(), AppError> {
        let mut grants = Vec::new();
        for r in roles {
            for g in crate::server::roles::grants(db, &r.id).await? {
                grants.push(Permission::new(&g.verb, &g.resource_glob));
            }
        }
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        self.may_pass_on(
            db,
            target,
            &grants,
            &format!(
                "You cannot give the role {}: it grants access you do not hold yourself.",
                names.join(", ")
            ),
        )
        .await
    }
}

/// The RBAC resource of a user: `user:<username>`.
pub fn resource(username: &Username) -> String {
    format!("user:{username}")
}

/// Held from the "last active `*:*` holder" check to the write by every change that can take
/// `*:*` away (deactivate, delete, role removal, a `*:*` grant removed from a role), so two
/// such requests at once cannot each see the other's holder and leave none. One process; the
/// command line in another process is not serialised with it.
pub static FULL_ACCESS_CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A change that can take the `*:*` grant away from someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange<'a> {
    Deactivate,
    Delete,
    /// Taking this role (id) away.
    RemoveRole(&'a str),
}

/// Would `change` to `user_id` leave no active user holding `*:*` (while one holds it now)?
pub async fn would_leave_no_superadmin(
    db: &Db,
    user_id: &str,
    change: UserChange<'_>,
) -> Result<bool, sqlx::Error> {
    let grants = store::superadmin_grants(db).await?;
    let remains = |(u, r): &&(String, String)| match change {
        UserChange::Deactivate | UserChange::Delete => u != user_id,
        UserChange::RemoveRole(role) => !(u == user_id && r == role),
    };
    Ok(!grants.is_empty() && !grants.iter().any(|g| remains(&g)))
}

/// Does `user_id` hold `*:*` now (as an active user), and would they still after `change`?
async fn superadmin_before_after(
    db: &Db,
    user_id: &str,
    change: UserChange<'_>,
) -> Result<(bool, bool), sqlx::Error> {
    let grants = store::superadmin_grants(db).await?;
    let mine = || grants.iter().filter(|(u, _)| u == user_id);
    let before = mine().next().is_some();
    let after = match change {
        UserChange::Deactivate | UserChange::Delete => false,
        UserChange::RemoveRole(role) => mine().any(|(_, r)| r != role),
    };
    Ok((before, after))
}

/// The one protection rule (DECISIONS "Auth and security"): nobody may deactivate or delete
/// themselves, strip `*:*` from themselves, or do any of that to the last active holder of
/// `*:*`. 409 with the reason.
pub async fn protect_superadmins(
    db: &Db,
    actor: &Actor,
    target: &UserSummary,
    change: UserChange<'_>,
) -> Result<(), AppError> {
    if actor.is(&target.id) {
        match change {
            UserChange::Deactivate => {
                return Err(AppError::Conflict(
                    "You cannot deactivate your own account; another administrator must do it."
                        .into(),
                ))
            }
            UserChange::Delete => {
                return Err(AppError::Conflict(
                    "You cannot delete your own account; another administrator must do it.".into(),
                ))
            }
            UserChange::RemoveRole(_) => {
                let (before, after) = superadmin_before_after(db, &target.id, change).await?;
                if before && !after {
                    return Err(AppError::Conflict(
                        "You cannot remove your own full access (*:*); another administrator must do it."
                            .into(),
                    ));
                }
            }
        }
    }
    if target.is_active && would_leave_no_superadmin(db, &target.id, change).await? {
        let what = match change {
            UserChange::Deactivate => "deactivated",
            UserChange::Delete => "deleted",
            UserChange::RemoveRole(_) => "stripped of full access",
        };
        return Err(AppError::Conflict(format!(
            "{} is the last active user with full access (*:*) and cannot be {what}; \
             give another active user a role granting *:* first.",
            target.username
        )));
    }
    Ok(())
}

/// A user to create, as the form or the command line gives it (unchecked).
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
    pub must_change_pw: bool,
    pub role_ids: Vec<String>,
}

fn check_password(pw: &str, field: &str) -> Result<(), AppError> {
    password::validate_new(pw).map_err(|m| AppError::invalid(field, m))
}

/// Most roles one request may give.
pub const MAX_ROLES: usize = 32;

/// The roles named by id, each checked to exist (422 naming `field` otherwise).
async fn roles_by_id(db: &Db, ids: &[String], field: &str) -> Result<Vec<RoleRef>, AppError> {
    if ids.len() > MAX_ROLES {
        return Err(AppError::invalid(
            field,
            format!("Choose at most {MAX_ROLES} roles at once."),
        ));
    }
    let mut out: Vec<RoleRef> = Vec::new();
    for id in ids {
        let id = crate::model::users::validate_id("role_ids", id)?;
        match store::role(db, &id).await? {
            Some(r) if !out.contains(&r) => out.push(r),
            Some(_) => {}
            None => {
                return Err(AppError::invalid(
                    field,
                    "One of the chosen roles does not exist any more; reload the page.",
                ))
            }
        }
    }
    Ok(out)
}

/// Check the whole form before anything is written (the username's permission is checked by
/// the caller on the parsed username).
pub fn parse_username(s: &str) -> Result<Username, AppError> {
    Username::new(s.trim())
}

/// Create a user (audited as `user.create`, never with the password).
pub async fn create(db: &Db, actor: &Actor, u: CreateUser) -> Result<UserSummary, AppError> {
    let username = parse_username(&u.username)?;
    if username
        .as_str()
        .eq_ignore_ascii_case(Actor::cli().username.as_str())
    {
        return Err(AppError::Conflict(
            "The username \"cli\" is reserved: the audit log uses it for changes made with `halite admin`."
                .into(),
        ));
    }
    let display_name = validate_display_name(&u.display_name)?;
    let email = validate_email(&u.email)?;
    check_password(&u.password, "password")?;
    let roles = roles_by_id(db, &u.role_ids, "role_ids").await?;
    actor.may_give(db, &username, &roles).await?;
    let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    let id = store::insert(
        db,
        &store::NewUser {
            username: &username,
            display_name: &display_name,
            email: email.as_deref(),
            password: &u.password,
            must_change_pw: u.must_change_pw,
            role_ids: &role_ids,
        },
    )
    .await?;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    actor
        .audit(
            db,
            "user.create",
            &username,
            json!({
                "display_name": display_name,
                "email": email,
                "must_change_pw": u.must_change_pw,
                "roles": names,
            }),
        )
        .await;
    load(db, &id).await
}

/// One user, or 404.
pub async fn load(db: &Db, id: &str) -> Result<UserSummary, AppError> {
    store::get(db, id).await?.ok_or_else(|| {
        AppError::NotFound("There is no such user (it may have been deleted).".into())
    })
}

/// One user by username, or 404.
pub async fn load_by_username(db: &Db, username: &str) -> Result<UserSummary, AppError> {
    store::get_by_username(db, username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no user named {username:?}.")))
}

/// Fields to change (unchecked); `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    /// `Some("")` removes the address.
    pub email: Option<String>,
    pub is_active: Option<bool>,
}

/// What an update did.
#[derive(Debug, Clone)]
pub struct Updated {
    pub user: UserSummary,
    /// Sessions ended (a deactivation ends them all).
    pub sessions_ended: u64,
    /// Whether anything changed.
    pub changed: bool,
}

/// Change a user's display name, e-mail or active flag (audited as `user.update` with the
/// changed fields before and after). Deactivating ends every session of the user at once.
pub async fn update(
    db: &Db,
    actor: &Actor,
    target: &UserSummary,
    u: UpdateUser,
) -> Result<Updated, AppError> {
    let _serialised = FULL_ACCESS_CHANGES.lock().await;
    let display_name = match &u.display_name {
        Some(d) => validate_display_name(d)?,
        None => target.display_name.clone(),
    };
    let email = match &u.email {
        Some(e) => validate_email(e)?,
        None => target.email.clone(),
    };
    let is_active = u.is_active.unwrap_or(target.is_active);
    actor.may_manage(db, target).await?;
    if target.is_active && !is_active {
        protect_superadmins(db, actor, target, UserChange::Deactivate).await?;
    }
    let (mut before, mut after) = (Map::new(), Map::new());
    let mut diff = |k: &str, b: Value, a: Value| {
        if b != a {
            before.insert(k.into(), b);
            after.insert(k.into(), a);
        }
    };
    diff(
        "display_name",
        json!(target.display_name),
        json!(display_name),
    );
    diff("email", json!(target.email), json!(email));
    diff("is_active", json!(target.is_active), json!(is_active));
    if after.is_empty() {
        return Ok(Updated {
            user: target.clone(),
            sessions_ended: 0,
            changed: false,
        });
    }
    store::update_profile(db, &target.id, &display_name, email.as_deref(), is_active).await?;
    let sessions_ended = if !is_active {
        auth::delete_user_sessions(db, &target.id, None).await?
    } else {
        0
    };
    actor
        .audit(
            db,
            "user.update",
            &target.username,
            json!({ "before": before, "after": after, "sessions_ended": sessions_ended }),
        )
        .await;
    Ok(Updated {
        user: load(db, &target.id).await?,
        sessions_ended,
        changed: true,
    })
}

/// Set a new password: the user must change it at next sign-in and every session of theirs
/// ends (audited as `user.password_reset`, without the password). Returns the sessions ended.
pub async fn reset_password(
    db: &Db,
    actor: &Actor,
    target: &UserSummary,
    new_password: &str,
) -> Result<u64, AppError> {
    if actor.is(&target.id) {
        return Err(AppError::Conflict(
            "Use Change password (in the user menu) for your own password: it asks for the current one."
                .into(),
        ));
    }
    actor.may_manage(db, target).await?;
    check_password(new_password, "new_password")?;
    super::set_password(db, &target.id, new_password, true).await?;
    let ended = auth::delete_user_sessions(db, &target.id, None).await?;
    actor
        .audit(
            db,
            "user.password_reset",
            &target.username,
            json!({ "must_change_pw": true, "sessions_ended": ended }),
        )
        .await;
    Ok(ended)
}

/// Delete a user: 409 for a built-in user, yourself, or the last active `*:*` holder (audited
/// as `user.delete`; earlier audit rows keep their history).
pub async fn delete(db: &Db, actor: &Actor, target: &UserSummary) -> Result<(), AppError> {
    let _serialised = FULL_ACCESS_CHANGES.lock().await;
    if target.is_builtin {
        return Err(AppError::Conflict(format!(
            "{} is a built-in user and cannot be deleted; deactivate it instead.",
            target.username
        )));
    }
    protect_superadmins(db, actor, target, UserChange::Delete).await?;
    actor.may_manage(db, target).await?;
    store::delete(db, &target.id).await?;
    let roles: Vec<&str> = target.roles.iter().map(|r| r.name.as_str()).collect();
    actor
        .audit(
            db,
            "user.delete",
            &target.username,
            json!({ "display_name": target.display_name, "roles": roles }),
        )
        .await;
    Ok(())
}

/// Give a user a role (audited as `user.roles.add`). 409 when they hold it already.
pub async fn add_role(
    db: &Db,
    actor: &Actor,
    target: &UserSummary,
    role: &RoleRef,
) -> Result<(), AppError> {
    actor
        .may_give(db, &target.username, std::slice::from_ref(role))
        .await?;
    if !store::add_role(db, &target.id, &role.id).await? {
        return Err(AppError::Conflict(format!(
            "{} already holds the role {}.",
            target.username, role.name
        )));
    }
    audit_role(db, actor, "user.roles.add", target, role).await;
    Ok(())
}

/// Take a role from a user (audited as `user.roles.remove`), unless that strips `*:*` from
/// yourself or from the last active holder (409). 404 when they do not hold it.
pub async fn remove_role(
    db: &Db,
    actor: &Actor,
    target: &UserSummary,
    role: &RoleRef,
) -> Result<(), AppError> {
    let _serialised = FULL_ACCESS_CHANGES.lock().await;
    if !target.roles.iter().any(|r| r.id == role.id) {
        return Err(AppError::NotFound(format!(
            "{} does not hold the role {}.",
            target.username, role.name
        )));
    }
    protect_superadmins(db, actor, target, UserChange::RemoveRole(&role.id)).await?;
    actor.may_manage(db, target).await?;
    store::remove_role(db, &target.id, &role.id).await?;
    audit_role(db, actor, "user.roles.remove", target, role).await;
    Ok(())
}

/// The audit row of a role given to (`user.roles.add`) or taken from (`user.roles.remove`)
/// `target`.
async fn audit_role(db: &Db, actor: &Actor, action: &str, target: &UserSummary, role: &RoleRef) {
    let args = json!({ "role": role.name });
    actor.audit(db, action, &target.username, args).await;
}

/// A role by id from a form (422 when malformed, 404 when it does not exist).
pub async fn role_by_id(db: &Db, id: &str) -> Result<RoleRef, AppError> {
    let id = crate::model::users::validate_id("role_id", id)?;
    store::role(db, &id).await?.ok_or_else(|| {
        AppError::NotFound("There is no such role (it may have been deleted).".into())
    })
}

/// A role by name (the command line), or 404.
pub async fn role_by_name(db: &Db, name: &str) -> Result<RoleRef, AppError> {
    store::role_by_name(db, name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no role named {name:?}.")))
}
