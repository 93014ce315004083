//! Names and paths checked before they reach git: branch and tag names against git's own
//! rules (`git check-ref-format --branch`), any ref a request may name, and paths inside a
//! repository. A name is refused with a reason a person can act on.
//!
//! These values reach git's scripts through the environment, never spliced into their
//! text, and the checks are stricter than git on purpose: a name starting with `-` would be
//! read as an option among git's arguments, and one holding shell syntax would turn
//! dangerous the day some code splices it, so neither gets that far.

/// Checks that `name` may name a branch, and says why not when it may not.
pub fn check_branch_name(name: &str) -> Result<(), String> {
    check_name(name, "a branch name")
}

/// Checks that `name` may name a tag, and says why not when it may not. Tags follow the
/// same rules as branches.
pub fn check_tag_name(name: &str) -> Result<(), String> {
    check_name(name, "a tag name")
}

/// Checks a ref a request names: `HEAD`, a commit id of 4 to 40 hex digits, a
/// remote-tracking branch (`origin/feature`) or a branch or tag name. Revision syntax
/// (`HEAD~1`, `@{-1}`, `a..b`) is refused: a request names one thing, and git never gets
/// to interpret it as something else.
pub fn check_ref(reference: &str) -> Result<(), String> {
    if reference == "HEAD" || is_commit_id(reference) {
        return Ok(());
    }
    check_name(reference, "a ref")
}

/// Whether `text` looks like an abbreviated or full commit id.
pub fn is_commit_id(text: &str) -> bool {
    (4..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a path inside a repository, as git prints it (`src/main.rs`): not empty, not
/// absolute, no `..` part and no control characters. Spaces and other characters a file
/// name may hold are accepted.
pub fn check_repo_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("a path cannot be empty".into());
    }
    if path.len() > 4096 {
        return Err("a path can be at most 4096 characters".into());
    }
    if path.starts_with('/') {
        return Err("a path must be relative to the repository, not start with '/'".into());
    }
    if path.chars().any(char::is_control) {
        return Err("a path cannot contain control characters".into());
    }
    if path.split('/').any(|part| part == "..") {
        return Err("a path cannot contain '..' parts".into());
    }
    Ok(())
}

/// The rules shared by every name; `what` starts each reason ("a tag name cannot …").
fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} cannot be empty"));
    }
    if name.len() > 200 {
        return Err(format!("{what} can be at most 200 characters"));
    }
    if name.starts_with('-') {
        return Err(format!("{what} cannot start with '-'"));
    }
    if name == "HEAD" || name == "@" {
        return Err(format!("'{name}' is reserved by git"));
    }
    if let Some(c) = name.chars().find(|c| is_forbidden(*c)) {
        return Err(match c {
            ' ' => format!("{what} cannot contain spaces"),
            c if c.is_control() => format!("{what} cannot contain control characters"),
            c => format!("{what} cannot contain '{c}'"),
        });
    }
    if name.contains("..") {
        return Err(format!("{what} cannot contain '..'"));
    }
    if name.contains("@{") {
        return Err(format!("{what} cannot contain '@{{'"));
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(format!("{what} cannot start or end with '/' or contain '//'"));
    }
    if name.ends_with('.') {
        return Err(format!("{what} cannot end with '.'"));
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return Err(format!("no part of {what} can start with '.'"));
        }
        if part.ends_with(".lock") {
            return Err(format!("no part of {what} can end with '.lock'"));
        }
    }
    Ok(())
}

/// Characters git refuses in refs, and shell syntax git would allow but no sensible name
/// needs.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            ' ' | '~'
                | '^'
                | ':'
                | '?'
                | '*'
                | '['
                | '\\'
                | ';'
                | '$'
                | '`'
                | '|'
                | '&'
                | '<'
                | '>'
                | '\''
                | '"'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in ["main", "feature/login", "fix-42", "release/v1.2", "agent/swift_lunar"] {
            assert_eq!(check_branch_name(name), Ok(()), "{name} should be accepted");
        }
    }

    #[test]
    fn names_git_refuses_are_refused_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("-x", "'-'"),
            ("--upload-pack=x", "'-'"),
            ("a b", "spaces"),
            ("a..b", "'..'"),
            ("../x", "'..'"),
            ("a~1", "'~'"),
            ("a^", "'^'"),
            ("a:b", "':'"),
            ("a?", "'?'"),
            ("a*", "'*'"),
            ("a[b", "'['"),
            ("a\\b", "'\\'"),
            ("@{-1}", "'@{'"),
            ("/a", "'/'"),
            ("a/", "'/'"),
            ("a//b", "'//'"),
            ("a.", "end with '.'"),
            ("x/.hidden", "start with '.'"),
            ("a.lock", ".lock"),
            ("HEAD", "reserved"),
            ("a\tb", "control"),
        ];
        for (name, reason) in cases {
            let err = check_branch_name(name).expect_err(&format!("{name:?} should be refused"));
            assert!(err.contains(reason), "{name:?}: reason {err:?} should mention {reason}");
        }
    }

    #[test]
    fn shell_syntax_in_a_branch_name_is_refused() {
        for (name, c) in [("a;b", ";"), ("$(id)", "$"), ("a`id`", "`"), ("a|b", "|"), ("a&b", "&")]
        {
            let err = check_branch_name(name).expect_err(&format!("{name:?} should be refused"));
            assert!(err.contains(&format!("'{c}'")), "{name:?}: reason {err:?} should name {c}");
        }
    }

    #[test]
    fn tag_names_follow_the_branch_rules_and_say_they_are_tags() {
        assert_eq!(check_tag_name("v1.2.0"), Ok(()));
        assert_eq!(check_tag_name("release/2024-05"), Ok(()));
        for name in ["--upload-pack=x", "a;b", "../x", "@{-1}", "v 1", "v1\n"] {
            let err = check_tag_name(name).expect_err(&format!("{name:?} should be refused"));
            assert!(err.starts_with("a tag name") || err.contains("reserved"), "{err}");
        }
    }

    #[test]
    fn refs_may_be_head_commit_ids_remote_branches_or_names() {
        for reference in
            ["HEAD", "abcd", "0123456789abcdef0123456789abcdef01234567", "origin/main", "v1.0"]
        {
            assert_eq!(check_ref(reference), Ok(()), "{reference} should be accepted");
        }
    }

    #[test]
    fn revision_syntax_and_options_are_refused_as_refs() {
        let cases = [
            ("--upload-pack=x", "'-'"),
            ("-n", "'-'"),
            ("a;b", "';'"),
            ("@{-1}", "'@{'"),
            ("main@{1}", "'@{'"),
            ("HEAD~1", "'~'"),
            ("main^2", "'^'"),
            ("a..b", "'..'"),
            ("../x", "'..'"),
            ("a b", "spaces"),
            ("x\u{7f}", "control"),
            ("", "empty"),
        ];
        for (reference, reason) in cases {
            let err = check_ref(reference).expect_err(&format!("{reference:?} should be refused"));
            assert!(err.starts_with("a ref"), "{reference:?}: {err:?} should speak of a ref");
            assert!(err.contains(reason), "{reference:?}: reason {err:?} should mention {reason}");
        }
    }

    #[test]
    fn commit_ids_are_four_to_forty_hex_digits() {
        assert!(is_commit_id("abc1"));
        assert!(is_commit_id(&"f".repeat(40)));
        assert!(!is_commit_id("abc"), "three digits are too few to name a commit");
        assert!(!is_commit_id(&"f".repeat(41)), "no id is longer than forty digits");
        assert!(!is_commit_id("abcg"), "g is not a hex digit");
    }

    #[test]
    fn repository_paths_are_relative_and_stay_inside() {
        for path in ["src/main.rs", "docs/My Notes.md", "a;b.txt", "-dash.txt", ".github/x.yml"] {
            assert_eq!(check_repo_path(path), Ok(()), "{path} should be accepted");
        }
        let cases = [
            ("", "empty"),
            ("/etc/passwd", "'/'"),
            ("../x", "'..'"),
            ("a/../../b", "'..'"),
            ("a\nb", "control"),
        ];
        for (path, reason) in cases {
            let err = check_repo_path(path).expect_err(&format!("{path:?} should be refused"));
            assert!(err.contains(reason), "{path:?}: reason {err:?} should mention {reason}");
        }
    }
}
