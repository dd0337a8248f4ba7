//! Settings (admin): Salt API connection with Test buttons, pollers, activity widget, and the
//! live connection/poller status. Each section saves on its own and applies without a restart.

use crate::app::api::settings::{
    get_settings, runtime_status, PollerSettings, RuntimeView, SaltSettings, SaltTestResult,
    SavePollerSettings, SaveSaltSettings, SaveWidgetSettings, SettingsView, TestSaltConnection,
    TestSavedSaltConnection, WidgetSettings,
};
use crate::app::pages::{ErrorPanel, PageHeader};
use crate::error::AppError;
use crate::model::settings::{ClusterView, ConnectionState};
use leptos::html;
use leptos::prelude::*;

/// `/settings`.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let save_salt = ServerAction::<SaveSaltSettings>::new();
    let save_pollers = ServerAction::<SavePollerSettings>::new();
    let save_widget = ServerAction::<SaveWidgetSettings>::new();
    let settings = Resource::new(
        move || {
            (
                save_salt.version().get(),
                save_pollers.version().get(),
                save_widget.version().get(),
            )
        },
        |_| get_settings(),
    );
    if let Some(v) = use_context::<crate::app::context::SaltStatusVersion>() {
        Effect::new(move |_| {
            if matches!(save_salt.value().get(), Some(Ok(_)))
                || matches!(save_pollers.value().get(), Some(Ok(_)))
            {
                v.0.update(|n| *n += 1);
            }
        });
    }
    let runtime = Resource::new(
        move || (save_salt.version().get(), save_pollers.version().get()),
        |_| runtime_status(),
    );
    view! {
        <PageHeader title="Settings" subtitle="Runtime configuration, stored in the database and applied without a restart" />
        <div class="settings-grid">
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading settings…"</div> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(s) => {
                        let SettingsView { salt, pollers, widget, updated_at } = s;
                        view! {
                            <div class="settings-main">
                                <SaltSection salt save=save_salt />
                                <PollersSection pollers save=save_pollers />
                                <WidgetSection widget save=save_widget />
                                <p class="muted small">"Last saved " {crate::app::pages::short_time(&updated_at)}</p>
                            </div>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
        <aside class="settings-side">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    runtime.await.ok().map(|r| {
                        let c = r.cluster.clone();
                        view! { <StatusCard r /> <ReplicasCard c /> }
                    })
                })}
            </Transition>
        </aside>
        </div>
    }
}

/// A labelled form field: the label, `children` (the control), the hint if any, then the
/// server's message when it names `name`.
#[component]
pub(crate) fn Field<T: Clone + Send + Sync + 'static>(
    label: &'static str,
    /// The field the server names in its errors.
    name: &'static str,
    value: Signal<Option<Result<T, AppError>>>,
    #[prop(optional)] hint: Option<&'static str>,
    /// Classes of the `<label>`.
    #[prop(default = "field")]
    class: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <label class=class>
            <span class="field-label">{label}</span>
            {children()}
            {hint.map(|h| view! { <span class="field-hint">{h}</span> })}
            {field_error(value, name)}
        </label>
    }
}

/// The server's message for `field`, under that field (also used by the Roles pages).
pub(crate) fn field_error<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, AppError>>>,
    field: &'static str,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || {
        value.get().and_then(|r| r.err()).and_then(|e| {
            (e.field() == Some(field)).then(|| view! { <span class="field-error" data-test="field-error">{e.to_string()}</span> }.into_any())
        })
    }
}

/// The server's message when it names no field, above the form's buttons.
pub(crate) fn form_error<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, AppError>>>,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || {
        value.get().and_then(|r| r.err()).and_then(|e| {
            e.field().is_none().then(|| {
                view! { <div class="form-error" role="alert">{e.to_string()}</div> }.into_any()
            })
        })
    }
}

/// `text` after an action's last call succeeded.
pub fn saved_note<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, AppError>>>,
    text: &'static str,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || {
        matches!(value.get(), Some(Ok(_)))
            .then(|| view! { <span class="saved-note" data-test="saved">{text}</span> }.into_any())
    }
}

/// What a section's last save answered.
type SaveResult = Signal<Option<Result<SettingsView, AppError>>>;

/// A section's last save result and, per field, the error line to show under it.
fn save_state(
    value: MappedSignal<Option<Result<SettingsView, AppError>>>,
) -> (SaveResult, impl Fn(&'static str) -> ViewFn + Copy) {
    let v = Signal::derive(move || value.get());
    (v, move |f: &'static str| {
        ViewFn::from(move || field_error(v, f)())
    })
}

/// One section of the page: its heading and note, then its form.
#[component]
fn SettingsSection(
    /// `data-test` of the section.
    test: &'static str,
    title: &'static str,
    note: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="panel settings-section" data-test=test>
            <div class="section-head">
                <h2>{title}</h2>
                <p class="muted">{note}</p>
            </div>
            {children()}
        </section>
    }
}

/// The end of a section's form: an error not about one field, Save, and the note after a save.
#[component]
pub(crate) fn SaveRow<T: Clone + Send + Sync + 'static>(
    v: Signal<Option<Result<T, AppError>>>,
    #[prop(into)] pending: Signal<bool>,
    label: &'static str,
    /// The note after a success, if any.
    #[prop(optional)]
    saved: Option<&'static str>,
    /// `data-test` of the button.
    #[prop(optional)]
    test: Option<&'static str>,
) -> impl IntoView {
    view! {
        {form_error(v)}
        <div class="form-actions span-2">
            <button type="submit" class="button button-primary" data-test=test disabled=move || pending.get()>{label}</button>
            {saved.map(|text| saved_note(v, text))}
        </div>
    }
}

#[component]
fn SaltSection(salt: SaltSettings, save: ServerAction<SaveSaltSettings>) -> impl IntoView {
    let test = ServerAction::<TestSaltConnection>::new();
    let test_saved = ServerAction::<TestSavedSaltConnection>::new();
    let (url_ref, user_ref, pw_ref, eauth_ref, verify_ref) = (
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Select>::new(),
        NodeRef::<html::Input>::new(),
    );
    let run_test = move |_| {
        let get = |r: NodeRef<html::Input>| r.get().map(|e| e.value()).unwrap_or_default();
        test.dispatch(TestSaltConnection {
            url: get(url_ref),
            username: get(user_ref),
            password: get(pw_ref),
            eauth: eauth_ref.get().map(|e| e.value()).unwrap_or_default(),
            verify: verify_ref
                .get()
                .map(|e| e.checked())
                .unwrap_or(true)
                .then(|| "on".to_string()),
        });
    };
    let last_test = RwSignal::new(None::<Result<SaltTestResult, AppError>>);
    Effect::new(move |_| {
        if let Some(r) = test.value().get() {
            last_test.set(Some(r));
        }
    });
    Effect::new(move |_| {
        if let Some(r) = test_saved.value().get() {
            last_test.set(Some(r));
        }
    });
    let testing = move || test.pending().get() || test_saved.pending().get();
    let value = Signal::derive(move || save.value().get());
    let eauth = salt.eauth.clone();
    view! {
        <SettingsSection test="settings-salt" title="Salt API"
            note="How Halite reaches salt-api (rest_cherrypy). The password is stored encrypted and never shown again.">
            <ActionForm action=save attr:class="form form-grid" attr:data-test="salt-form">
                <Field label="API URL" name="url" value=value class="field span-2" hint="Include scheme and port. Leave empty and save to disconnect Salt.">
                    <input type="url" name="url" node_ref=url_ref value=salt.url.clone() placeholder="https://salt.example.com:8000" maxlength="2083" />
                </Field>
                <Field label="Username" name="username" value=value>
                    <input type="text" name="username" node_ref=user_ref value=salt.username.clone() autocomplete="off" maxlength="255" />
                </Field>
                <Field label="Password" name="password" value=value>
                    <input type="password" name="password" node_ref=pw_ref autocomplete="new-password" maxlength="1024"
                        placeholder=if salt.password_set { "(set) leave empty to keep" } else { "" } />
                </Field>
                <Field label="eauth" name="eauth" value=value>
                    <select name="eauth" node_ref=eauth_ref>
                        {crate::app::pages::settings::EAUTHS
                            .iter()
                            .map(|e| view! { <option value=*e selected=*e == eauth.as_str()>{*e}</option> })
                            .collect_view()}
                    </select>
                </Field>
                <label class="field checkbox-field">
                    <input type="checkbox" name="verify" node_ref=verify_ref checked=salt.verify />
                    <span>"Verify the TLS certificate"</span>
                </label>
                {form_error(value)}
                <div class="form-actions span-2">
                    <button type="submit" class="button button-primary" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save Salt settings" }}
                    </button>
                    <button type="button" class="button" on:click=run_test disabled=testing data-test="test-connection">
                        "Test connection"
                    </button>
                    <button type="button" class="button button-ghost" on:click=move |_| { test_saved.dispatch(TestSavedSaltConnection {}); } disabled=testing>
                        "Test saved credentials"
                    </button>
                    {saved_note(value, "Saved; Halite reconnected with these settings.")}
                </div>
            </ActionForm>
            {move || testing().then(|| view! { <div class="test-result pending">"Testing…"</div> })}
            {move || (!testing()).then(|| last_test.get().map(|r| match r {
                Ok(t) => view! {
                    <div class="test-result" class:ok=t.ok class:bad=!t.ok data-test="test-result">
                        <strong>{if t.ok { "Connection OK" } else { "Connection failed" }}</strong>
                        <span>{t.detail}</span>
                    </div>
                }.into_any(),
                Err(e) => view! {
                    <div class="test-result bad" data-test="test-result"><strong>"Cannot test"</strong><span>{e.to_string()}</span></div>
                }.into_any(),
            }))}
        </SettingsSection>
    }
}

/// eauth back-ends offered in the select.
pub const EAUTHS: &[&str] = &["pam", "sharedsecret", "ldap", "file", "auto"];

#[component]
fn NumberField(
    name: &'static str,
    label: &'static str,
    value: i64,
    min: i64,
    max: i64,
    unit: &'static str,
    #[prop(into)] error: ViewFn,
) -> impl IntoView {
    view! {
        <label class="field">
            <span class="field-label">{label}</span>
            <div class="input-unit">
                <input type="number" name=name value=value min=min max=max step="1" required />
                <span class="unit">{unit}</span>
            </div>
            {error.run()}
        </label>
    }
}

#[component]
fn PollersSection(
    pollers: PollerSettings,
    save: ServerAction<SavePollerSettings>,
) -> impl IntoView {
    let (v, err) = save_state(save.value());
    let p = pollers;
    view! {
        <SettingsSection test="settings-pollers" title="Pollers"
            note="How often Halite refreshes its database from salt-api. 0 turns a poller off.">
            <ActionForm action=save attr:class="form form-grid">
                <NumberField name="minion_state_keys_interval_seconds" label="Keys" value=p.minion_state_keys_interval_seconds min=0 max=86400 unit="s" error=err("minion_state_keys_interval_seconds") />
                <NumberField name="minion_state_presence_interval_seconds" label="Presence" value=p.minion_state_presence_interval_seconds min=0 max=86400 unit="s" error=err("minion_state_presence_interval_seconds") />
                <NumberField name="minion_state_grains_interval_seconds" label="Grains" value=p.minion_state_grains_interval_seconds min=0 max=86400 unit="s" error=err("minion_state_grains_interval_seconds") />
                <NumberField name="minion_state_initial_delay_seconds" label="Minion pollers start after" value=p.minion_state_initial_delay_seconds min=0 max=3600 unit="s" error=err("minion_state_initial_delay_seconds") />
                <NumberField name="jobs_poll_interval_seconds" label="Jobs" value=p.jobs_poll_interval_seconds min=0 max=86400 unit="s" error=err("jobs_poll_interval_seconds") />
                <NumberField name="jobs_retention_days" label="Keep jobs for" value=p.jobs_retention_days min=1 max=3650 unit="days" error=err("jobs_retention_days") />
                <NumberField name="fleet_poll_interval_seconds" label="Fleet health" value=p.fleet_poll_interval_seconds min=0 max=86400 unit="s" error=err("fleet_poll_interval_seconds") />
                <NumberField name="inventory_refresh_minutes" label="Inventory" value=p.inventory_refresh_minutes min=0 max=1440 unit="min" error=err("inventory_refresh_minutes") />
                <NumberField name="inventory_refresh_initial_delay_s" label="Inventory starts after" value=p.inventory_refresh_initial_delay_s min=0 max=3600 unit="s" error=err("inventory_refresh_initial_delay_s") />
                <label class="field checkbox-field">
                    <input type="checkbox" name="event_stream_enabled" checked=p.event_stream_enabled />
                    <span>"Event stream (live Activity)"</span>
                </label>
                <NumberField name="event_stream_retention_days" label="Keep events for" value=p.event_stream_retention_days min=1 max=365 unit="days" error=err("event_stream_retention_days") />
                <NumberField name="audit_retention_days" label="Keep audit log for" value=p.audit_retention_days min=1 max=3650 unit="days" error=err("audit_retention_days") />
                <SaveRow v pending=save.pending() label="Save poller settings" saved="Saved; pollers restarted." />
            </ActionForm>
        </SettingsSection>
    }
}

#[component]
fn WidgetSection(widget: WidgetSettings, save: ServerAction<SaveWidgetSettings>) -> impl IntoView {
    let (v, err) = save_state(save.value());
    let w = widget;
    view! {
        <SettingsSection test="settings-widget" title="Activity widget"
            note="What the Overview's recent-activity list shows, for every user.">
            <ActionForm action=save attr:class="form form-grid">
                <label class="field checkbox-field"><input type="checkbox" name="show_jobs" checked=w.show_jobs /><span>"Show jobs"</span></label>
                <label class="field checkbox-field"><input type="checkbox" name="show_keys" checked=w.show_keys /><span>"Show key changes"</span></label>
                <label class="field checkbox-field"><input type="checkbox" name="show_minions" checked=w.show_minions /><span>"Show minion starts"</span></label>
                <label class="field checkbox-field"><input type="checkbox" name="hide_dispatch" checked=w.hide_dispatch /><span>"Hide dispatch (job.new) rows"</span></label>
                <label class="field checkbox-field"><input type="checkbox" name="hide_routine" checked=w.hide_routine /><span>"Hide routine successes"</span></label>
                <span></span>
                <NumberField name="event_count" label="Events shown" value=w.event_count min=1 max=50 unit="rows" error=err("event_count") />
                <NumberField name="heartbeat_minutes" label="Heartbeat window" value=w.heartbeat_minutes min=5 max=1440 unit="min" error=err("heartbeat_minutes") />
                <SaveRow v pending=save.pending() label="Save widget settings" saved="Saved." />
            </ActionForm>
        </SettingsSection>
    }
}

/// Human label and badge class for a connection state.
pub fn connection_label(state: ConnectionState) -> (&'static str, &'static str) {
    match state {
        ConnectionState::Connected => ("Connected", "badge-ok"),
        ConnectionState::Unreachable => ("Unreachable", "badge-bad"),
        ConnectionState::LoginFailed => ("Login failed", "badge-bad"),
        ConnectionState::Starting => ("Connecting", "badge-warn"),
        ConnectionState::Unconfigured => ("Not configured", "badge-warn"),
    }
}

/// This replica's role and every replica's last heartbeat (several Halite processes on one
/// Postgres elect one leader: it alone polls Salt and reads the event stream).
#[component]
fn ReplicasCard(c: ClusterView) -> impl IntoView {
    let (role, class) = if c.is_leader {
        ("Leader", "badge-ok")
    } else {
        ("Follower", "badge-pending")
    };
    let leader_line = match (&c.leader, c.is_leader) {
        (_, true) => "This replica polls Salt and reads the event stream.".to_string(),
        (Some(l), false) => format!("The leader, {l}, polls Salt and reads the event stream."),
        (None, false) => "No leader right now: a replica takes over within seconds.".to_string(),
    };
    let since = c
        .leader_since
        .map(|s| format!("leading since {}", crate::app::pages::short_utc(&s)))
        .unwrap_or_default();
    let this = c.this_replica.clone();
    view! {
        <section class="panel status-card" data-test="replicas">
            <h2>"Replicas"</h2>
            <div class="status-line">
                <span class=format!("badge {class}") data-test="replica-role">{role}</span>
                <span class="muted small">{since}</span>
            </div>
            <p class="small">{leader_line}</p>
            <ul class="task-list" data-test="replica-list" aria-label="Halite replicas">
                {c.replicas.into_iter().map(|r| {
                    let me = r.id == this;
                    let (role, class) = match (r.silent, r.is_leader) {
                        (true, _) => ("gone", "badge-pending"),
                        (false, true) => ("leader", "badge-ok"),
                        (false, false) => ("follower", "badge-pending"),
                    };
                    let started = format!("host {}, started {}", r.host, crate::app::pages::short_utc(&r.started_at));
                    view! {
                        <li class="task" class:task-self=me data-test="replica-row" data-silent=r.silent.to_string()>
                            <div class="task-head">
                                <code title=started>{r.id.clone()}</code>
                                <span class=format!("badge {class}")>{role}</span>
                            </div>
                            <div class="muted small">
                                {format!("heartbeat {}", crate::app::pages::short_utc(&r.heartbeat_at))}
                                {me.then_some(" · this replica")}
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn StatusCard(r: RuntimeView) -> impl IntoView {
    let (label, class) = connection_label(r.connection.state);
    view! {
        <section class="panel status-card" data-test="connection-status">
            <h2>"Connection"</h2>
            <div class="status-line">
                <span class=format!("badge {class}") data-test="connection-state">{label}</span>
                <span class="muted small">{r.connection.since.map(|s| format!("since {}", crate::app::pages::short_utc(&s))).unwrap_or_default()}</span>
            </div>
            <p class="small">{r.connection.detail.clone()}</p>
            <h2 class="mt">"Background tasks"</h2>
            {if r.pollers.is_empty() {
                view! { <p class="muted small">"None running: Salt is not connected or every poller is off."</p> }.into_any()
            } else {
                view! {
                    <ul class="task-list">
                        {r.pollers.into_iter().map(|p| {
                            let ok = p.last_error.is_none();
                            let result = match p.last_error.clone() {
                                Some(e) => format!("error: {e}"),
                                None => p.last_summary.clone().unwrap_or_else(|| "not run yet".into()),
                            };
                            let when = p.last_run_at.as_ref().map(crate::app::pages::short_utc).unwrap_or_else(|| "not yet".into());
                            view! {
                                <li class="task">
                                    <div class="task-head">
                                        <code>{p.name.clone()}</code>
                                        <span class="muted small">{format!("every {} s", p.interval_seconds)}</span>
                                    </div>
                                    <div class="small" class:text-ok=ok class:text-bad=!ok>{result}</div>
                                    <div class="muted small">{format!("last run {when}")}</div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
