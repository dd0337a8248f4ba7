//! `/roles/:id`: one role. Custom roles: edit the description, add permission rows (with a live
//! preview of what the row matches while it is typed), remove rows, delete the role after a
//! confirmation. Built-in roles are shown read-only. Members link to their user pages.

use crate::app::api::overview::url_path_escape;
use crate::app::api::roles::{
    get_role, AddRolePermission, DeleteRole, Grant, PreviewGrant, RemoveRolePermission, RoleDetail,
    RoleMember, UpdateRole, KNOWN_VERBS,
};
use crate::app::pages::roles::{debounced, BuiltinBadge};
use crate::app::pages::settings::{field_error, form_error, Field, SaveRow};
use crate::app::pages::{go_after, route_record, ErrorPanel, PageHeader};
use crate::model::roles::{MAX_RESOURCE, MAX_ROLE_DESCRIPTION};
use leptos::prelude::*;
use leptos_router::components::A;

/// Every action of the page, created once at its top (never inside the async body).
#[derive(Clone, Copy, Default)]
struct RoleActions {
    update: ServerAction<UpdateRole>,
    delete: ServerAction<DeleteRole>,
    add: ServerAction<AddRolePermission>,
    remove: ServerAction<RemoveRolePermission>,
    preview: ServerAction<PreviewGrant>,
}

/// `/roles/:id`.
#[component]
pub fn RoleDetailPage() -> impl IntoView {
    let acts = RoleActions::default();
    let changes = vec![
        acts.update.version(),
        acts.add.version(),
        acts.remove.version(),
    ];
    let data = route_record(changes, get_role);
    go_after(acts.delete, |_| "/roles".into());
    view! {
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading role…"</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! {
                        <PageHeader title="Role"><A href="/roles" attr:class="button">"← All roles"</A></PageHeader>
                        <ErrorPanel error=e />
                    }.into_any(),
                    Ok(d) => view! { <RoleBody d acts /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RoleBody(d: RoleDetail, acts: RoleActions) -> impl IntoView {
    let builtin = d.role.is_builtin;
    let role_id = d.role.id.clone();
    let subtitle = if d.role.description.is_empty() {
        "No description".to_string()
    } else {
        d.role.description.clone()
    };
    view! {
        <PageHeader title=d.role.name.clone() subtitle>
            <A href="/roles" attr:class="button">"← All roles"</A>
        </PageHeader>
        {builtin.then(|| view! {
            <div class="notice" data-test="role-builtin-note"><BuiltinBadge />" Built-in roles cannot be changed."</div>
        })}
        <div class="detail-grid">
            <section class="panel">
                <h2>"Permissions"</h2>
                <PermTable role_id=role_id.clone() perms=d.permissions builtin remove=acts.remove />
                {(!builtin).then(|| view! { <AddPermForm role_id=role_id.clone() acts /> })}
            </section>
            <section class="panel">
                <h2>"Members"</h2>
                <MemberList members=d.members />
                {(!builtin).then(|| view! {
                    <h2 class="mt">"Description"</h2>
                    <DescriptionForm role_id=role_id.clone() description=d.role.description.clone() update=acts.update />
                    <h2 class="mt">"Delete"</h2>
                    <DeleteRoleForm role_id=role_id.clone() delete=acts.delete />
                })}
            </section>
        </div>
    }
}

#[component]
fn PermTable(
    role_id: String,
    perms: Vec<Grant>,
    builtin: bool,
    remove: ServerAction<RemoveRolePermission>,
) -> impl IntoView {
    let value = Signal::derive(move || remove.value().get());
    if perms.is_empty() {
        return view! { <p class="muted" data-test="perms-empty">"No permissions yet: people holding this role may do nothing."</p> }.into_any();
    }
    let rows = perms
        .into_iter()
        .map(|g| {
            let (role_id, perm_id, title) = (role_id.clone(), g.id.clone(), format!("Remove {}", g.label()));
            let action = (!builtin).then(move || {
                view! {
                    <ActionForm action=remove attr:class="inline-form">
                        <input type="hidden" name="role_id" value=role_id />
                        <input type="hidden" name="permission_id" value=perm_id />
                        <button type="submit" class="button button-small button-danger" data-test="perm-remove"
                            title=title>"Remove"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr data-test="perm-row" data-perm=g.label()>
                    <td class="mono">{g.verb.clone()}</td>
                    <td class="mono">{g.resource_glob.clone()}</td>
                    <td class="tpl-actions">{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {form_error(value)}
        <div class="table-wrap">
            <table class="table" data-test="perms-table"><caption class="sr-only">"The role's permissions"</caption>
                <thead><tr><th>"Verb"</th><th>"Resource glob"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The add-row form: verb, resource glob, and the preview of what the glob matches now.
#[component]
fn AddPermForm(role_id: String, acts: RoleActions) -> impl IntoView {
    let add = acts.add;
    let preview = acts.preview;
    let value = Signal::derive(move || add.value().get());
    let verb = RwSignal::new(KNOWN_VERBS[0].to_string());
    let glob = RwSignal::new(String::new());
    let glob_ref = NodeRef::<leptos::html::Input>::new();
    let ask = debounced(move || {
        let resource_glob = glob.get_untracked();
        if !resource_glob.trim().is_empty() {
            preview.dispatch(crate::app::api::roles::PreviewGrant {
                verb: verb.get_untracked(),
                resource_glob,
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            glob.set(String::new());
            if let Some(i) = glob_ref.get_untracked() {
                i.set_value("");
            }
        }
    });
    let shown = move || {
        if glob.get().trim().is_empty() {
            return view! { <span class="muted">"Type a resource glob to see what it matches."</span> }.into_any();
        }
        match preview.value().get() {
            None => view! { <span class="muted">"Checking…"</span> }.into_any(),
            Some(Ok(p)) => view! { <span>{p.summary()}</span> }.into_any(),
            Some(Err(e)) => view! { <span class="field-error">{e.to_string()}</span> }.into_any(),
        }
    };
    let verbs = std::iter::once("*")
        .chain(KNOWN_VERBS.iter().copied())
        .map(|v| view! { <option value=v selected=v == KNOWN_VERBS[0]>{v}</option> })
        .collect_view();
    view! {
        <h3 class="mt">"Add a permission"</h3>
        <ActionForm action=add attr:class="form form-grid" attr:data-test="perm-add-form">
            <input type="hidden" name="role_id" value=role_id />
            <Field label="Verb" name="verb" value=value>
                <select name="verb" on:change=move |ev| { verb.set(event_target_value(&ev)); ask(); }>{verbs}</select>
            </Field>
            <Field label="Resource glob" name="resource_glob" value=value hint="kind:pattern, e.g. minion:web-*, key:new-*, salt:test.*, or * for everything">
                <input type="text" name="resource_glob" required maxlength=MAX_RESOURCE.to_string()
                    placeholder="key:web-*" autocomplete="off" spellcheck="false" node_ref=glob_ref
                    on:input=move |ev| { glob.set(event_target_value(&ev)); ask(); } />
            </Field>
            <div class="span-2 muted small" data-test="perm-preview" aria-live="polite">{shown}</div>
            <SaveRow v=value pending=add.pending() label="Add permission" test="perm-add" />
        </ActionForm>
    }
}

#[component]
fn MemberList(members: Vec<RoleMember>) -> impl IntoView {
    if members.is_empty() {
        return view! { <p class="muted" data-test="members-empty">"Nobody holds this role."</p> }
            .into_any();
    }
    view! {
        <ul class="kv-list" data-test="role-members">
            {members.into_iter().map(|m| {
                let href = format!("/users/{}", url_path_escape(&m.id));
                let username = m.username.clone();
                view! {
                    <li class="kv-row" data-member=m.username>
                        <A href=href>{username}</A>
                        {(!m.is_active).then(|| view! { " " <span class="badge badge-pending">"inactive"</span> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn DescriptionForm(
    role_id: String,
    description: String,
    update: ServerAction<UpdateRole>,
) -> impl IntoView {
    let value = Signal::derive(move || update.value().get());
    view! {
        <ActionForm action=update attr:class="form" attr:data-test="role-update-form">
            <input type="hidden" name="id" value=role_id />
            <label class="field">
                <span class="field-label visually-hidden">"Description"</span>
                <input type="text" name="description" value=description maxlength=MAX_ROLE_DESCRIPTION.to_string() />
                {field_error(value, "description")}
            </label>
            {form_error(value)}
            <div class="form-actions">
                <button type="submit" class="button" data-test="role-update">"Save description"</button>
                {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <span class="saved-note">"Saved"</span> })}
            </div>
        </ActionForm>
    }
}

/// Delete with a confirmation step (a `<details>`, so it works before hydration too).
#[component]
fn DeleteRoleForm(role_id: String, delete: ServerAction<DeleteRole>) -> impl IntoView {
    let value = Signal::derive(move || delete.value().get());
    view! {
        <details>
            <summary class="button button-danger" data-test="role-delete">"Delete role…"</summary>
            <ActionForm action=delete attr:class="form mt">
                <input type="hidden" name="id" value=role_id />
                <p class="danger-text">"Delete this role for good? A role still assigned to someone cannot be deleted."</p>
                {form_error(value)}
                <div class="form-actions">
                    <button type="submit" class="button button-danger" data-test="role-delete-confirm">"Yes, delete it"</button>
                </div>
            </ActionForm>
        </details>
    }
}
