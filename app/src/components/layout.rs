//! The workspace frame: sidebar, header and the page beside them, rendered on the server.
//! Only the parts a person interacts with (marked `#[island]`) run in the browser.

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect};
use leptos_router::hooks::use_location;

use super::header::Header;
use super::sidebar::Sidebar;
use crate::error::ErrorCode;
use crate::server_fns::workspace::get_workspace;

/// The id of the checkbox that opens the drawer on narrow screens. A checkbox keeps the
/// drawer working without any WASM: labels anywhere on the page toggle it.
pub const DRAWER_TOGGLE: &str = "drawer-toggle";

#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    let workspace = Resource::new(|| (), |_| get_workspace());
    let current = use_location().pathname.get_untracked();
    view! {
        <Suspense fallback=|| {
            view! { <p class="p-6 text-sm text-zinc-500">"Loading…"</p> }
        }>
            {move || Suspend::new({
                let current = current.clone();
                async move {
                    match workspace.await {
                        Err(err) if err.code == ErrorCode::Unauthorized => {
                            view! { <Redirect path="/sign-in" /> }.into_any()
                        }
                        Err(err) => {
                            view! {
                                <p role="alert" class="p-6 text-sm text-red-600">
                                    {err.message}
                                </p>
                            }
                                .into_any()
                        }
                        Ok(workspace) => {
                            provide_context(workspace.clone());
                            // The pages inside read it from here rather than asking again.
                            view! {
                                <div class="flex h-screen overflow-hidden">
                                    <input
                                        type="checkbox"
                                        id=DRAWER_TOGGLE
                                        class="peer sr-only"
                                        aria-label="Menu"
                                    />
                                    <label
                                        for=DRAWER_TOGGLE
                                        class="fixed inset-0 z-30 hidden bg-black/40 peer-checked:block md:hidden"
                                        aria-hidden="true"
                                    ></label>
                                    <Sidebar
                                        repositories=workspace.repositories
                                        github_connected=workspace.github_connected
                                        current
                                    />
                                    <div class="flex min-w-0 flex-1 flex-col">
                                        <Header
                                            user=workspace.user
                                            can_sign_out=workspace.can_sign_out
                                        />
                                        <main class="min-h-0 flex-1 overflow-y-auto">
                                            <Outlet />
                                        </main>
                                    </div>
                                </div>
                            }
                                .into_any()
                        }
                    }
                }
            })}
        </Suspense>
    }
}
