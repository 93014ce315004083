//! Keeping the agent from publishing or rewriting history behind the platform's back.
//!
//! [`install_guard`] moves the checkout's hooks directory to one of ours inside `.git`
//! (never into the working tree, where `git add -A` would commit it) holding:
//!
//! - `pre-push`, refusing every push whose environment lacks [`PUSH_ALLOWED`]`=1`. The
//!   platform's own pushes set it (and run no hooks at all).
//! - `reference-transaction`, refusing to move a branch so that it drops commits already
//!   on its `origin/<branch>` (`git reset --hard` to an older commit, amending or rebasing
//!   pushed work) unless [`REWRITE_ALLOWED`]`=1`. Unpushed commits stay the agent's to
//!   rewrite.
//! - a forwarder for every other client-side hook, so the project's own hooks (from
//!   `.git/hooks` or the `core.hooksPath` it had, such as husky's) still run.
//!
//! The guard refuses the branch's move, not what a command did before it: a refused
//! `git reset --hard` has already reset the files (the next commit then records the undo
//! as a new commit, and history stays), and a refused rebase stops mid-way, to be undone
//! with [`abort`](super::abort).
//!
//! Limitation: hooks are advice to a cooperating agent, not a wall. An agent that sets
//! `core.hooksPath`, passes `--no-verify`, deletes the hooks or writes refs by hand gets
//! past them; what really keeps it from pushing to GitHub is that its environment holds
//! no token. A remote on this host's disk is mounted read-write into the sandbox, so there
//! the agent could write to it directly.
//!
//! Limitation: `git reset --hard`, `git checkout -- <path>`, `git clean` and `git stash`
//! also throw away uncommitted work, and no hook runs before that happens; only the
//! commit the platform makes after each run keeps such work safe.

use super::run;
use crate::sandbox::Provider;
use crate::{Error, Result};

/// The environment variable (set to `1`) that lets a push from the checkout through its
/// `pre-push` hook. A command box that should let the user push sets it too.
pub const PUSH_ALLOWED: &str = "UPSTREAM_PUSH";

/// The environment variable (set to `1`) that lets a command move a branch past commits
/// already pushed.
pub const REWRITE_ALLOWED: &str = "UPSTREAM_REWRITE";

const INSTALL: &str = include_str!("hooks/install");
const PRE_PUSH: &str = include_str!("hooks/pre-push");
const REFERENCE_TRANSACTION: &str = include_str!("hooks/reference-transaction");
const FORWARD: &str = include_str!("hooks/forward");

/// The client-side hooks git runs that are passed on to the checkout's own.
const FORWARDED: &str = "applypatch-msg pre-applypatch post-applypatch pre-commit \
                         pre-merge-commit prepare-commit-msg commit-msg post-commit pre-rebase \
                         post-checkout post-merge post-rewrite pre-auto-gc sendemail-validate";

/// Installs the guard hooks into the checkout (see the module's documentation). Safe to
/// call again, after every preparation of the sandbox; it keeps forwarding to the hooks
/// the checkout had before the first call.
///
/// Fails with [`Error::Upstream`] when the checkout is not a git repository or its `.git`
/// cannot be written.
pub async fn install_guard(provider: &dyn Provider, sandbox_id: &str) -> Result<()> {
    let env = [
        ("PRE_PUSH", PRE_PUSH),
        ("REFERENCE_TRANSACTION", REFERENCE_TRANSACTION),
        ("FORWARD", FORWARD),
        ("FORWARDED", FORWARDED),
    ];
    let out = run(provider, sandbox_id, INSTALL, &env, None).await?;
    if out.code != 0 {
        return Err(Error::Upstream(format!("could not install the git hooks: {}", out.reason())));
    }
    Ok(())
}
