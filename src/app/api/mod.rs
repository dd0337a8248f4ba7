//! Server functions (stable paths under `/api/`) and the types they exchange.

pub mod access;
pub mod activity;
pub mod audit;
pub mod auth;
pub mod diagnostics;
pub mod fleet;
pub mod form;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod minions;
pub mod overview;
pub mod palette;
pub mod roles;
pub mod run;
pub mod settings;
pub mod templates;
pub mod timeline;
pub mod users;

// One validation for every list (see `crate::model::list`).
pub use crate::model::list::{validate_page, MAX_LIST_OFFSET};

/// The signed-in user's scope over one kind of row (`minion`, `job`, `key`): `None` = all of
/// them, else SQLite GLOBs over `<kind>:<id>`. A user who may view none gets the audited 403 of
/// `view:<kind>:*` with `message`.
#[cfg(feature = "ssr")]
pub async fn view_scope(
    kind: &str,
    message: &str,
) -> Result<
    (
        crate::server::state::AppState,
        crate::server::auth::CurrentUser,
        Option<Vec<String>>,
    ),
    crate::error::AppError,
> {
    use crate::server::auth::{deny, session};
    let (state, user) = session()?;
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", kind);
    if globs.as_ref().is_some_and(|g| g.is_empty()) {
        return Err(deny(&state, &user, "view", &format!("{kind}:*"), message).await);
    }
    Ok((state, user, globs))
}
