//! Git's machine-readable output turned into values: `--raw --numstat -z` for a diff's
//! files, NUL-separated `--format` fields for history, `push --porcelain` for what a push
//! did to a ref. Pure functions, so every odd case is a unit test.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// How a file changed between two commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// One file of a diff, without its patch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path after the change (for a deleted file, the path it had).
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    pub status: ChangeStatus,
    /// Lines added and removed; both 0 for a binary file.
    pub added: u64,
    pub removed: u64,
    pub is_binary: bool,
}

/// One commit of a branch's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub hash: String,
    pub author_name: String,
    pub author_email: String,
    /// When it was authored.
    pub time: DateTime<Utc>,
    pub subject: String,
    /// The message after the subject, without the blank line between; may be empty.
    pub body: String,
}

/// The `--format` of [`parse_log`]: hash, author name, e-mail, time, subject and body,
/// each followed by a NUL under `-z`. Git refuses NULs inside a commit's message, so the
/// fields cannot run into each other.
pub const LOG_FORMAT: &str = "%H%x00%an%x00%ae%x00%at%x00%s%x00%b";
const LOG_FIELDS: usize = 6;

/// Parses `git diff --raw --numstat -z -M`: first one raw record per file
/// (`:modes ids STATUS\0path\0[new path\0]`), then one numstat record per file in the
/// same order (`added\tremoved\tpath\0`, or `added\tremoved\t\0old\0new\0` for a rename).
/// Returns `None` when the two halves do not agree, which means the output was not what
/// this parser expects.
pub fn parse_changes(output: &str) -> Option<Vec<FileChange>> {
    let mut fields = output.split('\0').peekable();
    let mut changes = Vec::new();
    while let Some(raw) = fields.next_if(|f| f.starts_with(':')) {
        let letter = raw.rsplit(' ').next()?.chars().next()?;
        let first = fields.next()?.to_owned();
        let (status, path, old_path) = match letter {
            'R' => (ChangeStatus::Renamed, fields.next()?.to_owned(), Some(first)),
            // A copy is a new file; which file it was copied from does not matter here.
            'C' => (ChangeStatus::Added, fields.next()?.to_owned(), None),
            'A' => (ChangeStatus::Added, first, None),
            'D' => (ChangeStatus::Deleted, first, None),
            _ => (ChangeStatus::Modified, first, None),
        };
        changes.push(FileChange { path, old_path, status, added: 0, removed: 0, is_binary: false });
    }
    for change in changes.iter_mut() {
        let numstat = fields.next()?;
        let mut parts = numstat.splitn(3, '\t');
        let (added, removed, path) = (parts.next()?, parts.next()?, parts.next()?);
        if path.is_empty() {
            // A rename or copy: both paths follow as fields of their own.
            fields.next()?;
            fields.next()?;
        }
        change.is_binary = added == "-" && removed == "-";
        change.added = added.parse().unwrap_or(0);
        change.removed = removed.parse().unwrap_or(0);
    }
    match fields.all(str::is_empty) {
        true => Some(changes),
        false => None,
    }
}

/// Splits a full `git diff` patch into one patch per file, in order: each starts at a
/// `diff --git ` line, which can open no line inside a hunk (those start with a space, `+`,
/// `-`, `\` or `@`).
pub fn split_patch(patch: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in patch.split_inclusive('\n') {
        if line.starts_with("diff --git ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| &patch[start..starts.get(i + 1).copied().unwrap_or(patch.len())])
        .collect()
}

/// Parses `git log -z --format=LOG_FORMAT`. Entries whose time is not a number are
/// skipped rather than invented.
pub fn parse_log(output: &str) -> Vec<LogEntry> {
    let fields: Vec<&str> = output.split('\0').collect();
    fields
        .chunks_exact(LOG_FIELDS)
        .filter_map(|f| {
            let seconds: i64 = f[3].trim().parse().ok()?;
            Some(LogEntry {
                hash: f[0].to_owned(),
                author_name: f[1].to_owned(),
                author_email: f[2].to_owned(),
                time: Utc.timestamp_opt(seconds, 0).single()?,
                subject: f[4].to_owned(),
                body: f[5].trim_end().to_owned(),
            })
        })
        .collect()
}

/// What `git push --porcelain` reports for one remote ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefUpdate {
    /// The remote already had this commit.
    UpToDate,
    /// Created, fast-forwarded, forced or deleted.
    Updated,
    /// Refused because the remote branch has commits the push does not contain.
    RemoteMoved,
    /// Refused because the remote is no longer where the lease said it was.
    StaleLease,
    /// Refused for another reason, in git's words.
    Refused(String),
}

/// Finds `remote_ref`'s line in `git push --porcelain` output
/// (`<flag>\t<from>:<to>\t<summary>`) and says what happened to it.
pub fn parse_push(output: &str, remote_ref: &str) -> Option<RefUpdate> {
    output.lines().find_map(|line| {
        let mut parts = line.splitn(3, '\t');
        let (flag, refs, summary) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
        let (_, to) = refs.rsplit_once(':')?;
        if to != remote_ref {
            return None;
        }
        Some(match flag {
            "=" => RefUpdate::UpToDate,
            " " | "+" | "-" | "*" => RefUpdate::Updated,
            _ if summary.contains("(fetch first)") || summary.contains("(non-fast-forward)") => {
                RefUpdate::RemoteMoved
            }
            _ if summary.contains("(stale info)") => RefUpdate::StaleLease,
            _ => RefUpdate::Refused(summary.trim().to_owned()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `--raw --numstat -z -M` output of a commit that adds, changes, deletes, renames
    /// (into a name with a space), changes a binary file and only a file's mode.
    const CHANGES: &str = concat!(
        ":000000 100644 0000000 3e75765 A\0added.txt\0",
        ":100644 100644 8352675 a903574 M\0bin.dat\0",
        ":100644 000000 286c5f5 0000000 D\0del.txt\0",
        ":100644 100644 0fdf397 83c4851 M\0keep.txt\0",
        ":100644 100755 28ce6a8 28ce6a8 M\0mode.sh\0",
        ":100644 100644 06e567b 535d2b0 R087\0old.txt\0new name.txt\0",
        "1\t0\tadded.txt\0",
        "-\t-\tbin.dat\0",
        "0\t1\tdel.txt\0",
        "1\t0\tkeep.txt\0",
        "0\t0\tmode.sh\0",
        "1\t0\t\0old.txt\0new name.txt\0",
    );

    fn change(path: &str, status: ChangeStatus, added: u64, removed: u64) -> FileChange {
        FileChange { path: path.into(), old_path: None, status, added, removed, is_binary: false }
    }

    #[test]
    fn every_kind_of_change_is_read_with_its_line_counts() {
        let changes = parse_changes(CHANGES).expect("the output parses");
        let renamed = FileChange {
            old_path: Some("old.txt".into()),
            ..change("new name.txt", ChangeStatus::Renamed, 1, 0)
        };
        let binary =
            FileChange { is_binary: true, ..change("bin.dat", ChangeStatus::Modified, 0, 0) };
        assert_eq!(
            changes,
            vec![
                change("added.txt", ChangeStatus::Added, 1, 0),
                binary,
                change("del.txt", ChangeStatus::Deleted, 0, 1),
                change("keep.txt", ChangeStatus::Modified, 1, 0),
                change("mode.sh", ChangeStatus::Modified, 0, 0),
                renamed,
            ]
        );
    }

    #[test]
    fn no_changes_is_an_empty_list() {
        assert_eq!(parse_changes(""), Some(vec![]));
    }

    #[test]
    fn paths_with_tabs_and_newlines_survive() {
        let output = ":100644 100644 a b M\0odd\tname\nx\0".to_owned() + "2\t3\todd\tname\nx\0";
        let changes = parse_changes(&output).expect("parses");
        assert_eq!(changes[0].path, "odd\tname\nx");
        assert_eq!((changes[0].added, changes[0].removed), (2, 3));
    }

    #[test]
    fn output_with_missing_numstat_records_is_rejected() {
        let output = ":100644 100644 a b M\0a.txt\0:100644 100644 a b M\0b.txt\0".to_owned()
            + "1\t0\ta.txt\0";
        assert_eq!(parse_changes(&output), None, "two files but one line count");
    }

    #[test]
    fn a_patch_splits_at_each_file_header_only() {
        let patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-diff --git a/y b/y\n+z\n\
                     diff --git a/y b/y\nBinary files a/y and b/y differ\n";
        let files = split_patch(patch);
        assert_eq!(files.len(), 2, "a removed line that reads like a header is not a header");
        assert!(files[0].ends_with("+z\n"), "{:?}", files[0]);
        assert_eq!(files[1], "diff --git a/y b/y\nBinary files a/y and b/y differ\n");
        assert!(split_patch("").is_empty());
    }

    #[test]
    fn log_entries_are_read_field_by_field() {
        let output =
            "634a\0Ada Lovelace\0ada@example.com\01796400662\0Add engine\0Long\nbody\n\n\0\
                      de1c\0Bob\0bob@example.com\01796400000\0Start\0\0";
        let entries = parse_log(output);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].hash, "634a");
        assert_eq!(entries[0].author_name, "Ada Lovelace");
        assert_eq!(entries[0].author_email, "ada@example.com");
        assert_eq!(entries[0].time.timestamp(), 1796400662);
        assert_eq!(entries[0].subject, "Add engine");
        assert_eq!(entries[0].body, "Long\nbody");
        assert_eq!((entries[1].subject.as_str(), entries[1].body.as_str()), ("Start", ""));
        assert!(parse_log("").is_empty());
    }

    #[test]
    fn push_lines_say_what_happened_to_the_branch() {
        let push = |line: &str| parse_push(&format!("To /r.git\n{line}\nDone\n"), "refs/heads/b");
        assert_eq!(push("=\tHEAD:refs/heads/b\t[up to date]"), Some(RefUpdate::UpToDate));
        assert_eq!(push(" \tHEAD:refs/heads/b\t2b6c74e..d82b279"), Some(RefUpdate::Updated));
        assert_eq!(push("*\tHEAD:refs/heads/b\t[new branch]"), Some(RefUpdate::Updated));
        assert_eq!(push("+\tHEAD:refs/heads/b\ta...b (forced update)"), Some(RefUpdate::Updated));
        assert_eq!(push("-\t:refs/heads/b\t[deleted]"), Some(RefUpdate::Updated));
        assert_eq!(
            push("!\tHEAD:refs/heads/b\t[rejected] (fetch first)"),
            Some(RefUpdate::RemoteMoved)
        );
        assert_eq!(
            push("!\tHEAD:refs/heads/b\t[rejected] (non-fast-forward)"),
            Some(RefUpdate::RemoteMoved)
        );
        assert_eq!(
            push("!\tHEAD:refs/heads/b\t[rejected] (stale info)"),
            Some(RefUpdate::StaleLease)
        );
        assert_eq!(
            push("!\tHEAD:refs/heads/b\t[remote rejected] (protected branch)"),
            Some(RefUpdate::Refused("[remote rejected] (protected branch)".into()))
        );
        assert_eq!(push("=\tHEAD:refs/heads/other\t[up to date]"), None, "another ref");
    }
}
