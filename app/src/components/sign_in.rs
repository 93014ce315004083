//! The sign-in page, shown to visitors without a session.

use leptos::prelude::*;

use crate::model::SignInMethod;
use crate::server_fns::workspace::get_sign_in_method;

#[component]
pub fn SignIn() -> impl IntoView {
    let method = Resource::new(|| (), |_| get_sign_in_method());
    view! {
        <main class="flex min-h-screen items-center justify-center p-6">
            <div class="w-full max-w-sm rounded-lg border border-zinc-200 p-6 text-center dark:border-zinc-800">
                <h1 class="text-xl font-semibold">"Upstream Agents"</h1>
                <Suspense fallback=|| ()>
                    {move || {
                        method
                            .get()
                            .map(|m| match m {
                                Ok(SignInMethod::GithubOAuth) => {
                                    view! {
                                        <a
                                            href="/auth/github/login"
                                            rel="external"
                                            class="mt-6 inline-block rounded-md bg-zinc-900 px-4 py-2 text-sm font-medium text-white hover:bg-zinc-700 dark:bg-white dark:text-zinc-900"
                                        >
                                            "Sign in with GitHub"
                                        </a>
                                    }
                                        .into_any()
                                }
                                Ok(SignInMethod::Automatic) => {
                                    view! {
                                        <p class="mt-4 text-sm">
                                            "This server signs you in automatically. "
                                            <a class="underline" href="/" rel="external">
                                                "Open the workspace"
                                            </a>
                                        </p>
                                    }
                                        .into_any()
                                }
                                Ok(SignInMethod::Unavailable) | Err(_) => {
                                    view! {
                                        <p class="mt-4 text-sm text-zinc-600 dark:text-zinc-400">
                                            "No sign-in method is configured. Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET for GitHub sign-in, or listen on 127.0.0.1 to be signed in as the local user."
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Suspense>
            </div>
        </main>
    }
}
