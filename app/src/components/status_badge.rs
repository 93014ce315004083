use leptos::prelude::*;

use crate::model::BranchStatus;

/// A coloured dot with the status's name, as the sidebar and branch page show it.
///
/// The colour follows the `data-status` attribute through the stylesheet, so a page can
/// bring a badge it rendered on the server up to date by setting that attribute alone
/// (see [`show_status`]).
#[component]
pub fn StatusBadge(
    status: BranchStatus,
    /// Names the branch for [`show_status`] on badges that are not part of an island.
    #[prop(optional)]
    live_for: Option<i64>,
) -> impl IntoView {
    view! {
        <span
            class="group inline-flex items-center"
            title=status.label()
            data-status=status.label()
            data-status-of=live_for
        >
            <span
                class="h-2 w-2 rounded-full bg-zinc-400 group-data-[status=creating]:animate-pulse group-data-[status=creating]:bg-amber-500 group-data-[status=error]:bg-red-500 group-data-[status=running]:animate-pulse group-data-[status=running]:bg-sky-500 group-data-[status=stopped]:bg-zinc-300 dark:group-data-[status=stopped]:bg-zinc-600"
                aria-hidden="true"
            ></span>
            <span class="sr-only">{status.label()}</span>
        </span>
    }
}

/// Shows `status` on the server-rendered parts of the page that stand for branch `id`:
/// its badges and status texts marked `data-status-of`.
#[cfg(feature = "hydrate")]
pub fn show_status(id: i64, status: BranchStatus) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|window| window.document()) else { return };
    let Ok(marked) = document.query_selector_all(&format!("[data-status-of='{id}']")) else {
        return;
    };
    for index in 0..marked.length() {
        let Some(element) =
            marked.item(index).and_then(|node| node.dyn_into::<web_sys::Element>().ok())
        else {
            continue;
        };
        if element.has_attribute("data-status") {
            let _ = element.set_attribute("data-status", status.label());
            let _ = element.set_attribute("title", status.label());
        }
        // The badge's hidden name, or a status written out in words.
        let text = match element.last_element_child() {
            Some(name) => name,
            None => element,
        };
        text.set_text_content(Some(status.label()));
    }
}
