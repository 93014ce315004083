//! The page of one branch, opened by its deep link `/r/{owner}/{repo}/{branch}`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::conversation::ConversationPanel;
use super::dialog::{ConfirmActions, Dialog, FieldError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON};
use super::sandbox_panel::SandboxPanel;
use super::status_badge::StatusBadge;
use super::{branch_href, go_to};
use crate::model::BranchDetail;
use crate::server_fns::branches::{delete_branch, get_branch, rename_branch};

#[component]
pub fn BranchPage() -> impl IntoView {
    let params = use_params_map();
    let path = move || {
        let params = params.read();
        (
            params.get("owner").unwrap_or_default(),
            params.get("repo").unwrap_or_default(),
            params.get("branch").unwrap_or_default(),
        )
    };
    let detail = Resource::new(path, |(owner, repo, branch)| get_branch(owner, repo, branch));
    view! {
        <Transition fallback=|| {
            view! { <p class="p-6 text-sm text-zinc-500">"Loading…"</p> }
        }>
            {move || {
                detail
                    .get()
                    .map(|result| match result {
                        Ok(detail) => view! { <BranchView detail /> }.into_any(),
                        Err(err) => {
                            view! {
                                <div class="p-6">
                                    <h1 class="text-lg font-semibold">"Branch not found"</h1>
                                    <p class="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
                                        {err.message}
                                    </p>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

#[component]
fn BranchView(detail: BranchDetail) -> impl IntoView {
    let BranchDetail { repository, branch, sandbox, conversation } = detail;
    let full_name = repository.full_name();
    view! {
        <Title text=format!("{} · {} · Upstream Agents", branch.name, full_name) />
        <section class="mx-auto max-w-4xl p-4 md:p-6">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <p class="text-sm text-zinc-500">{full_name.clone()}</p>
                    <h1 class="flex items-center gap-2 text-xl font-semibold break-all">
                        <StatusBadge status=branch.status live_for=branch.id />
                        <span data-testid="branch-name">{branch.name.clone()}</span>
                    </h1>
                </div>
                <BranchActions
                    owner=repository.owner.clone()
                    repo=repository.name.clone()
                    branch_id=branch.id
                    name=branch.name.clone()
                />
            </div>
            <dl class="mt-4 grid grid-cols-2 gap-3 rounded-lg border border-zinc-200 p-4 text-sm sm:grid-cols-4 dark:border-zinc-800">
                <div>
                    <dt class="text-xs text-zinc-500 uppercase">"Status"</dt>
                    // Kept current by the sidebar's listener to the page's stream.
                    <dd class="mt-0.5 font-medium" data-status-of=branch.id>
                        {branch.status.label()}
                    </dd>
                </div>
                <Fact label="Base" value=branch.base_branch.clone() />
                <Fact label="Agent" value=branch.agent.label().to_owned() />
                <Fact label="Model" value=branch.model.clone() />
            </dl>
            // Where the page's event stream starts: this branch, after the events the
            // conversation below already shows.
            <span
                id="page-stream"
                hidden
                data-url=format!(
                    "/streams/page?branch={}&after={}",
                    branch.id,
                    conversation.last_event_id,
                )
            ></span>
            <ConversationPanel initial=conversation />
            <SandboxPanel initial=sandbox />
        </section>
    }
}

#[component]
fn Fact(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div>
            <dt class="text-xs text-zinc-500 uppercase">{label}</dt>
            <dd class="mt-0.5 font-medium break-all">{value}</dd>
        </div>
    }
}

/// Rename and Delete, with their dialogs. Their code loads after the rest of the page
/// (they are seldom used first), and marks them ready once it runs.
#[island(lazy)]
fn BranchActions(owner: String, repo: String, branch_id: i64, name: String) -> impl IntoView {
    let rename_open = RwSignal::new(false);
    let delete_open = RwSignal::new(false);
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    view! {
        <div
            class="flex gap-2"
            data-testid="branch-actions"
            data-hydrated=move || awake.get().then_some("true")
        >
            <button class=SECONDARY_BUTTON on:click=move |_| rename_open.set(true)>
                "Rename"
            </button>
            <button class=SECONDARY_BUTTON on:click=move |_| delete_open.set(true)>
                "Delete"
            </button>
        </div>
        <RenameBranch owner repo branch_id current=name.clone() open=rename_open />
        <DeleteBranch branch_id name open=delete_open />
    }
}

#[component]
fn RenameBranch(
    owner: String,
    repo: String,
    branch_id: i64,
    current: String,
    open: RwSignal<bool>,
) -> impl IntoView {
    let name = RwSignal::new(current);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (owner, repo) = (owner.clone(), repo.clone());
        spawn_local(async move {
            match rename_branch(branch_id, name.get_untracked()).await {
                Ok(renamed) => go_to(&branch_href(&owner, &repo, &renamed.name)),
                Err(err) => error.set(Some(err.message)),
            }
        });
    };
    view! {
        <Dialog open title="Rename branch">
            <form on:submit=submit.clone()>
                <label class="block text-sm font-medium" for="rename-branch">
                    "New name"
                </label>
                <input id="rename-branch" class=format!("mt-1 {INPUT}") bind:value=name />
                <FieldError message=error.into() />
                <div class="mt-4 flex justify-end">
                    <button class=PRIMARY_BUTTON type="submit">
                        "Rename"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

#[component]
fn DeleteBranch(branch_id: i64, name: String, open: RwSignal<bool>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let remove = Callback::new(move |()| {
        busy.set(true);
        spawn_local(async move {
            match delete_branch(branch_id).await {
                Ok(()) => go_to("/"),
                Err(err) => {
                    error.set(Some(err.message));
                    busy.set(false);
                }
            }
        });
    });
    view! {
        <Dialog open title="Delete branch">
            <p class="text-sm">
                "Delete " <strong>{name.clone()}</strong>
                " and its conversation? This cannot be undone."
            </p>
            <ConfirmActions open label="Delete branch" busy error on_confirm=remove />
        </Dialog>
    }
}
