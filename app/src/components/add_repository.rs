//! Adding a repository: one of the user's GitHub repositories, or any git clone URL or
//! local path.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::dialog::{Dialog, FieldError, INPUT, PRIMARY_BUTTON};
use super::reload;
use crate::error::AppError;
use crate::model::RepositoryView;
use crate::server_fns::repositories::{
    add_git_repository, add_github_repository, list_github_repositories,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Github,
    Git,
}

/// The "Add" button of the sidebar and the dialog it opens.
#[island]
pub fn AddRepository(github_connected: bool) -> impl IntoView {
    let open = RwSignal::new(false);
    let source = RwSignal::new(Source::Github);
    let tab = move |which: Source, label: &'static str| {
        view! {
            <button
                role="tab"
                aria-selected=move || (source.get() == which).to_string()
                class="border-b-2 border-transparent px-3 py-1.5 text-sm aria-selected:border-indigo-600 aria-selected:font-medium"
                on:click=move |_| source.set(which)
            >
                {label}
            </button>
        }
    };
    view! {
        <button
            class="rounded px-1.5 text-sm font-medium text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-950"
            on:click=move |_| open.set(true)
        >
            "+ Add"
        </button>
        <Dialog open title="Add repository">
            <div role="tablist" class="mb-4 flex border-b border-zinc-200 dark:border-zinc-800">
                {tab(Source::Github, "GitHub")}
                {tab(Source::Git, "Clone URL or path")}
            </div>
            <Show
                when=move || source.get() == Source::Github
                fallback=move || view! { <FromGit /> }
            >
                <FromGithub connected=github_connected />
            </Show>
        </Dialog>
    }
}

/// Shows the new repository in the sidebar, or says why it could not be added.
fn added(result: Result<RepositoryView, AppError>) -> Option<String> {
    match result {
        Ok(_) => {
            reload();
            None
        }
        Err(err) => Some(err.message),
    }
}

#[component]
fn FromGithub(connected: bool) -> impl IntoView {
    // Asked for when the dialog opens, and filtered here as the user types.
    let listed = LocalResource::new(|| list_github_repositories(String::new()));
    let query = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let adding = RwSignal::new(None::<String>);

    let add = move |full_name: String| {
        adding.set(Some(full_name.clone()));
        spawn_local(async move {
            let result = add_github_repository(full_name).await;
            error.set(added(result));
            adding.set(None);
        });
    };

    view! {
        <Show
            when=move || connected
            fallback=|| {
                view! {
                    <p class="text-sm text-zinc-600 dark:text-zinc-400">
                        "GitHub is not connected to this server. Sign in with GitHub, or start the server with GITHUB_PAT set. You can still add any repository by clone URL or path."
                    </p>
                }
            }
        >
            <input
                class=INPUT
                type="search"
                placeholder="Search your repositories"
                aria-label="Search your repositories"
                bind:value=query
            />
            <FieldError message=error.into() />
            <ul class="mt-3 max-h-80 divide-y divide-zinc-100 overflow-y-auto dark:divide-zinc-800">
                {move || {
                    match listed.get() {
                        None => {
                            view! {
                                <li class="py-2 text-sm text-zinc-500">
                                    "Loading your repositories…"
                                </li>
                            }
                                .into_any()
                        }
                        Some(Err(err)) => {
                            view! { <li class="py-2 text-sm text-red-600">{err.message}</li> }
                                .into_any()
                        }
                        Some(Ok(repositories)) => {
                            let needle = query.get().trim().to_ascii_lowercase();
                            repositories
                                .into_iter()
                                .filter(|r| r.full_name.to_ascii_lowercase().contains(&needle))
                                .take(100)
                                .map(|r| {
                                    let name = r.full_name.clone();
                                    let busy_name = name.clone();
                                    view! {
                                        <li class="flex items-center justify-between gap-3 py-2">
                                            <div class="min-w-0">
                                                <p class="truncate text-sm font-medium">
                                                    {r.full_name.clone()}
                                                    {r
                                                        .private
                                                        .then(|| {
                                                            view! {
                                                                <span class="ml-2 rounded bg-zinc-100 px-1 text-xs text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300">
                                                                    "private"
                                                                </span>
                                                            }
                                                        })}
                                                </p>
                                                <p class="truncate text-xs text-zinc-500">
                                                    {r.description.clone()}
                                                </p>
                                            </div>
                                            <button
                                                class=PRIMARY_BUTTON
                                                aria-label=format!("Add {}", r.full_name)
                                                disabled=move || {
                                                    r.added
                                                        || adding.get().as_deref() == Some(busy_name.as_str())
                                                }
                                                on:click=move |_| add(name.clone())
                                            >
                                                {if r.added { "Added" } else { "Add" }}
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }
                    }
                }}
            </ul>
        </Show>
    }
}

#[component]
fn FromGit() -> impl IntoView {
    let url = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        spawn_local(async move {
            let result = add_git_repository(url.get_untracked()).await;
            error.set(added(result));
            busy.set(false);
        });
    };
    view! {
        <form on:submit=submit>
            <label class="block text-sm font-medium" for="clone-url">
                "Clone URL or local path"
            </label>
            <input
                id="clone-url"
                class=format!("mt-1 {INPUT}")
                placeholder="https://example.org/team/project.git or /srv/git/project"
                bind:value=url
            />
            <FieldError message=error.into() />
            <p class="mt-2 text-xs text-zinc-500">
                "Any repository git can read from this server: other hosts, or a path on this machine."
            </p>
            <div class="mt-4 flex justify-end">
                <button class=PRIMARY_BUTTON type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…" } else { "Add repository" }}
                </button>
            </div>
        </form>
    }
}
