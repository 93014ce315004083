//! Agent runs end to end: the real Claude Code, Codex and OpenCode CLIs (installed from npm
//! on first use) working in a real local sandbox, talking to the scripted model server,
//! through the server's own router and event stream.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use entity::credential;
use http_body_util::BodyExt;
use sea_orm::EntityTrait;
use serde_json::json;
use support::runs::{
    data_lines, data_lines_until, kinds, parse_sse, replies, AgentTest, MODEL_KEY,
};
use support::sandbox::{new_branch, process_running, run};

/// Installing an agent on first use and preparing the sandbox take a while.
const FIRST_RUN: Duration = Duration::from_secs(240);
const RUN: Duration = Duration::from_secs(120);

/// The agent writes a file in the branch's sandbox, its events arrive in order, and the
/// next prompt continues the same agent session.
async fn writes_a_file_and_resumes(agent: &str, model: &str) {
    let mut test = AgentTest::start().await;
    let first = test.send(agent, model, "Create a file hello.txt containing hi there").await;
    assert!(["queued", "running"].contains(&first["status"].as_str().unwrap()), "{first}");
    let conversation = test.settle(FIRST_RUN).await;

    let events = test.events(0, None).await;
    let order = kinds(&events);
    let position = |kind: &str| order.iter().position(|k| k == kind);
    assert_eq!(order.first().map(String::as_str), Some("run_started"), "{order:?}");
    assert_eq!(order.last().map(String::as_str), Some("run_finished"), "{order:?}");
    let finished = events.last().unwrap().payload();
    assert_eq!(finished["status"], "completed", "{finished}");
    for (before, after) in [
        ("run_progress", "session"),
        ("session", "tool_started"),
        ("tool_started", "tool_finished"),
        ("tool_finished", "done"),
        ("usage", "done"),
    ] {
        let (b, a) = (position(before), position(after));
        assert!(b.is_some() && a.is_some() && b < a, "{before} before {after}: {order:?}");
    }
    let tool = events.iter().find(|e| e.kind() == "tool_finished").unwrap().payload();
    assert_eq!(tool["status"], "completed", "{tool}");
    let ids: Vec<i64> = events.iter().filter_map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "event ids rise: {ids:?}");

    let reply = &conversation["messages"].as_array().unwrap()[1];
    assert_eq!(reply["role"], "assistant");
    assert_eq!(reply["status"], "completed");
    let blocks = reply["blocks"].as_array().unwrap();
    assert!(blocks.iter().any(|b| b["type"] == "tool" && b["status"] == "completed"), "{reply}");
    assert!(reply["text"].as_str().unwrap().contains("Done"), "{reply}");
    assert!(reply["usage"]["output_tokens"].as_u64().unwrap() > 0, "usage kept: {reply}");

    let file = run(&mut test.browser, &test.branch, "cat hello.txt").await;
    assert_eq!(file.stdout.trim(), "hi there", "the agent wrote the file in the sandbox");

    test.send(agent, model, "RESUME-CHECK").await;
    let conversation = test.settle(RUN).await;
    let last = replies(&conversation).pop().unwrap();
    assert!(last.contains("history_has_first_prompt=true"), "the session resumed: {last}");
    let events = test.events(0, None).await;
    let starts: Vec<_> = events.iter().filter(|e| e.kind() == "run_started").collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1].payload()["resumed"], true);
}

#[tokio::test]
async fn claude_code_writes_a_file_and_resumes_its_session() {
    writes_a_file_and_resumes("claude-code", "sonnet").await;
}

#[tokio::test]
async fn codex_writes_a_file_and_resumes_its_session() {
    writes_a_file_and_resumes("codex", "gpt-5.5").await;
}

#[tokio::test]
async fn opencode_writes_a_file_and_resumes_its_session() {
    writes_a_file_and_resumes("opencode", "openai/gpt-5.4").await;
}

#[tokio::test]
async fn a_reconnecting_stream_resumes_after_its_last_event_without_gaps_or_repeats() {
    let mut test = AgentTest::start().await;
    test.send("claude-code", "sonnet", "Run: echo one && echo two").await;
    test.settle(FIRST_RUN).await;
    let all = test.events(0, None).await;
    let ids: Vec<i64> = all.iter().filter_map(|e| e.id).collect();
    assert!(ids.len() >= 6, "{:?}", kinds(&all));
    for cut in [ids[0], ids[2], ids[ids.len() - 2]] {
        let rest: Vec<i64> = test.events(0, Some(cut)).await.iter().filter_map(|e| e.id).collect();
        let expected: Vec<i64> = ids.iter().copied().filter(|id| *id > cut).collect();
        assert_eq!(rest, expected, "after {cut}");
    }
    // The page's own starting point works the same way.
    let rest: Vec<i64> = test.events(ids[3], None).await.iter().filter_map(|e| e.id).collect();
    assert_eq!(rest, ids[4..].to_vec());

    // Operators see what was stored, and in how many writes.
    let metrics = test.browser.get("/metrics").await.text;
    let value = |name: &str| -> u64 {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let stored = value("upstream_run_events_stored_total");
    assert_eq!(stored, ids.len() as u64, "{metrics}");
    let batches = value("upstream_run_event_batches_total");
    assert!(batches >= 1 && batches <= stored, "{metrics}");
}

#[tokio::test]
async fn a_prompt_sent_during_a_run_waits_its_turn_and_can_be_taken_off_the_queue() {
    let mut test = AgentTest::start().await;
    test.send("claude-code", "sonnet", "Run: sleep 3").await;
    let second = test.send("claude-code", "sonnet", "Say: second in line").await;
    let third = test.send("claude-code", "sonnet", "Say: third in line").await;
    assert_eq!(second["status"], "queued");
    let conversation = test.conversation().await;
    let statuses: Vec<&str> = conversation["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "queued").count(), 2, "{conversation}");

    test.browser.ok("remove_queued", json!({ "run_id": third["id"] })).await;
    let conversation = test.settle(FIRST_RUN).await;
    let replies = replies(&conversation);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[1], "second in line");
    let prompts: Vec<&str> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(!prompts.contains(&"Say: third in line"), "a removed prompt leaves no trace");

    let started = test.browser.call("remove_queued", json!({ "run_id": second["id"] })).await;
    assert_eq!(started.status, StatusCode::CONFLICT, "a run that has started is not queued");
}

#[tokio::test]
async fn runs_on_several_branches_at_once_each_keep_their_own_events_in_order() {
    let mut test = AgentTest::start().await;
    let repo = json!({ "id": test.branch["repository_id"] });
    let mut branches = vec![test.branch.clone()];
    for name in ["second", "third", "fourth"] {
        branches.push(test.browser.ok("create_branch", new_branch(&repo, name)).await);
    }
    for (n, branch) in branches.iter().enumerate() {
        test.branch = branch.clone();
        test.send("claude-code", "sonnet", &format!("Say: the reply of branch {n}")).await;
    }
    for (n, branch) in branches.iter().enumerate() {
        test.branch = branch.clone();
        let conversation = test.settle(FIRST_RUN).await;
        assert_eq!(replies(&conversation), [format!("the reply of branch {n}")]);
        let events = test.events(0, None).await;
        let stored: Vec<_> = events.iter().filter(|e| e.id.is_some()).collect();
        let ids: Vec<i64> = stored.iter().map(|e| e.id.unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids rise: {ids:?}");
        let numbers: Vec<i64> = stored.iter().map(|e| e.data["seq"].as_i64().unwrap()).collect();
        assert_eq!(numbers, (0..stored.len() as i64).collect::<Vec<_>>(), "none missing");
        let run_id = &stored[0].data["run_id"];
        assert!(stored.iter().all(|e| &e.data["run_id"] == run_id), "only this branch's run");
        assert_eq!(stored[0].kind(), "run_started");
        assert_eq!(stored.last().unwrap().kind(), "run_finished");
    }
}

#[tokio::test]
async fn stop_ends_the_run_and_kills_everything_the_agent_started() {
    let mut test = AgentTest::start().await;
    test.send("claude-code", "sonnet", "Run: sleep 4567").await;
    test.wait_for_event("tool_started", FIRST_RUN).await;
    assert!(process_running("sleep 4567"), "the agent's command runs");

    test.browser.ok("stop_run", json!({ "branch_id": test.branch_id() })).await;
    let conversation = test.settle(RUN).await;
    let reply = conversation["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(reply["status"], "cancelled", "{conversation}");
    for _ in 0..20 {
        if !process_running("sleep 4567") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!process_running("sleep 4567"), "nothing the agent started is left");

    let idle = test.browser.call("stop_run", json!({ "branch_id": test.branch_id() })).await;
    assert_eq!(idle.status, StatusCode::CONFLICT, "nothing left to stop");
}

#[tokio::test]
async fn loop_mode_continues_until_the_agent_says_it_has_finished() {
    let mut test = AgentTest::start().await;
    test.browser.ok("set_loop", json!({ "branch_id": test.branch_id(), "enabled": true })).await;
    test.send("claude-code", "sonnet", "Work on it. FINISHED-AFTER 2").await;
    let conversation = test.settle(FIRST_RUN).await;
    let replies = replies(&conversation);
    assert_eq!(replies.len(), 3, "the prompt and two continuations: {replies:?}");
    assert_eq!(replies[2].trim(), "FINISHED");
    let messages = conversation["messages"].as_array().unwrap();
    let continuations: Vec<i64> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["loop_iteration"].as_i64().unwrap())
        .collect();
    assert_eq!(continuations, [0, 1, 2], "the iteration count shows");
    let notice = messages.last().unwrap();
    assert_eq!(notice["role"], "notice");
    assert!(notice["text"].as_str().unwrap().contains("finished"), "{notice}");
}

#[tokio::test]
async fn loop_mode_stops_at_the_users_limit() {
    let mut test = AgentTest::start().await;
    let set = test.browser.form("set_loop_max", &[("iterations", "2")]).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let refused = test.browser.form("set_loop_max", &[("iterations", "26")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    test.browser.ok("set_loop", json!({ "branch_id": test.branch_id(), "enabled": true })).await;
    test.send("claude-code", "sonnet", "Keep going. FINISHED-AFTER 9").await;
    let conversation = test.settle(FIRST_RUN).await;
    assert_eq!(replies(&conversation).len(), 3, "the prompt and at most two continuations");
    let notice = conversation["messages"].as_array().unwrap().last().unwrap().clone();
    assert!(notice["text"].as_str().unwrap().contains("limit of 2"), "{notice}");
}

#[tokio::test]
async fn switching_the_agent_starts_a_new_session_and_the_conversation_says_so() {
    let mut test = AgentTest::start().await;
    test.send("claude-code", "sonnet", "Say: hello from Claude").await;
    test.settle(FIRST_RUN).await;
    test.send("codex", "gpt-5.5", "RESUME-CHECK").await;
    let conversation = test.settle(FIRST_RUN).await;
    let messages = conversation["messages"].as_array().unwrap();
    let notice = messages.iter().find(|m| m["role"] == "notice").expect("a notice");
    assert!(notice["text"].as_str().unwrap().contains("Switched from Claude Code to Codex"));
    let last = replies(&conversation).pop().unwrap();
    assert!(last.contains("history_has_first_prompt=false"), "a new session: {last}");
}

#[tokio::test]
async fn a_prompt_for_an_agent_without_its_key_says_where_to_add_it() {
    let mut test = AgentTest::start().await;
    let cleared = test.browser.form("set_agent_key", &[("kind", "openai"), ("value", "")]).await;
    assert_eq!(cleared.status, StatusCode::OK);
    let args = json!({
        "branch_id": test.branch_id(), "prompt": "hello", "agent": "codex", "model": "gpt-5.5"
    });
    let refused = test.browser.call("send_prompt", args).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let error = refused.json();
    assert_eq!(error["field"], "key");
    assert!(error["message"].as_str().unwrap().contains("Settings"), "{error}");
    let conversation = test.conversation().await;
    assert!(conversation["messages"].as_array().unwrap().is_empty(), "nothing was queued");
}

#[tokio::test]
async fn agent_keys_are_sealed_and_shown_back_only_by_their_last_characters() {
    let mut test = AgentTest::start().await;
    let settings = test.browser.ok("get_user_settings", json!({})).await;
    let hint = &MODEL_KEY[MODEL_KEY.len() - 4..];
    assert_eq!(settings["keys"]["anthropic"], hint);
    assert!(!settings.to_string().contains(MODEL_KEY), "the key never travels back");
    let rows = credential::Entity::find().all(&test.app.state.services.db).await.unwrap();
    let stored = format!("{rows:?}");
    assert!(!stored.contains(MODEL_KEY), "stored sealed");
    let subscription = "sk-ant-oat01-abcdefgh";
    test.browser.form("set_agent_key", &[("kind", "anthropic"), ("value", subscription)]).await;
    let settings = test.browser.ok("get_user_settings", json!({})).await;
    assert_eq!(settings["keys"]["anthropic"], "efgh");
    let bad = test.browser.form("set_agent_key", &[("kind", "anthropic"), ("value", "a b")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_branch_page_follows_statuses_run_events_and_its_sandbox_on_one_connection() {
    let mut test = AgentTest::start().await;
    let id = test.branch_id();
    let mut body = test.open_stream(&format!("/streams/page?branch={id}")).await;
    test.send("claude-code", "sonnet", "Say: all on one line").await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + FIRST_RUN;
    while !text.contains(&format!("data: {id} idle 1")) {
        let frame = tokio::time::timeout_at(deadline, body.frame()).await;
        let frame = frame.expect("the run ends within the limit").unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    let events = parse_sse(&text);
    let states: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "sandbox")
        .map(|e| e.data["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"none"), "the sandbox as it was: {states:?}");
    assert_eq!(states.last(), Some(&"running"), "started for the run: {states:?}");
    let kinds = kinds(&events);
    assert_eq!(kinds.first().map(String::as_str), Some("run_started"));
    assert_eq!(kinds.last().map(String::as_str), Some("run_finished"));
    assert!(text.contains(&format!("data: {id} running 0")), "{text}");
}

#[tokio::test]
async fn the_status_stream_shows_a_branch_running_then_unread_until_it_is_opened() {
    let mut test = AgentTest::start().await;
    let body = test.open_stream("/streams/page").await;
    // Until the branch is unread: the agent may take a while to start on a busy machine.
    let unread = |line: &str| line.ends_with(" idle 1");
    let reader = tokio::spawn(data_lines_until(body, Duration::from_secs(60), unread));
    test.send("claude-code", "sonnet", "Say: done here").await;
    let id = test.branch_id();
    // Waiting through the older-messages page, which leaves the branch unread.
    for _ in 0..1200 {
        let page = json!({ "branch_id": id, "before": i64::MAX });
        let conversation = test.browser.ok("get_conversation", page).await;
        if conversation["runs"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lines = reader.await.unwrap();
    let running = lines.iter().position(|l| *l == format!("{id} running 0"));
    let finished = lines.iter().position(|l| *l == format!("{id} idle 1"));
    assert!(running.is_some() && finished.is_some() && running < finished, "{lines:?}");

    // Opening the branch reads it.
    let body = test.open_stream("/streams/page").await;
    let reader = tokio::spawn(data_lines(body, Duration::from_secs(1)));
    test.conversation().await;
    let lines = reader.await.unwrap();
    assert!(lines.contains(&format!("{id} idle 0")), "{lines:?}");
}
