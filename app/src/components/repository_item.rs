//! One repository in the sidebar: its row of controls and, unfolded, its branches.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::dialog::{ConfirmActions, Dialog};
use super::new_branch::NewBranch;
use super::status_badge::StatusBadge;
use super::{branch_href, go_to, repository_settings_href};
use crate::model::RepositoryView;
use crate::server_fns::repositories::remove_repository;

const ROW_BUTTON: &str = "rounded px-1 text-zinc-500 hover:bg-zinc-200 hover:text-zinc-900 disabled:opacity-30 dark:hover:bg-zinc-800 dark:hover:text-zinc-100";

#[component]
pub fn RepositoryItem(
    repository: RepositoryView,
    index: usize,
    count: usize,
    /// The repository being dragged, if any.
    dragged: RwSignal<Option<i64>>,
    /// Asks to move a repository (by id) to a position.
    on_move: Callback<(i64, usize)>,
    /// The path of the page, to mark the open branch.
    current: String,
) -> impl IntoView {
    let id = repository.id;
    let full_name = repository.full_name();
    let (owner, name) = (repository.owner.clone(), repository.name.clone());
    let expanded = RwSignal::new(true);
    let drop_target = RwSignal::new(false);
    let new_branch_open = RwSignal::new(false);
    let remove_open = RwSignal::new(false);
    let repository = StoredValue::new(repository);
    let current = StoredValue::new(current);

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if !ev.alt_key() {
            return;
        }
        match ev.key().as_str() {
            "ArrowUp" if index > 0 => on_move.run((id, index - 1)),
            "ArrowDown" if index + 1 < count => on_move.run((id, index + 1)),
            _ => return,
        }
        ev.prevent_default();
    };

    view! {
        <li
            draggable="true"
            data-repository=full_name.clone()
            class=move || {
                if drop_target.get() { "rounded-md ring-2 ring-indigo-400" } else { "rounded-md" }
            }
            on:dragstart=move |ev| {
                dragged.set(Some(id));
                if let Some(transfer) = ev.data_transfer() {
                    let _ = transfer.set_data("text/plain", &id.to_string());
                    transfer.set_effect_allowed("move");
                }
            }
            on:dragend=move |_| dragged.set(None)
            on:dragover=move |ev| {
                if dragged.get_untracked().is_some_and(|d| d != id) {
                    ev.prevent_default();
                    drop_target.set(true);
                }
            }
            on:dragleave=move |_| drop_target.set(false)
            on:drop=move |ev| {
                ev.prevent_default();
                drop_target.set(false);
                if let Some(source) = dragged.get_untracked() {
                    dragged.set(None);
                    on_move.run((source, index));
                }
            }
        >
            <div class="group flex items-center gap-1 rounded-md px-1.5 py-1 hover:bg-zinc-200/60 dark:hover:bg-zinc-800/60">
                <button
                    class="flex min-w-0 flex-1 items-center gap-1.5 text-left text-sm font-medium"
                    aria-expanded=move || expanded.get().to_string()
                    title="Alt+↑ and Alt+↓ move this repository"
                    on:click=move |_| expanded.update(|e| *e = !*e)
                    on:keydown=on_keydown
                >
                    <span class="w-3 text-xs text-zinc-400" aria-hidden="true">
                        {move || if expanded.get() { "▾" } else { "▸" }}
                    </span>
                    <span class="truncate">{full_name.clone()}</span>
                </button>
                <div class="flex shrink-0 items-center opacity-100 md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100">
                    <button
                        class=ROW_BUTTON
                        aria-label=format!("Move {full_name} up")
                        disabled=index == 0
                        on:click=move |_| on_move.run((id, index.saturating_sub(1)))
                    >
                        "↑"
                    </button>
                    <button
                        class=ROW_BUTTON
                        aria-label=format!("Move {full_name} down")
                        disabled=index + 1 == count
                        on:click=move |_| on_move.run((id, index + 1))
                    >
                        "↓"
                    </button>
                    <button
                        class=ROW_BUTTON
                        aria-label=format!("New branch in {full_name}")
                        on:click=move |_| new_branch_open.set(true)
                    >
                        "+"
                    </button>
                    <a
                        class=ROW_BUTTON
                        aria-label=format!("Settings of {full_name}")
                        href=repository_settings_href(&owner, &name)
                    >
                        "⚙"
                    </a>
                    <button
                        class=ROW_BUTTON
                        aria-label=format!("Remove {full_name}")
                        on:click=move |_| remove_open.set(true)
                    >
                        "✕"
                    </button>
                </div>
            </div>
            <Show when=move || expanded.get()>
                <BranchList repository=repository.get_value() current=current.get_value() />
            </Show>
            <NewBranch repository=repository.get_value() open=new_branch_open />
            <RemoveRepository
                repository=repository.get_value()
                current=current.get_value()
                open=remove_open
            />
        </li>
    }
}

#[component]
fn BranchList(repository: RepositoryView, current: String) -> impl IntoView {
    if repository.branches.is_empty() {
        return view! { <p class="py-0.5 pl-7 text-xs text-zinc-500">"No branches yet"</p> }
            .into_any();
    }
    view! {
        <ul class="mb-1">
            {repository
                .branches
                .iter()
                .map(|branch| {
                    let href = branch_href(&repository.owner, &repository.name, &branch.name);
                    let is_active = href == current;
                    view! {
                        <li>
                            <a
                                href=href
                                aria-current=is_active.then_some("page")
                                class="flex items-center gap-2 rounded-md py-1 pr-2 pl-7 text-sm text-zinc-700 hover:bg-zinc-200/60 aria-[current=page]:bg-indigo-100 aria-[current=page]:text-indigo-900 dark:text-zinc-300 dark:hover:bg-zinc-800/60 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-100"
                            >
                                <StatusBadge status=branch.status />
                                // An unread branch is drawn by the stylesheet alone (bold,
                                // with a dot), which costs the browser's code nothing.
                                <span
                                    class="truncate data-[unread=true]:font-semibold data-[unread=true]:after:ml-1.5 data-[unread=true]:after:text-indigo-500 data-[unread=true]:after:content-['●']"
                                    data-unread=branch.unread.to_string()
                                >
                                    {branch.name.clone()}
                                </span>
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
        .into_any()
}

#[component]
fn RemoveRepository(
    repository: RepositoryView,
    current: String,
    open: RwSignal<bool>,
) -> impl IntoView {
    let full_name = repository.full_name();
    let on_its_page = current.starts_with(&format!("/r/{}/{}/", repository.owner, repository.name));
    let branch_count = repository.branches.len();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let remove = Callback::new(move |()| {
        busy.set(true);
        let next = if on_its_page { "/".to_owned() } else { current.clone() };
        spawn_local(async move {
            match remove_repository(repository.id).await {
                Ok(()) => go_to(&next),
                Err(err) => {
                    error.set(Some(err.message));
                    busy.set(false);
                }
            }
        });
    });
    view! {
        <Dialog open title="Remove repository">
            <p class="text-sm">
                "Remove " <strong>{full_name.clone()}</strong> " from your workspace? Its "
                {branch_count}
                " branch(es) and their conversations are deleted. Nothing is deleted on the remote."
            </p>
            <ConfirmActions open label="Remove" busy error on_confirm=remove />
        </Dialog>
    }
}
