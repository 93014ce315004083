//! Operations on the checkout's own branch: merging and rebasing (which may stop on
//! conflicts), aborting them, resetting and tagging. None of them touches the remote.

use serde::{Deserialize, Serialize};

use super::{local_script, nul_list, refuse_if_busy, run, status, valid_ref, Output};
use crate::refname;
use crate::sandbox::Provider;
use crate::{Error, Result};

/// How a merge or rebase ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Integration {
    /// The branch already contained the ref; nothing changed.
    UpToDate,
    /// Done; the branch now points at `head`.
    Done { head: String },
    /// Stopped on conflicts in these files. The checkout is left mid-merge or mid-rebase,
    /// to be resolved and committed, or undone with [`abort`].
    Conflicted { files: Vec<String> },
}

// Both refuse to start over uncommitted changes to tracked files: a conflict on top of
// them could not be aborted back to where the user was.
const MERGE: &str = local_script!(
    r#"git rev-parse --quiet --verify "$REF^{commit}" >/dev/null || exit 64
git diff --quiet HEAD -- || exit 65
before=$(git rev-parse HEAD)
if git merge --no-edit --no-stat "$REF" >/dev/null; then
  after=$(git rev-parse HEAD)
  [ "$before" = "$after" ] || echo "$after"
  exit 0
fi
git rev-parse --quiet --verify MERGE_HEAD >/dev/null || exit 1
git diff --name-only --diff-filter=U -z
exit 66"#
);

const REBASE: &str = local_script!(
    r#"git rev-parse --quiet --verify "$REF^{commit}" >/dev/null || exit 64
git diff --quiet HEAD -- || exit 65
before=$(git rev-parse HEAD)
if git rebase --rebase-merges "$REF" >/dev/null; then
  after=$(git rev-parse HEAD)
  [ "$before" = "$after" ] || echo "$after"
  exit 0
fi
rebasing || exit 1
git diff --name-only --diff-filter=U -z
exit 66"#
);

/// Merges `reference` (a branch, tag, `origin/<branch>` or commit id) into the checkout's
/// branch, fast-forwarding when it can and committing a merge otherwise.
///
/// Fails with [`Error::Invalid`] for a ref that is malformed or names no commit, and with
/// [`Error::Conflict`] when tracked files have uncommitted changes, another merge or rebase
/// is under way, or git refuses to start (untracked files in the way).
pub async fn merge(
    provider: &dyn Provider,
    sandbox_id: &str,
    reference: &str,
) -> Result<Integration> {
    valid_ref("ref", reference)?;
    refuse_if_busy(provider, sandbox_id).await?;
    let out = run(provider, sandbox_id, MERGE, &[("REF", reference)], None).await?;
    integration("merge", reference, out)
}

/// Rebases the checkout's branch onto `reference`, replaying its own commits on top
/// (merge commits stay merges).
///
/// Fails like [`merge`].
pub async fn rebase(
    provider: &dyn Provider,
    sandbox_id: &str,
    reference: &str,
) -> Result<Integration> {
    valid_ref("ref", reference)?;
    refuse_if_busy(provider, sandbox_id).await?;
    let out = run(provider, sandbox_id, REBASE, &[("REF", reference)], None).await?;
    integration("rebase", reference, out)
}

fn integration(what: &str, reference: &str, out: Output) -> Result<Integration> {
    match out.code {
        0 => Ok(match out.stdout.trim() {
            "" => Integration::UpToDate,
            head => Integration::Done { head: head.to_owned() },
        }),
        status::CONFLICTED => Ok(Integration::Conflicted { files: nul_list(&out.stdout) }),
        status::UNKNOWN_REF => Err(unknown_ref(reference)),
        status::DIRTY => Err(Error::Conflict(format!(
            "the checkout has uncommitted changes; commit or discard them before you {what}"
        ))),
        _ => Err(Error::Conflict(format!("git could not {what}: {}", out.reason()))),
    }
}

fn unknown_ref(reference: &str) -> Error {
    Error::invalid("ref", format!("{reference} does not name a commit in this checkout"))
}

/// What [`abort`] undid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aborted {
    Merge,
    Rebase,
    CherryPick,
    Revert,
    /// Nothing was under way.
    Nothing,
}

const ABORT: &str = local_script!(
    r#"set -e
if git rev-parse --quiet --verify MERGE_HEAD >/dev/null; then
  git merge --abort; echo merge
elif rebasing; then
  git rebase --abort; echo rebase
elif git rev-parse --quiet --verify CHERRY_PICK_HEAD >/dev/null; then
  git cherry-pick --abort; echo cherry-pick
elif git rev-parse --quiet --verify REVERT_HEAD >/dev/null; then
  git revert --abort; echo revert
fi"#
);

/// Undoes the merge, rebase, cherry-pick or revert under way in the checkout (by the user
/// or the agent), bringing back the branch and files as they were before it began.
///
/// Fails with [`Error::Upstream`] when git cannot abort it.
pub async fn abort(provider: &dyn Provider, sandbox_id: &str) -> Result<Aborted> {
    let out = run(provider, sandbox_id, ABORT, &[], None).await?;
    if out.code != 0 {
        return Err(Error::Upstream(format!("could not abort: {}", out.reason())));
    }
    Ok(match out.stdout.trim() {
        "merge" => Aborted::Merge,
        "rebase" => Aborted::Rebase,
        "cherry-pick" => Aborted::CherryPick,
        "revert" => Aborted::Revert,
        _ => Aborted::Nothing,
    })
}

/// How far [`reset`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    /// Moves the branch only; the undone commits' changes stay in the files, staged.
    Soft,
    /// Moves the branch and makes the files match; uncommitted changes are lost.
    Hard,
}

const RESET: &str = local_script!(
    r#"git rev-parse --quiet --verify "$REF^{commit}" >/dev/null || exit 64
git reset --quiet "--$MODE" "$REF" -- >/dev/null && git rev-parse HEAD"#
);

/// Moves the checkout's branch to `reference`. Returns the commit it now points at.
///
/// Commits that were pushed come back with the next [`push`](super::push), which rebases
/// onto the remote; replacing the remote branch takes
/// [`force_push_with_lease`](super::force_push_with_lease).
///
/// Fails with [`Error::Invalid`] for a ref that is malformed or names no commit.
pub async fn reset(
    provider: &dyn Provider,
    sandbox_id: &str,
    reference: &str,
    mode: ResetMode,
) -> Result<String> {
    valid_ref("ref", reference)?;
    let mode = match mode {
        ResetMode::Soft => "soft",
        ResetMode::Hard => "hard",
    };
    let env = [("REF", reference), ("MODE", mode)];
    let out = run(provider, sandbox_id, RESET, &env, None).await?;
    match out.code {
        0 => Ok(out.stdout.trim().to_owned()),
        status::UNKNOWN_REF => Err(unknown_ref(reference)),
        _ => Err(Error::Upstream(format!("could not reset: {}", out.reason()))),
    }
}

const TAG: &str = local_script!(
    r#"git rev-parse --quiet --verify "$REF^{commit}" >/dev/null || exit 64
git show-ref --verify --quiet "refs/tags/$TAG" && exit 67
git tag "$TAG" "$REF""#
);

/// Tags the commit `reference` points at as `name` in the checkout (a lightweight tag);
/// [`push_tag`](super::push_tag) publishes it.
///
/// Fails with [`Error::Invalid`] for a malformed name or ref, or a ref that names no
/// commit, and with [`Error::Conflict`] when the tag exists.
pub async fn create_tag(
    provider: &dyn Provider,
    sandbox_id: &str,
    name: &str,
    reference: &str,
) -> Result<()> {
    refname::check_tag_name(name).map_err(|m| Error::invalid("tag", m))?;
    valid_ref("ref", reference)?;
    let out = run(provider, sandbox_id, TAG, &[("TAG", name), ("REF", reference)], None).await?;
    match out.code {
        0 => Ok(()),
        status::UNKNOWN_REF => Err(unknown_ref(reference)),
        status::EXISTS => Err(Error::Conflict(format!("a tag named {name} already exists"))),
        _ => Err(Error::Upstream(format!("could not create the tag: {}", out.reason()))),
    }
}
