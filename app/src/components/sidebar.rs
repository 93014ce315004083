//! The list of repositories on the left: a fixed column on wide screens, a drawer on
//! narrow ones (opened by the checkbox the layout places just before it).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::add_repository::AddRepository;
use super::layout::DRAWER_TOGGLE;
use super::moved;
use super::repository_item::RepositoryItem;
use crate::model::{BranchStatus, RepositoryView};
use crate::server_fns::repositories::reorder_repositories;

#[component]
pub fn Sidebar(
    repositories: Vec<RepositoryView>,
    github_connected: bool,
    /// The path of the page, to mark the open branch.
    current: String,
) -> impl IntoView {
    view! {
        <aside
            id="sidebar"
            aria-label="Repositories"
            class="fixed inset-y-0 left-0 z-40 flex w-72 -translate-x-full flex-col border-r border-zinc-200 bg-zinc-50 transition-transform peer-checked:translate-x-0 md:static md:translate-x-0 dark:border-zinc-800 dark:bg-zinc-900"
        >
            <div class="flex h-12 shrink-0 items-center justify-between border-b border-zinc-200 px-3 dark:border-zinc-800">
                <a href="/" class="font-semibold">
                    "Upstream Agents"
                </a>
                <label
                    for=DRAWER_TOGGLE
                    role="button"
                    class="cursor-pointer rounded p-1 text-zinc-500 hover:bg-zinc-200 md:hidden dark:hover:bg-zinc-800"
                    aria-label="Close menu"
                >
                    "✕"
                </label>
            </div>
            <div class="flex items-center justify-between px-3 pt-3 pb-1">
                <span class="text-xs font-semibold tracking-wide text-zinc-500 uppercase">
                    "Repositories"
                </span>
                <AddRepository github_connected />
            </div>
            <div class="min-h-0 flex-1 overflow-y-auto px-1.5 pb-4">
                <RepositoryList repositories current />
            </div>
        </aside>
    }
}

/// The repositories in the user's order, reordered by drag and drop or by the move
/// buttons each row has for the keyboard. The new order shows at once and is saved in
/// the background.
#[island]
fn RepositoryList(repositories: Vec<RepositoryView>, current: String) -> impl IntoView {
    let listed = RwSignal::new(repositories);
    let dragged = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let current = StoredValue::new(current);
    let saving = StoredValue::new(false);
    let unsaved = StoredValue::new(None::<Vec<i64>>);

    let move_to = move |id: i64, to: usize| {
        let before: Vec<i64> = listed.with_untracked(|l| l.iter().map(|r| r.id).collect());
        let order = moved(&before, id, to);
        if order == before {
            return;
        }
        #[cfg(feature = "hydrate")]
        if let Some(moved) = listed.with_untracked(|l| l.iter().find(|r| r.id == id).cloned()) {
            keep_focus_in(moved.full_name());
        }
        listed.update(|l| l.sort_by_key(|r| order.iter().position(|id| *id == r.id)));
        // One save at a time, the newest order last: two requests in flight could
        // arrive in either order and leave the older order saved.
        unsaved.set_value(Some(order));
        if saving.get_value() {
            return;
        }
        saving.set_value(true);
        spawn_local(async move {
            loop {
                let mut next = None;
                unsaved.update_value(|order| next = order.take());
                let Some(order) = next else { break };
                if let Err(err) = reorder_repositories(order).await {
                    error.set(Some(format!("Could not save the order: {err}")));
                }
            }
            saving.set_value(false);
        });
    };
    let on_move = Callback::new(move |(id, to): (i64, usize)| move_to(id, to));
    Effect::new(move |_| follow_statuses(listed));

    view! {
        {move || {
            error
                .get()
                .map(|message| {
                    view! {
                        <p role="alert" class="px-2 py-1 text-sm text-red-600">
                            {message}
                        </p>
                    }
                })
        }}
        <Show
            when=move || listed.with(|l| !l.is_empty())
            fallback=|| {
                view! {
                    <p class="px-2 py-2 text-sm text-zinc-500">
                        "No repositories yet. Add one to start a branch."
                    </p>
                }
            }
        >
            <ul class="space-y-0.5" data-testid="repository-list">
                {move || {
                    let count = listed.with(Vec::len);
                    listed
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(index, repository)| {
                            view! {
                                <RepositoryItem
                                    repository
                                    index
                                    count
                                    dragged
                                    current=current.get_value()
                                    on_move
                                />
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </Show>
    }
}

/// Keeps the branches' badges, in the sidebar and in a branch page's header, in step with
/// the status lines of the page's stream (`branch_id status unread`).
fn follow_statuses(listed: RwSignal<Vec<RepositoryView>>) {
    crate::page_stream::listen("message", move |line| {
        let mut parts = line.split(' ');
        let id = parts.next().and_then(|p| p.parse::<i64>().ok());
        let status = parts.next().and_then(BranchStatus::from_label);
        let (Some(id), Some(status)) = (id, status) else { return };
        let unread = parts.next() == Some("1");
        // The branch page's own header is rendered on the server, outside every island.
        #[cfg(feature = "hydrate")]
        super::status_badge::show_status(id, status);
        listed.update(|repositories| {
            let branches = repositories.iter_mut().flat_map(|r| r.branches.iter_mut());
            for branch in branches.filter(|b| b.id == id) {
                branch.status = status;
                branch.unread = unread;
            }
        });
    });
}

/// Puts the focus back on the control it was on in the moved row (or on the row's first
/// button), as the new order draws the rows afresh: a keyboard user moving a repository
/// several places presses Alt+↓ again and again.
#[cfg(feature = "hydrate")]
fn keep_focus_in(full_name: String) {
    use wasm_bindgen::JsCast;
    let label = document().active_element().and_then(|e| e.get_attribute("aria-label"));
    request_animation_frame(move || {
        let row = format!("li[data-repository=\"{full_name}\"]");
        let find = |selector: String| document().query_selector(&selector).ok().flatten();
        let target = label
            .and_then(|label| find(format!("{row} button[aria-label=\"{label}\"]:enabled")))
            .or_else(|| find(format!("{row} button")));
        if let Some(button) = target.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = button.focus();
        }
    });
}
