//! Types the layout puts into the Leptos context and pages take out of it (so a page never
//! imports the layout, and the layout imports pages only through the route table).

use crate::app::api::auth::Me;
use crate::error::AppError;
use leptos::prelude::*;

/// The current user, loaded once per page load and shared through context.
pub type MeResource = Resource<Result<Option<Me>, AppError>>;

/// The shared current-user resource (call synchronously in a component body).
pub fn me_resource() -> Option<MeResource> {
    use_context::<MeResource>()
}

/// The signed-in user from the shared resource (await inside `Suspend`).
pub async fn me_value(res: Option<MeResource>) -> Option<Me> {
    match res {
        Some(r) => r.await.ok().flatten(),
        None => None,
    }
}

/// The pending-key count shown in the sidebar (refetched after key actions).
#[derive(Clone, Copy)]
pub struct PendingKeys(pub Resource<Result<i64, AppError>>);

/// Bumped when Salt settings change so the banner re-reads the connection state.
#[derive(Clone, Copy)]
pub struct SaltStatusVersion(pub RwSignal<u32>);
