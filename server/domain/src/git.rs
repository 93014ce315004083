//! Talking to git remotes with the real git binary.
//!
//! Git is always started with an argument list, never a shell string, with prompts
//! disabled and only ordinary transports allowed, so a clone URL from a user can neither
//! inject options nor hang waiting for a password.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::{Error, Result};

/// How long a remote may take to answer before we give up on it.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// What `git ls-remote` tells about a remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHeads {
    /// The branch the remote's HEAD points at, when it has one.
    pub default_branch: Option<String>,
    /// Every branch, sorted by name.
    pub branches: Vec<String>,
}

/// Where a plain git repository lives, split into the names the workspace shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneSource {
    pub url: String,
    pub owner: String,
    pub name: String,
}

/// Checks a clone URL or local path and derives an owner and a name from it.
///
/// Accepts `https://`, `http://`, `ssh://`, `git://`, `file://`, scp-like `user@host:path`
/// and absolute local paths (which must exist).
pub fn parse_clone_source(input: &str) -> Result<CloneSource> {
    let url = input.trim();
    let invalid = |message: &str| Error::invalid("url", message);
    if url.is_empty() {
        return Err(invalid("enter a clone URL or a local path"));
    }
    if url.starts_with('-') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("a clone URL cannot start with '-' or contain spaces"));
    }
    let path = if let Some(rest) = url.strip_prefix("file://") {
        local_path(rest)?
    } else if url.starts_with('/') {
        local_path(url)?
    } else if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git") {
            return Err(invalid("use an https, http, ssh, git or file URL, or a local path"));
        }
        let (_host, path) = rest.split_once('/').ok_or_else(|| invalid("the URL has no path"))?;
        path.to_owned()
    } else if let Some((_user_host, path)) =
        url.split_once(':').filter(|(_, p)| !p.starts_with(':'))
    {
        path.to_owned()
    } else {
        return Err(invalid("use an https, http, ssh, git or file URL, or a local path"));
    };

    let mut parts = path.trim_end_matches('/').rsplit('/').filter(|p| !p.is_empty());
    let name = parts.next().map(|n| n.trim_end_matches(".git")).unwrap_or_default();
    let owner = parts.next().unwrap_or("local");
    if name.is_empty() {
        return Err(invalid("the URL does not name a repository"));
    }
    Ok(CloneSource { url: url.to_owned(), owner: slug(owner), name: slug(name) })
}

fn local_path(path: &str) -> Result<String> {
    if !Path::new(path).is_absolute() {
        return Err(Error::invalid("url", "a local path must be absolute"));
    }
    if !Path::new(path).exists() {
        return Err(Error::invalid("url", format!("{path} does not exist on the server")));
    }
    Ok(path.to_owned())
}

/// Keeps a name usable in a URL path segment.
fn slug(part: &str) -> String {
    part.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect()
}

/// Lists the branches of a remote and the branch its HEAD points at.
///
/// Fails with [`Error::Upstream`] when the remote cannot be reached or is not a git
/// repository, quoting git's own first line of complaint.
pub async fn remote_heads(url: &str) -> Result<RemoteHeads> {
    let mut command = git();
    command.args(["ls-remote", "--symref", "--", url, "HEAD", "refs/heads/*"]);
    let output = tokio::time::timeout(REMOTE_TIMEOUT, command.output())
        .await
        .map_err(|_| Error::Upstream(format!("{url} did not answer within 30 seconds")))?
        .map_err(|e| Error::Internal(format!("cannot start git: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no reason given");
        return Err(Error::Upstream(format!("git could not read {url}: {}", reason.trim())));
    }
    Ok(parse_ls_remote(&String::from_utf8_lossy(&output.stdout)))
}

fn parse_ls_remote(text: &str) -> RemoteHeads {
    let mut heads = RemoteHeads { default_branch: None, branches: Vec::new() };
    for line in text.lines() {
        if let Some(symref) = line.strip_prefix("ref: ") {
            let target = symref.split('\t').next().unwrap_or_default();
            heads.default_branch = target.strip_prefix("refs/heads/").map(str::to_owned);
        } else if let Some((_sha, name)) = line.split_once('\t') {
            if let Some(branch) = name.strip_prefix("refs/heads/") {
                heads.branches.push(branch.to_owned());
            }
        }
    }
    heads.branches.sort();
    heads
}

/// A git command that never prompts, reads no user configuration and uses only ordinary
/// transports.
pub fn git() -> Command {
    let mut command = Command::new("git");
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_sources_yield_owner_and_name() {
        let cases = [
            ("https://gitlab.com/acme/widgets.git", "acme", "widgets"),
            ("git@example.org:team/tool.git", "team", "tool"),
            ("ssh://git@host/x/y", "x", "y"),
            ("/tmp", "local", "tmp"),
        ];
        for (url, owner, name) in cases {
            let source = parse_clone_source(url).unwrap();
            assert_eq!((source.owner.as_str(), source.name.as_str()), (owner, name), "{url}");
        }
    }

    #[test]
    fn dangerous_or_unknown_sources_are_refused() {
        for url in [
            "",
            "--upload-pack=touch /tmp/x",
            "ext::sh -c id",
            "relative/path",
            "/no/such/dir",
            "ext::x",
        ] {
            assert!(parse_clone_source(url).is_err(), "{url:?} should be refused");
        }
    }

    #[test]
    fn ls_remote_output_gives_default_and_sorted_branches() {
        let text =
            "ref: refs/heads/main\tHEAD\nabc\tHEAD\nabc\trefs/heads/main\ndef\trefs/heads/dev\n";
        let heads = parse_ls_remote(text);
        assert_eq!(heads.default_branch.as_deref(), Some("main"));
        assert_eq!(heads.branches, vec!["dev", "main"]);
    }
}
