//! The list of repositories on the left: a fixed column on wide screens, a drawer on
//! narrow ones.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::add_repository::AddRepository;
use super::layout::use_workspace;
use super::moved;
use super::repository_item::RepositoryItem;
use crate::model::RepositoryView;
use crate::server_fns::repositories::reorder_repositories;

#[component]
pub fn Sidebar() -> impl IntoView {
    let context = use_workspace();
    let panel = move || {
        if context.drawer_open.get() {
            "translate-x-0"
        } else {
            "-translate-x-full"
        }
    };
    view! {
        <aside
            id="sidebar"
            aria-label="Repositories"
            class=move || {
                format!(
                    "fixed inset-y-0 left-0 z-40 flex w-72 flex-col border-r border-zinc-200 bg-zinc-50 transition-transform md:static md:translate-x-0 dark:border-zinc-800 dark:bg-zinc-900 {}",
                    panel(),
                )
            }
        >
            <div class="flex h-12 shrink-0 items-center justify-between border-b border-zinc-200 px-3 dark:border-zinc-800">
                <a href="/" class="font-semibold">
                    "Upstream Agents"
                </a>
                <button
                    class="rounded p-1 text-zinc-500 hover:bg-zinc-200 md:hidden dark:hover:bg-zinc-800"
                    aria-label="Close menu"
                    on:click=move |_| context.drawer_open.set(false)
                >
                    "✕"
                </button>
            </div>
            <div class="flex items-center justify-between px-3 pt-3 pb-1">
                <span class="text-xs font-semibold tracking-wide text-zinc-500 uppercase">
                    "Repositories"
                </span>
                <AddRepository />
            </div>
            <div class="min-h-0 flex-1 overflow-y-auto px-1.5 pb-4">
                <Transition fallback=|| {
                    view! { <p class="px-2 py-1 text-sm text-zinc-500">"Loading…"</p> }
                }>
                    {move || {
                        context
                            .workspace
                            .get()
                            .map(|result| match result {
                                Ok(workspace) => {
                                    view! { <RepositoryList repositories=workspace.repositories /> }
                                        .into_any()
                                }
                                Err(err) => {
                                    view! {
                                        <p class="px-2 py-1 text-sm text-red-600">{err.message}</p>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </div>
        </aside>
    }
}

/// The repositories in the user's order, reordered by drag and drop or by the move
/// buttons each row has for the keyboard.
#[component]
fn RepositoryList(repositories: Vec<RepositoryView>) -> impl IntoView {
    let context = use_workspace();
    let order: Vec<i64> = repositories.iter().map(|r| r.id).collect();
    let order = StoredValue::new(order);
    let dragged = RwSignal::new(None::<i64>);
    let count = repositories.len();

    let move_to = move |id: i64, to: usize| {
        let next = moved(&order.get_value(), id, to);
        if next == order.get_value() {
            return;
        }
        spawn_local(async move {
            if let Err(err) = reorder_repositories(next).await {
                context.notice.set(Some(format!("Could not save the order: {err}")));
            }
            context.workspace.refetch();
        });
    };

    if repositories.is_empty() {
        return view! {
            <p class="px-2 py-2 text-sm text-zinc-500">
                "No repositories yet. Add one to start a branch."
            </p>
        }
        .into_any();
    }
    view! {
        <ul class="space-y-0.5" data-testid="repository-list">
            {repositories
                .into_iter()
                .enumerate()
                .map(|(index, repository)| {
                    view! {
                        <RepositoryItem
                            repository
                            index
                            count
                            dragged
                            on_move=Callback::new(move |(id, to): (i64, usize)| move_to(id, to))
                        />
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
