//! A modal dialog: a dimmed page, a panel with a title, closed by Escape or its button.

use leptos::prelude::*;

#[component]
pub fn Dialog(
    /// Whether the dialog shows; set to false to close it.
    open: RwSignal<bool>,
    #[prop(into)] title: String,
    children: ChildrenFn,
) -> impl IntoView {
    let title_id = format!("dialog-{}", title.to_ascii_lowercase().replace(' ', "-"));
    let children = StoredValue::new(children);
    view! {
        <Show when=move || open.get()>
            <div
                class="fixed inset-0 z-50 flex items-start justify-center bg-black/40 p-4 pt-[10vh]"
                on:click=move |_| open.set(false)
            >
                <div
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby=title_id.clone()
                    class="w-full max-w-lg rounded-lg bg-white p-5 shadow-xl dark:bg-zinc-900"
                    on:click=|ev| ev.stop_propagation()
                    on:keydown=move |ev| {
                        if ev.key() == "Escape" {
                            open.set(false);
                        }
                    }
                >
                    <div class="mb-4 flex items-center justify-between">
                        <h2 id=title_id.clone() class="text-lg font-semibold">
                            {title.clone()}
                        </h2>
                        <button
                            class="rounded p-1 text-zinc-500 hover:bg-zinc-100 dark:hover:bg-zinc-800"
                            aria-label="Close"
                            on:click=move |_| open.set(false)
                        >
                            "✕"
                        </button>
                    </div>
                    {children.read_value()()}
                </div>
            </div>
        </Show>
    }
}

/// The look of a primary button, written out once.
pub const PRIMARY_BUTTON: &str = "rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500 disabled:opacity-50";

/// The look of a secondary button.
pub const SECONDARY_BUTTON: &str = "rounded-md border border-zinc-300 px-3 py-1.5 text-sm font-medium hover:bg-zinc-50 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800";

/// The look of a destructive button.
pub const DANGER_BUTTON: &str = "rounded-md bg-red-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-500 disabled:opacity-50";

/// The look of a text input.
pub const INPUT: &str = "w-full rounded-md border border-zinc-300 bg-white px-2.5 py-1.5 text-sm dark:border-zinc-700 dark:bg-zinc-950";

/// A message under a form field, announced by screen readers as it appears.
#[component]
pub fn FieldError(message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message.get().map(|m| {
            view! {
                <p class="mt-1 text-sm text-red-600 dark:text-red-400" role="alert">
                    {m}
                </p>
            }
        })
    }
}

/// What ends a confirmation dialog: the error, if the last try failed, then Cancel and the
/// destructive button, which stays disabled while the request runs.
#[component]
pub fn ConfirmActions(
    open: RwSignal<bool>,
    label: &'static str,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    on_confirm: Callback<()>,
) -> impl IntoView {
    view! {
        <FieldError message=error.into() />
        <div class="mt-5 flex justify-end gap-2">
            <button class=SECONDARY_BUTTON on:click=move |_| open.set(false)>
                "Cancel"
            </button>
            <button
                class=DANGER_BUTTON
                disabled=move || busy.get()
                on:click=move |_| on_confirm.run(())
            >
                {label}
            </button>
        </div>
    }
}
