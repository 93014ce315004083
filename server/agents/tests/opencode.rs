//! `opencode run --format json`, as recorded from the real CLI and as documented.

mod common;

use agents::{Agent, Event, ToolStatus};
use common::*;
use serde_json::{json, Value};

const SESSION: &str = "ses_3a1f0c9b2ffeQk7TzP1m";

fn opencode(output: &str, exit_code: Option<i32>) -> Vec<Event> {
    parse(Agent::Opencode, output, exit_code)
}

fn event(kind: &str, part: Value) -> Value {
    json!({"type": kind, "timestamp": 1787482258116u64, "sessionID": SESSION, "part": part})
}

fn step_start() -> Value {
    event("step_start", json!({"type": "step-start"}))
}

fn step_finish(reason: &str, cost: f64, tokens: Value) -> Value {
    event(
        "step_finish",
        json!({"type": "step-finish", "reason": reason, "cost": cost, "tokens": tokens}),
    )
}

fn text_part(text: &str) -> Value {
    event("text", json!({"type": "text", "text": text, "time": {"start": 1, "end": 2}}))
}

#[test]
fn the_recorded_write_run_becomes_a_tool_call_a_text_usage_and_done() {
    let write = started(
        "call_768874898867481a",
        "write",
        "/workspace/opencode-final/hello.txt",
        json!({"filePath": "/workspace/opencode-final/hello.txt", "content": "hi"}),
    );
    assert_events(
        &opencode(&capture("opencode.jsonl"), Some(0)),
        &[
            session("ses_dc3b7de17ffekM6nOw4FAjdyoo"),
            write.clone(),
            finished(&write, "Wrote file successfully.", ToolStatus::Completed),
            text("Done"),
            usage(20, 10, 0, 0, Some(0.0)),
            done(false, Some("Done")),
        ],
    );
}

#[test]
fn the_recorded_resumed_run_keeps_the_session() {
    let answer = "RESUMED history_has_first_prompt=True prior_messages=5";
    assert_events(
        &opencode(&capture("opencode-resume.jsonl"), Some(0)),
        &[
            session("ses_dc3b7de17ffekM6nOw4FAjdyoo"),
            text(answer),
            usage(10, 5, 0, 0, Some(0.0)),
            done(false, Some(answer)),
        ],
    );
}

#[test]
fn usage_is_summed_over_the_steps_and_the_answer_is_the_last_steps_text() {
    let output = lines(&[
        step_start(),
        text_part("Let me run the tests."),
        event(
            "tool_use",
            json!({"type": "tool", "callID": "call_1", "tool": "bash", "state": {
            "status": "completed",
            "input": {"command": "cargo test -p core", "description": "Run core tests"},
            "output": "test result: FAILED. 11 passed; 1 failed\n", "title": "cargo test -p core",
            "metadata": {"exit": 101}}}),
        ),
        step_finish(
            "tool-calls",
            0.0031,
            json!({"total": 8011, "input": 7952, "output": 35,
            "reasoning": 24, "cache": {"write": 0, "read": 0}}),
        ),
        step_start(),
        text_part("Fixed the off-by-one."),
        text_part("Tests pass."),
        step_finish(
            "stop",
            0.0012,
            json!({"total": 8113, "input": 397, "output": 16,
            "reasoning": 20, "cache": {"write": 3, "read": 7680}}),
        ),
    ]);
    let bash = started(
        "call_1",
        "bash",
        "cargo test -p core",
        json!({"command": "cargo test -p core", "description": "Run core tests"}),
    );
    let events = opencode(&output, Some(0));
    assert_events(
        &events[..6],
        &[
            session(SESSION),
            text("Let me run the tests."),
            bash.clone(),
            finished(&bash, "test result: FAILED. 11 passed; 1 failed\n", ToolStatus::Completed),
            text("Fixed the off-by-one."),
            text("Tests pass."),
        ],
    );
    let Event::Usage(usage) = &events[6] else { panic!("usage expected, got {:?}", events[6]) };
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens
        ),
        (7952 + 397, 35 + 24 + 16 + 20, 7680, 3)
    );
    let cost = usage.cost_usd.expect("a cost");
    assert!((cost - 0.0043).abs() < 1e-12, "cost {cost}");
    assert_eq!(events[7..], [done(false, Some("Fixed the off-by-one.\n\nTests pass."))]);
}

#[test]
fn a_failed_tool_call_reports_its_error() {
    let output = lines(&[event(
        "tool_use",
        json!({"type": "tool", "callID": "call_2", "tool": "edit",
        "state": {"status": "error",
                  "input": {"filePath": "/r/a.rs", "oldString": "x", "newString": "y"},
                  "error": "oldString not found in content"}}),
    )]);
    let edit = started(
        "call_2",
        "edit",
        "/r/a.rs",
        json!({"filePath": "/r/a.rs", "oldString": "x", "newString": "y"}),
    );
    assert_eq!(
        opencode(&output, Some(0))[1..3],
        [edit.clone(), finished(&edit, "oldString not found in content", ToolStatus::Failed)]
    );
}

#[test]
fn a_tool_without_a_recognised_input_is_summarised_by_its_title() {
    let output = lines(&[event(
        "tool_use",
        json!({"type": "tool", "callID": "c", "tool": "github_create_issue",
        "state": {"status": "completed", "input": {"title_text": "x"}, "output": "ok",
                  "title": "Create issue"}}),
    )]);
    let Event::ToolStarted { summary, .. } = &opencode(&output, Some(0))[1] else {
        panic!("a start")
    };
    assert_eq!(summary, "Create issue");
}

#[test]
fn a_running_tool_starts_and_its_completion_ends_it() {
    let part = |status: &str| {
        event(
            "tool_use",
            json!({"type": "tool", "callID": "c", "tool": "bash",
            "state": {"status": status, "input": {"command": "ls"}, "output": "a"}}),
        )
    };
    let output = lines(&[part("running"), part("completed")]);
    let ls = started("c", "bash", "ls", json!({"command": "ls"}));
    assert_eq!(
        opencode(&output, Some(0))[1..3],
        [ls.clone(), finished(&ls, "a", ToolStatus::Completed)]
    );
}

#[test]
fn an_error_event_fails_the_run_once() {
    let output = lines(&[
        step_start(),
        json!({"type": "error", "timestamp": 1, "sessionID": SESSION, "error": {"name": "APIError",
            "data": {"message": "Incorrect API key provided", "statusCode": 401,
                     "isRetryable": false}}}),
    ]);
    assert_events(
        &opencode(&output, Some(1)),
        &[session(SESSION), error("Incorrect API key provided"), done(true, None)],
    );
}

#[test]
fn an_error_without_a_message_is_named() {
    let output = lines(&[json!({"type": "error", "sessionID": SESSION,
        "error": {"name": "MessageAbortedError", "data": {}}})]);
    assert_eq!(opencode(&output, Some(0))[1], error("MessageAbortedError"));
}

#[test]
fn a_nonzero_exit_without_an_error_event_fails_the_run() {
    let output = lines(&[step_start(), text_part("Working")]);
    assert_events(
        &opencode(&output, Some(2)),
        &[
            session(SESSION),
            text("Working"),
            error("OpenCode exited with code 2"),
            done(true, Some("Working")),
        ],
    );
}

#[test]
fn the_session_is_the_first_one_seen() {
    let output = lines(&[
        json!({"type": "step_start", "part": {"sessionID": "ses_first", "type": "step-start"}}),
        json!({"type": "text", "sessionID": "ses_child", "part": {"type": "text", "text": "hi"}}),
    ]);
    assert_events(
        &opencode(&output, Some(0)),
        &[session("ses_first"), text("hi"), done(false, Some("hi"))],
    );
}

#[test]
fn kinds_it_does_not_know_are_skipped() {
    let output = lines(&[
        step_start(),
        event("reasoning", json!({"type": "reasoning", "text": "hmm"})),
        json!({"type": "done", "reason": "idle", "rejected": [], "sessionID": SESSION}),
        json!({"type": "brand_new", "sessionID": SESSION}),
    ]);
    assert_events(&opencode(&output, Some(0)), &[session(SESSION), done(false, None)]);
}

#[test]
fn a_line_that_is_not_json_is_kept_as_output() {
    let stdout = "\u{1b}[91mError\u{1b}[0m: Session not found\r\n\r\n";
    assert_events(
        &opencode(stdout, Some(1)),
        &[
            output("\u{1b}[91mError\u{1b}[0m: Session not found"),
            error("OpenCode exited with code 1"),
            done(true, None),
        ],
    );
}
