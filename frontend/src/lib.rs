//! The browser's entry point: hydrates the interactive islands of the page the server
//! rendered.

// The islands are exported from `app`; naming the crate links them in.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console help while developing; release builds leave the
    // formatting code out to keep the WASM small.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // The page's eager islands are interactive from here on; tests wait for this mark
    // instead of guessing. Lazy islands fetch their code after this and set their own
    // `data-hydrated` once it runs.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
