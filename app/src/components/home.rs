//! The workspace's first page, before a branch is chosen.

use leptos::prelude::*;

use crate::model::Workspace;

#[component]
pub fn Home() -> impl IntoView {
    // Provided by the workspace layout, which has already loaded it.
    let has_repositories = use_context::<Workspace>().is_some_and(|w| !w.repositories.is_empty());
    view! {
        <section class="mx-auto max-w-xl p-8 text-center">
            <h1 class="text-2xl font-semibold">"Upstream Agents"</h1>
            <Show
                when=move || has_repositories
                fallback=|| {
                    view! {
                        <p class="mt-3 text-zinc-600 dark:text-zinc-400">
                            "Add a repository from the sidebar — from GitHub, or any clone URL or path — then start a branch. Each branch is a conversation with a coding agent."
                        </p>
                    }
                }
            >
                <p class="mt-3 text-zinc-600 dark:text-zinc-400">
                    "Choose a branch in the sidebar, or press + beside a repository to start one."
                </p>
            </Show>
        </section>
    }
}
