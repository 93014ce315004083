//! Claude Code's stream-json, as recorded from the real CLI and as documented.

mod common;

use agents::{Agent, ToolStatus};
use common::*;
use serde_json::json;

const SESSION: &str = "8c1f2a8e-5d0b-4f47-9a55-0d6a3e2b7c11";

fn claude(output: &str, exit_code: Option<i32>) -> Vec<agents::Event> {
    parse(Agent::ClaudeCode, output, exit_code)
}

fn init() -> serde_json::Value {
    json!({"type": "system", "subtype": "init", "session_id": SESSION, "tools": ["Bash"]})
}

fn assistant(content: serde_json::Value) -> serde_json::Value {
    json!({
        "type": "assistant", "session_id": SESSION, "parent_tool_use_id": null,
        "message": {"id": "msg_1", "role": "assistant", "content": content}
    })
}

fn user(content: serde_json::Value) -> serde_json::Value {
    json!({"type": "user", "session_id": SESSION, "message": {"role": "user", "content": content}})
}

fn success(result: &str) -> serde_json::Value {
    json!({
        "type": "result", "subtype": "success", "is_error": false, "result": result,
        "session_id": SESSION, "total_cost_usd": 0.25,
        "usage": {"input_tokens": 41, "cache_creation_input_tokens": 9120,
                  "cache_read_input_tokens": 132400, "output_tokens": 2210}
    })
}

#[test]
fn the_recorded_write_run_becomes_a_tool_call_a_text_usage_and_done() {
    let write = started(
        "toolu_a2cda091d11f485abcab",
        "Write",
        "/workspace/claude-final/hello.txt",
        json!({"file_path": "/workspace/claude-final/hello.txt", "content": "hi"}),
    );
    let result = "File created successfully at: /workspace/claude-final/hello.txt \
                  (file state is current in your context — no need to Read it back)";
    assert_events(
        &claude(&capture("claude.jsonl"), Some(0)),
        &[
            session("14e78f1c-a137-43f0-839e-ca062355ec86"),
            write.clone(),
            finished(&write, result, ToolStatus::Completed),
            text("Done. FINISHED"),
            usage(20, 10, 0, 0, Some(0.00035)),
            done(false, Some("Done. FINISHED")),
        ],
    );
}

#[test]
fn the_recorded_run_of_the_newer_cli_reads_the_same() {
    let write = started(
        "toolu_6fa643f37b5e48cba610",
        "Write",
        "/workspace/claude-final332/hello.txt",
        json!({"file_path": "/workspace/claude-final332/hello.txt", "content": "hi"}),
    );
    let result = "File created successfully at: /workspace/claude-final332/hello.txt \
                  (file state is current in your context — no need to Read it back)";
    assert_events(
        &claude(&capture("claude-2.1.332.jsonl"), Some(0)),
        &[
            session("9c502ab6-0a6a-4ae2-93fb-11523e47c885"),
            write.clone(),
            finished(&write, result, ToolStatus::Completed),
            text("Done. FINISHED"),
            usage(20, 10, 0, 0, Some(0.00028000000000000003)),
            done(false, Some("Done. FINISHED")),
        ],
    );
}

#[test]
fn the_recorded_resumed_run_keeps_the_session() {
    let answer = "RESUMED history_has_first_prompt=True prior_messages=5";
    assert_events(
        &claude(&capture("claude-resume.jsonl"), Some(0)),
        &[
            session("14e78f1c-a137-43f0-839e-ca062355ec86"),
            text(answer),
            usage(10, 5, 0, 0, Some(0.000175)),
            done(false, Some(answer)),
        ],
    );
}

#[test]
fn several_blocks_in_one_message_become_events_in_their_order() {
    let output = lines(&[
        init(),
        assistant(json!([
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Looking first."},
            {"type": "tool_use", "id": "t1", "name": "Bash",
             "input": {"command": "cargo test", "description": "Run tests"}},
            {"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": "/r/a.rs"}}
        ])),
        user(json!([
            {"type": "tool_result", "tool_use_id": "t2",
             "content": [{"type": "text", "text": "fn a()"}, {"type": "text", "text": "fn b()"}]},
            {"type": "tool_result", "tool_use_id": "t1", "content": "1 failed", "is_error": true}
        ])),
        assistant(json!([{"type": "text", "text": "Fixed."}])),
        success("Fixed."),
    ]);
    let bash = started(
        "t1",
        "Bash",
        "cargo test",
        json!({"command": "cargo test", "description": "Run tests"}),
    );
    let read = started("t2", "Read", "/r/a.rs", json!({"file_path": "/r/a.rs"}));
    assert_events(
        &claude(&output, Some(0)),
        &[
            session(SESSION),
            text("Looking first."),
            bash.clone(),
            read.clone(),
            finished(&read, "fn a()\nfn b()", ToolStatus::Completed),
            finished(&bash, "1 failed", ToolStatus::Failed),
            text("Fixed."),
            usage(41, 2210, 132400, 9120, Some(0.25)),
            done(false, Some("Fixed.")),
        ],
    );
}

#[test]
fn an_error_reported_under_subtype_success_fails_the_run() {
    let output = lines(&[json!({
        "type": "result", "subtype": "success", "is_error": true, "session_id": "3d2e",
        "result": "Invalid API key · Fix external API key", "total_cost_usd": 0,
        "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 0},
        "modelUsage": {}
    })]);
    assert_events(
        &claude(&output, Some(1)),
        &[
            session("3d2e"),
            usage(0, 0, 0, 0, Some(0.0)),
            error("Invalid API key · Fix external API key"),
            done(true, Some("Invalid API key · Fix external API key")),
        ],
    );
}

#[test]
fn an_api_error_told_as_an_assistant_message_is_an_error_reported_once() {
    let failure = "API Error: Unable to connect to API (ConnectionRefused)";
    let mut message = assistant(json!([{"type": "text", "text": failure}]));
    message["error"] = json!("server_error");
    message["message"]["model"] = json!("<synthetic>");
    let result = json!({
        "type": "result", "subtype": "success", "is_error": true, "result": failure,
        "session_id": SESSION, "total_cost_usd": 0,
        "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 0}
    });
    assert_events(
        &claude(&lines(&[init(), message, result]), Some(1)),
        &[
            session(SESSION),
            error(failure),
            usage(0, 0, 0, 0, Some(0.0)),
            done(true, Some(failure)),
        ],
    );
}

#[test]
fn an_error_subtype_reports_its_errors() {
    let output = lines(&[json!({
        "type": "result", "subtype": "error_max_turns", "is_error": true,
        "session_id": SESSION, "total_cost_usd": 0.71,
        "usage": {"input_tokens": 120, "cache_creation_input_tokens": 20000,
                  "cache_read_input_tokens": 510000, "output_tokens": 8000},
        "errors": ["Reached maximum number of turns (20)"]
    })]);
    assert_events(
        &claude(&output, Some(1)),
        &[
            session(SESSION),
            usage(120, 8000, 510000, 20000, Some(0.71)),
            error("Reached maximum number of turns (20)"),
            done(true, None),
        ],
    );
}

#[test]
fn usage_counts_every_model_when_the_result_lists_them() {
    let mut result = success("ok");
    result["modelUsage"] = json!({
        "claude-sonnet-4-5": {"inputTokens": 41, "outputTokens": 2210,
                              "cacheReadInputTokens": 132400,
                              "cacheCreationInputTokens": 9120, "costUSD": 0.1791},
        "claude-haiku-4-5": {"inputTokens": 812, "outputTokens": 40, "cacheReadInputTokens": 0,
                             "cacheCreationInputTokens": 0, "costUSD": 0.0043}
    });
    let events = claude(&lines(&[result]), Some(0));
    assert_eq!(events[1], usage(853, 2250, 132400, 9120, Some(0.25)));
}

#[test]
fn a_retry_of_the_model_api_is_an_error_the_run_survives() {
    let output = lines(&[
        init(),
        json!({"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 10,
               "session_id": SESSION}),
        success("ok"),
    ]);
    let events = claude(&output, Some(0));
    assert_eq!(events[1], error("The model API failed; retrying (attempt 1 of 10)"));
    assert_eq!(events.last(), Some(&done(false, Some("ok"))));
}

#[test]
fn kinds_it_does_not_know_are_skipped() {
    let output = lines(&[
        init(),
        json!({"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"},
               "session_id": SESSION}),
        json!({"type": "stream_event", "event": {"type": "content_block_delta"},
               "session_id": SESSION}),
        json!({"type": "system", "subtype": "compact_boundary", "session_id": SESSION}),
        json!({"type": "tool_progress", "session_id": SESSION}),
        json!({"no_type": true}),
        assistant(json!([{"type": "redacted_thinking", "data": "x"}, {"type": "future_block"}])),
        success("ok"),
    ]);
    assert_events(
        &claude(&output, Some(0)),
        &[session(SESSION), usage(41, 2210, 132400, 9120, Some(0.25)), done(false, Some("ok"))],
    );
}

#[test]
fn a_line_that_is_not_json_is_kept_as_output() {
    let stdout = "Warning: no stdin data received in 3s, proceeding without it\n\n   \n[1, 2]";
    assert_events(
        &claude(stdout, Some(0)),
        &[
            output("Warning: no stdin data received in 3s, proceeding without it"),
            output("[1, 2]"),
            done(false, None),
        ],
    );
}

#[test]
fn a_run_that_dies_without_a_result_fails_its_open_tools_and_itself() {
    let output = lines(&[
        init(),
        assistant(json!([{"type": "tool_use", "id": "t1", "name": "Bash",
                    "input": {"command": "sleep 99"}}])),
    ]);
    let sleep = started("t1", "Bash", "sleep 99", json!({"command": "sleep 99"}));
    assert_events(
        &claude(&output, None),
        &[
            session(SESSION),
            sleep.clone(),
            finished(&sleep, "", ToolStatus::Failed),
            error("Claude Code was stopped before it finished"),
            done(true, None),
        ],
    );
    let events = claude(&lines(&[init()]), Some(1));
    assert_eq!(events[1..], [error("Claude Code exited with code 1"), done(true, None)]);
}

#[test]
fn the_end_after_a_result_adds_nothing() {
    let mut parser = agents::parser(Agent::ClaudeCode);
    assert!(!parser.line(&success("ok").to_string()).is_empty());
    assert!(parser.end(Some(1)).is_empty(), "done was already emitted");
}

#[test]
fn a_result_for_a_call_never_started_still_ends_it() {
    let output =
        lines(&[user(json!([{"type": "tool_result", "tool_use_id": "t9", "content": "x"}]))]);
    let events = claude(&output, Some(0));
    assert_eq!(
        events[1],
        agents::Event::ToolFinished {
            id: "t9".into(),
            name: String::new(),
            summary: String::new(),
            input: serde_json::Value::Null,
            output: "x".into(),
            status: ToolStatus::Completed,
        }
    );
}

#[test]
fn the_prompt_echoed_as_user_text_is_not_agent_text() {
    let output =
        lines(&[user(json!("Fix the bug")), user(json!([{"type": "text", "text": "Fix it"}]))]);
    assert_events(&claude(&output, Some(0)), &[session(SESSION), done(false, None)]);
}
