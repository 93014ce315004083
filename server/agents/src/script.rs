//! Installing a CLI where only a shell reaches: a remote sandbox.

use crate::{shell_quote, Agent};

/// The flags of every `npm install` of a CLI: quiet, and no calls beyond the packages.
pub(crate) const NPM_FLAGS: [&str; 3] = ["--no-audit", "--no-fund", "--loglevel=error"];

/// The npm cache under the tools root, shared by every install there.
pub(crate) const NPM_CACHE: &str = ".npm-cache";

/// A home for the install scripts. OpenCode's runs the CLI once, which creates its config
/// and data directories; they land here instead of in the home of whoever installs.
pub(crate) const INSTALL_HOME: &str = ".install-home";

/// The start of the name of an unfinished install's directory under the tools root.
pub(crate) fn staging_prefix(agent: Agent) -> String {
    format!(".staging-{}-", agent.install_dir())
}

/// A bash snippet that installs the pinned `agent` under `tools_root` the way
/// [`crate::Tools::ensure`] does, and does nothing when it is installed already. It runs
/// in a subshell, so it can be joined to other commands; it fails when the install fails.
pub fn install_script(agent: Agent, tools_root: &str) -> String {
    let trimmed = tools_root.trim_end_matches('/');
    let root = if trimmed.is_empty() { "/" } else { trimmed };
    let quoted = |path: String| shell_quote(&path);
    let program = quoted(agent.program(tools_root));
    let dir = quoted(format!("{trimmed}/{}", agent.install_dir()));
    let staging = quoted(format!("{trimmed}/{}XXXXXX", staging_prefix(agent)));
    let cache = quoted(format!("{trimmed}/{NPM_CACHE}"));
    let home = format!("{trimmed}/{INSTALL_HOME}");
    let xdg = ["config", "data", "cache", "state"]
        .map(|kind| {
            format!("XDG_{}_HOME={}", kind.to_uppercase(), quoted(format!("{home}/{kind}")))
        })
        .join(" ");
    let spec = shell_quote(&format!("{}@{}", agent.package(), agent.version()));
    let flags = NPM_FLAGS.join(" ");
    let root = shell_quote(root);
    let label = agent.label();
    format!(
        r#"(
set -eu
program={program}
if [ ! -x "$program" ]; then
  mkdir -p {root}
  staging=$(mktemp -d {staging})
  chmod 755 "$staging"
  export npm_config_cache={cache} npm_config_update_notifier=false {xdg}
  if ! npm install --prefix "$staging" {flags} {spec} </dev/null; then
    rm -rf "$staging"
    exit 1
  fi
  # When another install got there first, its copy serves and this one goes.
  mv -T "$staging" {dir} 2>/dev/null || rm -rf "$staging"
  if [ ! -x "$program" ]; then
    echo "{label} was installed but $program is missing" >&2
    exit 1
  fi
fi
)"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_installs_the_pinned_package_into_the_versioned_dir() {
        let script = install_script(Agent::Codex, "/opt/tools/");
        assert!(script.contains("'@openai/codex@0.171.0'"), "{script}");
        assert!(script.contains("program='/opt/tools/codex-0.171.0/node_modules/.bin/codex'"));
        assert!(script.contains("mv -T \"$staging\" '/opt/tools/codex-0.171.0'"), "{script}");
        assert!(script.contains("export npm_config_cache='/opt/tools/.npm-cache'"), "{script}");
        assert!(script.contains("--no-audit --no-fund --loglevel=error"), "{script}");
        assert!(script.contains("</dev/null"), "{script}");
    }

    #[test]
    fn the_script_skips_an_installed_program() {
        let script = install_script(Agent::ClaudeCode, "/t");
        assert!(script.contains(r#"if [ ! -x "$program" ]; then"#), "{script}");
    }

    #[test]
    fn the_script_quotes_a_root_with_spaces() {
        let script = install_script(Agent::Opencode, "/my tools");
        assert!(script.contains("mkdir -p '/my tools'"), "{script}");
    }
}
