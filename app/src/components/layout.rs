//! The workspace frame: sidebar, header and the page beside them, plus the state every
//! part of the workspace shares.

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect};
use leptos_router::hooks::use_location;

use super::header::Header;
use super::sidebar::Sidebar;
use crate::error::{AppError, ErrorCode};
use crate::model::Workspace;
use crate::server_fns::workspace::get_workspace;

/// Shared by every component of the workspace.
#[derive(Clone, Copy)]
pub struct WorkspaceContext {
    /// The sidebar's data; refetch it after any change.
    pub workspace: Resource<Result<Workspace, AppError>>,
    /// Whether the drawer is open on narrow screens.
    pub drawer_open: RwSignal<bool>,
    /// A message for the user that stays until dismissed.
    pub notice: RwSignal<Option<String>>,
}

pub fn use_workspace() -> WorkspaceContext {
    expect_context::<WorkspaceContext>()
}

#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    let context = WorkspaceContext {
        workspace: Resource::new(|| (), |_| get_workspace()),
        drawer_open: RwSignal::new(false),
        notice: RwSignal::new(None),
    };
    provide_context(context);

    // Following a link closes the drawer.
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        context.drawer_open.set(false);
    });

    let signed_out = move || {
        context
            .workspace
            .get()
            .is_some_and(|r| matches!(r, Err(e) if e.code == ErrorCode::Unauthorized))
    };

    // Everything below reads the workspace, so it waits for it in one place; on the server
    // the page is sent once the workspace is known.
    view! {
        <Transition fallback=|| view! { <p class="p-6 text-sm text-zinc-500">"Loading…"</p> }>
            <Show when=signed_out>
                <Redirect path="/sign-in" />
            </Show>
            <div class="flex h-screen overflow-hidden">
                <Show when=move || context.drawer_open.get()>
                    <div
                        class="fixed inset-0 z-30 bg-black/40 md:hidden"
                        on:click=move |_| context.drawer_open.set(false)
                    ></div>
                </Show>
                <Sidebar />
                <div class="flex min-w-0 flex-1 flex-col">
                    <Header />
                    <Notice />
                    <main class="min-h-0 flex-1 overflow-y-auto">
                        <Outlet />
                    </main>
                </div>
            </div>
        </Transition>
    }
}

#[component]
fn Notice() -> impl IntoView {
    let notice = use_workspace().notice;
    move || {
        notice.get().map(|text| {
            view! {
                <div
                    role="alert"
                    class="flex items-start justify-between gap-3 border-b border-red-200 bg-red-50 px-4 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200"
                >
                    <span>{text}</span>
                    <button class="font-medium underline" on:click=move |_| notice.set(None)>
                        "Dismiss"
                    </button>
                </div>
            }
        })
    }
}
