//! "Can this user do X on Y?": the effective-access panel the user page hosts. A verb, a
//! concrete resource (with a picker of the minions the viewer may see), the verdict with the
//! role and grant that decided it, and every grant the user holds through their roles.

use crate::app::api::access::{CheckAccess, PickerMinionIds, UserGrant, UserGrants, KNOWN_VERBS};
use crate::app::api::overview::url_path_escape;
use crate::app::pages::roles::debounced;
use crate::app::pages::settings::{form_error, Field};
use crate::model::roles::MAX_RESOURCE;
use leptos::prelude::*;
use leptos_router::components::A;

/// The picker's options for what is typed: `minion:` or `key:` ids starting with the rest.
fn picker_prefix(typed: &str) -> (&'static str, String) {
    match typed.split_once(':') {
        Some(("key", rest)) => ("key", rest.to_string()),
        Some((_, rest)) => ("minion", rest.to_string()),
        None => ("minion", typed.to_string()),
    }
}

/// The effective-access panel for one user (by id).
#[component]
pub fn EffectiveAccess(user_id: String) -> impl IntoView {
    let check = ServerAction::<CheckAccess>::new();
    let grants = ServerAction::<UserGrants>::new();
    let picker = ServerAction::<PickerMinionIds>::new();
    // Loaded in the browser (an action, not a resource: the host page may render this panel
    // inside its own async body, where a resource would break hydration).
    let first = user_id.clone();
    Effect::new(move |_| {
        grants.dispatch(UserGrants {
            user_id: first.clone(),
        });
    });
    let kind = RwSignal::new("minion");
    let typed = RwSignal::new(String::new());
    let ask = debounced(move || {
        let (k, prefix) = picker_prefix(&typed.get_untracked());
        kind.set(k);
        picker.dispatch(PickerMinionIds { prefix });
    });
    let value = Signal::derive(move || check.value().get());
    let verdict = move || match check.value().get() {
        Some(Ok(c)) => {
            let (class, word) = if c.allowed {
                ("badge badge-ok", "Allowed")
            } else {
                ("badge badge-bad", "Denied")
            };
            let detail = c
                .reason
                .strip_prefix(word)
                .unwrap_or(&c.reason)
                .trim_start_matches(':')
                .trim()
                .to_string();
            view! {
                <div class="status-line" data-test="access-verdict" data-allowed=c.allowed.to_string()>
                    <span class=class>{word}</span>" "<span>{detail}</span>
                </div>
            }
            .into_any()
        }
        _ => ().into_any(),
    };
    let options = move || {
        let k = kind.get();
        picker
            .value()
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|id| view! { <option value=format!("{k}:{id}")></option> })
            .collect_view()
    };
    let verbs = KNOWN_VERBS
        .iter()
        .map(|v| view! { <option value=*v>{*v}</option> })
        .collect_view();
    view! {
        <section class="panel" data-test="effective-access">
            <h2>"Effective access"</h2>
            <p class="muted small">"Can this user do something on a resource? The first grant that matches decides."</p>
            <ActionForm action=check attr:class="form form-grid">
                <input type="hidden" name="user_id" value=user_id />
                <Field label="Verb" name="verb" value=value>
                    <select name="verb" data-test="access-verb">{verbs}</select>
                </Field>
                <Field label="Resource" name="resource" value=value>
                    <input type="text" name="resource" required list="access-minions" data-test="access-resource"
                        maxlength=MAX_RESOURCE.to_string() placeholder="key:web-01, minion:db-02, salt:test.ping"
                        autocomplete="off" spellcheck="false"
                        on:input=move |ev| { typed.set(event_target_value(&ev)); ask(); } />
                    <datalist id="access-minions">{options}</datalist>
                </Field>
                {form_error(value)}
                <div class="form-actions span-2">
                    <button type="submit" class="button button-primary" data-test="access-check">"Check"</button>
                </div>
            </ActionForm>
            {verdict}
            <h3 class="mt">"Grants held"</h3>
            <div data-test="access-grants">
                {move || match grants.value().get() {
                    None => view! { <p class="muted">"Loading grants…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Some(Ok(list)) => view! { <GrantsTable list /> }.into_any(),
                }}
            </div>
        </section>
    }
}

#[component]
fn GrantsTable(list: Vec<UserGrant>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"No grants: this user holds no role with permissions, so every check is denied."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table"><caption class="sr-only">"Effective access"</caption>
                <thead><tr><th>"Role"</th><th>"Verb"</th><th>"Resource glob"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|g| {
                        let href = format!("/roles/{}", url_path_escape(&g.role_id));
                        let role_name = g.role_name.clone();
                        view! {
                            <tr data-grant=g.label()>
                                <td><A href=href>{role_name}</A></td>
                                <td class="mono">{g.verb.clone()}</td>
                                <td class="mono">{g.resource_glob.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::picker_prefix;

    #[test]
    fn picker_reads_the_kind() {
        assert_eq!(picker_prefix("web"), ("minion", "web".into()));
        assert_eq!(picker_prefix("minion:we"), ("minion", "we".into()));
        assert_eq!(picker_prefix("key:db"), ("key", "db".into()));
    }
}
