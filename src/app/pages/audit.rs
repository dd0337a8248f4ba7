//! Audit log (`/audit`, SPEC 6.12): every mutation and denial, newest first, server-side
//! paging; the filters (user, action, decision, resource, time range) and the open entry
//! (`?id=`) are in the URL; a drawer with the entry's redacted arguments; CSV / JSON export of
//! the filtered rows (streamed by `GET /api/audit/export.csv|json`).

use crate::app::api::audit::{
    get_audit, list_audit, AuditFilters, AuditPage as AuditData, AuditRow, Decision,
};
use crate::app::components::list::{
    input_text, list_table, use_list_params, use_query_state, EmptyState, Pager,
};
use crate::app::pages::activity::{date_and_time, duration_text, on_control};
use crate::app::pages::{short_utc, ErrorPanel, PageHeader};
use crate::error::AppError;
use crate::model::list::{href, ListFilters, ListParams};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

/// The page's state, as in the URL.
pub type AuditListQuery = ListParams<AuditFilters>;

/// The URL of the list with entry `id` open in the drawer.
pub fn entry_href(s: &AuditListQuery, id: i64) -> String {
    let h = s.href();
    let sep = if h.contains('?') { '&' } else { '?' };
    format!("{h}{sep}id={id}")
}

/// The export URL of this format for the list's filters.
pub fn export_href(f: &AuditFilters, ext: &str) -> String {
    let mut parts = vec![];
    f.to_query(&mut parts);
    href(&format!("/api/audit/export.{ext}"), &parts)
}

/// What a `datetime-local` input can show for a time filter: RFC 3339 becomes the input's
/// `YYYY-MM-DDTHH:MM:SS` in UTC; anything else (`24h`, a datetime-local value) is kept.
fn local_input_value(v: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| v.to_string())
}

fn decision_badge(d: Decision) -> impl IntoView {
    let (class, label) = match d {
        Decision::Allow => ("badge badge-ok", "allow"),
        Decision::Deny => ("badge badge-bad", "deny"),
    };
    view! { <span class=class data-test="audit-decision">{label}</span> }
}

/// `/audit`.
#[component]
pub fn AuditPage() -> impl IntoView {
    let state = use_list_params::<AuditFilters>();
    let open_id = use_query_state(|get| get("id").parse::<i64>().ok().filter(|id| *id > 0));
    let data = Resource::new(
        move || state.get(),
        |s| {
            let f = s.filters;
            list_audit(
                f.user, f.action, f.decision, f.resource, f.since, f.until, s.page, s.per_page,
            )
        },
    );
    let detail = Resource::new(
        move || open_id.get(),
        |id| async move {
            match id {
                Some(id) => get_audit(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let navigate = use_navigate();
    let esc = window_event_listener(leptos::ev::keydown, move |e| {
        if e.key() == "Escape" && open_id.get_untracked().is_some() {
            navigate(&state.get_untracked().href(), Default::default());
        }
    });
    on_cleanup(move || esc.remove());
    view! {
        <PageHeader title="Audit log" subtitle="Every change and every refusal, newest first; arguments are stored with secrets redacted" />
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading the audit log…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                match data.await {
                    Err(e) => view! {
                        <Filters state actions=vec![] />
                        <ErrorPanel error=e />
                    }.into_any(),
                    Ok(page) => view! {
                        <Filters state actions=page.actions.clone() />
                        <AuditBody page s />
                    }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let close = state.get_untracked().href();
                match detail.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(row)) => view! { <AuditDrawer close body=Ok(row) /> }.into_any(),
                    Err(e) => view! { <AuditDrawer close body=Err(e) /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The filter bar: a plain GET form (works before hydration), applied with client-side
/// navigation.
#[component]
fn Filters(state: Memo<AuditListQuery>, actions: Vec<String>) -> impl IntoView {
    let navigate = use_navigate();
    let init = state.get_untracked();
    let user_ref = NodeRef::<leptos::html::Input>::new();
    let action_ref = NodeRef::<leptos::html::Select>::new();
    let resource_ref = NodeRef::<leptos::html::Input>::new();
    let since_ref = NodeRef::<leptos::html::Input>::new();
    let until_ref = NodeRef::<leptos::html::Input>::new();
    let decision = RwSignal::new(init.filters.decision.clone());
    let apply = move || {
        let cur = state.get_untracked();
        let filters = AuditFilters {
            user: input_text(user_ref),
            action: action_ref.get().map(|e| e.value()).unwrap_or_default(),
            decision: decision.get_untracked(),
            resource: input_text(resource_ref),
            since: input_text(since_ref),
            until: input_text(until_ref),
        };
        navigate(&cur.with_filters(filters).href(), Default::default());
    };
    let f = init.filters.clone();
    // The action in the URL stays selectable even when no row has it (yet).
    let mut options = actions;
    if !f.action.is_empty() && !options.contains(&f.action) {
        options.insert(0, f.action.clone());
    }
    let chip = move |value: &'static str, label: &'static str| {
        let checked = move || decision.get() == value;
        view! {
            <label class="chip audit-chip" class:chip-active=checked>
                <input type="radio" name="decision" value=value checked=f.decision == value
                    on:change=move |_| decision.set(value.to_string()) data-test=format!("audit-decision-{}", if value.is_empty() { "all" } else { value }) />
                {label}
            </label>
        }
    };
    view! {
        <form method="get" action="/audit" class="feed-filters audit-filters" role="search" aria-label="Audit filters"
            on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
            <label class="field feed-field">
                <span class="field-label">"User"</span>
                <input type="text" name="user" placeholder="any username" maxlength="255" node_ref=user_ref
                    value=init.filters.user.clone() data-test="audit-user" />
            </label>
            <label class="field feed-field">
                <span class="field-label">"Action"</span>
                <select name="action" node_ref=action_ref data-test="audit-action">
                    <option value="" selected=init.filters.action.is_empty()>"All actions"</option>
                    {options.into_iter().map(|a| {
                        let selected = a == init.filters.action;
                        view! { <option value=a.clone() selected=selected>{a.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <div class="field feed-field">
                <span class="field-label">"Decision"</span>
                <div class="chips audit-decisions" role="radiogroup" aria-label="Decision">
                    {chip("", "All")}
                    {chip("allow", "Allowed")}
                    {chip("deny", "Denied")}
                </div>
            </div>
            <label class="field feed-field feed-grow">
                <span class="field-label">"Resource contains"</span>
                <input type="text" name="resource" placeholder="minion:web, user:alice…" maxlength="255" node_ref=resource_ref
                    value=init.filters.resource.clone() data-test="audit-resource" />
            </label>
            <label class="field feed-field" title="Inclusive, UTC">
                <span class="field-label">"Since (UTC)"</span>
                <input type="datetime-local" name="since" step="1" node_ref=since_ref
                    value=local_input_value(&init.filters.since) data-test="audit-since" />
            </label>
            <label class="field feed-field" title="Exclusive, UTC">
                <span class="field-label">"Until (UTC)"</span>
                <input type="datetime-local" name="until" step="1" node_ref=until_ref
                    value=local_input_value(&init.filters.until) data-test="audit-until" />
            </label>
            <input type="hidden" name="per_page" value=init.per_page.to_string() />
            <button type="submit" class="button" data-test="audit-apply">"Apply"</button>
            {init.filtered().then(|| view! { <A href="/audit" attr:class="button button-ghost">"Clear"</A> })}
        </form>
    }
}

#[component]
fn AuditBody(page: AuditData, s: AuditListQuery) -> impl IntoView {
    let pager = view! {
        <Pager params=s.clone() total=page.list.total page=page.list.page per_page=page.list.per_page noun="entry"
            prev_label="← Newer" next_label="Older →" total_test="audit-total" />
    };
    let exports = view! {
        <div class="toolbar audit-toolbar">
            <span class="muted small">{if s.filtered() { "Export the filtered entries:" } else { "Export every entry:" }}</span>
            <a href=export_href(&s.filters, "csv") class="button" rel="external" download data-test="audit-export-csv">"Export CSV"</a>
            <a href=export_href(&s.filters, "json") class="button" rel="external" download data-test="audit-export-json">"Export JSON"</a>
        </div>
    };
    let filtered = s.filtered();
    let empty = move || {
        if filtered {
            view! {
                <EmptyState test="audit-no-match" icon="scroll" title="No audit entries match these filters">
                    <p><A href="/audit">"Clear the filters"</A></p>
                </EmptyState>
            }
            .into_any()
        } else {
            view! {
                <EmptyState test="audit-empty" icon="scroll" title="No audit entries yet">
                    <p>"Sign-ins, key actions, jobs, settings and user changes are recorded here as they happen, and so is every refused request."</p>
                </EmptyState>
            }
            .into_any()
        }
    };
    let head = view! {
        <th>"Time (UTC)"</th><th>"User"</th><th>"Action"</th><th>"Resource"</th>
        <th>"Decision"</th><th class="num">"Result"</th>
    };
    let rows = page.list.rows;
    let row = |r: AuditRow| view! { <AuditTr href=entry_href(&s, r.id) r /> };
    let body = list_table(
        "table feed-table audit-table",
        "audit-table",
        "Audit log entries, newest first",
        head,
        rows,
        row,
        empty,
    );
    view! {
        {exports}
        {body}
        {pager}
    }
}

#[component]
fn AuditTr(r: AuditRow, href: String) -> impl IntoView {
    let navigate = use_navigate();
    let (date, time) = date_and_time(&r.at);
    let go = href.clone();
    let user = r.username.clone().unwrap_or_default();
    let who = user.clone();
    view! {
        <tr class="feed-row" data-test="audit-row" data-id=r.id data-action=r.action.clone() data-username=user
            on:click=move |ev| { if !on_control(&ev) { navigate(&go, Default::default()) } }>
            <td class="nowrap" title=short_utc(&r.at)><a href=href class="feed-time">{time}</a><div class="muted small">{date}</div></td>
            <td>{if who.is_empty() { view! { <span class="muted">"—"</span> }.into_any() } else { view! { <span>{who}</span> }.into_any() }}</td>
            <td class="mono">{r.action.clone()}</td>
            <td class="mono feed-clip" title=r.resource.clone()>{r.resource.clone()}</td>
            <td>{decision_badge(r.decision)}</td>
            <td class="num mono">{r.result_code}</td>
        </tr>
    }
}

/// Arguments as stored (already redacted), pretty-printed when they are JSON.
fn pretty_args(args: &str) -> String {
    serde_json::from_str::<serde_json::Value>(args)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| args.to_string())
}

#[component]
fn AuditDrawer(close: String, body: Result<AuditRow, AppError>) -> impl IntoView {
    let backdrop = close.clone();
    let content = match body {
        Err(e) => view! {
            <div class="feed-drawer-head"><h2>"Audit entry"</h2>
                <A href=close attr:class="icon-button" attr:title="Close (Esc)" attr:aria-label="Close" attr:data-test="audit-drawer-close">"✕"</A>
            </div>
            <div class="notice notice-error" role="alert">{e.to_string()}</div>
        }
        .into_any(),
        Ok(r) => {
            let fact = |label: &'static str, v: Option<AnyView>| {
                view! { <dt>{label}</dt><dd>{v.unwrap_or_else(|| view! { <span class="muted">"—"</span> }.into_any())}</dd> }
            };
            let text = |s: Option<String>| s.filter(|s| !s.is_empty()).map(|s| view! { <span>{s}</span> }.into_any());
            let job = r.salt_jid.clone().map(|j| {
                let href = format!("/jobs/{j}");
                view! { <A href=href attr:class="mono" attr:data-test="audit-jid">{j}</A> }.into_any()
            });
            let who = r.username.clone().map(|u| match &r.user_id {
                Some(id) => format!("{u} ({id})"),
                None => u,
            });
            let args = match r.args_json.as_deref() {
                Some(a) => view! { <pre class="raw-json feed-raw" data-test="audit-args">{pretty_args(a)}</pre> }.into_any(),
                None => view! { <p class="muted">"No arguments recorded."</p> }.into_any(),
            };
            view! {
                <div class="feed-drawer-head">
                    {decision_badge(r.decision)}
                    <A href=close attr:class="icon-button" attr:title="Close (Esc)" attr:aria-label="Close" attr:data-test="audit-drawer-close">"✕"</A>
                </div>
                <h2 id="audit-drawer-title">{format!("{} {}", r.action, r.resource)}</h2>
                <dl class="facts feed-facts">
                    {fact("Time", text(Some(short_utc(&r.at))))}
                    {fact("User", text(who))}
                    {fact("Action", text(Some(r.action.clone())))}
                    {fact("Resource", text(Some(r.resource.clone())))}
                    {fact("Result code", text(Some(r.result_code.to_string())))}
                    {fact("Duration", text(Some(duration_text(r.duration_ms))))}
                    {fact("IP", text(Some(r.ip.clone())))}
                    {fact("Job", job)}
                    {fact("Entry", text(Some(format!("#{}", r.id))))}
                </dl>
                <h3 class="feed-raw-title">"Arguments (secrets redacted)"</h3>
                {args}
            }
            .into_any()
        }
    };
    // Escape is the page's (it goes back to the list's URL).
    let dialog = NodeRef::<leptos::html::Aside>::new();
    crate::app::components::keyboard::trap_focus(dialog, Callback::new(|_| ()));
    view! {
        <A href=backdrop attr:class="modal-backdrop" attr:aria-label="Close">""</A>
        <aside class="feed-drawer" role="dialog" aria-modal="true" aria-labelledby="audit-drawer-title" data-test="audit-drawer" node_ref=dialog>
            {content}
        </aside>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters() {
        let s = AuditListQuery::default().with_filters(AuditFilters {
            user: "alice".into(),
            decision: "deny".into(),
            ..Default::default()
        });
        assert_eq!(entry_href(&s, 7), "/audit?user=alice&decision=deny&id=7");
        assert_eq!(entry_href(&AuditListQuery::default(), 7), "/audit?id=7");
        assert_eq!(
            export_href(&s.filters, "csv"),
            "/api/audit/export.csv?user=alice&decision=deny"
        );
        assert_eq!(
            export_href(&AuditFilters::default(), "json"),
            "/api/audit/export.json"
        );
    }

    #[test]
    fn time_inputs_and_arguments() {
        assert_eq!(
            local_input_value("2026-11-30T08:00:00.000Z"),
            "2026-11-30T08:00:00"
        );
        assert_eq!(local_input_value("2026-11-30T08:00"), "2026-11-30T08:00");
        assert_eq!(pretty_args(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty_args("not json"), "not json");
    }
}
