//! Starting a branch: its name, the remote branch it starts from, and the agent with its
//! model.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::dialog::{Dialog, FieldError, INPUT, PRIMARY_BUTTON};
use super::{branch_href, go_to};
use crate::model::{Agent, RepositoryView};
use crate::server_fns::branches::create_branch;
use crate::server_fns::repositories::list_remote_branches;

#[component]
pub fn NewBranch(repository: RepositoryView, open: RwSignal<bool>) -> impl IntoView {
    let title = format!("New branch in {}", repository.full_name());
    view! {
        <Dialog open title>
            <NewBranchForm repository=repository.clone() />
        </Dialog>
    }
}

#[component]
fn NewBranchForm(repository: RepositoryView) -> impl IntoView {
    let repository_id = repository.id;
    // Asked for when the dialog opens.
    let remote = LocalResource::new(move || list_remote_branches(repository_id));

    let name = RwSignal::new(String::new());
    let base = RwSignal::new(repository.default_branch.clone());
    let agent = RwSignal::new(Agent::ClaudeCode.id().to_owned());
    let model = RwSignal::new(Agent::ClaudeCode.models()[0].to_owned());
    let error = RwSignal::new(None::<(Option<String>, String)>);
    let busy = RwSignal::new(false);
    let error_for = move |field: &'static str| {
        Signal::derive(move || {
            error.get().and_then(|(f, m)| (f.as_deref() == Some(field)).then_some(m))
        })
    };
    let other_error = Signal::derive(move || {
        error.get().and_then(|(f, m)| {
            (!matches!(f.as_deref(), Some("name" | "base_branch" | "model"))).then_some(m)
        })
    });
    let remote_error = Signal::derive(move || {
        remote
            .get()
            .and_then(|r| r.err())
            .map(|e| format!("Could not list the remote's branches: {e}"))
    });
    let chosen_agent = move || Agent::from_id(&agent.get()).unwrap_or(Agent::ClaudeCode);

    let (owner, repo) = (repository.owner.clone(), repository.name.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let (owner, repo) = (owner.clone(), repo.clone());
        let branch_name = name.get_untracked().trim().to_owned();
        spawn_local(async move {
            let result = create_branch(
                repository_id,
                branch_name,
                base.get_untracked(),
                chosen_agent(),
                model.get_untracked(),
            )
            .await;
            match result {
                Ok(created) => go_to(&branch_href(&owner, &repo, &created.name)),
                Err(err) => {
                    error.set(Some((err.field, err.message)));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <form on:submit=submit class="space-y-4">
            <div>
                <label class="block text-sm font-medium" for="branch-name">
                    "Branch name"
                </label>
                <input
                    id="branch-name"
                    class=format!("mt-1 {INPUT}")
                    placeholder="feature/better-search"
                    autocomplete="off"
                    bind:value=name
                />
                <FieldError message=error_for("name") />
            </div>
            <div>
                <label class="block text-sm font-medium" for="base-branch">
                    "Base branch"
                </label>
                <select id="base-branch" class=format!("mt-1 {INPUT}") bind:value=base>
                    {move || {
                        let branches = match remote.get() {
                            Some(Ok(remote)) => remote.branches,
                            _ => vec![base.get_untracked()],
                        };
                        branches
                            .into_iter()
                            .map(|b| {
                                let selected = b == base.get_untracked();
                                // Until the remote answers, the default branch is the choice.
                                view! {
                                    <option value=b.clone() selected=selected>
                                        {b.clone()}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
                <FieldError message=error_for("base_branch") />
                <FieldError message=remote_error />
            </div>
            <div class="grid grid-cols-2 gap-3">
                <div>
                    <label class="block text-sm font-medium" for="agent">
                        "Agent"
                    </label>
                    <select
                        id="agent"
                        class=format!("mt-1 {INPUT}")
                        bind:value=agent
                        on:change=move |ev| {
                            let chosen = Agent::from_id(&event_target_value(&ev))
                                .unwrap_or(Agent::ClaudeCode);
                            model.set(chosen.models()[0].to_owned());
                        }
                    >
                        {Agent::ALL
                            .into_iter()
                            .map(|a| view! { <option value=a.id()>{a.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div>
                    <label class="block text-sm font-medium" for="model">
                        "Model"
                    </label>
                    <input
                        id="model"
                        class=format!("mt-1 {INPUT}")
                        list="model-choices"
                        bind:value=model
                    />
                    <datalist id="model-choices">
                        {move || {
                            chosen_agent()
                                .models()
                                .iter()
                                .map(|m| view! { <option value=*m></option> })
                                .collect_view()
                        }}
                    </datalist>
                    <FieldError message=error_for("model") />
                </div>
            </div>
            <FieldError message=other_error />
            <div class="flex justify-end">
                <button class=PRIMARY_BUTTON type="submit" disabled=move || busy.get()>
                    "Create branch"
                </button>
            </div>
        </form>
    }
}
