//! Everything that changes the remote: the safe push at the end of a run, force-pushing
//! with a lease, renaming and deleting the remote branch, pushing a tag.

use serde::{Deserialize, Serialize};

use super::parse::{parse_push, RefUpdate};
use super::{
    expect_branch, local_script, nul_list, remote_script, run, status, valid_branch, Output, Remote,
};
use crate::refname;
use crate::sandbox::Provider;
use crate::{Error, Result};

/// How often a push rejected because the remote moved is retried after rebasing.
const MAX_RETRIES: u32 = 2;

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOutcome {
    pub status: PushStatus,
    /// How many times the push was tried again after rebasing onto a remote that moved.
    pub retries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushStatus {
    /// The remote branch now holds the checkout's commits.
    Pushed,
    /// The remote branch already held them; nothing was sent.
    UpToDate,
    /// The remote moved and the checkout's commits conflict with its new commits in these
    /// files. The rebase was aborted, so the checkout is as it was; nothing was pushed.
    Conflicted { files: Vec<String> },
}

impl PushOutcome {
    /// Whether the remote branch holds the checkout's commits now.
    pub fn is_on_remote(&self) -> bool {
        matches!(self.status, PushStatus::Pushed | PushStatus::UpToDate)
    }
}

const PUSH: &str = remote_script!(r#"git push --porcelain origin "HEAD:refs/heads/$BRANCH""#);

const FETCH: &str = remote_script!(
    r#"git fetch --quiet --no-tags origin "+refs/heads/$BRANCH:refs/remotes/origin/$BRANCH""#
);

// Merge commits are rebased as merges: flattened, they would bring the merged branch's
// commits along as copies.
const REBASE_ONTO_REMOTE: &str = local_script!(
    r#"git rebase --rebase-merges "refs/remotes/origin/$BRANCH" >/dev/null && exit 0
if rebasing; then
  git diff --name-only --diff-filter=U -z
  git rebase --abort >/dev/null 2>&1
  exit 66
fi
exit 1"#
);

/// Pushes the checkout's branch to the same branch on `origin`.
///
/// Refuses ([`Error::Conflict`]) unless the checkout is on `remote.branch` with no merge or
/// rebase under way. When the remote moved meanwhile (someone else pushed), fetches it,
/// rebases onto it and tries again, at most twice; a rebase that conflicts is aborted and
/// reported as [`PushStatus::Conflicted`]. Fails with [`Error::Conflict`] when the remote
/// kept moving through every retry, and with [`Error::Upstream`] when the remote cannot be
/// reached or refuses the push (a protected branch, a bad token), in git's words without
/// the token.
pub async fn push(
    provider: &dyn Provider,
    sandbox_id: &str,
    remote: &Remote,
) -> Result<PushOutcome> {
    valid_branch("branch", &remote.branch)?;
    expect_branch(provider, sandbox_id, &remote.branch).await?;
    let target = format!("refs/heads/{}", remote.branch);
    let env = [("BRANCH", remote.branch.as_str())];

    let mut retries = 0;
    loop {
        let out = run(provider, sandbox_id, PUSH, &env, Some(remote)).await?;
        let status = match parse_push(&out.stdout, &target) {
            Some(RefUpdate::Updated) => PushStatus::Pushed,
            Some(RefUpdate::UpToDate) => PushStatus::UpToDate,
            Some(RefUpdate::RemoteMoved) if retries < MAX_RETRIES => {
                retries += 1;
                tracing::warn!(
                    sandbox = %sandbox_id,
                    attempt = retries,
                    "push rejected, remote moved; rebasing"
                );
                match rebase_onto_remote(provider, sandbox_id, remote).await? {
                    None => continue,
                    Some(files) => PushStatus::Conflicted { files },
                }
            }
            Some(RefUpdate::RemoteMoved) => {
                return Err(Error::Conflict(format!(
                    "the remote branch {} kept moving while pushing; tried {} times",
                    remote.branch,
                    retries + 1
                )))
            }
            other => return Err(refused("push", other, &out)),
        };
        return Ok(PushOutcome { status, retries });
    }
}

/// Fetches the remote branch and rebases onto it; the conflicting files when that stops.
async fn rebase_onto_remote(
    provider: &dyn Provider,
    sandbox_id: &str,
    remote: &Remote,
) -> Result<Option<Vec<String>>> {
    let env = [("BRANCH", remote.branch.as_str())];
    let fetched = run(provider, sandbox_id, FETCH, &env, Some(remote)).await?;
    if fetched.code != 0 {
        return Err(Error::Upstream(format!(
            "could not fetch the remote branch: {}",
            fetched.reason()
        )));
    }
    let rebased = run(provider, sandbox_id, REBASE_ONTO_REMOTE, &env, None).await?;
    match rebased.code {
        0 => Ok(None),
        status::CONFLICTED => Ok(Some(nul_list(&rebased.stdout))),
        _ => Err(Error::Upstream(format!(
            "could not rebase onto the remote branch: {}",
            rebased.reason()
        ))),
    }
}

const FORCE_PUSH: &str = remote_script!(
    r#"lease=$(git rev-parse --quiet --verify "refs/remotes/origin/$BRANCH") || lease=
git push --porcelain "--force-with-lease=refs/heads/$BRANCH:$lease" \
  origin "HEAD:refs/heads/$BRANCH""#
);

/// Replaces the remote branch with the checkout's, as after a [`reset`](super::reset) or
/// a rebase, but only if the remote branch is still where this checkout last saw it (its
/// `origin/<branch>`, or absent if the checkout never saw it).
///
/// Refuses like [`push`] when the checkout is not on `remote.branch`; fails with
/// [`Error::Conflict`] when someone pushed since (fetch and look first), and with
/// [`Error::Upstream`] when the remote refuses.
pub async fn force_push_with_lease(
    provider: &dyn Provider,
    sandbox_id: &str,
    remote: &Remote,
) -> Result<PushOutcome> {
    valid_branch("branch", &remote.branch)?;
    expect_branch(provider, sandbox_id, &remote.branch).await?;
    let env = [("BRANCH", remote.branch.as_str())];
    let out = run(provider, sandbox_id, FORCE_PUSH, &env, Some(remote)).await?;
    let status = match parse_push(&out.stdout, &format!("refs/heads/{}", remote.branch)) {
        Some(RefUpdate::Updated) => PushStatus::Pushed,
        Some(RefUpdate::UpToDate) => PushStatus::UpToDate,
        Some(RefUpdate::StaleLease | RefUpdate::RemoteMoved) => {
            return Err(Error::Conflict(format!(
                "the remote branch {} changed since this checkout last saw it; nothing was \
                 forced. Fetch and look at the new commits first",
                remote.branch
            )))
        }
        other => return Err(refused("force-push", other, &out)),
    };
    tracing::info!(sandbox = %sandbox_id, "force-pushed with lease");
    Ok(PushOutcome { status, retries: 0 })
}

const DELETE_REMOTE: &str = remote_script!(
    r#"git ls-remote --exit-code --heads origin "refs/heads/$BRANCH" >/dev/null
rc=$?
[ "$rc" = 2 ] && exit 68
[ "$rc" = 0 ] || exit "$rc"
git push --porcelain origin ":refs/heads/$BRANCH""#
);

/// Deletes `remote.branch` on `origin`; the checkout keeps its own branch. Returns `false`
/// when the remote had no such branch.
///
/// Fails with [`Error::Invalid`] for a bad name and [`Error::Upstream`] when the remote
/// cannot be reached or refuses (its default branch, a protected branch).
pub async fn delete_remote_branch(
    provider: &dyn Provider,
    sandbox_id: &str,
    remote: &Remote,
) -> Result<bool> {
    valid_branch("branch", &remote.branch)?;
    let env = [("BRANCH", remote.branch.as_str())];
    let out = run(provider, sandbox_id, DELETE_REMOTE, &env, Some(remote)).await?;
    if out.code == status::MISSING {
        return Ok(false);
    }
    match parse_push(&out.stdout, &format!("refs/heads/{}", remote.branch)) {
        Some(RefUpdate::Updated) => Ok(true),
        other => Err(refused("delete the remote branch", other, &out)),
    }
}

const RENAME: &str = remote_script!(
    r#"git show-ref --verify --quiet "refs/heads/$NEW" && { echo local; exit 67; }
git ls-remote --exit-code --heads origin "refs/heads/$NEW" >/dev/null
rc=$?
[ "$rc" = 0 ] && { echo remote; exit 67; }
[ "$rc" = 2 ] || exit "$rc"
git ls-remote --exit-code --heads origin "refs/heads/$OLD" >/dev/null
rc=$?
if [ "$rc" = 0 ]; then
  git push --porcelain --atomic origin \
    "refs/heads/$OLD:refs/heads/$NEW" ":refs/heads/$OLD" || exit "$?"
elif [ "$rc" = 2 ]; then
  git push --porcelain origin "refs/heads/$OLD:refs/heads/$NEW" || exit "$?"
else
  exit "$rc"
fi
git branch --move "$OLD" "$NEW" || exit 1
git branch --quiet --set-upstream-to="origin/$NEW" "$NEW" >/dev/null 2>&1
exit 0"#
);

/// Renames the checkout's branch `remote.branch` to `new_name`, locally and on `origin`:
/// the new name is pushed and the old one deleted on the remote in one atomic push, then
/// the local branch is renamed. A branch that was never pushed is pushed under its new
/// name.
///
/// Refuses ([`Error::Conflict`]) unless the checkout is on `remote.branch`, or when
/// `new_name` is taken locally or on the remote; fails with [`Error::Upstream`] when the
/// remote refuses. The caller renames the branch's row.
// Limitation: deleting the old name on GitHub closes its open pull requests instead of
// moving them; GitHub's rename API would keep them, at the cost of a second way in.
pub async fn rename_branch(
    provider: &dyn Provider,
    sandbox_id: &str,
    remote: &Remote,
    new_name: &str,
) -> Result<()> {
    valid_branch("branch", &remote.branch)?;
    valid_branch("new_name", new_name)?;
    if new_name == remote.branch {
        return Ok(());
    }
    expect_branch(provider, sandbox_id, &remote.branch).await?;
    let env = [("OLD", remote.branch.as_str()), ("NEW", new_name)];
    let out = run(provider, sandbox_id, RENAME, &env, Some(remote)).await?;
    match out.code {
        0 => {
            tracing::info!(sandbox = %sandbox_id, "renamed the branch locally and on the remote");
            Ok(())
        }
        status::EXISTS => Err(Error::Conflict(format!(
            "a branch named {new_name} already exists {}",
            if out.stdout.trim() == "local" { "in the checkout" } else { "on the remote" }
        ))),
        _ => Err(refused(
            "rename the branch",
            parse_push(&out.stdout, &format!("refs/heads/{new_name}")),
            &out,
        )),
    }
}

const PUSH_TAG: &str =
    remote_script!(r#"git push --porcelain origin "refs/tags/$TAG:refs/tags/$TAG""#);

/// Pushes the tag `tag` (made by [`create_tag`](super::create_tag)) to `origin`, signing in
/// with `remote`'s token; `remote.branch` plays no part.
///
/// Fails with [`Error::Conflict`] when the remote has a different tag of that name, and
/// [`Error::Upstream`] when it cannot be reached or refuses.
pub async fn push_tag(
    provider: &dyn Provider,
    sandbox_id: &str,
    remote: &Remote,
    tag: &str,
) -> Result<()> {
    refname::check_tag_name(tag).map_err(|m| Error::invalid("tag", m))?;
    let out = run(provider, sandbox_id, PUSH_TAG, &[("TAG", tag)], Some(remote)).await?;
    match parse_push(&out.stdout, &format!("refs/tags/{tag}")) {
        Some(RefUpdate::Updated | RefUpdate::UpToDate) => Ok(()),
        Some(RefUpdate::Refused(summary)) if summary.contains("already exists") => {
            Err(Error::Conflict(format!("the remote already has a different tag {tag}")))
        }
        other => Err(refused("push the tag", other, &out)),
    }
}

/// The error for a push the remote refused or git could not make.
fn refused(what: &str, update: Option<RefUpdate>, out: &Output) -> Error {
    match update {
        Some(RefUpdate::Refused(summary)) => {
            Error::Upstream(format!("the remote refused to {what}: {summary}\n{}", out.reason()))
        }
        _ => Error::Upstream(format!("could not {what}: {}", out.reason())),
    }
}
