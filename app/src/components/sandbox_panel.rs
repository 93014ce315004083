//! The branch's sandbox on its page: its state and preparation steps kept live over an
//! event stream, the start, stop and delete controls, and a box that runs one shell
//! command in it and shows the output as it comes.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::dialog::{ConfirmActions, Dialog, FieldError, INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON};
use crate::model::{CommandLine, SandboxAction, SandboxState, SandboxView, StepState, StepView};
use crate::server_fns::sandboxes::{change_sandbox, kill_command, run_command};

#[island(lazy)]
pub fn SandboxPanel(initial: SandboxView) -> impl IntoView {
    let branch_id = initial.branch_id;
    let sandbox = RwSignal::new(initial);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let delete_open = RwSignal::new(false);

    // Marks the panel as ready to use once it runs in the browser.
    let awake = RwSignal::new(false);
    // How many states the stream has brought: an action's answer that crossed a newer
    // state on the stream must not put the older one back.
    let heard = StoredValue::new(0u64);
    Effect::new(move |_| {
        follow_sandbox(sandbox, heard);
        awake.set(true);
    });

    let act = move |action: SandboxAction| {
        busy.set(true);
        error.set(None);
        let before = heard.get_value();
        spawn_local(async move {
            match change_sandbox(branch_id, action).await {
                // The stream also brings this change, in order with every other.
                Ok(view) if heard.get_value() == before => sandbox.set(view),
                Ok(_) => {}
                Err(err) => error.set(Some(err.message)),
            }
            busy.set(false);
            delete_open.set(false);
        });
    };
    let state = move || sandbox.read().state;

    view! {
        <section
            class="mt-6 rounded-lg border border-zinc-200 p-4 dark:border-zinc-800"
            aria-labelledby="sandbox-heading"
            data-testid="sandbox"
            data-state=move || format!("{:?}", state()).to_lowercase()
            data-hydrated=move || awake.get().then_some("true")
        >
            <div class="flex flex-wrap items-center justify-between gap-3">
                <div>
                    <h2 id="sandbox-heading" class="font-semibold">
                        "Sandbox"
                    </h2>
                    <p class="text-sm text-zinc-500" data-testid="sandbox-state">
                        {move || state().label()}
                        " · "
                        {move || {
                            let s = sandbox.read();
                            format!("{} of {} sandboxes in use", s.held, s.quota)
                        }}
                    </p>
                </div>
                <div class="flex gap-2">
                    <Show when=move || {
                        matches!(
                            state(),
                            SandboxState::None | SandboxState::Stopped | SandboxState::Error
                        )
                    }>
                        <button
                            class=PRIMARY_BUTTON
                            disabled=busy
                            on:click=move |_| act(SandboxAction::Start)
                        >
                            "Start sandbox"
                        </button>
                    </Show>
                    <Show when=move || state() == SandboxState::Running>
                        <button
                            class=SECONDARY_BUTTON
                            disabled=busy
                            on:click=move |_| act(SandboxAction::Stop)
                        >
                            "Stop"
                        </button>
                    </Show>
                    <Show when=move || {
                        matches!(
                            state(),
                            SandboxState::Running | SandboxState::Stopped | SandboxState::Error
                        )
                    }>
                        <button
                            class=SECONDARY_BUTTON
                            disabled=busy
                            on:click=move |_| delete_open.set(true)
                        >
                            "Delete sandbox"
                        </button>
                    </Show>
                </div>
            </div>
            {move || {
                sandbox
                    .read()
                    .warning
                    .clone()
                    .map(|warning| {
                        view! {
                            <p
                                class="mt-3 rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200"
                                role="alert"
                            >
                                {warning}
                            </p>
                        }
                    })
            }}
            <FieldError message=error.into() />
            <Steps sandbox />
            <Show when=move || state() == SandboxState::Running>
                <CommandBox branch_id />
            </Show>
            <Dialog open=delete_open title="Delete sandbox">
                <p class="text-sm">
                    "The sandbox and every change in it that was not pushed are deleted. The branch and its conversation stay; the next start prepares a new sandbox from the remote."
                </p>
                <ConfirmActions
                    open=delete_open
                    label="Delete sandbox"
                    busy
                    error
                    on_confirm=Callback::new(move |()| act(SandboxAction::Delete))
                />
            </Dialog>
        </section>
    }
}

/// The preparation steps, shown while preparing and after a failure.
#[component]
fn Steps(sandbox: RwSignal<SandboxView>) -> impl IntoView {
    let shown = move || {
        let s = sandbox.read();
        matches!(s.state, SandboxState::Creating | SandboxState::Error) && !s.steps.is_empty()
    };
    view! {
        <Show when=shown>
            <ol class="mt-3 space-y-1 text-sm" data-testid="sandbox-steps">
                {move || {
                    sandbox
                        .get()
                        .steps
                        .into_iter()
                        .map(|step| view! { <Step step /> })
                        .collect_view()
                }}
            </ol>
            {move || {
                sandbox
                    .read()
                    .error
                    .clone()
                    .map(|error| {
                        view! {
                            <p class="mt-2 text-sm text-red-600 dark:text-red-400" role="alert">
                                {error}
                            </p>
                        }
                    })
            }}
        </Show>
    }
}

#[component]
fn Step(step: StepView) -> impl IntoView {
    let (mark, class, label) = match step.state {
        StepState::Pending => ("○", "text-zinc-400", "waiting"),
        StepState::Running => ("◌", "text-sky-600 animate-pulse", "in progress"),
        StepState::Done => ("✓", "text-emerald-600", "done"),
        StepState::Failed => ("✗", "text-red-600", "failed"),
    };
    view! {
        <li data-step-state=label>
            <span class=format!("inline-block w-5 {class}") aria-hidden="true">
                {mark}
            </span>
            <span>{step.name}</span>
            <span class="sr-only">{format!(" ({label})")}</span>
            {step
                .detail
                .map(|detail| {
                    view! {
                        <pre class="mt-1 ml-5 text-xs whitespace-pre-wrap text-zinc-500">
                            {detail}
                        </pre>
                    }
                })}
        </li>
    }
}

/// One shell command at a time, its output streamed into the page.
#[component]
fn CommandBox(branch_id: i64) -> impl IntoView {
    let command = RwSignal::new(String::new());
    let lines = RwSignal::new(Vec::<CommandLine>::new());
    let running = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let script = command.get_untracked();
        error.set(None);
        spawn_local(async move {
            match run_command(branch_id, script).await {
                Ok(id) => {
                    lines.set(Vec::new());
                    running.set(Some(id.clone()));
                    follow_command(id, lines, running);
                }
                Err(err) => error.set(Some(err.message)),
            }
        });
    };
    let kill = move |_| {
        if let Some(id) = running.get_untracked() {
            spawn_local(async move {
                let _ = kill_command(id).await;
            });
        }
    };

    view! {
        <form class="mt-4" on:submit=submit>
            <label class="block text-sm font-medium" for="sandbox-command">
                "Run a command"
            </label>
            <div class="mt-1 flex gap-2">
                <input
                    id="sandbox-command"
                    class=format!("{INPUT} font-mono")
                    placeholder="ls -la"
                    autocomplete="off"
                    spellcheck="false"
                    bind:value=command
                />
                <Show
                    when=move || running.read().is_some()
                    fallback=|| {
                        view! {
                            <button class=PRIMARY_BUTTON type="submit">
                                "Run"
                            </button>
                        }
                    }
                >
                    <button class=SECONDARY_BUTTON type="button" on:click=kill>
                        "Kill"
                    </button>
                </Show>
            </div>
            <FieldError message=error.into() />
        </form>
        <Show when=move || !lines.read().is_empty()>
            <pre
                class="mt-2 max-h-96 overflow-auto rounded bg-zinc-950 p-3 font-mono text-xs whitespace-pre-wrap text-zinc-100"
                data-testid="command-output"
                aria-live="polite"
            >
                {move || {
                    lines
                        .get()
                        .into_iter()
                        .map(|line| match line {
                            CommandLine::Stdout(text) => view! { <span>{text}</span> }.into_any(),
                            CommandLine::Stderr(text) => {
                                view! { <span class="text-red-300">{text}</span> }.into_any()
                            }
                            CommandLine::Failed(reason) => {
                                view! { <span class="text-red-400">{reason}</span> }.into_any()
                            }
                            CommandLine::Exit(how) => {
                                view! {
                                    <span
                                        class="mt-1 block text-zinc-400"
                                        data-testid="command-exit"
                                    >
                                        {format!("[{how}]")}
                                    </span>
                                }
                                    .into_any()
                            }
                        })
                        .collect_view()
                }}
            </pre>
        </Show>
    }
}

/// Keeps `sandbox` in step with the page's stream, which sends the state when it opens
/// (and reopens) and then each change.
fn follow_sandbox(sandbox: RwSignal<SandboxView>, heard: StoredValue<u64>) {
    crate::page_stream::listen("sandbox", move |data| {
        if let Ok(view) = serde_json::from_str::<SandboxView>(data) {
            heard.update_value(|count| *count += 1);
            sandbox.set(view);
        }
    });
}

thread_local! {
    /// The stream of the command being followed, with its listeners; replacing it closes
    /// the previous one.
    static FOLLOWED: std::cell::RefCell<Option<Followed>> = const { std::cell::RefCell::new(None) };
}

struct Followed {
    source: web_sys::EventSource,
    _on_line: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Followed {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Appends a command's output to `lines` until its exit, then closes the stream so the
/// browser does not reconnect and replay it.
fn follow_command(
    id: String,
    lines: RwSignal<Vec<CommandLine>>,
    running: RwSignal<Option<String>>,
) {
    let url = format!("/streams/commands/{id}");
    let Ok(source) = web_sys::EventSource::new(&url) else { return };
    let closer = source.clone();
    let on_line =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let data = event.data().as_string().unwrap_or_default();
            let Ok(line) = serde_json::from_str::<CommandLine>(&data) else { return };
            let done = matches!(line, CommandLine::Exit(_));
            lines.update(|all| all.push(line));
            if done {
                closer.close();
                running.set(None);
            }
        });
    let closer = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        // A reconnect would replay the output from the start; stop following instead.
        if closer.ready_state() != web_sys::EventSource::CLOSED {
            closer.close();
            lines.update(|all| all.push(CommandLine::Failed("[connection lost]".into())));
            running.set(None);
        }
    });
    let _ = source.add_event_listener_with_callback("line", on_line.as_ref().unchecked_ref());
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    FOLLOWED.with(|slot| {
        *slot.borrow_mut() = Some(Followed { source, _on_line: on_line, _on_error: on_error });
    });
}
