//! Keys: grouped by state (pending first), fingerprints on demand, accept/reject/delete with a
//! confirmation naming the minion, bulk actions for pending keys.

use crate::app::api::keys::{key_fingerprint, list_keys, KeyAction, KeyRow, KeysView};
use crate::app::components::list::{counted, export_bar};
use crate::app::components::list::{EmptyState, SearchBox};
use crate::app::pages::{ErrorPanel, PageHeader};
use crate::model::keys::KeyState;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use std::collections::BTreeSet;

/// A confirmation waiting for the user.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    action: String,
    ids: Vec<String>,
}

/// `/keys`.
#[component]
pub fn KeysPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.get().get("q").unwrap_or_default());
    let page = Memo::new(move |_| {
        query
            .get()
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1i64)
    });
    // A new filter starts at the first page.
    let go = Callback::new(|v: String| {
        let v = v.trim();
        if v.is_empty() {
            "/keys".to_string()
        } else {
            format!("/keys?q={}", crate::app::api::overview::url_path_escape(v))
        }
    });
    let action = ServerAction::<KeyAction>::new();
    let live = crate::app::live::use_live();
    let data = Resource::new(
        move || (q.get(), page.get(), action.version().get(), live.keys.get()),
        |(q, p, _, _)| list_keys(q, p),
    );
    crate::app::pages::auto_refresh(move || data.refetch());
    let confirm = RwSignal::new(None::<Pending>);
    let selected = RwSignal::new(BTreeSet::<String>::new());
    let pending_badge = use_context::<crate::app::context::PendingKeys>();
    Effect::new(move |_| {
        if action.version().get() > 0 {
            selected.set(BTreeSet::new());
            if let Some(p) = pending_badge {
                p.0.refetch();
            }
        }
    });
    // `/keys?accept=<id>` (the command palette's "accept key <id>"): that pending key's accept
    // dialog, once the list shows it and when the caller may accept it; the URL then drops
    // `accept`, so a reload or Back does not ask again.
    let accept = Memo::new(move |_| query.get().get("accept"));
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        let (Some(id), Some(Ok(v))) = (accept.get(), data.get()) else {
            return;
        };
        if v.pending.iter().any(|r| r.id == id && r.can_accept) {
            confirm.set(Some(Pending {
                action: "accept".into(),
                ids: vec![id.clone()],
            }));
            let mut parts = vec![];
            crate::model::list::push_str(&mut parts, "q", &id);
            navigate(
                &crate::model::list::href("/keys", &parts),
                leptos_router::NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    view! {
        <PageHeader title="Keys" subtitle="Minion keys on the master; actions go to salt-api and the list re-polls at once" />
        <div class="toolbar">
            <SearchBox action="/keys" q=q.get_untracked() placeholder="Filter by minion id" aria_label="Filter keys"
                button="Filter" go />
        </div>
        {move || action.value().get().map(|r| match r {
            Ok(results) => {
                let ok: Vec<_> = results.iter().filter(|r| r.ok).map(|r| format!("{} {}", r.id, r.message)).collect();
                let bad: Vec<_> = results.iter().filter(|r| !r.ok).map(|r| format!("{}: {}", r.id, r.message)).collect();
                view! {
                    <div class="toast" class:toast-bad=!bad.is_empty() role="status" data-test="key-result">
                        {(!ok.is_empty()).then(|| view! { <div>{ok.join(", ")}</div> })}
                        {(!bad.is_empty()).then(|| view! { <div>{bad.join("; ")}</div> })}
                    </div>
                }.into_any()
            }
            Err(e) => view! { <div class="toast toast-bad" role="alert" data-test="key-result">{e.to_string()}</div> }.into_any(),
        })}
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading keys…"</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(v) => view! { <KeysBody v confirm selected q=q.get_untracked() /> }.into_any(),
                }
            })}
        </Transition>
        {move || confirm.get().map(|p| view! { <ConfirmDialog p confirm action /> })}
    }
}

#[component]
fn KeysBody(
    v: KeysView,
    confirm: RwSignal<Option<Pending>>,
    selected: RwSignal<BTreeSet<String>>,
    q: String,
) -> impl IntoView {
    let total = v.pending.len() + v.rejected.len() + v.denied.len() + v.accepted_total as usize;
    if total == 0 {
        return view! {
            <EmptyState test="keys-empty" icon="key" title=if q.is_empty() { "No keys yet" } else { "No keys match" }>
                <p>"Keys appear here once the keys poller has read them from the master."</p>
            </EmptyState>
        }
        .into_any();
    }
    let pending_ids: Vec<String> = v
        .pending
        .iter()
        .filter(|r| r.can_accept || r.can_reject)
        .map(|r| r.id.clone())
        .collect();
    let bulk = (!pending_ids.is_empty()).then(|| {
        let all = pending_ids.clone();
        view! {
            <div class="bulk-bar">
                <label class="checkbox-field inline">
                    <input type="checkbox" aria-label="Select all pending keys"
                        prop:checked=move || selected.with(|s| !all.is_empty() && all.iter().all(|i| s.contains(i)))
                        on:change={
                            let all = pending_ids.clone();
                            move |ev| {
                                let on = event_target_checked(&ev);
                                selected.update(|s| if on { s.extend(all.iter().cloned()) } else { s.clear() });
                            }
                        } />
                    <span>"Select all"</span>
                </label>
                <span class="muted small">{move || format!("{} selected", selected.with(|s| s.len()))}</span>
                <button type="button" class="button button-primary" data-test="bulk-accept"
                    disabled=move || selected.with(|s| s.is_empty())
                    on:click=move |_| confirm.set(Some(Pending { action: "accept".into(), ids: selected.get().into_iter().collect() }))>
                    "Accept selected"
                </button>
                <button type="button" class="button" disabled=move || selected.with(|s| s.is_empty())
                    on:click=move |_| confirm.set(Some(Pending { action: "reject".into(), ids: selected.get().into_iter().collect() }))>
                    "Reject selected"
                </button>
            </div>
        }
    });
    let pages = ((v.accepted_total + v.per_page - 1) / v.per_page).max(1);
    let page_link = |p: i64| {
        let mut h = format!("/keys?page={p}");
        if !q.is_empty() {
            h.push_str(&format!(
                "&q={}",
                crate::app::api::overview::url_path_escape(&q)
            ));
        }
        h
    };
    let noun = if q.is_empty() {
        format!("Export all {total} {}:", counted(total as i64, "key"))
    } else {
        format!(
            "Export the {total} matching {}:",
            counted(total as i64, "key")
        )
    };
    let exports = export_bar(
        noun,
        |ext| {
            let mut parts = vec![];
            crate::model::list::push_str(&mut parts, "q", &q);
            crate::model::list::href(&format!("/api/keys/export.{ext}"), &parts)
        },
        "keys-export",
    );
    view! {
        {exports}
        <KeyGroup title="Pending" hint="Waiting for a decision. Check the fingerprint before accepting." rows=v.pending.clone() confirm selected=Some(selected) test="pending" extra=bulk.map(|b| b.into_any()) />
        <KeyGroup title="Rejected" hint="The master refuses these minions until the key is accepted or deleted." rows=v.rejected confirm selected=None test="rejected" extra=None />
        <KeyGroup title="Denied" hint="A minion presented a different key under an id that already has one." rows=v.denied confirm selected=None test="denied" extra=None />
        <KeyGroup title="Accepted" hint="" rows=v.accepted confirm selected=None test="accepted" extra=None />
        {(pages > 1).then(|| view! {
            <div class="pager">
                <span class="muted">{format!("{} accepted · page {} of {}", v.accepted_total, v.page, pages)}</span>
                <span class="pager-spacer"></span>
                {(v.page > 1).then(|| view! { <A href=page_link(v.page - 1) attr:class="button">"← Prev"</A> })}
                {(v.page < pages).then(|| view! { <A href=page_link(v.page + 1) attr:class="button">"Next →"</A> })}
            </div>
        })}
    }
    .into_any()
}

#[component]
fn KeyGroup(
    title: &'static str,
    hint: &'static str,
    rows: Vec<KeyRow>,
    confirm: RwSignal<Option<Pending>>,
    selected: Option<RwSignal<BTreeSet<String>>>,
    test: &'static str,
    extra: Option<AnyView>,
) -> impl IntoView {
    if rows.is_empty() && title != "Pending" {
        return ().into_any();
    }
    let count = rows.len();
    view! {
        <section class="panel key-group" data-test=format!("keys-{test}")>
            <div class="section-head row">
                <h2>{title} <span class="count-pill" class:count-pill-warn=(title == "Pending" && count > 0)>{count}</span></h2>
                <span class="muted small">{hint}</span>
            </div>
            {extra}
            {if rows.is_empty() {
                view! { <p class="muted">"No pending keys."</p> }.into_any()
            } else {
                view! {
                    <ul class="key-list">
                        {rows.into_iter().map(|r| view! { <KeyItem r confirm selected /> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn KeyItem(
    r: KeyRow,
    confirm: RwSignal<Option<Pending>>,
    selected: Option<RwSignal<BTreeSet<String>>>,
) -> impl IntoView {
    let finger = Action::new(|id: &String| key_fingerprint(id.clone()));
    let id = r.id.clone();
    let ask = move |action: &'static str| {
        let id = id.clone();
        move |_| {
            confirm.set(Some(Pending {
                action: action.into(),
                ids: vec![id.clone()],
            }))
        }
    };
    let fid = r.id.clone();
    let sid = r.id.clone();
    let href = format!(
        "/minions/{}",
        crate::app::api::overview::url_path_escape(&r.id)
    );
    let id_text = r.id.clone();
    let data_key = r.id.clone();
    view! {
        <li class="key-item" data-key=data_key>
            {selected.map(|sel| {
                let a = sid.clone();
                let b = sid.clone();
                view! {
                    <input type="checkbox" class="key-check" aria-label=format!("Select {sid}")
                        prop:checked=move || sel.with(|s| s.contains(&a))
                        on:change=move |ev| { let on = event_target_checked(&ev); let b = b.clone(); sel.update(|s| { if on { s.insert(b); } else { s.remove(&b); } }); } />
                }
            })}
            <A href=href attr:class="key-id">{id_text}</A>
            <span class="key-fp mono small">
                {move || match finger.value().get() {
                    None if finger.pending().get() => "reading fingerprint…".to_string(),
                    None => String::new(),
                    Some(Ok(fp)) => fp,
                    Some(Err(e)) => e.to_string(),
                }}
            </span>
            <span class="key-actions">
                <button type="button" class="button button-small button-ghost" on:click=move |_| { finger.dispatch(fid.clone()); } data-test="fingerprint">"Fingerprint"</button>
                {(r.can_accept && r.state != KeyState::Accepted).then(|| view! { <button type="button" class="button button-small button-primary" on:click=ask("accept") data-test="accept">"Accept"</button> })}
                {(r.can_reject && r.state != KeyState::Rejected).then(|| view! { <button type="button" class="button button-small" on:click=ask("reject") data-test="reject">"Reject"</button> })}
                {r.can_delete.then(|| view! { <button type="button" class="button button-small button-danger" on:click=ask("delete") data-test="delete">"Delete"</button> })}
            </span>
        </li>
    }
}

#[component]
fn ConfirmDialog(
    p: Pending,
    confirm: RwSignal<Option<Pending>>,
    action: ServerAction<KeyAction>,
) -> impl IntoView {
    let names = if p.ids.len() == 1 {
        p.ids[0].clone()
    } else {
        format!(
            "{} minions ({})",
            p.ids.len(),
            p.ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                + if p.ids.len() > 5 { ", …" } else { "" }
        )
    };
    let (title, body, danger) = match p.action.as_str() {
        "accept" => (format!("Accept the key of {names}?"), "The minion will be able to receive jobs from this master.".to_string(), false),
        "reject" => (format!("Reject the key of {names}?"), "The master will refuse the minion until its key is accepted again.".to_string(), false),
        _ => (format!("Delete the key of {names}?"), "This cannot be undone: the key is removed from the master and the minion will submit a new one that must be accepted again. To shut a minion out, reject its key instead.".to_string(), true),
    };
    let ids = p.ids.join("\n");
    let verb = p.action.clone();
    let label = match verb.as_str() {
        "accept" => "Accept",
        "reject" => "Reject",
        _ => "Delete key",
    };
    let dialog = NodeRef::<leptos::html::Div>::new();
    crate::app::components::keyboard::trap_focus(dialog, Callback::new(move |_| confirm.set(None)));
    view! {
        <div class="modal-backdrop" on:click=move |_| confirm.set(None)></div>
        <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" data-test="confirm-dialog" node_ref=dialog>
            <h2 id="confirm-title">{title}</h2>
            <p class=if danger { "danger-text" } else { "muted" }>{body}</p>
            <div class="form-actions">
                <button type="button" class="button" class:button-danger=danger class:button-primary=!danger data-test="confirm"
                    on:click=move |_| {
                        action.dispatch(KeyAction { action: verb.clone(), ids: ids.clone() });
                        confirm.set(None);
                    }>
                    {label}
                </button>
                <button type="button" class="button button-ghost" data-autofocus=danger.then_some("") on:click=move |_| confirm.set(None)>"Cancel"</button>
            </div>
        </div>
    }
}
