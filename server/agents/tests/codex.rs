//! `codex exec --json`, as recorded from the real CLI and as documented.

mod common;

use agents::{Agent, Event, ToolStatus};
use common::*;
use serde_json::json;

const THREAD: &str = "0199c3b4-7e21-7a80-9f3e-5b1d2c4e6f70";

fn codex(output: &str, exit_code: Option<i32>) -> Vec<Event> {
    parse(Agent::Codex, output, exit_code)
}

fn thread() -> serde_json::Value {
    json!({"type": "thread.started", "thread_id": THREAD})
}

fn turn_completed() -> serde_json::Value {
    json!({"type": "turn.completed",
           "usage": {"input_tokens": 48211, "cached_input_tokens": 40960, "output_tokens": 1733}})
}

fn item(event: &str, item: serde_json::Value) -> serde_json::Value {
    json!({"type": event, "item": item})
}

const MOCK_MODEL_WARNING: &str =
    "Model metadata for `mock-model` not found. Defaulting to fallback \
                                  metadata; this can degrade performance and cause issues.";

#[test]
fn the_recorded_shell_run_becomes_a_command_a_text_usage_and_done() {
    let command = started(
        "item_1",
        "command_execution",
        "printf hi > hello.txt",
        json!({"command": "/bin/bash -lc 'printf hi > hello.txt'"}),
    );
    assert_events(
        &codex(&capture("codex.jsonl"), Some(0)),
        &[
            session("01a23c47-f87e-7fb2-bfc1-210f3d7f8685"),
            error(MOCK_MODEL_WARNING),
            command.clone(),
            finished(&command, "", ToolStatus::Completed),
            text("Done"),
            usage(20, 10, 0, 0, None),
            done(false, Some("Done")),
        ],
    );
}

#[test]
fn the_recorded_patch_run_becomes_a_file_change() {
    let change = started(
        "item_0",
        "file_change",
        "/workspace/codex-p1/hello.txt",
        json!({"changes": [{"path": "/workspace/codex-p1/hello.txt", "kind": "add"}]}),
    );
    assert_events(
        &codex(&capture("codex-apply_patch.jsonl"), Some(0)),
        &[
            session("01a23c3f-0fb9-79a3-88e3-3b3913c760b6"),
            change.clone(),
            finished(&change, "add /workspace/codex-p1/hello.txt", ToolStatus::Completed),
            text("Done"),
            usage(20, 10, 0, 0, None),
            done(false, Some("Done")),
        ],
    );
}

#[test]
fn the_recorded_resumed_run_keeps_the_thread() {
    let answer = "RESUMED history_has_first_prompt=True prior_items=7";
    assert_events(
        &codex(&capture("codex-resume.jsonl"), Some(0)),
        &[
            session("01a23c47-f87e-7fb2-bfc1-210f3d7f8685"),
            error(MOCK_MODEL_WARNING),
            text(answer),
            usage(30, 15, 0, 0, None),
            done(false, Some(answer)),
        ],
    );
}

#[test]
fn an_error_event_is_not_fatal() {
    let output = lines(&[
        thread(),
        json!({"type": "error", "message": "Reconnecting... 1/5 (stream disconnected)"}),
        item(
            "item.completed",
            json!({"id": "item_0", "type": "agent_message", "text": "All good."}),
        ),
        turn_completed(),
    ]);
    assert_events(
        &codex(&output, Some(0)),
        &[
            session(THREAD),
            error("Reconnecting... 1/5 (stream disconnected)"),
            text("All good."),
            usage(48211 - 40960, 1733, 40960, 0, None),
            done(false, Some("All good.")),
        ],
    );
}

#[test]
fn a_failed_turn_is_fatal() {
    let message = "unexpected status 401 Unauthorized: Incorrect API key provided";
    let output = lines(&[
        thread(),
        json!({"type": "turn.started"}),
        json!({"type": "turn.failed", "error": {"message": message}}),
    ]);
    assert_events(&codex(&output, Some(1)), &[session(THREAD), error(message), done(true, None)]);
}

#[test]
fn the_documented_stream_keeps_every_call_in_order() {
    let output = lines(&[
        thread(),
        json!({"type": "turn.started"}),
        item(
            "item.completed",
            json!({"id": "item_0", "type": "reasoning", "text": "**Locating**"}),
        ),
        item(
            "item.started",
            json!({"id": "item_1", "type": "command_execution",
            "command": "/bin/bash -lc 'cargo test -p core'", "aggregated_output": "",
            "exit_code": null, "status": "in_progress"}),
        ),
        item(
            "item.completed",
            json!({"id": "item_1", "type": "command_execution",
            "command": "/bin/bash -lc 'cargo test -p core'",
            "aggregated_output": "test result: FAILED. 11 passed; 1 failed\n",
            "exit_code": 101, "status": "failed"}),
        ),
        item(
            "item.started",
            json!({"id": "item_2", "type": "todo_list", "items": [
            {"text": "Fix split()", "completed": false},
            {"text": "Re-run tests", "completed": false}]}),
        ),
        item(
            "item.started",
            json!({"id": "item_4", "type": "mcp_tool_call", "server": "github",
            "tool": "create_pull_request", "arguments": {"title": "Fix split"}, "result": null,
            "error": null, "status": "in_progress"}),
        ),
        item(
            "item.completed",
            json!({"id": "item_4", "type": "mcp_tool_call", "server": "github",
            "tool": "create_pull_request", "arguments": {"title": "Fix split"},
            "result": {"content": [{"type": "text", "text": "PR #42 created"}],
                       "structured_content": null},
            "error": null, "status": "completed"}),
        ),
        item(
            "item.updated",
            json!({"id": "item_2", "type": "todo_list", "items": [
            {"text": "Fix split()", "completed": true},
            {"text": "Re-run tests", "completed": false}]}),
        ),
        item(
            "item.completed",
            json!({"id": "item_2", "type": "todo_list", "items": [
            {"text": "Fix split()", "completed": true},
            {"text": "Re-run tests", "completed": true}]}),
        ),
        item("item.completed", json!({"id": "item_5", "type": "agent_message", "text": "Fixed."})),
        turn_completed(),
    ]);

    let test = started(
        "item_1",
        "command_execution",
        "cargo test -p core",
        json!({"command": "/bin/bash -lc 'cargo test -p core'"}),
    );
    let todos_at_start = json!({"items": [
        {"text": "Fix split()", "completed": false},
            {"text": "Re-run tests", "completed": false}]});
    let todos_at_end = json!({"items": [
        {"text": "Fix split()", "completed": true},
            {"text": "Re-run tests", "completed": true}]});
    let pr = started(
        "item_4",
        "mcp__github__create_pull_request",
        "github/create_pull_request",
        json!({"title": "Fix split"}),
    );
    assert_events(
        &codex(&output, Some(0)),
        &[
            session(THREAD),
            test.clone(),
            finished(&test, "test result: FAILED. 11 passed; 1 failed\n", ToolStatus::Failed),
            started("item_2", "todo_list", "0 of 2 done", todos_at_start),
            pr.clone(),
            finished(&pr, "PR #42 created", ToolStatus::Completed),
            finished(
                &started("item_2", "todo_list", "2 of 2 done", todos_at_end),
                "[x] Fix split()\n[x] Re-run tests",
                ToolStatus::Completed,
            ),
            text("Fixed."),
            usage(48211 - 40960, 1733, 40960, 0, None),
            done(false, Some("Fixed.")),
        ],
    );
}

#[test]
fn a_failed_mcp_call_reports_its_error() {
    let output = lines(&[item(
        "item.completed",
        json!({"id": "item_0", "type": "mcp_tool_call",
        "server": "files", "tool": "read", "arguments": {"path": "/etc/x"}, "result": null,
        "error": {"message": "permission denied"}, "status": "failed"}),
    )]);
    let read = started("item_0", "mcp__files__read", "/etc/x", json!({"path": "/etc/x"}));
    assert_eq!(
        codex(&output, Some(0))[..2],
        [read.clone(), finished(&read, "permission denied", ToolStatus::Failed)]
    );
}

#[test]
fn a_web_search_is_a_call_summarised_by_its_query() {
    let output = lines(&[
        item(
            "item.started",
            json!({"id": "item_3", "type": "web_search", "query": "rust serde tag"}),
        ),
        item(
            "item.completed",
            json!({"id": "item_3", "type": "web_search", "query": "rust serde tag"}),
        ),
    ]);
    let search =
        started("item_3", "web_search", "rust serde tag", json!({"query": "rust serde tag"}));
    assert_eq!(
        codex(&output, Some(0))[..2],
        [search.clone(), finished(&search, "", ToolStatus::Completed)]
    );
}

#[test]
fn the_earliest_field_names_are_understood() {
    let output = lines(&[
        thread(),
        item(
            "item.completed",
            json!({"id": "item_0", "item_type": "assistant_message", "text": "Old."}),
        ),
        item(
            "item.completed",
            json!({"id": "item_1", "item_type": "command_execution",
            "command": "ls", "aggregated_output": "a\n", "exit_code": 0, "status": "completed"}),
        ),
        turn_completed(),
    ]);
    let ls = started("item_1", "command_execution", "ls", json!({"command": "ls"}));
    assert_events(
        &codex(&output, Some(0)),
        &[
            session(THREAD),
            text("Old."),
            ls.clone(),
            finished(&ls, "a\n", ToolStatus::Completed),
            usage(48211 - 40960, 1733, 40960, 0, None),
            done(false, Some("Old.")),
        ],
    );
}

#[test]
fn kinds_it_does_not_know_are_skipped() {
    let output = lines(&[
        thread(),
        json!({"type": "turn.started"}),
        json!({"type": "item.plan.delta", "item_id": "item_0", "delta": "x"}),
        json!({"type": "request_user_input", "id": "r", "questions": []}),
        item("item.completed", json!({"id": "item_0", "type": "collab_tool_call", "tool": "wait"})),
        item("item.completed", json!({"id": "item_1", "type": "reasoning", "text": "thinking"})),
        json!({"type": "something.new"}),
        turn_completed(),
    ]);
    assert_events(
        &codex(&output, Some(0)),
        &[session(THREAD), usage(48211 - 40960, 1733, 40960, 0, None), done(false, None)],
    );
}

#[test]
fn a_line_that_is_not_json_is_kept_as_output() {
    let stdout =
        "Reading additional input from stdin...\n\n".to_owned() + &turn_completed().to_string();
    let events = codex(&stdout, Some(0));
    assert_eq!(events[0], output("Reading additional input from stdin..."));
    assert_eq!(events.len(), 3, "{events:?}");
}

#[test]
fn a_run_that_ends_without_finishing_its_turn_fails() {
    let output = lines(&[
        thread(),
        item(
            "item.started",
            json!({"id": "item_0", "type": "command_execution",
            "command": "sleep 99", "status": "in_progress"}),
        ),
    ]);
    let sleep = started("item_0", "command_execution", "sleep 99", json!({"command": "sleep 99"}));
    assert_events(
        &codex(&output, Some(0)),
        &[
            session(THREAD),
            sleep.clone(),
            finished(&sleep, "", ToolStatus::Failed),
            error("Codex exited before it finished its turn"),
            done(true, None),
        ],
    );
    let reconnecting = lines(&[json!({"type": "error", "message": "Reconnecting... 5/5"})]);
    assert_events(
        &codex(&reconnecting, None),
        &[
            error("Reconnecting... 5/5"),
            error("Codex was stopped before it finished"),
            done(true, None),
        ],
    );
}
