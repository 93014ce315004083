//! Installs the real CLIs from npm and runs them.
//!
//! The installs go to `UPSTREAM_AGENT_TOOLS`, or else to `target/agent-tools` in the
//! workspace, and stay there: the first run downloads about 1 GB, later runs find the CLIs
//! installed. Other tests that run the real CLIs can share the same directory.

#![cfg(feature = "tools")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use agents::{Agent, Tools};

fn tools() -> Tools {
    let root = std::env::var_os("UPSTREAM_AGENT_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
        let workspace =
            Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("workspace");
        workspace.join("target").join("agent-tools")
    });
    Tools::new(root)
}

async fn installs_and_reports_its_pinned_version(agent: Agent) {
    let tools = tools();

    // Two callers at once, as two runs starting together would be.
    let (first, second) = tokio::join!(tools.ensure(agent), tools.ensure(agent));
    let program = first.unwrap_or_else(|error| panic!("installing {agent}: {error}"));
    assert_eq!(second.expect("the second caller"), program);
    assert!(tools.is_installed(agent), "{} should exist", program.display());
    assert_eq!(program.to_str().unwrap(), agent.program(tools.root().to_str().unwrap()));

    // The CLIs write config under their home even for --version; keep that out of ours.
    let home = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(&program)
        .arg("--version")
        .env("HOME", home.path())
        .env("CODEX_HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|error| panic!("running {}: {error}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{agent} --version failed: {output:?}");
    assert!(stdout.contains(agent.version()), "{agent} --version printed {stdout:?}");

    let again = Instant::now();
    assert_eq!(tools.ensure(agent).await.expect("ensuring again"), program);
    assert!(
        again.elapsed() < Duration::from_secs(1),
        "an installed CLI should not be installed again"
    );
}

#[tokio::test]
async fn claude_code_installs_and_reports_its_pinned_version() {
    installs_and_reports_its_pinned_version(Agent::ClaudeCode).await;
}

#[tokio::test]
async fn codex_installs_and_reports_its_pinned_version() {
    installs_and_reports_its_pinned_version(Agent::Codex).await;
}

#[tokio::test]
async fn opencode_installs_and_reports_its_pinned_version() {
    installs_and_reports_its_pinned_version(Agent::Opencode).await;
}
