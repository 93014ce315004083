//! Light, dark or the system's choice, remembered in the browser.

use serde::{Deserialize, Serialize};

/// Sets the `dark` class from the remembered choice before the page paints.
pub const EARLY_SCRIPT: &str = "(function(){try{var t=localStorage.getItem('theme')||'system';\
var d=t==='dark'||(t==='system'&&matchMedia('(prefers-color-scheme: dark)').matches);\
document.documentElement.classList.toggle('dark',d);}catch(e){}})()";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    Light,
    Dark,
    System,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Light, Theme::Dark, Theme::System];

    pub fn id(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::System => "system",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::Light => "Light",
            Theme::Dark => "Dark",
            Theme::System => "System",
        }
    }

    fn from_id(id: &str) -> Theme {
        Theme::ALL.into_iter().find(|t| t.id() == id).unwrap_or(Theme::System)
    }

    /// The choice stored in this browser.
    pub fn load() -> Theme {
        storage()
            .and_then(|s| s.get_item("theme").ok().flatten())
            .map(|id| Theme::from_id(&id))
            .unwrap_or(Theme::System)
    }

    /// Remembers the choice and applies it to the page at once.
    pub fn apply(self) {
        if let Some(storage) = storage() {
            let _ = storage.set_item("theme", self.id());
        }
        let dark = match self {
            Theme::Dark => true,
            Theme::Light => false,
            Theme::System => prefers_dark(),
        };
        if let Some(root) =
            web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
        {
            let _ = root.class_list().toggle_with_force("dark", dark);
        }
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}
