//! Read-only views of the checkout: what changed between two commits, file by file with
//! patches, and the history of a ref, a page at a time.

use serde::{Deserialize, Serialize};

use super::parse::{parse_changes, parse_log, split_patch, FileChange, LogEntry, LOG_FORMAT};
use super::{local_script, run, status, valid_ref};
use crate::refname;
use crate::sandbox::Provider;
use crate::{Error, Result};

/// The largest patch of one file [`diff`] includes; larger ones are left out, to be
/// fetched one at a time with [`file_diff`].
pub const PATCH_LIMIT: usize = 256 * 1024;
/// The largest patch [`file_diff`] returns.
pub const FILE_PATCH_LIMIT: usize = 5 * 1024 * 1024;
/// How much patch text [`diff`] reads at most; files past it are left out like large ones.
const DIFF_READ_LIMIT: usize = 8 * 1024 * 1024;
/// The most commits one page of [`log`] holds.
const LOG_PAGE_MAX: u32 = 500;

/// One file of a diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    pub file: FileChange,
    /// Its unified patch; `None` when the patch was over [`PATCH_LIMIT`] (or came after
    /// too much patch text), so the view offers to load it with [`file_diff`].
    pub patch: Option<String>,
}

/// One page of a ref's history, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Whether older commits follow this page.
    pub has_more: bool,
}

/// Options shared by every diff here: explicit, so that whatever the checkout's
/// configuration says (colours, external diff programs, text conversion, prefixes), the
/// output is plain git that the parsers understand.
const SUMMARY: &str = local_script!(
    r#"for ref in "$FROM" "$TO"; do
  git rev-parse --quiet --verify "$ref^{commit}" >/dev/null || { printf '%s' "$ref"; exit 64; }
done
git diff --raw --numstat -z -M --no-color --no-ext-diff --no-textconv "$FROM" "$TO" --"#
);

const PATCHES: &str = local_script!(
    r#"git diff -M --no-color --no-ext-diff --no-textconv --src-prefix=a/ --dst-prefix=b/ \
  "$FROM" "$TO" -- | head -c "$READ_LIMIT""#
);

const FILE_PATCH: &str = local_script!(
    r#"git diff -M --no-color --no-ext-diff --no-textconv --src-prefix=a/ --dst-prefix=b/ \
  "$FROM" "$TO" -- "$FILE" ${OLD_FILE:+"$OLD_FILE"} | head -c "$READ_LIMIT""#
);

/// The files that differ between `from` and `to` (branches, tags, `origin/<branch>`,
/// commit ids or `HEAD`), in git's order, each with its line counts and its patch.
///
/// Fails with [`Error::Invalid`] for a ref that is malformed or names no commit.
pub async fn diff(
    provider: &dyn Provider,
    sandbox_id: &str,
    from: &str,
    to: &str,
) -> Result<Vec<FileDiff>> {
    let changes = changes(provider, sandbox_id, from, to).await?;
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let read_limit = DIFF_READ_LIMIT.to_string();
    let env = [("FROM", from), ("TO", to), ("READ_LIMIT", read_limit.as_str())];
    let out = run(provider, sandbox_id, PATCHES, &env, None).await?;
    let patches = split_patch(&out.stdout);
    let is_cut = out.stdout.len() >= DIFF_READ_LIMIT;
    let agrees = patches.len() == changes.len() || (is_cut && patches.len() <= changes.len());
    if !agrees {
        tracing::warn!(
            sandbox = %sandbox_id,
            files = changes.len(),
            patches = patches.len(),
            "patches do not match the diff's files; leaving them out"
        );
    }
    let last = patches.len().saturating_sub(1);
    Ok(changes
        .into_iter()
        .enumerate()
        .map(|(i, file)| {
            let patch = patches
                .get(i)
                .filter(|p| agrees && p.len() <= PATCH_LIMIT && !(is_cut && i == last))
                .map(|p| (*p).to_owned());
            FileDiff { file, patch }
        })
        .collect())
}

/// The patch of one file between `from` and `to`, as [`diff`] would show it (a renamed
/// file is named by its new path), for a patch [`diff`] left out.
///
/// Fails with [`Error::Invalid`] for a bad ref or path, [`Error::NotFound`] when the file
/// did not change, and [`Error::Invalid`] when its patch is over [`FILE_PATCH_LIMIT`].
// Limitation: patches over FILE_PATCH_LIMIT cannot be seen in the workspace at all; the
// file has to be looked at in the sandbox's command box or after pushing.
pub async fn file_diff(
    provider: &dyn Provider,
    sandbox_id: &str,
    from: &str,
    to: &str,
    path: &str,
) -> Result<String> {
    refname::check_repo_path(path).map_err(|m| Error::invalid("path", m))?;
    let changes = changes(provider, sandbox_id, from, to).await?;
    let file = changes.iter().find(|c| c.path == path).ok_or(Error::NotFound("changed file"))?;
    let read_limit = (FILE_PATCH_LIMIT + 1).to_string();
    let old_path = file.old_path.as_deref().unwrap_or_default();
    let env = [
        ("FROM", from),
        ("TO", to),
        ("FILE", path),
        ("OLD_FILE", old_path),
        ("READ_LIMIT", read_limit.as_str()),
    ];
    let out = run(provider, sandbox_id, FILE_PATCH, &env, None).await?;
    if out.stdout.len() > FILE_PATCH_LIMIT {
        return Err(Error::invalid(
            "path",
            format!("the changes to {path} are over 5 MB, too large to show"),
        ));
    }
    Ok(out.stdout)
}

/// The changed files between two refs, checked first.
async fn changes(
    provider: &dyn Provider,
    sandbox_id: &str,
    from: &str,
    to: &str,
) -> Result<Vec<FileChange>> {
    valid_ref("from", from)?;
    valid_ref("to", to)?;
    let out = run(provider, sandbox_id, SUMMARY, &[("FROM", from), ("TO", to)], None).await?;
    match out.code {
        0 => parse_changes(&out.stdout).ok_or_else(|| {
            Error::Internal("git listed the changed files in an unknown form".into())
        }),
        status::UNKNOWN_REF => {
            let field = if out.stdout == from { "from" } else { "to" };
            Err(Error::invalid(
                field,
                format!("{} does not name a commit in this checkout", out.stdout),
            ))
        }
        _ => Err(Error::Upstream(format!("could not compare: {}", out.reason()))),
    }
}

const LOG: &str = local_script!(
    r#"git rev-parse --quiet --verify "$REF^{commit}" >/dev/null || exit 64
git log -z --no-color --no-show-signature --encoding=UTF-8 \
  "--format=$FORMAT" "--skip=$SKIP" "--max-count=$COUNT" "$REF" --"#
);

/// Up to `limit` (1 to 500) commits of `reference`'s history after skipping the `skip`
/// newest, newest first; `has_more` says whether another page follows.
///
/// Fails with [`Error::Invalid`] for a limit out of range, or a ref that is malformed or
/// names no commit.
pub async fn log(
    provider: &dyn Provider,
    sandbox_id: &str,
    reference: &str,
    skip: u32,
    limit: u32,
) -> Result<LogPage> {
    valid_ref("ref", reference)?;
    if !(1..=LOG_PAGE_MAX).contains(&limit) {
        return Err(Error::invalid("limit", "ask for 1 to 500 commits at a time"));
    }
    // One more than asked for tells whether another page follows.
    let (skip, count) = (skip.to_string(), (limit + 1).to_string());
    let env = [("REF", reference), ("FORMAT", LOG_FORMAT), ("SKIP", &skip), ("COUNT", &count)];
    let out = run(provider, sandbox_id, LOG, &env, None).await?;
    match out.code {
        0 => {
            let mut entries = parse_log(&out.stdout);
            let has_more = entries.len() > limit as usize;
            entries.truncate(limit as usize);
            Ok(LogPage { entries, has_more })
        }
        status::UNKNOWN_REF => Err(Error::invalid(
            "ref",
            format!("{reference} does not name a commit in this checkout"),
        )),
        _ => Err(Error::Upstream(format!("could not read the history: {}", out.reason()))),
    }
}
