//! The bar above the page: the drawer's menu button, the theme switch and the user.

use leptos::prelude::*;

use super::layout::use_workspace;
use crate::theme::Theme;

#[component]
pub fn Header() -> impl IntoView {
    let context = use_workspace();
    view! {
        <header class="flex h-12 shrink-0 items-center gap-3 border-b border-zinc-200 px-3 dark:border-zinc-800">
            <button
                class="rounded p-1.5 hover:bg-zinc-100 md:hidden dark:hover:bg-zinc-800"
                aria-label="Open menu"
                on:click=move |_| context.drawer_open.set(true)
            >
                <svg class="h-5 w-5" viewBox="0 0 20 20" fill="currentColor" aria-hidden="true">
                    <path d="M3 5h14v2H3zM3 9h14v2H3zM3 13h14v2H3z" />
                </svg>
            </button>
            <span class="font-semibold md:hidden">"Upstream"</span>
            <div class="flex-1"></div>
            <ThemeSwitch />
            <UserBadge />
        </header>
    }
}

/// Light, dark or system, remembered in this browser.
#[component]
fn ThemeSwitch() -> impl IntoView {
    let theme = RwSignal::new(Theme::System);
    // The stored choice is only known in the browser, after hydration.
    Effect::new(move |_| theme.set(Theme::load()));
    let choose = move |choice: Theme| {
        choice.apply();
        theme.set(choice);
    };
    view! {
        <div
            role="group"
            aria-label="Theme"
            class="flex rounded-md border border-zinc-200 p-0.5 text-xs dark:border-zinc-700"
        >
            {Theme::ALL
                .into_iter()
                .map(|choice| {
                    view! {
                        <button
                            class="rounded px-2 py-1 aria-pressed:bg-zinc-200 dark:aria-pressed:bg-zinc-700"
                            aria-pressed=move || (theme.get() == choice).to_string()
                            on:click=move |_| choose(choice)
                        >
                            {choice.label()}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

#[component]
fn UserBadge() -> impl IntoView {
    let context = use_workspace();
    let user = move || context.workspace.get().and_then(|r| r.ok()).map(|w| w.user);
    move || {
        user().map(|user| {
            let initial = user.login.chars().next().unwrap_or('?').to_ascii_uppercase();
            let name = user.name.clone().unwrap_or_else(|| user.login.clone());
            view! {
                <div class="flex items-center gap-2 text-sm" title=name>
                    {match user.avatar_url {
                        Some(url) => {
                            view! { <img class="h-7 w-7 rounded-full" src=url alt="" /> }.into_any()
                        }
                        None => {
                            view! {
                                <span class="flex h-7 w-7 items-center justify-center rounded-full bg-indigo-600 text-xs font-semibold text-white">
                                    {initial.to_string()}
                                </span>
                            }
                                .into_any()
                        }
                    }}
                    <span class="hidden sm:inline" data-testid="user-login">
                        {user.login}
                    </span>
                </div>
            }
        })
    }
}
