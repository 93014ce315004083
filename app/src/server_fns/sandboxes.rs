//! A branch's sandbox: its state, starting, stopping and deleting it, and running a shell
//! command in it. Live changes reach the browser over the event streams the server
//! serves beside these functions.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{SandboxAction, SandboxView};

/// The branch's sandbox, or its absence.
#[server(prefix = "/api", endpoint = "get_sandbox", input = leptos::server_fn::codec::Json)]
pub async fn get_sandbox(branch_id: i64) -> Result<SandboxView, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let sandbox =
        domain::sandboxes::for_branch(&services, user.id, branch_id).await.map_err(fail)?;
    crate::convert::sandbox_view(&services, user.id, branch_id, sandbox).await.map_err(fail)
}

/// Starts, stops or deletes the branch's sandbox. Starting prepares a new one when the
/// branch has none; stopping keeps its files; deleting frees its slot in the quota.
#[server(prefix = "/api", endpoint = "change_sandbox", input = leptos::server_fn::codec::Json)]
pub async fn change_sandbox(
    branch_id: i64,
    action: SandboxAction,
) -> Result<SandboxView, AppError> {
    use super::ssr::{fail, signed_in};
    use domain::sandboxes;

    let (user, services) = signed_in().await?;
    let sandbox = match action {
        SandboxAction::Start => Some(sandboxes::start(&services, user.id, branch_id).await),
        SandboxAction::Stop => Some(sandboxes::stop(&services, user.id, branch_id).await),
        SandboxAction::Delete => {
            sandboxes::delete(&services, user.id, branch_id).await.map_err(fail)?;
            None
        }
    };
    let sandbox = sandbox.transpose().map_err(fail)?;
    crate::convert::sandbox_view(&services, user.id, branch_id, sandbox).await.map_err(fail)
}

/// Runs one shell command in the branch's sandbox and returns its id; the output is
/// followed at `/streams/commands/{id}`.
#[server(prefix = "/api", endpoint = "run_command", input = leptos::server_fn::codec::Json)]
pub async fn run_command(branch_id: i64, command: String) -> Result<String, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    services.commands.start(&services, user.id, branch_id, &command).await.map_err(fail)
}

/// Kills a running command.
#[server(prefix = "/api", endpoint = "kill_command", input = leptos::server_fn::codec::Json)]
pub async fn kill_command(command_id: String) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    services.commands.kill(user.id, &command_id).map_err(fail)
}
