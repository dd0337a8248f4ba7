//! Working from the keyboard: the shortcuts (`g` then a letter goes to a page, `/` focuses the
//! page's search, `j` / `k` move through the table's rows and `Enter` opens one, `?` lists
//! them), the command palette (`Ctrl-K` / `Cmd-K`: pages, actions, and minions and jobs from the
//! server) and the focus rules every dialog follows ([`trap_focus`]: focus moves in, `Tab` stays
//! in, `Escape` closes, focus goes back where it was). No shortcut fires while typing in a field.

use crate::app::api::auth::Me;
use crate::app::api::palette::{palette_search, PaletteAction, PaletteHits};
use crate::app::nav::{may_kind, NAV};
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos_router::hooks::use_navigate;

/// `g` then one of these letters goes to the page (when the user may see it).
pub const GO_KEYS: &[(&str, &str)] = &[
    ("o", "/"),
    ("a", "/activity"),
    ("m", "/minions"),
    ("k", "/keys"),
    ("j", "/jobs"),
    ("t", "/timeline"),
    ("r", "/run"),
    ("p", "/templates"),
    ("i", "/inventory"),
    ("f", "/fleet"),
    ("u", "/users"),
    ("l", "/audit"),
    ("s", "/settings"),
    ("d", "/diagnostics"),
];

/// The other shortcuts, as the help lists them.
const OTHER_KEYS: &[(&str, &str)] = &[
    ("Ctrl K", "Open the command palette (⌘ K on a Mac)"),
    ("/", "Search this page"),
    ("j / k", "Next / previous row of the table"),
    ("Enter", "Open the selected row"),
    ("?", "Show this list"),
    ("Esc", "Close a dialog or the palette"),
];

/// The pages `me` may open, with their `g` letter.
fn pages(me: &Me) -> Vec<(&'static str, &'static str, &'static str)> {
    NAV.iter()
        .filter(|n| n.gate.allows(me))
        .map(|n| {
            let key = GO_KEYS
                .iter()
                .find(|(_, p)| *p == n.path)
                .map(|(k, _)| *k)
                .unwrap_or("");
            (n.path, n.label, key)
        })
        .collect()
}

/// The shortcuts, the help and the palette, for the signed-in user `me` (in the top bar).
#[component]
pub fn Keyboard(me: Me, palette: RwSignal<bool>) -> impl IntoView {
    let help = RwSignal::new(false);
    let pending_g = StoredValue::new(false);
    let navigate = use_navigate();
    let allowed = pages(&me);
    let go_to = allowed.clone();
    let handle = window_event_listener(leptos::ev::keydown, move |e| {
        let key = e.key();
        if (e.ctrl_key() || e.meta_key()) && key.eq_ignore_ascii_case("k") {
            e.prevent_default();
            // Never over a page's own dialog: one Escape closes one thing.
            if palette.get_untracked() || !dom::dialog_open() {
                help.set(false);
                palette.update(|o| *o = !*o);
            }
            return;
        }
        // A dialog handles its own keys.
        if palette.get_untracked() || help.get_untracked() || dom::dialog_open() {
            return;
        }
        if e.ctrl_key() || e.meta_key() || e.alt_key() || dom::typing(&e) {
            pending_g.set_value(false);
            return;
        }
        if pending_g.get_value() {
            pending_g.set_value(false);
            let target = GO_KEYS
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, path)| go_to.iter().find(|(p, _, _)| p == path));
            if let Some((path, _, _)) = target {
                e.prevent_default();
                navigate(path, Default::default());
            }
            return;
        }
        match key.as_str() {
            "g" => pending_g.set_value(true),
            "/" if dom::focus_search() => e.prevent_default(),
            "j" if dom::move_row(1) => e.prevent_default(),
            "k" if dom::move_row(-1) => e.prevent_default(),
            "Enter" if dom::open_row() => e.prevent_default(),
            "?" => {
                e.prevent_default();
                help.set(true);
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
    let may_accept = may_kind(&me.permissions, "accept", "key");
    let may_run = may_kind(&me.permissions, "execute", "salt");
    view! {
        {move || help.get().then(|| view! { <ShortcutHelp pages=allowed.clone() close=Callback::new(move |_| help.set(false)) /> })}
        {move || palette.get().then(|| {
            let pages = pages(&me);
            view! { <Palette pages may_accept may_run close=Callback::new(move |_| palette.set(false)) /> }
        })}
    }
}

/// `?`: every shortcut, as a dialog.
#[component]
fn ShortcutHelp(
    pages: Vec<(&'static str, &'static str, &'static str)>,
    close: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    trap_focus(dialog, close);
    view! {
        <div class="modal-backdrop" on:click=move |_| close.run(())></div>
        <div class="modal shortcut-help" role="dialog" aria-modal="true" aria-labelledby="shortcut-title"
            node_ref=dialog data-test="shortcut-help">
            <h2 id="shortcut-title">"Keyboard shortcuts"</h2>
            <h3 class="shortcut-heading">"Go to a page"</h3>
            <ul class="shortcut-grid">
                {pages.into_iter().filter(|(_, _, k)| !k.is_empty()).map(|(_, label, key)| view! {
                    <li><span class="shortcut-keys"><kbd>"g"</kbd>" "<kbd>{key}</kbd></span>{label}</li>
                }).collect_view()}
            </ul>
            <h3 class="shortcut-heading">"Everywhere"</h3>
            <table class="table shortcut-table">
                <caption class="sr-only">"Other keys"</caption>
                <thead><tr><th scope="col">"Keys"</th><th scope="col">"Does"</th></tr></thead>
                <tbody>
                    {OTHER_KEYS.iter().map(|(k, what)| view! {
                        <tr><td><kbd>{*k}</kbd></td><td>{*what}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="muted small">"Shortcuts are off while you type in a field."</p>
            <div class="form-actions">
                <button type="button" class="button" data-test="shortcut-close" on:click=move |_| close.run(())>"Close"</button>
            </div>
        </div>
    }
}

/// One line of the palette.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    kind: &'static str,
    label: String,
    href: String,
}

/// What the palette lists for `q`: the action it names, the pages whose name contains it, then
/// the server's minions and jobs.
fn items(
    q: &str,
    pages: &[(&'static str, &'static str, &'static str)],
    may_accept: bool,
    may_run: bool,
    hits: Option<PaletteHits>,
) -> Vec<Item> {
    let mut out = vec![];
    let needle = q.trim().to_lowercase();
    match PaletteAction::parse(q) {
        Some(a @ PaletteAction::AcceptKey(_)) if may_accept => out.push(Item {
            kind: "Action",
            label: a.label(),
            href: a.href(),
        }),
        Some(a @ PaletteAction::Run { .. }) if may_run => out.push(Item {
            kind: "Action",
            label: a.label(),
            href: a.href(),
        }),
        _ => {}
    }
    for (path, label, _) in pages {
        if needle.is_empty() || label.to_lowercase().contains(&needle) {
            out.push(Item {
                kind: "Page",
                label: label.to_string(),
                href: path.to_string(),
            });
        }
    }
    if let Some(h) = hits {
        for id in h.minions {
            out.push(Item {
                kind: "Minion",
                href: format!("/minions/{}", crate::model::list::url_escape(&id)),
                label: id,
            });
        }
        for j in h.jobs {
            out.push(Item {
                kind: "Job",
                href: format!("/jobs/{}", j.jid),
                label: format!("{} {}", j.jid, j.function),
            });
        }
    }
    out
}

/// `Ctrl-K`: type, move with the arrows, `Enter` to go.
#[component]
fn Palette(
    pages: Vec<(&'static str, &'static str, &'static str)>,
    may_accept: bool,
    may_run: bool,
    close: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    trap_focus(dialog, close);
    let q = RwSignal::new(String::new());
    let sel = RwSignal::new(0usize);
    // The server's hits for what is typed, newest answer only. A plain signal, not a resource:
    // the palette sits inside the top bar's Suspense, which a loading resource would re-suspend
    // (and the field would lose the focus at every key).
    let hits = RwSignal::new(None::<PaletteHits>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let text = q.get();
        asked.update_value(|n| *n += 1);
        let n = asked.get_value();
        if text.trim().is_empty() || PaletteAction::parse(&text).is_some() {
            hits.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let got = palette_search(text).await.ok();
            // The palette may have closed meanwhile (its values are gone then).
            if asked.try_get_value() == Some(n) {
                let _ = hits.try_set(got);
            }
        });
    });
    let list = Memo::new(move |_| items(&q.get(), &pages, may_accept, may_run, hits.get()));
    let navigate = use_navigate();
    let go = move |i: usize| {
        if let Some(item) = list.with_untracked(|l| l.get(i).cloned()) {
            dom::forget_focus();
            navigate(&item.href, Default::default());
            close.run(());
        }
    };
    let go_key = go.clone();
    let on_key = move |e: leptos::ev::KeyboardEvent| {
        let n = list.with_untracked(|l| l.len());
        match e.key().as_str() {
            "ArrowDown" if n > 0 => {
                e.prevent_default();
                sel.update(|s| *s = (*s + 1) % n);
            }
            "ArrowUp" if n > 0 => {
                e.prevent_default();
                sel.update(|s| *s = (*s + n - 1) % n);
            }
            "Enter" => {
                e.prevent_default();
                go_key(sel.get_untracked());
            }
            _ => {}
        }
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| close.run(())></div>
        <div class="modal palette" role="dialog" aria-modal="true" aria-label="Command palette" node_ref=dialog data-test="palette">
            <input type="text" class="palette-input" role="combobox" aria-expanded="true" aria-controls="palette-list"
                aria-autocomplete="list" aria-label="Go to a page, minion or job, or type an action"
                aria-activedescendant=move || format!("palette-opt-{}", sel.get())
                placeholder="Page, minion id, JID… or “accept key new-01”, “run test.ping on web-*”"
                maxlength="200" autocomplete="off" spellcheck="false" data-test="palette-input"
                prop:value=move || q.get()
                on:input=move |ev| { q.set(event_target_value(&ev)); sel.set(0); }
                on:keydown=on_key />
            <ul class="palette-list" id="palette-list" role="listbox" aria-label="Results" data-test="palette-list">
                {move || {
                    let l = list.get();
                    if l.is_empty() {
                        return view! { <li class="palette-empty muted" role="option" aria-disabled="true" id="palette-opt-0">"Nothing matches. Try a page name, a minion id or a JID."</li> }.into_any();
                    }
                    let go = go.clone();
                    l.into_iter().enumerate().map(|(i, item)| {
                        let go = go.clone();
                        view! {
                            <li role="option" id=format!("palette-opt-{i}") class="palette-item"
                                class:palette-item-active=move || sel.get() == i
                                aria-selected=move || if sel.get() == i { "true" } else { "false" }
                                data-test="palette-item" data-href=item.href.clone()
                                on:mousemove=move |_| sel.set(i)
                                on:click=move |_| go(i)>
                                <span class="palette-kind">{item.kind}</span>
                                <span class="palette-label">{item.label}</span>
                            </li>
                        }
                    }).collect_view().into_any()
                }}
            </ul>
            <div class="palette-foot muted small">
                <span><kbd>"↑"</kbd><kbd>"↓"</kbd>" move"</span>
                <span><kbd>"Enter"</kbd>" go"</span>
                <span><kbd>"Esc"</kbd>" close"</span>
            </div>
        </div>
    }
}

/// A dialog's focus rules: on open, remember what had focus and move it into the dialog (its
/// `data-autofocus` element, else its first field or button); `Tab` and `Shift-Tab` cycle inside
/// it; `Escape` runs `close`; on close, focus goes back where it was.
pub fn trap_focus<E>(dialog: NodeRef<E>, close: Callback<()>)
where
    E: leptos::html::ElementType + 'static,
    E::Output: JsCast + Clone + 'static,
{
    dom::remember_focus();
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            dom::focus_first(el.unchecked_ref());
        }
    });
    let handle = window_event_listener(leptos::ev::keydown, move |e| match e.key().as_str() {
        "Escape" => {
            e.prevent_default();
            close.run(());
        }
        "Tab" => {
            if let Some(el) = dialog.get_untracked() {
                if dom::cycle_focus(el.unchecked_ref(), e.shift_key()) {
                    e.prevent_default();
                }
            }
        }
        _ => {}
    });
    on_cleanup(move || {
        handle.remove();
        dom::restore_focus();
    });
}

/// The DOM side (the browser build; nothing happens on the server).
#[cfg(feature = "hydrate")]
mod dom {
    use std::cell::RefCell;
    use wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlElement};

    thread_local! {
        static BEFORE: RefCell<Vec<Option<HtmlElement>>> = const { RefCell::new(Vec::new()) };
    }

    const FOCUSABLE: &str =
        "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), \
        select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

    fn document() -> web_sys::Document {
        leptos::prelude::document()
    }

    fn active() -> Option<HtmlElement> {
        document()
            .active_element()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
    }

    /// Is the key event typed into a field (where letters are text, not shortcuts)?
    pub fn typing(e: &web_sys::KeyboardEvent) -> bool {
        let Some(t) = e.target().and_then(|t| t.dyn_into::<HtmlElement>().ok()) else {
            return false;
        };
        matches!(t.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") || t.is_content_editable()
    }

    /// Is one of the pages' own dialogs open?
    pub fn dialog_open() -> bool {
        document()
            .query_selector("[role=dialog][aria-modal=true]")
            .ok()
            .flatten()
            .is_some()
    }

    /// Focus the page's search field; false when it has none.
    pub fn focus_search() -> bool {
        let found = document()
            .query_selector("#content input[type=search], #content [data-shortcut=search]")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        match found {
            Some(el) => {
                let _ = el.focus();
                true
            }
            None => false,
        }
    }

    fn rows() -> Vec<HtmlElement> {
        let Ok(list) = document().query_selector_all("#content table tbody tr") else {
            return vec![];
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
            .filter(|r| r.offset_parent().is_some())
            .collect()
    }

    /// Focus the next (`1`) or previous (`-1`) row of the page's table; false without one.
    pub fn move_row(delta: i32) -> bool {
        let rows = rows();
        if rows.is_empty() {
            return false;
        }
        let current = active().and_then(|a| rows.iter().position(|r| *r == a));
        let next = match current {
            None if delta > 0 => 0,
            None => rows.len() - 1,
            Some(i) => (i as i64 + i64::from(delta)).clamp(0, rows.len() as i64 - 1) as usize,
        };
        let row = &rows[next];
        let _ = row.set_attribute("tabindex", "-1");
        let _ = row.focus();
        row.scroll_into_view_with_bool(false);
        true
    }

    /// `Enter` on a row chosen with `j` / `k`: follow its first link (or click the row, for
    /// tables whose rows open a drawer). False when no row has focus.
    pub fn open_row() -> bool {
        let Some(a) = active() else { return false };
        if a.tag_name() != "TR" {
            return false;
        }
        let link = a
            .query_selector("a[href]")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        link.unwrap_or(a).click();
        true
    }

    fn focusables(dialog: &Element) -> Vec<HtmlElement> {
        let Ok(list) = dialog.query_selector_all(FOCUSABLE) else {
            return vec![];
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
            .collect()
    }

    /// On the next frame: the dialog's nodes exist before they are in the document, and a
    /// detached element cannot take the focus.
    pub fn focus_first(dialog: &Element) {
        let dialog = dialog.clone();
        leptos::prelude::request_animation_frame(move || focus_now(&dialog));
    }

    fn focus_now(dialog: &Element) {
        let chosen = dialog
            .query_selector("[data-autofocus]")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
            .or_else(|| focusables(dialog).into_iter().next());
        if let Some(el) = chosen {
            let _ = el.focus();
        }
    }

    /// Keep `Tab` inside the dialog: from its last element to its first (and back with
    /// `Shift`), or into it when focus is outside. True when focus was moved here.
    pub fn cycle_focus(dialog: &Element, back: bool) -> bool {
        let all = focusables(dialog);
        let (Some(first), Some(last)) = (all.first(), all.last()) else {
            return true;
        };
        let current = active();
        let inside = current
            .as_ref()
            .is_some_and(|c| dialog.contains(Some(c.unchecked_ref())));
        let to = if !inside {
            Some(first)
        } else if back && current.as_ref() == Some(first) {
            Some(last)
        } else if !back && current.as_ref() == Some(last) {
            Some(first)
        } else {
            None
        };
        match to {
            Some(el) => {
                let _ = el.focus();
                true
            }
            None => false,
        }
    }

    pub fn remember_focus() {
        let a = active();
        BEFORE.with(|b| b.borrow_mut().push(a));
    }

    /// The palette is going to another page: nothing to give focus back to.
    pub fn forget_focus() {
        BEFORE.with(|b| {
            if let Some(last) = b.borrow_mut().last_mut() {
                *last = None;
            }
        });
    }

    pub fn restore_focus() {
        let el = BEFORE.with(|b| b.borrow_mut().pop()).flatten();
        if let Some(el) = el {
            if el.is_connected() {
                let _ = el.focus();
            }
        }
    }
}

/// The server build renders no focus and hears no keys.
#[cfg(not(feature = "hydrate"))]
mod dom {
    pub fn typing(_: &leptos::ev::KeyboardEvent) -> bool {
        false
    }
    pub fn dialog_open() -> bool {
        false
    }
    pub fn focus_search() -> bool {
        false
    }
    pub fn move_row(_: i32) -> bool {
        false
    }
    pub fn open_row() -> bool {
        false
    }
    pub fn focus_first(_: &leptos::web_sys::Element) {}
    pub fn cycle_focus(_: &leptos::web_sys::Element, _: bool) -> bool {
        false
    }
    pub fn remember_focus() {}
    pub fn forget_focus() {}
    pub fn restore_focus() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_lists_the_action_then_pages_then_the_servers_hits() {
        let pages = [
            ("/", "Overview", "o"),
            ("/keys", "Keys", "k"),
            ("/jobs", "Jobs", "j"),
        ];
        let hits = PaletteHits {
            minions: vec!["web-01".into()],
            jobs: vec![],
        };
        let got = items("accept key web-01", &pages, true, true, Some(hits.clone()));
        assert_eq!(got[0].href, "/keys?q=web-01&accept=web-01");
        assert_eq!(got.last().unwrap().href, "/minions/web-01");
        // Without the grant, no action.
        let got = items("accept key web-01", &pages, false, true, None);
        assert!(got.is_empty());
        let got = items("jo", &pages, true, true, None);
        assert_eq!(
            got.iter().map(|i| i.label.as_str()).collect::<Vec<_>>(),
            ["Jobs"]
        );
        assert_eq!(items("", &pages, true, true, None).len(), 3);
        // Every `g` letter is unique and names a page of the sidebar.
        for (i, (k, p)) in GO_KEYS.iter().enumerate() {
            assert!(GO_KEYS[i + 1..].iter().all(|(k2, _)| k2 != k), "{k}");
            assert!(NAV.iter().any(|n| n.path == *p), "{p}");
        }
    }
}
