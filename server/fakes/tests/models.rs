//! The fake model server over real HTTP: each scripted rule in each dialect, streams parsed
//! back event by event, keys, recording.

use std::time::{Duration, Instant};

use fakes::models::{self, Shared, World};
use serde_json::{json, Value};

const KEY: &str = "sk-test-000";
/// What each CLI tells the model about where it works.
const CLAUDE_ENVIRONMENT: &str = "Primary working directory: /work/repo\nIs a git repository: true";
const CODEX_ENVIRONMENT: &str = "<environment_context><cwd>/work/repo</cwd></environment_context>";
const OPENCODE_SYSTEM: &str = "You are opencode.\nWorking directory: /work/repo\n";
/// Claude Code adds reminders to the user's turn as blocks of their own.
const REMINDER: &str = "<system-reminder>Today's date is 2026-12-03.</system-reminder>";
const CONTINUATION: &str = "If you have finished all tasks, respond with just the phrase \
                            FINISHED. Otherwise, continue working on the remaining tasks.";

struct Fake {
    world: Shared,
    url: String,
    client: reqwest::Client,
}

/// A fake accepting only `api_key` (any key when empty).
async fn fake(api_key: &str) -> Fake {
    let world = World::shared(api_key);
    let address = models::spawn(world.clone(), "127.0.0.1:0").await.unwrap();
    Fake { world, url: format!("http://{address}"), client: reqwest::Client::new() }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dialect {
    Anthropic,
    Responses,
    Chat,
}

const DIALECTS: [Dialect; 3] = [Dialect::Anthropic, Dialect::Responses, Dialect::Chat];

impl Dialect {
    fn path(self) -> &'static str {
        match self {
            Dialect::Anthropic => "/v1/messages?beta=true",
            Dialect::Responses => "/v1/responses",
            Dialect::Chat => "/v1/chat/completions",
        }
    }

    /// The tools each CLI offers for files and commands.
    fn tools(self) -> &'static [&'static str] {
        match self {
            Dialect::Anthropic => &["Read", "Write", "Bash"],
            Dialect::Responses => &["exec_command", "apply_patch"],
            Dialect::Chat => &["read", "write", "bash"],
        }
    }

    /// Sends `body` with the key the way this dialect's CLI does.
    fn post(self, fake: &Fake, path: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
        let request = fake.client.post(format!("{}{path}", fake.url)).json(body);
        match self {
            Dialect::Anthropic => {
                request.header("x-api-key", key).header("anthropic-version", "2023-06-01")
            }
            Dialect::Responses | Dialect::Chat => request.bearer_auth(key),
        }
    }
}

/// One entry of a conversation, written the same way for every dialect.
enum Entry<'a> {
    User(&'a str),
    Assistant(&'a str),
    /// The model calls a tool with these arguments.
    Call(&'a str, Value),
    /// The tool's output comes back.
    Output(&'a str),
}

use Entry::{Assistant, Call, Output, User};

/// A streamed request the way each CLI shapes it, offering `tools`.
fn request(dialect: Dialect, entries: &[Entry], tools: &[&str]) -> Value {
    match dialect {
        Dialect::Anthropic => anthropic_request(entries, tools),
        Dialect::Responses => responses_request(entries, tools),
        Dialect::Chat => chat_request(entries, tools),
    }
}

fn anthropic_request(entries: &[Entry], tools: &[&str]) -> Value {
    let messages: Vec<Value> = entries
        .iter()
        .map(|entry| match entry {
            User(text) => json!({ "role": "user", "content": [
                { "type": "text", "text": REMINDER },
                { "type": "text", "text": text },
            ] }),
            Assistant(text) => json!({ "role": "assistant", "content": [
                { "type": "text", "text": text },
            ] }),
            Call(name, input) => json!({ "role": "assistant", "content": [
                { "type": "tool_use", "id": "toolu_1", "name": name, "input": input },
            ] }),
            Output(text) => json!({ "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_1", "content": text },
            ] }),
        })
        .collect();
    let tools: Vec<Value> = tools
        .iter()
        .map(
            |name| json!({ "name": name, "description": "", "input_schema": { "type": "object" } }),
        )
        .collect();
    json!({
        "model": "claude-opus-4-8",
        "max_tokens": 64000,
        "stream": true,
        "system": [
            { "type": "text", "text": "You are Claude Code." },
            { "type": "text", "text": CLAUDE_ENVIRONMENT },
        ],
        "tools": tools,
        "messages": messages,
    })
}

fn responses_request(entries: &[Entry], tools: &[&str]) -> Value {
    let developer = json!({ "type": "message", "role": "developer", "content": [
        { "type": "input_text", "text": "You are Codex." },
    ] });
    let context = json!({ "type": "message", "role": "user", "content": [
        { "type": "input_text", "text": CODEX_ENVIRONMENT },
    ] });
    let mut input = vec![developer, context];
    input.extend(entries.iter().map(|entry| match entry {
        User(text) => json!({ "type": "message", "role": "user", "content": [
            { "type": "input_text", "text": text },
        ] }),
        Assistant(text) => json!({ "type": "message", "role": "assistant", "content": [
            { "type": "output_text", "text": text },
        ] }),
        Call(name, input) => json!({
            "type": "function_call", "call_id": "call_1", "name": name,
            "arguments": input.to_string(),
        }),
        Output(text) => {
            json!({ "type": "function_call_output", "call_id": "call_1", "output": text })
        }
    }));
    let tools: Vec<Value> = tools
        .iter()
        .map(|name| match *name {
            "apply_patch" => {
                json!({ "type": "custom", "name": name, "format": { "type": "grammar" } })
            }
            _ => json!({ "type": "function", "name": name, "parameters": { "type": "object" } }),
        })
        .collect();
    json!({
        "model": "gpt-5.5",
        "input": input,
        "tools": tools,
        "tool_choice": "auto",
        "stream": true,
        "store": false,
    })
}

fn chat_request(entries: &[Entry], tools: &[&str]) -> Value {
    let system = json!({ "role": "system", "content": OPENCODE_SYSTEM });
    let mut messages = vec![system];
    messages.extend(entries.iter().map(|entry| match entry {
        User(text) => json!({ "role": "user", "content": text }),
        Assistant(text) => json!({ "role": "assistant", "content": text }),
        Call(name, input) => json!({ "role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": { "name": name, "arguments": input.to_string() },
        }] }),
        Output(text) => json!({ "role": "tool", "tool_call_id": "call_1", "content": text }),
    }));
    let tools: Vec<Value> = tools
        .iter()
        .map(|name| {
            let function = json!({ "name": name, "parameters": { "type": "object" } });
            json!({ "type": "function", "function": function })
        })
        .collect();
    json!({
        "model": "mock-model",
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "stream": true,
        "stream_options": { "include_usage": true },
    })
}

/// A streamed answer, put back together from its events.
#[derive(Debug, Default)]
struct Answer {
    text: String,
    /// How many text deltas carried the text.
    deltas: usize,
    calls: Vec<ToolCall>,
    /// The stop reason, finish reason or final status.
    stop: String,
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Debug, PartialEq)]
struct ToolCall {
    name: String,
    /// JSON arguments, or a string for a freeform call.
    input: Value,
}

fn tool_call(name: &str, input: Value) -> ToolCall {
    ToolCall { name: name.into(), input }
}

/// The `(event, data)` frames of a server-sent event stream.
fn frames(body: &str) -> Vec<(Option<String>, String)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_string());
                } else if let Some(line) = line.strip_prefix("data: ") {
                    data.push_str(line);
                }
            }
            (event, data)
        })
        .collect()
}

/// Events named after their `type`, as Anthropic and the Responses API send them.
fn typed_events(body: &str) -> Vec<Value> {
    frames(body)
        .into_iter()
        .map(|(event, data)| {
            let data: Value = serde_json::from_str(&data).expect("every event carries JSON");
            assert_eq!(event.as_deref(), data["type"].as_str(), "event name and type differ");
            data
        })
        .collect()
}

fn anthropic_answer(body: &str) -> Answer {
    let events = typed_events(body);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.first(),
        Some(&"message_start"),
        "stream must open with message_start: {kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"message_stop"), "stream must end with message_stop: {kinds:?}");
    let mut answer = Answer::default();
    let mut partial_json = String::new();
    for event in &events {
        match event["type"].as_str().unwrap() {
            "message_start" => {
                answer.input_tokens = event["message"]["usage"]["input_tokens"].as_u64().unwrap()
            }
            "content_block_start" if event["content_block"]["type"] == "tool_use" => {
                answer
                    .calls
                    .push(tool_call(event["content_block"]["name"].as_str().unwrap(), Value::Null));
                partial_json.clear();
            }
            "content_block_delta" if event["delta"]["type"] == "text_delta" => {
                answer.text.push_str(event["delta"]["text"].as_str().unwrap());
                answer.deltas += 1;
            }
            "content_block_delta" => {
                partial_json.push_str(event["delta"]["partial_json"].as_str().unwrap())
            }
            "content_block_stop" if !partial_json.is_empty() => {
                answer.calls.last_mut().unwrap().input =
                    serde_json::from_str(&partial_json).unwrap();
            }
            "message_delta" => {
                answer.stop = event["delta"]["stop_reason"].as_str().unwrap().into();
                answer.output_tokens = event["usage"]["output_tokens"].as_u64().unwrap();
            }
            _ => {}
        }
    }
    answer
}

fn responses_answer(body: &str) -> Answer {
    let events = typed_events(body);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"), "stream must open with response.created");
    assert_eq!(
        kinds.last(),
        Some(&"response.completed"),
        "stream must end with response.completed"
    );
    let numbers: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
    assert!(
        numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "sequence numbers must count up: {numbers:?}"
    );
    let mut answer = Answer::default();
    let mut arguments = String::new();
    for event in &events {
        let item = &event["item"];
        match event["type"].as_str().unwrap() {
            "response.output_text.delta" => {
                answer.text.push_str(event["delta"].as_str().unwrap());
                answer.deltas += 1;
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                arguments.push_str(event["delta"].as_str().unwrap())
            }
            "response.output_item.done" if item["type"] == "function_call" => {
                let done = item["arguments"].as_str().unwrap();
                assert_eq!(arguments, done, "argument deltas must add up to the item's arguments");
                answer.calls.push(tool_call(
                    item["name"].as_str().unwrap(),
                    serde_json::from_str(done).unwrap(),
                ));
            }
            "response.output_item.done" if item["type"] == "custom_tool_call" => {
                assert_eq!(
                    arguments,
                    item["input"].as_str().unwrap(),
                    "input deltas must add up to the input"
                );
                answer.calls.push(tool_call(item["name"].as_str().unwrap(), item["input"].clone()));
            }
            "response.output_item.done" => {
                let text = item["content"][0]["text"].as_str().unwrap();
                assert_eq!(answer.text, text, "text deltas must add up to the item's text");
            }
            "response.completed" => {
                let response = &event["response"];
                answer.stop = response["status"].as_str().unwrap().into();
                answer.input_tokens = response["usage"]["input_tokens"].as_u64().unwrap();
                answer.output_tokens = response["usage"]["output_tokens"].as_u64().unwrap();
            }
            _ => {}
        }
    }
    answer
}

fn chat_answer(body: &str) -> Answer {
    let frames = frames(body);
    assert_eq!(
        frames.last().map(|(_, data)| data.as_str()),
        Some("[DONE]"),
        "stream must end with [DONE]"
    );
    let mut answer = Answer::default();
    let mut arguments = String::new();
    for (event, data) in &frames[..frames.len() - 1] {
        assert_eq!(event, &None, "chat chunks carry no event names");
        let chunk: Value = serde_json::from_str(data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(usage) = chunk.get("usage") {
            answer.input_tokens = usage["prompt_tokens"].as_u64().unwrap();
            answer.output_tokens = usage["completion_tokens"].as_u64().unwrap();
        }
        let Some(choice) = chunk["choices"].get(0) else { continue };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
            answer.text.push_str(text);
            answer.deltas += 1;
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            if let Some(name) = call["function"]["name"].as_str() {
                assert!(call["id"].is_string(), "the first chunk of a call carries its id");
                answer.calls.push(tool_call(name, Value::Null));
            }
            arguments.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            answer.stop = reason.into();
        }
    }
    if let Some(call) = answer.calls.last_mut() {
        call.input = serde_json::from_str(&arguments).unwrap();
    }
    answer
}

/// Sends `body` in `dialect` with the right key and reads the streamed answer back.
async fn ask(fake: &Fake, dialect: Dialect, body: &Value) -> Answer {
    let response = dialect.post(fake, dialect.path(), KEY, body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{dialect:?} request refused");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "text/event-stream", "{dialect:?} answer is not a stream");
    let body = response.text().await.unwrap();
    match dialect {
        Dialect::Anthropic => anthropic_answer(&body),
        Dialect::Responses => responses_answer(&body),
        Dialect::Chat => chat_answer(&body),
    }
}

/// The text each dialect answers to the conversation `entries`, offering its usual tools.
async fn texts(entries: &[Entry<'_>]) -> Vec<(Dialect, String)> {
    let fake = fake(KEY).await;
    let mut texts = Vec::new();
    for dialect in DIALECTS {
        let answer = ask(&fake, dialect, &request(dialect, entries, dialect.tools())).await;
        assert!(answer.calls.is_empty(), "{dialect:?} called a tool: {:?}", answer.calls);
        texts.push((dialect, answer.text));
    }
    texts
}

fn in_every_dialect(text: &str) -> Vec<(Dialect, String)> {
    DIALECTS.iter().map(|dialect| (*dialect, text.to_string())).collect()
}

#[tokio::test]
async fn claude_create_file_prompt_gets_a_write_call_with_the_absolute_path() {
    let fake = fake(KEY).await;
    let body = request(
        Dialect::Anthropic,
        &[User("Create a file notes.txt containing hello there")],
        &["Bash", "Write"],
    );
    let answer = ask(&fake, Dialect::Anthropic, &body).await;
    let input = json!({ "file_path": "/work/repo/notes.txt", "content": "hello there" });
    assert_eq!(answer.calls, [tool_call("Write", input)]);
    assert_eq!(answer.stop, "tool_use");
}

#[tokio::test]
async fn claude_finds_the_working_directory_in_a_message_when_the_system_prompt_lacks_it() {
    let fake = fake(KEY).await;
    let mut body =
        request(Dialect::Anthropic, &[User("Create a file a.txt containing x")], &["Write"]);
    body["system"] = json!("You are Claude Code.");
    let messages = body["messages"].as_array_mut().unwrap();
    let environment = "<env>\nPrimary working directory: /elsewhere\n</env>";
    messages.insert(0, json!({ "role": "user", "content": environment }));
    let answer = ask(&fake, Dialect::Anthropic, &body).await;
    assert_eq!(answer.calls[0].input["file_path"], "/elsewhere/a.txt");
}

#[tokio::test]
async fn claude_run_prompt_gets_a_bash_call() {
    let fake = fake(KEY).await;
    let body = request(
        Dialect::Anthropic,
        &[User("Please do this.\nRun: ls -la /tmp\nThanks")],
        Dialect::Anthropic.tools(),
    );
    let answer = ask(&fake, Dialect::Anthropic, &body).await;
    assert_eq!(answer.calls.len(), 1, "one call expected: {answer:?}");
    assert_eq!(answer.calls[0].name, "Bash");
    assert_eq!(
        answer.calls[0].input["command"], "ls -la /tmp",
        "the command is the rest of the line"
    );
    assert!(answer.calls[0].input["description"].is_string(), "Bash needs a description");
}

#[tokio::test]
async fn claude_tool_result_gets_done_even_with_system_messages_after_it() {
    let fake = fake(KEY).await;
    let entries = [
        User("Create a file a.txt containing x"),
        Call("Write", json!({})),
        Output("File created"),
    ];
    let mut body = request(Dialect::Anthropic, &entries, Dialect::Anthropic.tools());
    let system = json!({ "role": "system", "content": "Create a file b.txt containing y" });
    body["messages"].as_array_mut().unwrap().push(system);
    let answer = ask(&fake, Dialect::Anthropic, &body).await;
    assert_eq!((answer.text.as_str(), answer.stop.as_str()), ("Done.", "end_turn"));
}

#[tokio::test]
async fn claude_title_request_gets_json_filling_its_schema() {
    let fake = fake(KEY).await;
    let mut body = request(Dialect::Anthropic, &[User("Say: not this")], &[]);
    let schema = json!({
        "type": "object",
        "properties": { "title": { "type": "string" } },
        "required": ["title"],
        "additionalProperties": false,
    });
    body["output_config"] = json!({ "format": { "type": "json_schema", "schema": schema } });
    let answer = ask(&fake, Dialect::Anthropic, &body).await;
    let title: Value = serde_json::from_str(&answer.text).expect("the title answer is JSON");
    assert_eq!(title, json!({ "title": "Mock title" }));
}

#[tokio::test]
async fn claude_stream_reports_input_and_output_tokens() {
    let fake = fake(KEY).await;
    let body = request(Dialect::Anthropic, &[User("Say: counted")], Dialect::Anthropic.tools());
    let answer = ask(&fake, Dialect::Anthropic, &body).await;
    assert!(answer.input_tokens > 50, "input tokens should follow the request's size: {answer:?}");
    assert!(answer.output_tokens > 0, "output tokens must not be zero: {answer:?}");
}

#[tokio::test]
async fn anthropic_without_stream_answers_one_json_message() {
    let fake = fake(KEY).await;
    let mut body = request(Dialect::Anthropic, &[User("Run: make test")], &["Bash"]);
    body["stream"] = json!(false);
    let response = Dialect::Anthropic.post(&fake, "/v1/messages", KEY, &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["content"][0]["name"], "Bash");
    assert_eq!(message["content"][0]["input"]["command"], "make test");
    assert!(message["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(message["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn count_tokens_answers_a_positive_count() {
    let fake = fake(KEY).await;
    let body = request(Dialect::Anthropic, &[User("hello")], &[]);
    let response = Dialect::Anthropic
        .post(&fake, "/v1/messages/count_tokens?beta=true", KEY, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let count: Value = response.json().await.unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 0, "count was {count}");
}

#[tokio::test]
async fn codex_create_file_prompt_prefers_exec_command_over_apply_patch() {
    let fake = fake(KEY).await;
    let body = request(
        Dialect::Responses,
        &[User("Create a file notes.txt containing it's here")],
        Dialect::Responses.tools(),
    );
    let answer = ask(&fake, Dialect::Responses, &body).await;
    let command = r#"printf '%s' 'it'\''s here' > notes.txt"#;
    assert_eq!(answer.calls, [tool_call("exec_command", json!({ "cmd": command }))]);
}

#[tokio::test]
async fn codex_create_file_prompt_uses_shell_with_an_argument_list() {
    let fake = fake(KEY).await;
    let body = request(
        Dialect::Responses,
        &[User("Create a file notes.txt containing hi")],
        &["shell", "apply_patch"],
    );
    let answer = ask(&fake, Dialect::Responses, &body).await;
    let input = json!({ "command": ["bash", "-lc", "printf '%s' hi > notes.txt"] });
    assert_eq!(answer.calls, [tool_call("shell", input)]);
}

#[tokio::test]
async fn codex_create_file_prompt_without_a_shell_gets_a_freeform_apply_patch() {
    let fake = fake(KEY).await;
    let body = request(
        Dialect::Responses,
        &[User("Create a file docs/notes.txt containing hello there")],
        &["apply_patch"],
    );
    let answer = ask(&fake, Dialect::Responses, &body).await;
    let patch = "*** Begin Patch\n*** Add File: docs/notes.txt\n+hello there\n*** End Patch\n";
    assert_eq!(answer.calls, [tool_call("apply_patch", json!(patch))]);
}

#[tokio::test]
async fn codex_run_prompt_gets_exec_command() {
    let fake = fake(KEY).await;
    let body =
        request(Dialect::Responses, &[User("Run: git status --short")], Dialect::Responses.tools());
    let answer = ask(&fake, Dialect::Responses, &body).await;
    assert_eq!(answer.calls, [tool_call("exec_command", json!({ "cmd": "git status --short" }))]);
    assert_eq!(answer.stop, "completed");
}

#[tokio::test]
async fn codex_trailing_custom_tool_call_output_gets_done() {
    let fake = fake(KEY).await;
    let mut body =
        request(Dialect::Responses, &[User("Create a file a.txt containing x")], &["apply_patch"]);
    let input = body["input"].as_array_mut().unwrap();
    input.push(json!({
        "type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch", "input": "...",
    }));
    input.push(
        json!({ "type": "custom_tool_call_output", "call_id": "call_1", "output": "Success." }),
    );
    let answer = ask(&fake, Dialect::Responses, &body).await;
    assert_eq!(answer.text, "Done.");
}

#[tokio::test]
async fn responses_stream_completes_with_usage() {
    let fake = fake(KEY).await;
    let body = request(Dialect::Responses, &[User("Say: counted")], Dialect::Responses.tools());
    let answer = ask(&fake, Dialect::Responses, &body).await;
    assert_eq!(answer.text, "counted");
    assert!(answer.input_tokens > 50, "input tokens should follow the request's size: {answer:?}");
    assert!(answer.output_tokens > 0, "output tokens must not be zero: {answer:?}");
}

#[tokio::test]
async fn responses_without_stream_answers_one_response_object() {
    let fake = fake(KEY).await;
    let mut body = request(Dialect::Responses, &[User("Say: plain")], &[]);
    body["stream"] = json!(false);
    let response =
        Dialect::Responses.post(&fake, "/v1/responses", KEY, &body).send().await.unwrap();
    let object: Value = response.json().await.unwrap();
    assert_eq!(object["object"], "response");
    assert_eq!(object["status"], "completed");
    assert_eq!(object["output"][0]["content"][0]["text"], "plain");
    assert!(object["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn opencode_create_file_prompt_gets_a_write_call_with_the_absolute_path() {
    let fake = fake(KEY).await;
    let body = request(
        Dialect::Chat,
        &[User("Create a file notes.txt containing hello there")],
        Dialect::Chat.tools(),
    );
    let answer = ask(&fake, Dialect::Chat, &body).await;
    let input = json!({ "filePath": "/work/repo/notes.txt", "content": "hello there" });
    assert_eq!(answer.calls, [tool_call("write", input)]);
    assert_eq!(answer.stop, "tool_calls");
}

#[tokio::test]
async fn opencode_run_prompt_gets_a_bash_call() {
    let fake = fake(KEY).await;
    let body = request(Dialect::Chat, &[User("Run: cargo check")], Dialect::Chat.tools());
    let answer = ask(&fake, Dialect::Chat, &body).await;
    assert_eq!(answer.calls.len(), 1, "one call expected: {answer:?}");
    assert_eq!(answer.calls[0].name, "bash");
    assert_eq!(answer.calls[0].input["command"], "cargo check");
    assert!(answer.calls[0].input["description"].is_string(), "bash needs a description");
}

#[tokio::test]
async fn opencode_title_request_without_tools_gets_a_plain_title() {
    let fake = fake(KEY).await;
    let mut body = request(
        Dialect::Chat,
        &[
            User("Generate a title for this conversation:"),
            User("\"Create a file a.txt containing x\""),
        ],
        &[],
    );
    body["messages"][0]["content"] =
        json!("You are a title generator. You output ONLY a thread title.");
    let answer = ask(&fake, Dialect::Chat, &body).await;
    assert_eq!(answer.text, "Mock title");
}

#[tokio::test]
async fn opencode_prompt_in_quotes_is_read_without_them() {
    let fake = fake(KEY).await;
    let prompt = "\"Say: he said \\\"hi\\\" there\nsecond line\"";
    let body = request(Dialect::Chat, &[User(prompt)], Dialect::Chat.tools());
    let answer = ask(&fake, Dialect::Chat, &body).await;
    assert_eq!(answer.text, r#"he said "hi" there"#);
    let body =
        request(Dialect::Chat, &[User("\"Create a file a.txt containing x y\"")], &["write"]);
    let answer = ask(&fake, Dialect::Chat, &body).await;
    assert_eq!(answer.calls[0].input["content"], "x y", "the closing quote is not content");
}

#[tokio::test]
async fn chat_stream_ends_with_a_usage_chunk_and_done() {
    let fake = fake(KEY).await;
    let body = request(Dialect::Chat, &[User("Say: counted")], Dialect::Chat.tools());
    let answer = ask(&fake, Dialect::Chat, &body).await;
    assert_eq!((answer.text.as_str(), answer.stop.as_str()), ("counted", "stop"));
    assert!(answer.input_tokens > 50, "prompt tokens should follow the request's size: {answer:?}");
    assert!(answer.output_tokens > 0, "completion tokens must not be zero: {answer:?}");
}

#[tokio::test]
async fn chat_without_stream_answers_one_completion() {
    let fake = fake(KEY).await;
    let mut body = request(Dialect::Chat, &[User("Create a file a.txt containing x")], &["write"]);
    body["stream"] = json!(false);
    let response =
        Dialect::Chat.post(&fake, "/v1/chat/completions", KEY, &body).send().await.unwrap();
    let completion: Value = response.json().await.unwrap();
    assert_eq!(completion["object"], "chat.completion");
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let arguments = choice["message"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    let arguments: Value = serde_json::from_str(arguments).unwrap();
    assert_eq!(arguments, json!({ "filePath": "/work/repo/a.txt", "content": "x" }));
}

#[tokio::test]
async fn a_tool_output_in_the_latest_turn_gets_done_in_every_dialect() {
    let entries = [User("Run: ls"), Call("bash", json!({ "command": "ls" })), Output("a.txt")];
    assert_eq!(texts(&entries).await, in_every_dialect("Done."));
}

#[tokio::test]
async fn create_file_without_a_file_or_shell_tool_falls_through_to_ok() {
    let fake = fake(KEY).await;
    for dialect in DIALECTS {
        let body = request(dialect, &[User("Create a file a.txt containing x")], &["read"]);
        let answer = ask(&fake, dialect, &body).await;
        assert_eq!((answer.calls.len(), answer.text.as_str()), (0, "ok"), "{dialect:?}");
    }
}

#[tokio::test]
async fn resume_check_in_a_fresh_conversation_finds_no_earlier_prompt() {
    let expected = "RESUMED history_has_first_prompt=false prior_user_turns=0";
    assert_eq!(texts(&[User("RESUME-CHECK")]).await, in_every_dialect(expected));
}

#[tokio::test]
async fn resume_check_counts_the_earlier_prompts_but_not_tool_outputs() {
    let entries = [
        User("Run: ls"),
        Call("bash", json!({ "command": "ls" })),
        Output("a.txt"),
        Assistant("Done."),
        User("Say: hi"),
        Assistant("hi"),
        User("RESUME-CHECK: what did I ask?"),
    ];
    let expected = "RESUMED history_has_first_prompt=true prior_user_turns=2";
    assert_eq!(texts(&entries).await, in_every_dialect(expected));
}

#[tokio::test]
async fn finished_after_n_keeps_working_until_the_nth_continuation_prompt() {
    let first = [User("Fix the bug. FINISHED-AFTER 2"), Assistant("ok"), User(CONTINUATION)];
    assert_eq!(texts(&first).await, in_every_dialect("Still working (step 1)"));
    let second = [
        User("Fix the bug. FINISHED-AFTER 2"),
        Assistant("ok"),
        User(CONTINUATION),
        Assistant("Still working (step 1)"),
        User(CONTINUATION),
    ];
    assert_eq!(texts(&second).await, in_every_dialect("FINISHED"));
}

#[tokio::test]
async fn a_continuation_prompt_outside_a_finished_after_loop_gets_ok() {
    let entries = [User("Fix the bug."), Assistant("ok"), User(CONTINUATION)];
    assert_eq!(texts(&entries).await, in_every_dialect("ok"));
}

#[tokio::test]
async fn say_replies_with_the_rest_of_its_line_in_every_dialect() {
    let entries = [User("Please answer.\nSay: Hello, world! It's me.\nNothing more.")];
    assert_eq!(texts(&entries).await, in_every_dialect("Hello, world! It's me."));
}

#[tokio::test]
async fn anything_else_gets_ok_in_every_dialect() {
    assert_eq!(texts(&[User("What is the meaning of life?")]).await, in_every_dialect("ok"));
}

#[tokio::test]
async fn the_same_prompt_gets_the_same_answer_however_often_it_is_sent() {
    let first = texts(&[User("Say: again")]).await;
    let second = texts(&[User("Say: again")]).await;
    assert_eq!(first, second);
    assert_eq!(first, in_every_dialect("again"));
}

#[tokio::test]
async fn slowly_streams_one_word_per_delta_about_200_ms_apart_in_every_dialect() {
    let fake = fake(KEY).await;
    for dialect in DIALECTS {
        let body = request(dialect, &[User("Slowly: 3")], dialect.tools());
        let mut response = dialect.post(&fake, dialect.path(), KEY, &body).send().await.unwrap();
        let mut first_chunk = None;
        let mut text = String::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            first_chunk.get_or_insert_with(Instant::now);
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        let spread = first_chunk.unwrap().elapsed();
        assert!(spread >= Duration::from_millis(350), "{dialect:?} sent it all within {spread:?}");
        let answer = match dialect {
            Dialect::Anthropic => anthropic_answer(&text),
            Dialect::Responses => responses_answer(&text),
            Dialect::Chat => chat_answer(&text),
        };
        assert_eq!((answer.text.as_str(), answer.deltas), ("word1 word2 word3", 3), "{dialect:?}");
    }
}

#[tokio::test]
async fn a_missing_key_gets_each_vendors_401_body() {
    let fake = fake(KEY).await;
    for dialect in DIALECTS {
        let body = request(dialect, &[User("hi")], &[]);
        let url = format!("{}{}", fake.url, dialect.path());
        let response = fake.client.post(url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 401, "{dialect:?}");
        assert_vendor_refusal(dialect, response.json().await.unwrap());
    }
}

#[tokio::test]
async fn a_wrong_key_gets_each_vendors_401_body() {
    let fake = fake(KEY).await;
    for dialect in DIALECTS {
        let body = request(dialect, &[User("hi")], &[]);
        let response = dialect.post(&fake, dialect.path(), "sk-wrong", &body).send().await.unwrap();
        assert_eq!(response.status(), 401, "{dialect:?}");
        assert_vendor_refusal(dialect, response.json().await.unwrap());
    }
}

fn assert_vendor_refusal(dialect: Dialect, body: Value) {
    if dialect == Dialect::Anthropic {
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(body["error"]["type"], "authentication_error", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    } else {
        assert_eq!(body["error"]["type"], "invalid_request_error", "{dialect:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_api_key", "{dialect:?}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn the_key_is_accepted_as_x_api_key_or_as_a_bearer_token() {
    let fake = fake(KEY).await;
    for dialect in DIALECTS {
        let body = request(dialect, &[User("hi")], &[]);
        let url = format!("{}{}", fake.url, dialect.path());
        let with_header =
            fake.client.post(&url).header("x-api-key", KEY).json(&body).send().await.unwrap();
        let with_bearer = fake.client.post(&url).bearer_auth(KEY).json(&body).send().await.unwrap();
        assert_eq!(
            (with_header.status().as_u16(), with_bearer.status().as_u16()),
            (200, 200),
            "{dialect:?}"
        );
    }
}

#[tokio::test]
async fn an_empty_key_in_the_world_accepts_requests_with_any_key_or_none() {
    let fake = fake("").await;
    for dialect in DIALECTS {
        let body = request(dialect, &[User("hi")], &[]);
        let without = fake
            .client
            .post(format!("{}{}", fake.url, dialect.path()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let with_any = dialect.post(&fake, dialect.path(), "anything", &body).send().await.unwrap();
        assert_eq!(
            (without.status().as_u16(), with_any.status().as_u16()),
            (200, 200),
            "{dialect:?}"
        );
    }
}

#[tokio::test]
async fn head_and_get_on_the_root_answer_200_without_a_key() {
    let fake = fake(KEY).await;
    let head = fake.client.head(&fake.url).send().await.unwrap();
    let get = fake.client.get(&fake.url).send().await.unwrap();
    assert_eq!((head.status().as_u16(), get.status().as_u16()), (200, 200));
}

#[tokio::test]
async fn paths_answer_without_the_v1_prefix_and_with_a_query_string() {
    let fake = fake(KEY).await;
    for (dialect, path) in [
        (Dialect::Anthropic, "/messages?beta=true"),
        (Dialect::Responses, "/responses?x=1"),
        (Dialect::Chat, "/chat/completions"),
    ] {
        let body = request(dialect, &[User("hi")], &[]);
        let response = dialect.post(&fake, path, KEY, &body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{dialect:?} at {path}");
    }
}

#[tokio::test]
async fn models_are_listed_in_the_shape_of_the_vendor_asking() {
    let fake = fake(KEY).await;
    let url = format!("{}/v1/models", fake.url);
    let anthropic =
        fake.client.get(&url).header("x-api-key", KEY).header("anthropic-version", "2023-06-01");
    let anthropic: Value = anthropic.send().await.unwrap().json().await.unwrap();
    assert_eq!(anthropic["data"][0]["type"], "model", "{anthropic}");
    let openai: Value =
        fake.client.get(&url).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(openai["object"], "list", "{openai}");
    assert_eq!(openai["data"][0]["object"], "model", "{openai}");
}

#[tokio::test]
async fn every_request_is_recorded_with_its_dialect_and_answer_refusals_too() {
    let fake = fake(KEY).await;
    fake.client.head(&fake.url).send().await.unwrap();
    let body = request(Dialect::Anthropic, &[User("Say: recorded")], &[]);
    ask(&fake, Dialect::Anthropic, &body).await;
    let refused = request(Dialect::Chat, &[User("hi")], &[]);
    Dialect::Chat.post(&fake, Dialect::Chat.path(), "sk-wrong", &refused).send().await.unwrap();
    let body = request(Dialect::Responses, &[User("Run: ls")], &["exec_command"]);
    ask(&fake, Dialect::Responses, &body).await;
    fake.client.post(format!("{}/v1/nowhere", fake.url)).send().await.unwrap();

    let world = fake.world.lock().unwrap();
    let seen: Vec<(&str, &str, &str)> =
        world.requests.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.dialect)).collect();
    assert_eq!(
        seen,
        [
            ("HEAD", "/", "other"),
            ("POST", "/v1/messages", "anthropic"),
            ("POST", "/v1/chat/completions", "chat"),
            ("POST", "/v1/responses", "responses"),
            ("POST", "/v1/nowhere", "other"),
        ]
    );
    let answers: Vec<&str> = world.requests.iter().map(|r| r.answer.as_str()).collect();
    assert_eq!(answers[1], r#"text "recorded""#);
    assert_eq!(answers[2], "401");
    assert_eq!(answers[3], r#"call exec_command {"cmd":"ls"}"#);
    assert_eq!(answers[4], "404");
    assert_eq!(world.requests[1].body["messages"][0]["content"][1]["text"], "Say: recorded");
}

#[tokio::test]
async fn an_unknown_path_gets_404() {
    let fake = fake(KEY).await;
    let response = fake
        .client
        .get(format!("{}/v1/embeddings", fake.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_url", "{body}");
}
