//! The branch's conversation: the messages so far, the run under way as it happens, the
//! queue, and the prompt box with its agent, model and loop controls.
//!
//! Finished replies arrive rendered by the server (markdown to HTML), so the browser holds
//! no markdown code; the run under way is drawn from its events, which arrive over the
//! branch's event stream. When a run ends, the page reads the conversation again and the
//! reply appears in its finished form.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use wasm_bindgen::JsCast;

use super::dialog::{INPUT, PRIMARY_BUTTON, SECONDARY_BUTTON};
use crate::error::AppError;
use crate::model::{
    Agent, BlockView, Composer, Conversation, LiveEvent, MessageRole, MessageView, RunView,
    UsageView,
};
use crate::server_fns::runs::{
    get_conversation, older_messages, remove_queued, save_draft, send_prompt, set_loop, stop_run,
};

#[island(lazy)]
pub fn ConversationPanel(initial: Conversation) -> impl IntoView {
    let branch_id = initial.branch_id;
    let Conversation { messages, has_older, runs, live, last_event_id, composer, .. } = initial;
    let messages = RwSignal::new(messages);
    let has_older = RwSignal::new(has_older);
    let runs = RwSignal::new(runs);
    let live = RwSignal::new(live);
    let last_seen = RwSignal::new(last_event_id);
    let loop_count = RwSignal::new(composer.loop_count);

    // Reads the whole conversation again, after something the events alone do not show
    // (a run ended, the queue changed). Reads overlap when news comes in quick succession,
    // and their answers may arrive out of order: only the latest read is applied.
    let reads = StoredValue::new(0u64);
    let refresh = move || {
        let read = reads.get_value() + 1;
        reads.set_value(read);
        spawn_local(async move {
            let fresh = get_conversation(branch_id, None).await;
            if reads.get_value() != read {
                return;
            }
            if let Ok(fresh) = fresh {
                let seen = last_seen.get_untracked();
                // The read brings the newest page; earlier messages the user scrolled back
                // to stay in front of it.
                match messages.with_untracked(|shown| earlier_than(shown, &fresh.messages)) {
                    Some(mut earlier) if !earlier.is_empty() => {
                        earlier.extend(fresh.messages);
                        messages.set(earlier);
                    }
                    _ => {
                        messages.set(fresh.messages);
                        has_older.set(fresh.has_older);
                    }
                }
                runs.set(fresh.runs);
                loop_count.set(fresh.composer.loop_count);
                // Events newer than the page read keep arriving over the stream.
                let newer: Vec<LiveEvent> = live
                    .get_untracked()
                    .into_iter()
                    .filter(|e| e.id > fresh.last_event_id)
                    .collect();
                let mut all = fresh.live;
                all.extend(newer);
                live.set(all);
                last_seen.set(seen.max(fresh.last_event_id));
            }
        });
    };
    Effect::new(move |_| follow_events(live, last_seen, refresh));

    // The list shows the newest messages and follows the run under way, unless the user
    // has scrolled up to read.
    let list = NodeRef::<leptos::html::Div>::new();
    let following = StoredValue::new(true);
    Effect::new(move |_| {
        messages.track();
        live.track();
        if following.get_value() {
            request_animation_frame(move || {
                if let Some(list) = list.get_untracked() {
                    list.set_scroll_top(list.scroll_height());
                }
            });
        }
    });

    // Tests wait for this mark: the island loads lazily, after the rest of the page.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));

    let loading_older = RwSignal::new(false);
    let on_scroll = move |ev: leptos::ev::Event| {
        let Some(list) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
            return;
        };
        following.set_value(list.scroll_height() - list.scroll_top() - list.client_height() < 40);
        if list.scroll_top() > 80 || !has_older.get_untracked() || loading_older.get_untracked() {
            return;
        }
        let Some(first) = messages.with_untracked(|m| m.first().map(|m| m.id)) else { return };
        loading_older.set(true);
        spawn_local(async move {
            if let Ok(older) = older_messages(branch_id, first).await {
                has_older.set(older.len() as u64 >= crate::server_fns::runs::PAGE);
                messages.update(|all| {
                    let mut joined = older;
                    joined.append(all);
                    *all = joined;
                });
            }
            loading_older.set(false);
        });
    };
    let running = move || runs.with(|r| r.iter().any(|r| r.status == "running"));

    view! {
        <section
            class="mt-6 rounded-lg border border-zinc-200 dark:border-zinc-800"
            aria-label="Conversation"
            data-testid="conversation"
            data-running=move || running().to_string()
            data-hydrated=move || awake.get().then_some("true")
        >
            <div
                class="max-h-[65vh] space-y-4 overflow-y-auto p-4"
                data-testid="messages"
                node_ref=list
                on:scroll=on_scroll
                on:click=copy_code
            >
                <Show when=move || has_older.get()>
                    <p class="text-center text-xs text-zinc-500">
                        {move || {
                            if loading_older.get() {
                                "Loading earlier messages…"
                            } else {
                                "Scroll up for earlier messages"
                            }
                        }}
                    </p>
                </Show>
                <Show when=move || {
                    messages.with(|m| m.is_empty()) && runs.with(|r| r.is_empty())
                }>
                    <p class="py-6 text-center text-sm text-zinc-500">
                        "No conversation yet: send the agent a prompt below."
                    </p>
                </Show>
                <For
                    each=move || messages.with(|m| runs.with(|r| arranged(m, r)))
                    key=|m| m.id
                    let:message
                >
                    <Message message />
                </For>
                <LiveRun live />
            </div>
            <Queue runs />
            <Prompt branch_id composer running=Signal::derive(running) loop_count refresh />
        </section>
    }
}

/// The messages shown before the first of `newest`, when the two overlap (else a gap could
/// lie between them).
fn earlier_than(shown: &[MessageView], newest: &[MessageView]) -> Option<Vec<MessageView>> {
    let first = newest.first()?.id;
    shown
        .iter()
        .any(|m| m.id == first)
        .then(|| shown.iter().take_while(|m| m.id != first).cloned().collect())
}

/// The messages in the order the conversation shows them: each prompt just before its
/// reply, and the prompt of the run under way last. A prompt is stored when it is sent, so
/// a queued one comes before the reply it waited for; until it starts it shows only in the
/// queue.
fn arranged(messages: &[MessageView], runs: &[RunView]) -> Vec<MessageView> {
    let status = |run_id: i64| runs.iter().find(|r| r.id == run_id).map(|r| r.status.as_str());
    let replied: HashSet<i64> = messages
        .iter()
        .filter(|m| m.role == MessageRole::Assistant)
        .filter_map(|m| m.run_id)
        .collect();
    let prompts: HashMap<i64, &MessageView> = messages
        .iter()
        .filter(|m| m.role == MessageRole::User)
        .filter_map(|m| Some((m.run_id?, m)))
        .collect();
    let mut shown = Vec::with_capacity(messages.len());
    for message in messages {
        match (message.role, message.run_id) {
            (MessageRole::User, Some(id)) if replied.contains(&id) || status(id).is_some() => {
                continue
            }
            (MessageRole::Assistant, Some(id)) => {
                shown.extend(prompts.get(&id).map(|prompt| (*prompt).clone()));
            }
            _ => {}
        }
        shown.push(message.clone());
    }
    let running = runs.iter().filter(|r| r.status == "running");
    shown.extend(running.filter_map(|r| prompts.get(&r.id)).map(|prompt| (*prompt).clone()));
    shown
}

#[component]
fn Message(message: MessageView) -> impl IntoView {
    match message.role {
        MessageRole::User => {
            let label = if message.loop_iteration > 0 {
                format!("Loop mode · continuation {}", message.loop_iteration)
            } else {
                "You".to_owned()
            };
            view! {
                <article class="rounded-lg bg-zinc-100 p-3 dark:bg-zinc-800" data-role="user">
                    <p class="text-xs font-medium text-zinc-500">{label}</p>
                    <p class="mt-1 text-sm whitespace-pre-wrap">{message.text}</p>
                </article>
            }
            .into_any()
        }
        MessageRole::Notice => view! {
            <p
                class="border-l-2 border-amber-400 pl-3 text-sm text-zinc-600 dark:text-zinc-400"
                data-role="notice"
            >
                {message.text}
            </p>
        }
        .into_any(),
        MessageRole::Assistant => {
            let heading = format!(
                "{}{}",
                message.agent.map(Agent::label).unwrap_or("Agent"),
                message.model.map(|m| format!(" · {m}")).unwrap_or_default()
            );
            let status = message.status.clone().unwrap_or_default();
            view! {
                <article class="space-y-2" data-role="assistant" data-status=status.clone()>
                    <p class="text-xs font-medium text-zinc-500">{heading}</p>
                    {message
                        .blocks
                        .into_iter()
                        .map(|block| view! { <Block block /> })
                        .collect_view()}
                    {message
                        .error
                        .map(|error| {
                            view! {
                                <p class="text-sm text-red-600 dark:text-red-400" role="alert">
                                    {error}
                                </p>
                            }
                        })}
                    {(status == "cancelled")
                        .then(|| view! { <p class="text-xs text-zinc-500">"Stopped."</p> })}
                    {message.usage.map(|usage| view! { <Usage usage /> })}
                </article>
            }
            .into_any()
        }
    }
}

#[component]
fn Block(block: BlockView) -> impl IntoView {
    match block {
        BlockView::Text { html } => {
            view! { <div class="prose-reply text-sm" inner_html=html></div> }.into_any()
        }
        BlockView::Tool { name, summary, input, output, status } => {
            view! { <ToolCard name summary input output status /> }.into_any()
        }
        BlockView::Output { text } => view! { <LongOutput text /> }.into_any(),
        BlockView::Error { message } => {
            view! { <p class="text-sm text-red-600 dark:text-red-400">{message}</p> }.into_any()
        }
    }
}

/// A tool call, folded to one line (tool, summary, status) until opened.
#[component]
fn ToolCard(
    name: String,
    summary: String,
    input: String,
    output: Option<String>,
    status: Option<String>,
) -> impl IntoView {
    let (mark, state) = match status.as_deref() {
        Some("completed") => ("✓", "completed"),
        Some("failed") => ("✗", "failed"),
        _ => ("◌", "running"),
    };
    let tool = name.clone();
    view! {
        <details
            class="rounded border border-zinc-200 text-sm dark:border-zinc-700"
            data-testid="tool-card"
            data-tool=tool
            data-state=state
        >
            <summary class="cursor-pointer truncate px-2 py-1">
                <span class="mr-1" aria-hidden="true">
                    {mark}
                </span>
                <span class="font-medium">{name}</span>
                " "
                <span class="font-mono text-xs text-zinc-600 dark:text-zinc-400">{summary}</span>
                <span class="sr-only">{format!(" ({state})")}</span>
            </summary>
            <div class="space-y-2 border-t border-zinc-200 p-2 dark:border-zinc-700">
                <pre class="max-h-60 overflow-auto text-xs whitespace-pre-wrap">{input}</pre>
                {output.map(|text| view! { <LongOutput text /> })}
            </div>
        </details>
    }
}

/// Command output, folded when it runs long.
#[component]
fn LongOutput(text: String) -> impl IntoView {
    const FOLD_LINES: usize = 12;
    let lines = text.lines().count();
    let pre = "max-h-96 overflow-auto rounded bg-zinc-950 p-2 font-mono text-xs whitespace-pre-wrap text-zinc-100";
    if lines <= FOLD_LINES {
        return view! { <pre class=pre>{text}</pre> }.into_any();
    }
    view! {
        <details>
            <summary class="cursor-pointer text-xs text-zinc-500">
                {format!("Output, {lines} lines")}
            </summary>
            <pre class=pre>{text}</pre>
        </details>
    }
    .into_any()
}

#[component]
fn Usage(usage: UsageView) -> impl IntoView {
    let cost = usage.cost_usd.map(|c| format!(" · ${c:.4}")).unwrap_or_default();
    view! {
        <p class="text-xs text-zinc-500" data-testid="usage">
            {format!(
                "{} tokens in ({} cached), {} out{cost}",
                usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
                usage.cache_read_tokens,
                usage.output_tokens,
            )}
        </p>
    }
}

/// The run under way, drawn from its events as they arrive.
#[component]
fn LiveRun(live: RwSignal<Vec<LiveEvent>>) -> impl IntoView {
    view! {
        <Show when=move || !live.with(|l| l.is_empty())>
            <article class="space-y-2" data-role="assistant" data-testid="live-run">
                {move || live.with(|events| fold(events))}
            </article>
        </Show>
    }
}

/// The live events of the latest run as blocks: a tool's result fills in its card.
fn fold(events: &[LiveEvent]) -> impl IntoView {
    /// A piece of the reply under way; tools keep their id to be found by their result.
    enum Piece {
        Text(String),
        Block(String, BlockView),
    }
    let start = events.iter().rposition(|e| kind(&e.event) == "run_started").unwrap_or(0);
    let mut heading = String::new();
    let mut progress = None;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut usage = None;
    let text =
        |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    for e in &events[start..] {
        let v = &e.event;
        match kind(v) {
            "run_started" => {
                let agent = v.get("agent").and_then(Value::as_str).and_then(Agent::from_id);
                heading = format!(
                    "{} · {}",
                    agent.map(Agent::label).unwrap_or("Agent"),
                    text(v, "model")
                );
            }
            "run_progress" => progress = Some(text(v, "text")),
            "text" => {
                progress = None;
                pieces.push(Piece::Text(text(v, "text")));
            }
            "tool_started" => {
                progress = None;
                pieces.push(Piece::Block(text(v, "id"), tool_block(v, None)));
            }
            "tool_finished" => {
                let id = text(v, "id");
                let finished = tool_block(v, Some(text(v, "status")));
                let started = pieces.iter_mut().rev().find_map(|piece| match piece {
                    Piece::Block(started, block) if *started == id => Some(block),
                    _ => None,
                });
                match started {
                    Some(block) => *block = finished,
                    None => pieces.push(Piece::Block(id, finished)),
                }
            }
            "output" => pieces
                .push(Piece::Block(String::new(), BlockView::Output { text: text(v, "text") })),
            "error" => pieces.push(Piece::Block(
                String::new(),
                BlockView::Error { message: text(v, "message") },
            )),
            "usage" => usage = serde_json::from_value::<UsageView>(v.clone()).ok(),
            _ => {}
        }
    }
    let shown = pieces.into_iter().map(|piece| match piece {
        // Text under way is shown as written; the finished reply is rendered as markdown.
        Piece::Text(text) => view! {
            <p class="text-sm whitespace-pre-wrap" data-testid="live-text">
                {text}
            </p>
        }
        .into_any(),
        Piece::Block(_, block) => view! { <Block block /> }.into_any(),
    });
    view! {
        <p class="text-xs font-medium text-zinc-500">{heading}</p>
        {shown.collect_view()}
        {progress
            .map(|text| {
                view! {
                    <p class="animate-pulse text-sm text-zinc-500" data-testid="run-progress">
                        {text}
                    </p>
                }
            })}
        {usage.map(|usage| view! { <Usage usage /> })}
    }
}

fn kind(event: &Value) -> &str {
    event.get("kind").and_then(Value::as_str).unwrap_or_default()
}

fn tool_block(v: &Value, status: Option<String>) -> BlockView {
    let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    BlockView::Tool {
        name: text("name"),
        summary: text("summary"),
        input: v
            .get("input")
            .map(|i| serde_json::to_string_pretty(i).unwrap_or_default())
            .unwrap_or_default(),
        output: status.as_ref().map(|_| text("output")),
        status,
    }
}

/// Prompts waiting for the run under way, each removable.
#[component]
fn Queue(runs: RwSignal<Vec<RunView>>) -> impl IntoView {
    let queued = move || {
        runs.with(|r| r.iter().filter(|r| r.status == "queued").cloned().collect::<Vec<_>>())
    };
    view! {
        <Show when=move || !queued().is_empty()>
            <ol
                class="space-y-1 border-t border-zinc-200 px-4 py-2 dark:border-zinc-800"
                data-testid="queue"
            >
                <For each=queued key=|r| r.id let:run>
                    <li
                        class="flex items-center justify-between gap-2 text-sm"
                        data-testid="queued-run"
                    >
                        <span class="truncate">
                            <span class="text-xs text-zinc-500">"Queued · "</span>
                            {run.prompt.clone()}
                        </span>
                        <button
                            class="text-xs text-zinc-500 hover:text-red-600"
                            on:click=move |_| {
                                let id = run.id;
                                spawn_local(async move {
                                    if remove_queued(id).await.is_ok() {
                                        runs.update(|all| all.retain(|r| r.id != id));
                                    }
                                });
                            }
                        >
                            "Remove"
                        </button>
                    </li>
                </For>
            </ol>
        </Show>
    }
}

/// The prompt box: Enter sends, Shift+Enter starts a new line; the draft is kept.
#[component]
fn Prompt(
    branch_id: i64,
    composer: Composer,
    running: Signal<bool>,
    loop_count: RwSignal<i32>,
    refresh: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let Composer { agent, model, draft, loop_enabled, loop_max, .. } = composer;
    let agent = RwSignal::new(agent);
    let first_model = model.clone();
    let model = RwSignal::new(model);
    // The island loads after the page shows: keep what the user typed meanwhile.
    let text = RwSignal::new(typed_before_hydration().unwrap_or(draft));
    let looping = RwSignal::new(loop_enabled);
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    // The draft is saved a moment after typing stops.
    let typed = RwSignal::new(0u32);

    let send = move || {
        let prompt = text.get_untracked();
        if prompt.trim().is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        // A draft save still waiting would bring the sent prompt back after a reload.
        typed.set(typed.get_untracked() + 1);
        spawn_local(async move {
            let sent = send_prompt(
                branch_id,
                prompt.clone(),
                agent.get_untracked(),
                model.get_untracked(),
            );
            match sent.await {
                // The read shows the prompt where it went: running, or in the queue.
                Ok(_) => {
                    // Unless the user has started the next prompt meanwhile.
                    if text.with_untracked(|now| *now == prompt) {
                        text.set(String::new());
                    }
                    refresh();
                }
                Err(err) => error.set(Some(err)),
            }
            busy.set(false);
        });
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    let on_input = move |ev: leptos::ev::Event| {
        text.set(event_target_value(&ev));
        let ticket = typed.get_untracked() + 1;
        typed.set(ticket);
        set_timeout(
            move || {
                if typed.get_untracked() == ticket {
                    let draft = text.get_untracked();
                    spawn_local(async move {
                        let _ = save_draft(branch_id, draft).await;
                    });
                }
            },
            std::time::Duration::from_millis(800),
        );
    };
    let on_agent = move |ev: leptos::ev::Event| {
        if let Some(chosen) = Agent::from_id(&event_target_value(&ev)) {
            agent.set(chosen);
            model.set(chosen.models()[0].to_owned());
        }
    };
    let toggle_loop = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        looping.set(on);
        spawn_local(async move {
            let _ = set_loop(branch_id, on).await;
        });
    };
    let stop = move |_| {
        spawn_local(async move {
            if let Err(err) = stop_run(branch_id).await {
                error.set(Some(err));
            }
        });
    };
    let key_missing =
        move || error.with(|e| e.as_ref().is_some_and(|e| e.field.as_deref() == Some("key")));

    view! {
        <form
            class="space-y-2 border-t border-zinc-200 p-4 dark:border-zinc-800"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <label class="sr-only" for="prompt">
                "Prompt"
            </label>
            <textarea
                id="prompt"
                class=format!("{INPUT} min-h-20")
                placeholder="Ask the agent to do something. Enter sends, Shift+Enter starts a new line."
                prop:value=move || text.get()
                on:input=on_input
                on:keydown=on_keydown
            ></textarea>
            <div class="flex flex-wrap items-center gap-2 text-sm">
                <label class="sr-only" for="agent">
                    "Agent"
                </label>
                <select
                    id="agent"
                    class="rounded border border-zinc-300 bg-transparent px-2 py-1 dark:border-zinc-700"
                    on:change=on_agent
                >
                    {Agent::ALL
                        .into_iter()
                        .map(|a| {
                            view! {
                                <option value=a.id() selected=move || agent.get() == a>
                                    {a.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label class="sr-only" for="model">
                    "Model"
                </label>
                <input
                    id="model"
                    class="w-44 rounded border border-zinc-300 bg-transparent px-2 py-1 dark:border-zinc-700"
                    list="models"
                    value=first_model
                    prop:value=move || model.get()
                    on:input=move |ev| model.set(event_target_value(&ev))
                />
                <datalist id="models">
                    {move || {
                        agent
                            .get()
                            .models()
                            .iter()
                            .map(|m| view! { <option value=*m></option> })
                            .collect_view()
                    }}
                </datalist>
                <label
                    class="flex items-center gap-1"
                    title="Keep the agent going until it says it has finished"
                >
                    <input
                        type="checkbox"
                        checked=loop_enabled
                        prop:checked=move || looping.get()
                        on:change=toggle_loop
                        data-testid="loop-toggle"
                    />
                    "Loop"
                </label>
                <Show when=move || { looping.get() && loop_count.get() > 0 }>
                    <span class="text-xs text-zinc-500" data-testid="loop-count">
                        {move || format!("continuation {} of {loop_max}", loop_count.get())}
                    </span>
                </Show>
                <span class="grow"></span>
                <Show when=move || running.get()>
                    <button type="button" class=SECONDARY_BUTTON on:click=stop>
                        "Stop"
                    </button>
                </Show>
                <button type="submit" class=PRIMARY_BUTTON disabled=busy>
                    {move || if running.get() { "Queue" } else { "Send" }}
                </button>
            </div>
            {move || {
                error
                    .get()
                    .map(|error| {
                        view! {
                            <p class="text-sm text-red-600 dark:text-red-400" role="alert">
                                {error.message}
                            </p>
                        }
                    })
            }}
            <Show when=key_missing>
                <a class="text-sm text-sky-600 underline" href="/settings">
                    "Open settings to add the key"
                </a>
            </Show>
        </form>
    }
}

/// The text in the prompt box before the island took it over, if the user typed any: the
/// server renders the box empty and the draft fills in when the island wakes.
fn typed_before_hydration() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let area = document().get_element_by_id("prompt")?;
        let value =
            web_sys::js_sys::Reflect::get(&area, &wasm_bindgen::JsValue::from_str("value")).ok()?;
        value.as_string().filter(|typed| !typed.is_empty())
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// Copies a code block's text when its Copy button is pressed (one listener for all).
fn copy_code(ev: leptos::ev::MouseEvent) {
    let Some(button) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
        return;
    };
    if !button.has_attribute("data-copy") {
        return;
    }
    let code = button.next_element_sibling().and_then(|pre| pre.text_content()).unwrap_or_default();
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(&code);
        button.set_text_content(Some("Copied"));
    }
}

/// Appends the branch's events to `live` as the page's stream brings them. The stream
/// resumes after the last id the browser received when it reconnects, so nothing is
/// missed; ids at or below the last one seen are dropped, so nothing is shown twice.
fn follow_events(
    live: RwSignal<Vec<LiveEvent>>,
    last_seen: RwSignal<i64>,
    refresh: impl Fn() + 'static,
) {
    let refresh = std::rc::Rc::new(refresh);
    let on_changed = refresh.clone();
    crate::page_stream::listen("run", move |data| {
        let Ok(stored) = serde_json::from_str::<LiveEvent>(data) else { return };
        if stored.id <= last_seen.get_untracked() {
            return;
        }
        last_seen.set(stored.id);
        let ended = kind(&stored.event) == "run_finished";
        live.update(|all| all.push(stored));
        if ended {
            refresh();
        }
    });
    crate::page_stream::listen("changed", move |_| on_changed());
}
