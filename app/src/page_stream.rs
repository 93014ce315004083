//! The page's one stream of server-sent events, shared by its islands.
//!
//! Over HTTP/1.1 a browser keeps at most six connections to a server, and server function
//! calls need them too: a stream per island would leave a user with two or three pages
//! open waiting on requests that never go out. So a page opens one stream,
//! `/streams/page`, and each island listens to the kinds of events it needs. A branch page
//! names its branch, and where its conversation resumes, in the URL it renders as
//! `#page-stream`.
//!
//! Islands hydrate at different times (some fetch their code only when needed): events
//! of a kind nobody listens to yet are kept and handed to its first listener, so none
//! falls between the stream opening and the island that wants it.

use std::cell::RefCell;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// The kinds of event the page's stream carries: `message` (unnamed: a branch's status
/// line), and on a branch page `run`, `changed` and `sandbox`.
const KINDS: [&str; 4] = ["message", "run", "changed", "sandbox"];
/// The most events of one kind kept for a listener still to come.
const KEPT: usize = 5000;

type Listener = Box<dyn FnMut(&str)>;

/// Per kind, in the order of [`KINDS`] (plain arrays: a map would weigh more in the WASM).
#[derive(Default)]
struct Page {
    open: bool,
    listeners: [Vec<Listener>; KINDS.len()],
    waiting: [Vec<String>; KINDS.len()],
}

thread_local! {
    static PAGE: RefCell<Page> = RefCell::new(Page::default());
}

/// Calls `on_data` with the data of every event of `kind` (one of [`KINDS`]) on the
/// page's stream, those that came before this call included, for as long as the page
/// lives.
pub fn listen(kind: &'static str, mut on_data: impl FnMut(&str) + 'static) {
    let Some(index) = KINDS.iter().position(|k| *k == kind) else { return };
    let waiting = PAGE.with(|page| std::mem::take(&mut page.borrow_mut().waiting[index]));
    for data in &waiting {
        on_data(data);
    }
    PAGE.with(|page| page.borrow_mut().listeners[index].push(Box::new(on_data)));
    open();
}

fn open() {
    if PAGE.with(|page| std::mem::replace(&mut page.borrow_mut().open, true)) {
        return;
    }
    let url = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id("page-stream"))
        .and_then(|element| element.get_attribute("data-url"))
        .unwrap_or_else(|| "/streams/page".to_owned());
    // The browser reconnects by itself when the stream drops, sending the id of the last
    // run event it received.
    let Ok(source) = web_sys::EventSource::new(&url) else { return };
    for (index, kind) in KINDS.into_iter().enumerate() {
        let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                deliver(index, event.data().as_string().unwrap_or_default());
            },
        );
        let _ = source.add_event_listener_with_callback(kind, on_event.as_ref().unchecked_ref());
        // Both live as long as the page.
        on_event.forget();
    }
    std::mem::forget(source);
}

fn deliver(index: usize, data: String) {
    // Taken out while they run, so that a listener may itself start listening.
    let mut listeners = PAGE.with(|page| std::mem::take(&mut page.borrow_mut().listeners[index]));
    if listeners.is_empty() {
        PAGE.with(|page| {
            let waiting = &mut page.borrow_mut().waiting[index];
            if waiting.len() < KEPT {
                waiting.push(data);
            }
        });
        return;
    }
    for listener in &mut listeners {
        listener(&data);
    }
    PAGE.with(|page| {
        let slot = &mut page.borrow_mut().listeners[index];
        let added = std::mem::replace(slot, listeners);
        slot.extend(added);
    });
}
