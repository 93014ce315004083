//! A branch's conversation: reading it, sending prompts, stopping a run, the queue, loop
//! mode and the draft.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{Agent, Conversation, MessageView, RunView};

/// The newest messages shown when a branch opens; older ones load as the user scrolls up.
pub const PAGE: u64 = 30;

/// The branch's conversation: the newest page of messages (or the page before message
/// `before`), the runs not yet ended and the running one's events so far. Opening the
/// newest page marks the branch as read.
#[server(prefix = "/api", endpoint = "get_conversation", input = leptos::server_fn::codec::Json)]
pub async fn get_conversation(
    branch_id: i64,
    before: Option<i64>,
) -> Result<Conversation, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let conversation =
        crate::convert::conversation(&services, user.id, branch_id, before).await.map_err(fail)?;
    if before.is_none() {
        domain::runs::mark_read(&services, user.id, branch_id).await.map_err(fail)?;
    }
    Ok(conversation)
}

/// Older messages, before message `before`, oldest first.
#[server(prefix = "/api", endpoint = "older_messages", input = leptos::server_fn::codec::Json)]
pub async fn older_messages(branch_id: i64, before: i64) -> Result<Vec<MessageView>, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let rows = domain::runs::messages(&services, user.id, branch_id, Some(before), PAGE)
        .await
        .map_err(fail)?;
    Ok(rows.into_iter().map(crate::convert::message_view).collect())
}

/// Sends a prompt to the branch's agent: it runs at once, or after the run under way.
#[server(prefix = "/api", endpoint = "send_prompt", input = leptos::server_fn::codec::Json)]
pub async fn send_prompt(
    branch_id: i64,
    prompt: String,
    agent: Agent,
    model: String,
) -> Result<RunView, AppError> {
    use super::ssr::{fail, signed_in};
    use crate::convert::{agent_of, run_view};

    let (user, services) = signed_in().await?;
    let prompt = domain::runs::Prompt { text: prompt, agent: agent_of(agent), model };
    let run = domain::runs::send(&services, user.id, branch_id, prompt).await.map_err(fail)?;
    Ok(run_view(run))
}

/// Stops the branch's running run and everything the agent started.
#[server(prefix = "/api", endpoint = "stop_run", input = leptos::server_fn::codec::Json)]
pub async fn stop_run(branch_id: i64) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::runs::stop(&services, user.id, branch_id).await.map_err(fail)
}

/// Takes a queued prompt off the queue.
#[server(prefix = "/api", endpoint = "remove_queued", input = leptos::server_fn::codec::Json)]
pub async fn remove_queued(run_id: i64) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::runs::remove_queued(&services, user.id, run_id).await.map_err(fail)
}

/// Turns loop mode on or off for the branch.
#[server(prefix = "/api", endpoint = "set_loop", input = leptos::server_fn::codec::Json)]
pub async fn set_loop(branch_id: i64, enabled: bool) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::runs::set_loop(&services, user.id, branch_id, enabled).await.map_err(fail)
}

/// Keeps the unsent prompt of the branch.
#[server(prefix = "/api", endpoint = "save_draft", input = leptos::server_fn::codec::Json)]
pub async fn save_draft(branch_id: i64, text: String) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::runs::save_draft(&services, user.id, branch_id, &text).await.map_err(fail)
}
