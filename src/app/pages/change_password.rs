//! Change-password page (forced after the first sign-in of a new or reset account).

use crate::app::api::auth::ChangePassword;
use crate::app::navigate_hard;
use crate::app::{me_resource, me_value};
use leptos::prelude::*;
use leptos_meta::Title;

/// `/change-password`.
#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let me_res = me_resource();
    let forced = move || async move { me_value(me_res).await.is_some_and(|m| m.must_change_pw) };
    let action = ServerAction::<ChangePassword>::new();
    let value = action.value();
    Effect::new(move |_| {
        if let Some(Ok(())) = value.get() {
            navigate_hard("/");
        }
    });
    let err_for = move |field: &'static str| {
        move || {
            value.get().and_then(|r| r.err()).and_then(|e| {
                let f = e.field().map(str::to_string);
                match (field, f.as_deref()) {
                    ("", None) => Some(e.to_string()),
                    (want, Some(got)) if want == got => Some(e.to_string()),
                    _ => None,
                }
            })
        }
    };
    view! {
        <Title text="Change password" />
        <div class="auth-page">
            <div class="auth-card">
                <h1 class="auth-heading">"Change your password"</h1>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        forced().await.then(|| view! {
                            <p class="notice" data-test="forced-notice">
                                "You are using a temporary password. Choose a new one to continue."
                            </p>
                        })
                    })}
                </Suspense>
                <ActionForm action attr:class="form" attr:data-test="change-password-form">
                    <label class="field">
                        <span class="field-label">"Current password"</span>
                        <input type="password" name="current_password" autocomplete="current-password" required maxlength="1024" />
                        {move || err_for("current_password")().map(|e| view! { <span class="field-error">{e}</span> })}
                    </label>
                    <label class="field">
                        <span class="field-label">"New password"</span>
                        <input type="password" name="new_password" autocomplete="new-password" required minlength="8" maxlength="1024" />
                        <span class="field-hint">"8 to 1024 characters, different from the current one."</span>
                        {move || err_for("new_password")().map(|e| view! { <span class="field-error">{e}</span> })}
                    </label>
                    <label class="field">
                        <span class="field-label">"Repeat new password"</span>
                        <input type="password" name="confirm_password" autocomplete="new-password" required maxlength="1024" />
                        {move || err_for("confirm_password")().map(|e| view! { <span class="field-error">{e}</span> })}
                    </label>
                    {move || err_for("")().map(|e| view! { <div class="form-error" role="alert">{e}</div> })}
                    <button type="submit" class="button button-primary button-block" disabled=move || action.pending().get()>
                        "Change password"
                    </button>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            (!forced().await).then(|| view! { <a href="/" class="button button-ghost button-block">"Cancel"</a> })
                        })}
                    </Suspense>
                </ActionForm>
            </div>
        </div>
    }
}
