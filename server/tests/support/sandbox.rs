//! Driving a branch's sandbox the way the branch view does: start it, wait for it, run a
//! command and read its output stream.

use std::time::Duration;

use axum::http::StatusCode;
use entity::sandbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use super::{Browser, TestApp};

/// The arguments of `create_branch` for a branch `name` off `main`.
pub fn new_branch(repo: &Value, name: &str) -> Value {
    json!({
        "repository_id": repo["id"], "name": name, "base_branch": "main",
        "agent": "claude-code", "model": "sonnet"
    })
}

/// Starts the branch's sandbox and waits until it is running (or failed).
pub async fn ready(browser: &mut Browser, branch: &Value) -> Value {
    let started =
        browser.ok("change_sandbox", json!({ "branch_id": branch["id"], "action": "start" })).await;
    assert!(
        ["creating", "running"].contains(&started["state"].as_str().unwrap()),
        "a started sandbox is preparing or running: {started}"
    );
    settle(browser, branch).await
}

/// Waits for the branch's sandbox to leave `creating`.
pub async fn settle(browser: &mut Browser, branch: &Value) -> Value {
    for _ in 0..600 {
        let view = browser.ok("get_sandbox", json!({ "branch_id": branch["id"] })).await;
        if view["state"] != "creating" {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sandbox is still being prepared after a minute");
}

/// What a command printed, in the order its pieces arrived, and how it ended.
#[derive(Default, Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub failed: Option<String>,
    pub exit: Option<String>,
    /// The kind of each piece, in order.
    pub order: Vec<String>,
}

/// Runs a command in the branch's sandbox and reads its whole output stream.
pub async fn run(browser: &mut Browser, branch: &Value, command: &str) -> Output {
    let id =
        browser.ok("run_command", json!({ "branch_id": branch["id"], "command": command })).await;
    let stream = browser.get(&format!("/streams/commands/{}", id.as_str().unwrap())).await;
    assert_eq!(stream.status, StatusCode::OK, "{}", stream.text);
    let mut output = Output::default();
    for event in stream.text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let data: String = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n");
        if data.is_empty() {
            continue;
        }
        let line: Value = serde_json::from_str(&data).unwrap();
        let text = line["text"].as_str().unwrap().to_owned();
        let kind = line["kind"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "stdout" => output.stdout.push_str(&text),
            "stderr" => output.stderr.push_str(&text),
            "failed" => output.failed = Some(text),
            "exit" => output.exit = Some(text),
            other => panic!("unknown line kind {other}"),
        }
        output.order.push(kind);
    }
    output
}

/// The branch's sandbox as the database holds it.
pub async fn sandbox_row(app: &TestApp, branch: &Value) -> sandbox::Model {
    sandbox::Entity::find()
        .filter(sandbox::Column::BranchId.eq(branch["id"].as_i64().unwrap()))
        .one(&app.state.services.db)
        .await
        .unwrap()
        .expect("the branch has a sandbox row")
}

/// Whether any process on the host has `needle` in its command line.
pub fn process_running(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
            .unwrap_or(false)
    })
}
