//! The Upstream Agents web app: the HTML shell, the routes, the components and the server
//! functions they call. The same code renders on the server (feature `ssr`) and hydrates
//! in the browser (feature `hydrate`); everything server-only sits behind `ssr`.

pub mod components;
#[cfg(feature = "ssr")]
pub mod convert;
pub mod error;
pub mod model;
pub mod page_stream;
pub mod server_fns;
pub mod theme;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use components::branch_page::BranchPage;
use components::home::Home;
use components::layout::WorkspaceLayout;
use components::settings::{RepositorySettingsPage, UserSettingsPage};
use components::sign_in::SignIn;

/// The whole HTML document the server sends for every page. Pages are rendered on the
/// server; only the components marked `#[island]` are hydrated in the browser, which keeps
/// the WASM small.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Runs before the first paint, so a dark page never flashes light.
                <script inner_html=theme::EARLY_SCRIPT></script>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <link rel="stylesheet" id="leptos" href="/pkg/upstream.css" />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body class="h-full bg-white text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
                <App />
            </body>
        </html>
    }
}

/// The routes: the sign-in page, and the workspace with its branch pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Upstream Agents" />
        <Router>
            <Routes fallback=|| view! { <p class="p-6">"This page does not exist."</p> }>
                <Route path=path!("/sign-in") view=SignIn />
                <ParentRoute path=path!("") view=WorkspaceLayout>
                    <Route path=path!("") view=Home />
                    <Route path=path!("/r/:owner/:repo/*branch") view=BranchPage />
                    <Route path=path!("/settings") view=UserSettingsPage />
                    <Route
                        path=path!("/repositories/:owner/:repo/settings")
                        view=RepositorySettingsPage
                    />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
