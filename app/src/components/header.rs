//! The bar above the page: the drawer's menu button, the theme switch and the user.

use leptos::prelude::*;

use super::layout::DRAWER_TOGGLE;
use crate::model::UserView;
use crate::theme::Theme;

#[component]
pub fn Header(user: UserView, can_sign_out: bool) -> impl IntoView {
    view! {
        <header class="flex h-12 shrink-0 items-center gap-3 border-b border-zinc-200 px-3 dark:border-zinc-800">
            <label
                for=DRAWER_TOGGLE
                role="button"
                class="cursor-pointer rounded p-1.5 hover:bg-zinc-100 md:hidden dark:hover:bg-zinc-800"
                aria-label="Open menu"
            >
                <svg class="h-5 w-5" viewBox="0 0 20 20" fill="currentColor" aria-hidden="true">
                    <path d="M3 5h14v2H3zM3 9h14v2H3zM3 13h14v2H3z" />
                </svg>
            </label>
            <span class="font-semibold md:hidden">"Upstream"</span>
            <div class="flex-1"></div>
            <ThemeSwitch />
            <UserMenu user can_sign_out />
        </header>
    }
}

/// Light, dark or system, remembered in this browser.
#[island]
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

/// The signed-in user, opening a small menu with who they are and, where it applies,
/// "Sign out". A `<details>` element: no WASM needed.
#[component]
fn UserMenu(user: UserView, can_sign_out: bool) -> impl IntoView {
    let initial = user.login.chars().next().unwrap_or('?').to_ascii_uppercase();
    let name = user.name.clone().unwrap_or_else(|| user.login.clone());
    view! {
        <details class="relative">
            <summary
                class="flex cursor-pointer list-none items-center gap-2 rounded-md p-1 text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800"
                aria-label="User menu"
            >
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
                    {user.login.clone()}
                </span>
            </summary>
            <div class="absolute right-0 z-20 mt-1 w-56 rounded-md border border-zinc-200 bg-white p-3 text-sm shadow-lg dark:border-zinc-700 dark:bg-zinc-900">
                <p class="font-medium">{name}</p>
                <p class="text-zinc-500">
                    {format!("@{}", user.login)} {user.is_admin.then_some(" · administrator")}
                </p>
                <a
                    href="/settings"
                    class="mt-3 block rounded-md px-2 py-1 hover:bg-zinc-100 dark:hover:bg-zinc-800"
                >
                    "Settings"
                </a>
                {can_sign_out
                    .then(|| {
                        view! {
                            <form method="post" action="/auth/logout" class="mt-3">
                                <button class="w-full rounded-md border border-zinc-300 px-2 py-1 hover:bg-zinc-50 dark:border-zinc-700 dark:hover:bg-zinc-800">
                                    "Sign out"
                                </button>
                            </form>
                        }
                    })}
            </div>
        </details>
    }
}
