use leptos::prelude::*;

use crate::model::BranchStatus;

/// A coloured dot with the status's name, as the sidebar and branch page show it.
#[component]
pub fn StatusBadge(status: BranchStatus) -> impl IntoView {
    let dot = match status {
        BranchStatus::Idle => "bg-zinc-400",
        BranchStatus::Creating => "bg-amber-500 animate-pulse",
        BranchStatus::Running => "bg-sky-500 animate-pulse",
        BranchStatus::Stopped => "bg-zinc-300 dark:bg-zinc-600",
        BranchStatus::Error => "bg-red-500",
    };
    view! {
        <span class="inline-flex items-center" title=status.label() data-status=status.label()>
            <span class=format!("h-2 w-2 rounded-full {dot}") aria-hidden="true"></span>
            <span class="sr-only">{status.label()}</span>
        </span>
    }
}
