//! Sign-in page.

use crate::app::api::auth::Login;
use crate::app::components::icons::Logo;
use crate::app::navigate_hard;
use leptos::prelude::*;
use leptos_meta::Title;

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let value = login.value();
    Effect::new(move |_| {
        if let Some(Ok(target)) = value.get() {
            navigate_hard(&target);
        }
    });
    let error = move || value.get().and_then(|r| r.err()).map(|e| e.to_string());
    let query = leptos_router::hooks::use_query_map();
    let ended = move || query.with(|q| q.get("ended").as_deref() == Some("1"));
    view! {
        <Title text="Sign in" />
        <div class="auth-page">
            <div class="auth-card">
                <div class="auth-brand">
                    <Logo />
                    <div>
                        <div class="auth-title">"Halite"</div>
                        <div class="muted">"SaltStack console"</div>
                    </div>
                </div>
                <h1 class="auth-heading">"Sign in"</h1>
                {move || ended().then(|| view! {
                    <div class="notice" role="status" data-test="session-ended">
                        "Your session was ended (signed out by an administrator or expired). Sign in again."
                    </div>
                })}
                <ActionForm action=login attr:class="form" attr:data-test="login-form">
                    <label class="field">
                        <span class="field-label">"Username"</span>
                        <input type="text" name="username" autocomplete="username" required maxlength="255" autofocus />
                    </label>
                    <label class="field">
                        <span class="field-label">"Password"</span>
                        <input type="password" name="password" autocomplete="current-password" required maxlength="1024" />
                    </label>
                    {move || error().map(|e| view! { <div class="form-error" role="alert" data-test="login-error">{e}</div> })}
                    <button type="submit" class="button button-primary button-block" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}
