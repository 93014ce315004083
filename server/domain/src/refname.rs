//! Branch names checked against git's own rules (`git check-ref-format --branch`), so that
//! a name is refused with a reason before it reaches git or a URL.

/// Checks that `name` may name a branch, and says why not when it may not.
pub fn check_branch_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a branch name cannot be empty".into());
    }
    if name.len() > 200 {
        return Err("a branch name can be at most 200 characters".into());
    }
    if name.starts_with('-') {
        return Err("a branch name cannot start with '-'".into());
    }
    if name == "HEAD" || name == "@" {
        return Err(format!("'{name}' is reserved by git"));
    }
    if let Some(c) = name.chars().find(|c| is_forbidden(*c)) {
        return Err(match c {
            ' ' => "a branch name cannot contain spaces".into(),
            c if c.is_control() => "a branch name cannot contain control characters".into(),
            c => format!("a branch name cannot contain '{c}'"),
        });
    }
    if name.contains("..") {
        return Err("a branch name cannot contain '..'".into());
    }
    if name.contains("@{") {
        return Err("a branch name cannot contain '@{'".into());
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err("a branch name cannot start or end with '/' or contain '//'".into());
    }
    if name.ends_with('.') {
        return Err("a branch name cannot end with '.'".into());
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return Err("no part of a branch name can start with '.'".into());
        }
        if part.ends_with(".lock") {
            return Err("no part of a branch name can end with '.lock'".into());
        }
    }
    Ok(())
}

fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
}

#[cfg(test)]
mod tests {
    use super::check_branch_name;

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
    fn shell_characters_git_allows_are_accepted() {
        // Git allows ';' and '$' in refs; they are harmless because git is only ever
        // started with an argument list, never through a shell.
        assert_eq!(check_branch_name("a;b"), Ok(()));
    }
}
