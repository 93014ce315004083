//! The settings pages: the user's own (`/settings`) and a repository's
//! (`/repositories/{owner}/{repo}/settings`). Plain server-rendered HTML forms that post to
//! server functions; the server sends the browser back here, with an error in the query
//! when a value was refused, so these pages cost no WASM.

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::dialog::{INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON};
use crate::error::AppError;
use crate::model::{RepositorySettings, UserSettings};
use crate::server_fns::settings::{get_repository_settings, get_user_settings};

const PAGE: &str = "mx-auto max-w-2xl p-4 md:p-6";
const CARD: &str = "mt-4 rounded-lg border border-zinc-200 p-4 dark:border-zinc-800";

/// The error a form post came back with, if this page was reached that way.
fn refused() -> Option<String> {
    let query = use_query_map();
    let encoded = query.read_untracked().get("__err")?;
    Some(ServerFnUrlError::<AppError>::decode_err(&encoded).message)
}

#[component]
fn Refused(message: Option<String>) -> impl IntoView {
    message.map(|message| {
        view! {
            <p class="mt-1 text-sm text-red-600 dark:text-red-400" role="alert">
                {message}
            </p>
        }
    })
}

#[component]
pub fn UserSettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| get_user_settings());
    let error = refused_error();
    view! {
        <Title text="Settings · Upstream Agents" />
        <section class=PAGE>
            <h1 class="text-xl font-semibold">"Settings"</h1>
            <Suspense fallback=|| {
                view! { <p class="mt-4 text-sm text-zinc-500">"Loading…"</p> }
            }>
                {move || {
                    let error = error.clone();
                    settings
                        .get()
                        .map(|result| match result {
                            Ok(settings) => view! { <UserSettingsView settings error /> }.into_any(),
                            Err(err) => view! { <p class="mt-4">{err.message}</p> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

/// The error a form post came back with, for the form whose field it names.
fn refused_error() -> Option<AppError> {
    let query = use_query_map();
    let encoded = query.read_untracked().get("__err")?;
    Some(ServerFnUrlError::<AppError>::decode_err(&encoded))
}

#[component]
fn UserSettingsView(settings: UserSettings, error: Option<AppError>) -> impl IntoView {
    let UserSettings { auto_stop_minutes, loop_max_iterations, keys } = settings;
    let about = move |fields: &[&str]| {
        error
            .as_ref()
            .filter(|e| e.field.as_deref().is_some_and(|f| fields.contains(&f)))
            .map(|e| e.message.clone())
    };
    let key_error = about(&["key", "kind"]);
    let loop_error = about(&["loop_max_iterations"]);
    let stop_error = about(&["auto_stop_minutes"]);
    view! {
        <div class=CARD>
            <h2 class="font-semibold">"Agent keys"</h2>
            <p class="text-xs text-zinc-500">
                "Sealed before they are stored and given only to your agents' runs. A saved key is never shown again, only its last characters."
            </p>
            <AgentKey
                kind="anthropic"
                label="Anthropic API key or Claude token (Claude Code)"
                hint=keys.anthropic
            />
            <AgentKey kind="openai" label="OpenAI API key (Codex)" hint=keys.openai />
            <AgentKey kind="opencode" label="OpenCode key (OpenCode)" hint=keys.opencode />
            <Refused message=key_error />
        </div>
        <form class=CARD method="post" action="/api/set_loop_max">
            <h2 class="font-semibold">"Loop mode"</h2>
            <label class="mt-2 block text-sm font-medium" for="loop-max">
                "Most continuations in one loop"
            </label>
            <p class="text-xs text-zinc-500">"Between 1 and 25."</p>
            <div class="mt-1 flex gap-2">
                <input
                    id="loop-max"
                    name="iterations"
                    class=format!("{INPUT} max-w-28")
                    inputmode="numeric"
                    value=loop_max_iterations
                />
                <button class=PRIMARY_BUTTON type="submit">
                    "Save"
                </button>
            </div>
            <Refused message=loop_error />
        </form>
        <form class=CARD method="post" action="/api/set_auto_stop">
            <h2 class="font-semibold">"Sandboxes"</h2>
            <label class="mt-2 block text-sm font-medium" for="auto-stop">
                "Stop an idle sandbox after (minutes)"
            </label>
            <p class="text-xs text-zinc-500">
                "Between 5 and 20. A stopped sandbox keeps its files and starts again when next used."
            </p>
            <div class="mt-1 flex gap-2">
                <input
                    id="auto-stop"
                    name="minutes"
                    class=format!("{INPUT} max-w-28")
                    inputmode="numeric"
                    value=auto_stop_minutes
                />
                <button class=PRIMARY_BUTTON type="submit">
                    "Save"
                </button>
            </div>
            <Refused message=stop_error />
        </form>
    }
}

/// One key: its state ("set, ending in …" or "not set"), a field to replace it, and a
/// button to remove it.
#[component]
fn AgentKey(kind: &'static str, label: &'static str, hint: Option<String>) -> impl IntoView {
    let id = format!("key-{kind}");
    let set = hint.is_some();
    view! {
        <form class="mt-3" method="post" action="/api/set_agent_key" data-key=kind>
            <input type="hidden" name="kind" value=kind />
            <label class="block text-sm font-medium" for=id.clone()>
                {label}
            </label>
            <p class="text-xs text-zinc-500" data-testid=format!("key-state-{kind}")>
                {match hint {
                    Some(hint) => format!("Set, ending in …{hint}"),
                    None => "Not set".to_owned(),
                }}
            </p>
            <div class="mt-1 flex gap-2">
                <input
                    id=id
                    name="value"
                    type="password"
                    class=INPUT
                    autocomplete="off"
                    placeholder=if set { "Paste a new key to replace it" } else { "Paste the key" }
                />
                <button class=PRIMARY_BUTTON type="submit">
                    "Save"
                </button>
            </div>
        </form>
        {set
            .then(|| {
                view! {
                    <form method="post" action="/api/set_agent_key" class="mt-1">
                        <input type="hidden" name="kind" value=kind />
                        <input type="hidden" name="value" value="" />
                        <button class=SECONDARY_BUTTON type="submit">
                            "Remove"
                        </button>
                    </form>
                }
            })}
    }
}

#[component]
pub fn RepositorySettingsPage() -> impl IntoView {
    let params = use_params_map();
    let path = move || {
        let params = params.read();
        (params.get("owner").unwrap_or_default(), params.get("repo").unwrap_or_default())
    };
    let settings = Resource::new(path, |(owner, repo)| get_repository_settings(owner, repo));
    let error = refused();
    view! {
        <Suspense fallback=|| {
            view! { <p class="p-6 text-sm text-zinc-500">"Loading…"</p> }
        }>
            {move || {
                let error = error.clone();
                settings
                    .get()
                    .map(|result| match result {
                        Ok(settings) => {
                            view! { <RepositorySettingsView settings error /> }.into_any()
                        }
                        Err(err) => {
                            view! {
                                <div class="p-6">
                                    <h1 class="text-lg font-semibold">"Repository not found"</h1>
                                    <p class="mt-1 text-sm text-zinc-500">{err.message}</p>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn RepositorySettingsView(settings: RepositorySettings, error: Option<String>) -> impl IntoView {
    let RepositorySettings { repository, env_names } = settings;
    let full_name = repository.full_name();
    let id = repository.id.to_string();
    view! {
        <Title text=format!("{full_name} settings · Upstream Agents") />
        <section class=PAGE>
            <p class="text-sm text-zinc-500">"Repository settings"</p>
            <h1 class="text-xl font-semibold">{full_name}</h1>
            <div class=CARD>
                <h2 class="font-semibold">"Sandbox environment"</h2>
                <p class="text-sm text-zinc-500">
                    "Variables every command and agent in this repository's sandboxes receives. Values are encrypted and never shown again; set a name again to replace its value."
                </p>
                <ul
                    class="mt-3 divide-y divide-zinc-200 text-sm dark:divide-zinc-800"
                    data-testid="env-names"
                >
                    {env_names
                        .into_iter()
                        .map(|name| {
                            view! {
                                <li class="flex items-center justify-between py-1.5">
                                    <span class="font-mono">{name.clone()}</span>
                                    <form
                                        class="flex items-center gap-2"
                                        method="post"
                                        action="/api/set_repository_env"
                                    >
                                        <span class="text-xs text-zinc-500">"set"</span>
                                        <input
                                            type="hidden"
                                            name="repository_id"
                                            value=id.clone()
                                        />
                                        <input type="hidden" name="name" value=name.clone() />
                                        <button
                                            class=SECONDARY_BUTTON
                                            aria-label=format!("Remove {name}")
                                        >
                                            "Remove"
                                        </button>
                                    </form>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <form
                    class="mt-3 grid gap-2 sm:grid-cols-[1fr_1fr_auto]"
                    method="post"
                    action="/api/set_repository_env"
                >
                    <input type="hidden" name="repository_id" value=id.clone() />
                    <input
                        class=format!("{INPUT} font-mono")
                        name="name"
                        aria-label="Variable name"
                        placeholder="NAME"
                        autocomplete="off"
                    />
                    <input
                        class=INPUT
                        name="value"
                        aria-label="Value"
                        placeholder="value"
                        type="password"
                        autocomplete="new-password"
                    />
                    <button class=PRIMARY_BUTTON type="submit">
                        "Set"
                    </button>
                </form>
                <Refused message=error />
            </div>
        </section>
    }
}
