//! Templates: saved Run commands. Your own first (share, unshare, delete with a confirmation),
//! then those other users share (read-only, "by <owner>"); every row opens Run pre-filled.

use crate::app::api::overview::url_path_escape;
use crate::app::api::templates::{
    command_line, list_templates, DeleteTemplate, ShareTemplate, TemplateList, TemplateOut,
};
use crate::app::components::list::{counted, export_bar, EmptyState};
use crate::app::pages::{short_time, ErrorPanel, PageHeader};
use leptos::prelude::*;
use leptos_router::components::A;
use std::collections::BTreeMap;

/// A delete waiting for confirmation.
#[derive(Clone, Debug, PartialEq)]
struct Doomed {
    id: String,
    name: String,
    shared: bool,
}

/// Outcome of the last action, shown above the table.
#[derive(Clone, Debug, PartialEq)]
struct Notice {
    ok: bool,
    text: String,
}

/// Longest argument summary shown in the table (the full line is in the tooltip).
const SUMMARY_CHARS: usize = 60;

/// `/templates`.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let share = ServerAction::<ShareTemplate>::new();
    let delete = ServerAction::<DeleteTemplate>::new();
    let data = Resource::new(
        move || (share.version().get(), delete.version().get()),
        |_| list_templates(),
    );
    let confirm = RwSignal::new(None::<Doomed>);
    let deleting = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<Notice>);
    Effect::new(move |_| {
        if let Some(r) = share.value().get() {
            notice.set(Some(match r {
                Ok(t) if t.is_shared => Notice {
                    ok: true,
                    text: format!("“{}” is now shared with every user.", t.name),
                },
                Ok(t) => Notice {
                    ok: true,
                    text: format!("“{}” is private again.", t.name),
                },
                Err(e) => Notice {
                    ok: false,
                    text: e.to_string(),
                },
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(r) = delete.value().get() {
            notice.set(Some(match r {
                Ok(()) => Notice {
                    ok: true,
                    text: format!("Deleted “{}”.", deleting.get_untracked()),
                },
                Err(e) => Notice {
                    ok: false,
                    text: e.to_string(),
                },
            }));
        }
    });
    view! {
        <PageHeader title="Templates" subtitle="Saved Run commands: your own, and the ones other users share">
            <A href="/run" attr:class="button button-primary" attr:data-test="new-command">"New command"</A>
        </PageHeader>
        {move || notice.get().map(|n| view! {
            <div class="toast" class:toast-bad=!n.ok role=if n.ok { "status" } else { "alert" } data-test="template-result">{n.text}</div>
        })}
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading templates…"</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(list) => view! { <TemplatesBody list share confirm /> }.into_any(),
                }
            })}
        </Transition>
        {move || confirm.get().map(|d| view! { <ConfirmDelete d confirm deleting delete /> })}
    }
}

#[component]
fn TemplatesBody(
    list: TemplateList,
    share: ServerAction<ShareTemplate>,
    confirm: RwSignal<Option<Doomed>>,
) -> impl IntoView {
    if list.templates.is_empty() {
        return view! {
            <EmptyState test="templates-empty" icon="bookmark" title="No templates yet">
                <p>"No templates yet. Save one from the Run page."</p>
                <p class="muted small">"A template keeps a target, a function and its arguments, so a command you run often is one click away. Share it and every user can run it too."</p>
                <p><A href="/run" attr:class="button">"Open Run"</A></p>
            </EmptyState>
        }
        .into_any();
    }
    let mine = list.templates.iter().filter(|t| t.is_mine).count();
    let shared_by_others = list.templates.len() - mine;
    let summary = format!(
        "{} template{} · {} yours · {} shared by others",
        list.total,
        if list.total == 1 { "" } else { "s" },
        mine,
        shared_by_others
    );
    let exports = export_bar(
        format!(
            "Export the {} {} you can see:",
            list.total,
            counted(list.total, "template")
        ),
        |ext| format!("/api/templates/export.{ext}"),
        "templates-export",
    );
    view! {
        {exports}
        <div class="table-wrap">
            <table class="table templates-table" data-test="templates-table"><caption class="sr-only">"Command templates"</caption>
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Target"</th>
                        <th>"Function"</th>
                        <th>"Arguments"</th>
                        <th>"Sharing"</th>
                        <th>"Updated"</th>
                        <th class="tpl-actions-head"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.templates.into_iter().map(|t| view! { <TemplateTr t share confirm /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="muted small tpl-count">{summary}</p>
    }
    .into_any()
}

/// `nginx refresh=True`, shortened for the table.
fn args_summary(args: &[String], kwargs: &BTreeMap<String, String>) -> (String, String) {
    let full = command_line("", args, kwargs).trim_start().to_string();
    if full.chars().count() <= SUMMARY_CHARS {
        return (full.clone(), full);
    }
    let short: String = full.chars().take(SUMMARY_CHARS - 1).collect();
    (format!("{short}…"), full)
}

#[component]
fn TemplateTr(
    t: TemplateOut,
    share: ServerAction<ShareTemplate>,
    confirm: RwSignal<Option<Doomed>>,
) -> impl IntoView {
    let (summary, full_args) = args_summary(&t.args, &t.kwargs);
    let run_href = format!("/run?template={}", url_path_escape(&t.id));
    let full_line = command_line(&t.fun, &t.args, &t.kwargs);
    let sharing = match (t.is_mine, t.is_shared) {
        (true, true) => view! {
            <span class="badge badge-shared" title="Every user can see and run it">"Shared"</span>
        }
        .into_any(),
        (true, false) => view! {
            <span class="badge badge-private" title="Only you can see it">"Private"</span>
        }
        .into_any(),
        (false, _) => view! {
            <span class="badge badge-shared">"Shared"</span>
            <span class="tpl-owner muted small" data-test="owner">{format!("by {}", t.owner_username)}</span>
        }
        .into_any(),
    };
    let (own_id, is_shared) = (t.id.clone(), t.is_shared);
    let owner_actions = t.is_mine.then(|| {
        let doomed = Doomed {
            id: own_id.clone(),
            name: t.name.clone(),
            shared: is_shared,
        };
        let (label, test, next) = if is_shared {
            ("Unshare", "unshare", "false")
        } else {
            ("Share", "share", "true")
        };
        view! {
            <ActionForm action=share attr:class="inline-form">
                <input type="hidden" name="id" value=own_id />
                <input type="hidden" name="is_shared" value=next />
                <button type="submit" class="button button-small" data-test=test
                    title=if is_shared { "Make it private again" } else { "Let every user see and run it" }>
                    {label}
                </button>
            </ActionForm>
            <button type="button" class="button button-small button-danger" data-test="delete"
                on:click=move |_| confirm.set(Some(doomed.clone()))>
                "Delete"
            </button>
        }
    });
    let description = (!t.description.is_empty())
        .then(|| view! { <div class="tpl-desc muted small">{t.description.clone()}</div> });
    view! {
        <tr data-template=t.name.clone() data-id=t.id.clone() class:tpl-theirs=!t.is_mine>
            <td class="tpl-name">
                <div class="tpl-title">{t.name.clone()}</div>
                {description}
            </td>
            <td class="tpl-target">
                <div class="tpl-target-line">
                    <span class="mono">{t.target.clone()}</span>
                    <span class="tpl-type" title="Target type">{t.target_type.clone()}</span>
                </div>
            </td>
            <td class="mono tpl-fun" title=full_line>{t.fun.clone()}</td>
            <td class="mono small tpl-args" title=full_args>
                {if summary.is_empty() { view! { <span class="muted">"—"</span> }.into_any() } else { summary.into_any() }}
            </td>
            <td class="tpl-sharing">{sharing}</td>
            <td class="small muted tpl-updated">{short_time(&t.updated_at)}</td>
            <td class="tpl-actions">
                <A href=run_href attr:class="button button-small button-primary" attr:data-test="run">"Run"</A>
                {owner_actions}
            </td>
        </tr>
    }
}

#[component]
fn ConfirmDelete(
    d: Doomed,
    confirm: RwSignal<Option<Doomed>>,
    deleting: RwSignal<String>,
    delete: ServerAction<DeleteTemplate>,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    crate::app::components::keyboard::trap_focus(dialog, Callback::new(move |_| confirm.set(None)));
    let body = if d.shared {
        "It is shared, so it disappears for every user too. Jobs already run from it are not affected."
    } else {
        "Jobs already run from it are not affected."
    };
    let id = d.id.clone();
    let name = d.name.clone();
    view! {
        <div class="modal-backdrop" on:click=move |_| confirm.set(None)></div>
        <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" data-test="confirm-dialog"
            node_ref=dialog>
            <h2 id="confirm-title">{format!("Delete the template “{}”?", d.name)}</h2>
            <p class="muted">{body}</p>
            <div class="form-actions">
                <button type="button" class="button button-danger" data-test="confirm"
                    on:click=move |_| {
                        deleting.set(name.clone());
                        delete.dispatch(DeleteTemplate { id: id.clone() });
                        confirm.set(None);
                    }>
                    "Delete template"
                </button>
                <button type="button" class="button button-ghost" data-autofocus on:click=move |_| confirm.set(None)>"Cancel"</button>
            </div>
        </div>
    }
}
