//! The app frame: sidebar, top bar with the user menu and theme toggle, Salt status banner,
//! and the place where the routes (`crate::app::routes`) render.

use crate::app::api::auth::{Logout, Me, SetTheme};
use crate::app::api::settings::settings_status;
use crate::app::components::icons::{Icon, Logo};
use crate::app::components::keyboard::Keyboard;
use crate::app::context::{me_value, MeResource, PendingKeys, SaltStatusVersion};
use crate::app::live::{follow, watch_session, LiveBus};
use crate::app::nav::{may_view_kind, NAV};
use crate::app::navigate_hard;
use crate::app::routes::AppRoutes;
use crate::model::settings::{freshness, ConnectionState, Freshness};
use leptos::prelude::*;
use leptos_meta::Html;
use leptos_router::components::A;

/// The frame around every page: sidebar and top bar appear once the user is known and has no
/// pending forced password change. The routes sit outside any `Suspense` so that the server's
/// route list sees them.
#[component]
pub fn Layout() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let theme_override = RwSignal::new(None::<String>);
    let version = RwSignal::new(0u32);
    provide_context(SaltStatusVersion(version));
    // The tab's one live event stream (SPEC 7.5): opened in the browser once the user is known
    // and may view some activity; pages refetch on its counters.
    let live = LiveBus::new();
    provide_context(live);
    let may_follow = Memo::new(move |_| {
        me.get().and_then(|r| r.ok()).flatten().is_some_and(|m| {
            !m.must_change_pw
                && ["job", "key", "minion"]
                    .iter()
                    .any(|k| may_view_kind(&m.permissions, k))
        })
    });
    follow(live, may_follow);
    let signed_in = Memo::new(move |_| {
        me.get()
            .and_then(|r| r.ok())
            .flatten()
            .is_some_and(|m| !m.must_change_pw)
    });
    watch_session(signed_in);
    // Every resource is created here, synchronously, never inside a Suspend: resource ids
    // must be assigned in the same order on the server and in the browser for hydration.
    let salt_status = Resource::new(move || version.get(), |_| settings_status());
    let pending_keys = Resource::new(
        move || (version.get(), live.keys.get()),
        |_| crate::app::api::keys::pending_key_count(),
    );
    provide_context(PendingKeys(pending_keys));
    let chrome_user = move || async move { me_value(Some(me)).await.filter(|m| !m.must_change_pw) };
    view! {
        <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-hidden="true" tabindex="-1" />
        <div class="app">
            // A Transition, so the sidebar stays put while the pending-key badge refetches.
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let user = me_value(Some(me)).await;
                    let pending = pending_keys.await.unwrap_or(0);
                    let saved = user.as_ref().map(|m| m.theme.clone()).unwrap_or_else(|| "dark".into());
                    let theme = move || theme_override.get().unwrap_or_else(|| saved.clone());
                    view! {
                        <Html {..} data-theme=theme />
                        {user.filter(|m| !m.must_change_pw).map(|m| view! { <Sidebar me=m pending /> })}
                    }
                })}
            </Transition>
            <div class="main" data-live-stream=move || if live.connected.get() { "on" } else { "off" }>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = chrome_user().await;
                        let status = salt_status.await.ok();
                        user.map(|m| view! {
                            <Topbar me=m.clone() theme=Signal::derive(move || theme_override.get().unwrap_or_else(|| m.theme.clone())) theme_override />
                            {status.and_then(salt_banner)}
                        })
                    })}
                </Suspense>
                <main class="content" id="content">
                    <AppRoutes />
                </main>
            </div>
        </div>
    }
}

#[component]
fn Sidebar(me: Me, pending: i64) -> impl IntoView {
    let mut sections: Vec<(&'static str, Vec<&'static crate::app::nav::NavItem>)> = Vec::new();
    for item in NAV.iter().filter(|i| i.gate.allows(&me)) {
        match sections.iter_mut().find(|(s, _)| *s == item.section) {
            Some((_, v)) => v.push(item),
            None => sections.push((item.section, vec![item])),
        }
    }
    let build = me.build_hash.clone();
    view! {
        <aside class="sidebar" aria-label="Main navigation">
            <a href="/" class="brand">
                <Logo />
                <span class="brand-name">"Halite"</span>
            </a>
            <nav class="nav">
                {sections
                    .into_iter()
                    .map(|(section, items)| {
                        view! {
                            <div class="nav-section">
                                <div class="nav-heading">{section}</div>
                                {items
                                    .into_iter()
                                    .map(|item| {
                                        let path = item.path;
                                        view! {
                                            <A href=path exact=path == "/" attr:class="nav-link" attr:data-nav=path>
                                                <Icon name=item.icon />
                                                <span>{item.label}</span>
                                                {(path == "/keys" && pending > 0).then(|| view! { <span class="nav-badge" data-test="pending-badge" title="Pending keys">{pending}</span> })}
                                            </A>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                    })
                    .collect_view()}
            </nav>
            <div class="sidebar-footer">"Build " <code>{build}</code></div>
        </aside>
        <label for="nav-toggle" class="nav-scrim" aria-hidden="true"></label>
    }
}

#[component]
fn Topbar(
    me: Me,
    theme: Signal<String>,
    theme_override: RwSignal<Option<String>>,
) -> impl IntoView {
    // The freshness pill and banner: browser only (a local resource, drawn once mounted, so the
    // server's HTML and hydration agree), refetched every 15 s without redrawing the top bar.
    // A plain signal filled in the browser, not a resource: a loading resource read here would
    // re-suspend the Suspense around the top bar (redrawing it, and taking the focus from an
    // open palette).
    let fresh = RwSignal::new(None::<crate::app::api::settings::SaltSetupStatus>);
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Ok(s) = settings_status().await {
                fresh.set(Some(s));
            }
        })
    };
    Effect::new(move |_| load());
    crate::app::pages::refresh_every(std::time::Duration::from_secs(15), load);
    let location = leptos_router::hooks::use_location();
    let now = Memo::new(move |_| {
        let path = location.pathname.get();
        let s = fresh.get()?;
        let f = freshness(&path, &s)?;
        Some((f, s.connection.state, s.can_edit))
    });
    let set_theme = ServerAction::<SetTheme>::new();
    let submitted = set_theme.input();
    Effect::new(move |_| {
        if let Some(input) = submitted.get() {
            theme_override.set(Some(input.theme));
        }
    });
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if logout.value().get().is_some() {
            navigate_hard("/login");
        }
    });
    let name = if me.display_name.is_empty() {
        me.username.clone()
    } else {
        me.display_name.clone()
    };
    let initial = name
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let palette = RwSignal::new(false);
    view! {
        <header class="topbar">
            <label for="nav-toggle" class="icon-button nav-toggle-button" title="Menu">
                <Icon name="menu" />
            </label>
            <button type="button" class="palette-button" data-test="palette-button" aria-keyshortcuts="Control+K"
                title="Go to a page, minion or job (Ctrl K); ? lists the keyboard shortcuts" on:click=move |_| palette.set(true)>
                <Icon name="search" />
                <span class="palette-text">"Go to…"</span>
                <span class="palette-hint"><kbd>"Ctrl"</kbd>" "<kbd>"K"</kbd></span>
            </button>
            <Keyboard me=me.clone() palette />
            <div class="topbar-spacer"></div>
            {move || now.get().map(|(f, _, _)| freshness_pill(&f))}
            <ActionForm action=set_theme attr:class="inline-form">
                <input type="hidden" name="theme" value=move || if theme.get() == "dark" { "light" } else { "dark" } />
                <button type="submit" class="icon-button" title="Switch light/dark theme" data-test="theme-toggle">
                    {move || if theme.get() == "dark" { view! { <Icon name="sun" /> } } else { view! { <Icon name="moon" /> } }}
                </button>
            </ActionForm>
            <details class="user-menu">
                <summary class="user-button" data-test="user-menu">
                    <span class="avatar">{initial}</span>
                    <span class="user-name">{name}</span>
                </summary>
                <div class="menu" role="menu">
                    <div class="menu-header">"Signed in as " <strong>{me.username.clone()}</strong></div>
                    <a href="/change-password" class="menu-item" role="menuitem">
                        <Icon name="lock" />
                        "Change password"
                    </a>
                    <ActionForm action=logout attr:class="inline-form">
                        <button type="submit" class="menu-item" role="menuitem" data-test="logout">
                            <Icon name="logout" />
                            "Sign out"
                        </button>
                    </ActionForm>
                </div>
            </details>
        </header>
        {move || now.get().and_then(|(f, state, can_edit)| freshness_banner(&f, state, can_edit))}
    }
}

/// The freshness of the page's data, from the poller that feeds it (`model::settings::freshness`):
/// "Updated 12 s ago" in the top bar, amber with the reason in its tooltip when stale.
fn freshness_pill(f: &Freshness) -> impl IntoView {
    view! {
        <span class="freshness-pill" class:freshness-stale=f.stale role="status" title=f.detail.clone()
            data-test="freshness" data-stale=if f.stale { "true" } else { "false" }>
            <span class="freshness-dot" aria-hidden="true"></span>
            {f.text.clone()}
        </span>
    }
}

/// Stale data while salt-api answers (the Salt banner covers an outage): a banner naming the
/// poller and the reason, with the way to Diagnostics for those who may open it.
fn freshness_banner(f: &Freshness, state: ConnectionState, can_edit: bool) -> Option<AnyView> {
    if !f.stale || state != ConnectionState::Connected {
        return None;
    }
    let action = if can_edit {
        view! { <a href="/diagnostics" class="banner-action">"Open Diagnostics →"</a> }.into_any()
    } else {
        view! { <span class="muted small">"An administrator can check it in Diagnostics."</span> }
            .into_any()
    };
    Some(
        view! {
            <div class="banner banner-warn" role="status" data-test="stale-banner">
                <Icon name="clock" />
                <span>{f.detail.clone()}</span>
                {action}
            </div>
        }
        .into_any(),
    )
}

/// "Salt API not configured / unreachable / login failed" banner shown on every page.
fn salt_banner(s: crate::app::api::settings::SaltSetupStatus) -> Option<AnyView> {
    let since = s
        .connection
        .since
        .as_ref()
        .map(crate::app::pages::short_utc)
        .unwrap_or_default();
    let (class, text) = if !s.configured {
        (
            "banner banner-warn",
            "Salt API not configured: fleet data stays empty until Halite can reach salt-api."
                .to_string(),
        )
    } else {
        match s.connection.state {
            ConnectionState::Unreachable => (
                "banner banner-bad",
                format!(
                    "Salt API unreachable since {since}: pages show the last data polled. {}",
                    s.connection.detail
                ),
            ),
            ConnectionState::LoginFailed => (
                "banner banner-bad",
                format!(
                    "Salt API refused Halite's credentials: {}",
                    s.connection.detail
                ),
            ),
            _ => return None,
        }
    };
    Some(
        view! {
            <div class=class role="status" data-test="salt-banner" data-state=s.connection.state.as_str()>
                <Icon name="plug" />
                <span>{text}</span>
                {s.can_edit.then(|| view! { <a href="/settings" class="banner-action">"Open Settings →"</a> })}
            </div>
        }
        .into_any(),
    )
}
