//! Committing everything the agent changed, and the messages for such commits.

use serde::{Deserialize, Serialize};

use super::parse::{parse_changes, ChangeStatus, FileChange};
use super::{head_state, local_script, nul_list, run, status};
use crate::sandbox::Provider;
use crate::{Error, Result};

/// A commit just made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub hash: String,
    pub subject: String,
}

/// The longest subject line these functions produce, by git's own convention.
const SUBJECT_MAX: usize = 72;

// `git add` would take files still holding conflict markers as resolved.
const STAGE: &str = local_script!(
    r#"if git ls-files --unmerged | grep -q .; then
  git diff --name-only --diff-filter=U -z
  exit 66
fi
git add --all && git diff --cached --raw --numstat -z -M --no-ext-diff --no-textconv"#
);

const COMMIT: &str = local_script!(
    r#"git commit --quiet --cleanup=strip -m "$MESSAGE" && git log -1 --format='%H%x00%s'"#
);

/// Stages every change in the checkout (new, changed and deleted files, as `git add -A`)
/// and commits it with `message`, or, when that is `None` or blank, with one made from the
/// changed files by [`message_for_changes`]. Returns `None` when nothing changed. A merge
/// whose conflicts were all resolved is concluded by this commit.
///
/// Fails with [`Error::Invalid`] for a message holding a NUL; with [`Error::Conflict`]
/// while a rebase, cherry-pick or revert is under way or files still have unresolved
/// conflicts (named in the message); with [`Error::Upstream`] when git refuses (no
/// identity configured, a broken index) or the sandbox cannot run it.
pub async fn commit_all(
    provider: &dyn Provider,
    sandbox_id: &str,
    message: Option<&str>,
) -> Result<Option<Commit>> {
    let message = message.filter(|m| !m.trim().is_empty());
    if message.is_some_and(|m| m.contains('\0')) {
        return Err(Error::invalid("message", "a commit message cannot contain NUL characters"));
    }

    if let Some(operation) = head_state(provider, sandbox_id).await?.operation {
        if operation != "merge" {
            return Err(Error::Conflict(format!(
                "a {operation} is in progress in the checkout; finish or abort it before committing"
            )));
        }
    }
    let staged = run(provider, sandbox_id, STAGE, &[], None).await?;
    if staged.code == status::CONFLICTED {
        return Err(Error::Conflict(format!(
            "these files still have unresolved conflicts: {}; resolve them or abort",
            nul_list(&staged.stdout).join(", ")
        )));
    }
    if staged.code != 0 {
        return Err(Error::Upstream(format!("could not stage the changes: {}", staged.reason())));
    }
    let changes = parse_changes(&staged.stdout).ok_or_else(|| {
        Error::Internal("git listed the staged changes in an unknown form".into())
    })?;
    if changes.is_empty() {
        return Ok(None);
    }

    let message = message.map_or_else(|| message_for_changes(&changes), str::to_owned);
    let out = run(provider, sandbox_id, COMMIT, &[("MESSAGE", &message)], None).await?;
    if out.code != 0 {
        return Err(Error::Upstream(format!("could not commit: {}", out.reason())));
    }
    let (hash, subject) = out
        .stdout
        .trim_end()
        .split_once('\0')
        .ok_or_else(|| Error::Internal("git did not print the commit it made".into()))?;
    tracing::debug!(
        sandbox = %sandbox_id,
        commit = %hash,
        files = changes.len(),
        "committed changes"
    );
    Ok(Some(Commit { hash: hash.to_owned(), subject: subject.to_owned() }))
}

/// A short subject describing `changes`, for when the agent summarised nothing:
/// "Update src/main.rs", "Add a.rs and b.rs", "Update src/main.rs and 2 other files",
/// "Rename old.txt to new.txt". Paths shorten to file names when the full paths would
/// not fit in 72 characters.
pub fn message_for_changes(changes: &[FileChange]) -> String {
    let Some(first) = changes.first() else {
        return "Update files".to_owned();
    };
    let verb = match first.status {
        status if changes.iter().all(|c| c.status == status) => match status {
            ChangeStatus::Added => "Add",
            ChangeStatus::Deleted => "Delete",
            ChangeStatus::Renamed => "Rename",
            ChangeStatus::Modified => "Update",
        },
        _ => "Update",
    };
    let describe = |name: fn(&str) -> &str| match changes {
        [one] if one.status == ChangeStatus::Renamed => {
            let old = one.old_path.as_deref().unwrap_or_default();
            format!("Rename {} to {}", name(old), name(&one.path))
        }
        [one] => format!("{verb} {}", name(&one.path)),
        [a, b] => format!("{verb} {} and {}", name(&a.path), name(&b.path)),
        [a, rest @ ..] => format!("{verb} {} and {} other files", name(&a.path), rest.len()),
        [] => unreachable!("an empty list returned above"),
    };
    let full = describe(|path| path);
    let subject = match full.chars().count() <= SUBJECT_MAX {
        true => full,
        false => shorten(&describe(|path| path.rsplit('/').next().unwrap_or(path))),
    };
    // A file name may hold a newline, which would end the subject early.
    subject.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Turns an agent's closing summary into a commit subject: its first line with text,
/// without markdown heading, list or emphasis marks, its spaces collapsed, and cut at a
/// word to at most 72 characters (ending in "…" when cut). `None` when it holds no text.
pub fn subject_from_summary(summary: &str) -> Option<String> {
    let line = summary.lines().map(strip_markdown).find(|line| !line.is_empty())?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some(shorten(&words.join(" ")))
}

fn strip_markdown(line: &str) -> &str {
    let line = line.trim().trim_start_matches('#').trim_start();
    if matches!(line, "-" | "*" | "+" | ">") {
        return "";
    }
    let line = ["- ", "* ", "+ ", "> "]
        .iter()
        .find_map(|bullet| line.strip_prefix(bullet))
        .unwrap_or(line)
        .trim();
    ["**", "__"]
        .iter()
        .find_map(|mark| line.strip_prefix(mark).and_then(|l| l.strip_suffix(mark)))
        .unwrap_or(line)
        .trim()
}

/// `text` cut at a word boundary to fit [`SUBJECT_MAX`] characters, "…" marking the cut.
fn shorten(text: &str) -> String {
    if text.chars().count() <= SUBJECT_MAX {
        return text.to_owned();
    }
    let room: String = text.chars().take(SUBJECT_MAX - 1).collect();
    let cut = match room.rfind(' ') {
        Some(space) if space > SUBJECT_MAX / 2 => &room[..space],
        _ => &room,
    };
    format!("{}…", cut.trim_end_matches([' ', ',', ';', ':', '.']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, status: ChangeStatus) -> FileChange {
        FileChange {
            path: path.into(),
            old_path: None,
            status,
            added: 1,
            removed: 0,
            is_binary: false,
        }
    }

    #[test]
    fn one_changed_file_is_named() {
        let changes = [change("src/main.rs", ChangeStatus::Modified)];
        assert_eq!(message_for_changes(&changes), "Update src/main.rs");
    }

    #[test]
    fn two_files_are_both_named_and_more_are_counted() {
        let two = [change("a.rs", ChangeStatus::Added), change("b.rs", ChangeStatus::Added)];
        assert_eq!(message_for_changes(&two), "Add a.rs and b.rs");
        let three = [
            change("src/main.rs", ChangeStatus::Modified),
            change("README.md", ChangeStatus::Added),
            change("old.txt", ChangeStatus::Deleted),
        ];
        assert_eq!(message_for_changes(&three), "Update src/main.rs and 2 other files");
    }

    #[test]
    fn a_single_rename_names_both_paths() {
        let renamed = FileChange {
            old_path: Some("old.txt".into()),
            ..change("new.txt", ChangeStatus::Renamed)
        };
        assert_eq!(message_for_changes(&[renamed]), "Rename old.txt to new.txt");
    }

    #[test]
    fn long_paths_shorten_to_file_names() {
        let deep = "very/deeply/nested/directory/structure/that/goes/on/and/on/lib.rs";
        let changes =
            [change(deep, ChangeStatus::Deleted), change("x/y.rs", ChangeStatus::Deleted)];
        assert_eq!(message_for_changes(&changes), "Delete lib.rs and y.rs");
    }

    #[test]
    fn control_characters_in_file_names_stay_out_of_the_subject() {
        let changes = [change("odd\nname.txt", ChangeStatus::Added)];
        assert_eq!(message_for_changes(&changes), "Add odd?name.txt");
    }

    #[test]
    fn a_summary_s_first_line_with_text_becomes_the_subject() {
        let summary = "\n\n## **Fixed the login redirect**\n\nThe callback now keeps the path.";
        assert_eq!(subject_from_summary(summary).as_deref(), Some("Fixed the login redirect"));
        assert_eq!(subject_from_summary("- Added   tests  ").as_deref(), Some("Added tests"));
    }

    #[test]
    fn a_long_summary_is_cut_at_a_word_within_72_characters() {
        let summary = "Refactored the session store so that expired sessions are removed by a \
                       background task instead of on every request";
        let subject = subject_from_summary(summary).expect("a subject");
        assert!(subject.chars().count() <= 72, "{subject:?} is too long");
        assert!(subject.ends_with("by a…") || subject.ends_with('…'), "{subject:?}");
        assert!(summary.starts_with(subject.trim_end_matches('…')), "cut at a word: {subject:?}");
    }

    #[test]
    fn a_summary_without_text_gives_no_subject() {
        assert_eq!(subject_from_summary(""), None);
        assert_eq!(subject_from_summary("  \n## \n- \n"), None);
    }
}
