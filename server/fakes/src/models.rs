//! A fake model server: Anthropic's Messages API, OpenAI's Responses API and OpenAI's Chat
//! Completions on one port, close enough that Claude Code, Codex and OpenCode run against it
//! unchanged once their base URL points here. Paths work with or without `/v1`.
//!
//! The reply is scripted by the conversation, never by a counter: the CLIs make side calls
//! (session titles, Claude Code's `HEAD /`) whose number changes with version and settings,
//! and a counted script would drift. The fake reads the latest user turn (consecutive user
//! messages and tool results; system and developer messages in between belong to no turn,
//! because Claude Code sends system messages after the prompt) and answers by the first rule
//! that matches:
//!
//! 1. the turn carries a tool result: the text `Done.`;
//! 2. a session-title request (Anthropic structured output, or no tools offered and a system
//!    prompt about titles): JSON filling the schema, or the plain text `Mock title`;
//! 3. `Create a file NAME containing TEXT`: a call of the file tool on offer (`Write`,
//!    `write`, `exec_command`, `shell`, `apply_patch`, else a shell tool) creating it;
//! 4. `Run: CMD`: a call of the shell tool on offer running CMD;
//! 5. `RESUME-CHECK`: `RESUMED history_has_first_prompt=<bool> prior_user_turns=<n>`, where
//!    n counts the earlier prompts the request replays (turns of tool results excluded);
//! 6. the loop's continuation prompt, when some user turn says `FINISHED-AFTER N`:
//!    `FINISHED` once the continuation prompt has been sent N times, before that
//!    `Still working (step <count>)`;
//! 7. `Say: TEXT`: TEXT;
//! 8. `Slowly: N`: N words, one per delta, 200 ms apart;
//! 9. anything else: `ok`.
//!
//! Markers take the rest of their line; a chat prompt wholly in double quotes (OpenCode's
//! `run` adds them) is read without them. Streams follow the event sequences the real services
//! send, with token usage estimated from the sizes of request and reply. With an API key set,
//! requests must carry it as `x-api-key` or `Authorization: Bearer`, or get the vendor's 401
//! body. Every request is recorded, refused ones too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The loop's continuation prompt, word for word as the product sends it.
const CONTINUATION: &str = "If you have finished all tasks, respond with just the phrase \
                            FINISHED. Otherwise, continue working on the remaining tasks.";
/// The pause between the words of a `Slowly:` reply.
const SLOW_PAUSE: Duration = Duration::from_millis(200);

/// The fake's whole world.
pub struct World {
    /// The only key accepted; empty accepts any request, with a key or without.
    pub api_key: String,
    /// Every request, in the order they arrived.
    pub requests: Vec<Recorded>,
}

/// One request as the fake saw it, and what it answered.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Without the query string (Claude Code adds `?beta=true`).
    pub path: String,
    /// `anthropic`, `responses`, `chat`, or `other` for everything but completions.
    pub dialect: &'static str,
    /// The JSON body; a body that is not JSON as a string, none as null.
    pub body: Value,
    /// A short description of the reply, such as `text "ok"` or `call Write {…}`.
    pub answer: String,
}

pub type Shared = Arc<Mutex<World>>;

impl World {
    /// A world with no requests yet, accepting `api_key` (any key when empty).
    pub fn new(api_key: &str) -> Self {
        World { api_key: api_key.into(), requests: Vec::new() }
    }

    pub fn shared(api_key: &str) -> Shared {
        Arc::new(Mutex::new(World::new(api_key)))
    }
}

/// The router of the fake.
pub fn router(world: Shared) -> Router {
    let completions = |dialect: Dialect| {
        post(move |State(world): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes| {
            complete(world, dialect, uri, headers, body)
        })
    };
    let mut router = Router::new().route("/", get(root));
    // Some CLIs take a base URL ending in `/v1`, others append it themselves.
    for prefix in ["", "/v1"] {
        router = router
            .route(&format!("{prefix}/messages"), completions(Dialect::Anthropic))
            .route(&format!("{prefix}/messages/count_tokens"), post(count_tokens))
            .route(&format!("{prefix}/responses"), completions(Dialect::Responses))
            .route(&format!("{prefix}/chat/completions"), completions(Dialect::Chat))
            .route(&format!("{prefix}/models"), get(models));
    }
    router
        .fallback(unknown)
        // Every request carries the whole conversation; long ones outgrow axum's 2 MB default.
        .layer(DefaultBodyLimit::disable())
        .with_state(world)
}

/// Serves the fake on `address` (port 0 picks a free one) in the background and returns
/// where it listens.
pub async fn spawn(world: Shared, address: &str) -> std::io::Result<SocketAddr> {
    crate::serve(router(world), address).await
}

/// The three wire formats of completions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Anthropic,
    Responses,
    Chat,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Anthropic => "anthropic",
            Dialect::Responses => "responses",
            Dialect::Chat => "chat",
        }
    }

    fn vendor(self) -> Vendor {
        match self {
            Dialect::Anthropic => Vendor::Anthropic,
            Dialect::Responses | Dialect::Chat => Vendor::OpenAi,
        }
    }
}

/// Whose error bodies to answer with.
#[derive(Clone, Copy)]
enum Vendor {
    Anthropic,
    OpenAi,
}

impl Vendor {
    /// For endpoints both vendors have: Anthropic's clients always send `anthropic-version`.
    fn of(headers: &HeaderMap) -> Vendor {
        if headers.contains_key("anthropic-version") {
            Vendor::Anthropic
        } else {
            Vendor::OpenAi
        }
    }
}

fn record(
    world: &Shared,
    method: &str,
    path: &str,
    dialect: &'static str,
    body: Value,
    answer: String,
) {
    let recorded = Recorded { method: method.into(), path: path.into(), dialect, body, answer };
    world.lock().unwrap().requests.push(recorded);
}

/// An error response with `vendor`'s body shape.
fn refuse(vendor: Vendor, status: StatusCode, message: &str) -> Response {
    let body = match vendor {
        Vendor::Anthropic => {
            let kind = match status {
                StatusCode::UNAUTHORIZED => "authentication_error",
                StatusCode::NOT_FOUND => "not_found_error",
                _ => "invalid_request_error",
            };
            json!({ "type": "error", "error": { "type": kind, "message": message } })
        }
        Vendor::OpenAi => {
            let code = match status {
                StatusCode::UNAUTHORIZED => json!("invalid_api_key"),
                StatusCode::NOT_FOUND => json!("unknown_url"),
                _ => Value::Null,
            };
            json!({ "error": {
                "message": message, "type": "invalid_request_error", "param": null, "code": code,
            } })
        }
    };
    (status, Json(body)).into_response()
}

/// The refusal of a request without the world's key, in the words `vendor` uses; none when
/// the key is there or the world accepts any.
fn refusal(world: &Shared, headers: &HeaderMap, vendor: Vendor) -> Option<Response> {
    let key = world.lock().unwrap().api_key.clone();
    if key.is_empty() {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    let given: Vec<&str> = [header("x-api-key"), bearer].into_iter().flatten().collect();
    if given.contains(&key.as_str()) {
        return None;
    }
    let message = match (vendor, given.is_empty()) {
        (Vendor::Anthropic, true) => "x-api-key header is required",
        (Vendor::Anthropic, false) => "invalid x-api-key",
        (Vendor::OpenAi, true) => {
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        }
        (Vendor::OpenAi, false) => "Incorrect API key provided.",
    };
    Some(refuse(vendor, StatusCode::UNAUTHORIZED, message))
}

/// The body as JSON, or as text when it is not JSON, for the record.
fn body_json(body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn root(State(world): State<Shared>, method: Method) -> &'static str {
    // Claude Code checks that its base URL answers before the first request.
    record(&world, method.as_str(), "/", "other", Value::Null, "200".into());
    "fake model server"
}

async fn unknown(
    State(world): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&world, method.as_str(), uri.path(), "other", body_json(&body), "404".into());
    let message = format!("Unknown request URL: {} {}", method, uri.path());
    refuse(Vendor::of(&headers), StatusCode::NOT_FOUND, &message)
}

async fn models(State(world): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let vendor = Vendor::of(&headers);
    if let Some(refusal) = refusal(&world, &headers, vendor) {
        record(&world, "GET", uri.path(), "other", Value::Null, "401".into());
        return refusal;
    }
    record(&world, "GET", uri.path(), "other", Value::Null, "model list".into());
    let body = match vendor {
        Vendor::Anthropic => json!({
            "data": [{
                "type": "model", "id": "fake-model", "display_name": "Fake Model",
                "created_at": "2026-01-01T00:00:00Z",
            }],
            "has_more": false, "first_id": "fake-model", "last_id": "fake-model",
        }),
        Vendor::OpenAi => json!({
            "object": "list",
            "data": [{
                "id": "fake-model", "object": "model", "created": 1767225600, "owned_by": "fake",
            }],
        }),
    };
    Json(body).into_response()
}

async fn count_tokens(
    State(world): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = body_json(&body);
    if let Some(refusal) = refusal(&world, &headers, Vendor::Anthropic) {
        record(&world, "POST", uri.path(), "anthropic", recorded, "401".into());
        return refusal;
    }
    let tokens = estimate_tokens(body.len());
    record(&world, "POST", uri.path(), "anthropic", recorded, format!("input_tokens {tokens}"));
    Json(json!({ "input_tokens": tokens })).into_response()
}

/// Answers a completion request in `dialect`: checks the key, decides the reply from the
/// conversation, records it, and sends it as a stream when the request asks for one.
async fn complete(
    world: Shared,
    dialect: Dialect,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = body_json(&body);
    let keep = |answer: String| {
        record(&world, "POST", uri.path(), dialect.name(), request.clone(), answer)
    };
    if let Some(refusal) = refusal(&world, &headers, dialect.vendor()) {
        keep("401".into());
        return refusal;
    }
    if !request.is_object() {
        keep("400".into());
        return refuse(
            dialect.vendor(),
            StatusCode::BAD_REQUEST,
            "The request body is not a JSON object.",
        );
    };

    let conversation = Conversation::read(dialect, &request);
    let reply = decide(&conversation);
    keep(reply.describe());

    let usage = Usage { input: estimate_tokens(body.len()), output: estimate_tokens(reply.size()) };
    let model = request["model"].as_str().unwrap_or("fake-model");
    if request["stream"].as_bool() == Some(true) {
        return stream(dialect, &reply, model, &usage).into_response();
    }
    // Without a stream there is nothing to pace, but the reply still takes its time.
    tokio::time::sleep(reply.duration()).await;
    Json(whole(dialect, &reply, model, &usage)).into_response()
}

/// The reply as one JSON body in `dialect`.
fn whole(dialect: Dialect, reply: &Reply, model: &str, usage: &Usage) -> Value {
    match dialect {
        Dialect::Anthropic => anthropic_message(reply, model, usage),
        Dialect::Responses => {
            response_object(&id("resp_"), model, "completed", vec![response_item(reply)], usage)
        }
        Dialect::Chat => chat_completion(reply, model, usage),
    }
}

/// The reply as an event stream in `dialect`.
fn stream(dialect: Dialect, reply: &Reply, model: &str, usage: &Usage) -> Sse {
    match dialect {
        Dialect::Anthropic => anthropic_stream(reply, model, usage),
        Dialect::Responses => responses_stream(reply, model, usage),
        Dialect::Chat => chat_stream(reply, model, usage),
    }
}

/// A rough token count for `bytes` of text: real tokenizers average about four bytes a token.
fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

fn id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The values of an array, or none for anything else.
fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The text of a message's content: a string, or the `text` of each part joined by lines.
fn text_of(content: &Value) -> String {
    if let Some(text) = content.as_str() {
        return text.into();
    }
    let parts = items(content).iter().filter_map(|part| part["text"].as_str());
    parts.filter(|text| !text.is_empty()).collect::<Vec<_>>().join("\n")
}

/// A request's conversation in the terms of the rules, whatever its dialect.
#[derive(Default)]
struct Conversation {
    /// System prompts, instructions and developer messages, joined by lines.
    system: String,
    /// The user's turns, oldest first.
    turns: Vec<Turn>,
    /// Whether the next user message continues the last turn (the model has not spoken since).
    is_turn_open: bool,
    tools: Vec<Tool>,
    /// The JSON schema an Anthropic request wants its answer to follow.
    schema: Option<Value>,
}

/// What the user said between two answers of the model.
#[derive(Clone, Default)]
struct Turn {
    text: String,
    has_tool_result: bool,
}

/// A tool the request offers.
struct Tool {
    name: String,
    /// A Responses custom tool, called with plain text instead of JSON arguments.
    is_freeform: bool,
    /// The first argument its schema requires: tools of one name differ between CLIs
    /// (OpenCode's `apply_patch` takes `patchText`, Codex's `input`).
    first_argument: Option<String>,
}

/// The first required property of a tool's parameter schema.
fn first_required(parameters: &Value) -> Option<String> {
    parameters["required"].get(0).and_then(Value::as_str).map(str::to_owned)
}

impl Conversation {
    fn read(dialect: Dialect, body: &Value) -> Self {
        let mut conversation = Conversation::default();
        match dialect {
            Dialect::Anthropic => conversation.read_anthropic(body),
            Dialect::Responses => conversation.read_responses(body),
            Dialect::Chat => conversation.read_chat(body),
        }
        conversation
    }

    fn read_anthropic(&mut self, body: &Value) {
        self.system_says(&text_of(&body["system"]));
        for message in items(&body["messages"]) {
            let content = &message["content"];
            match message["role"].as_str() {
                Some("user") => {
                    if items(content).iter().any(|block| block["type"] == "tool_result") {
                        self.tool_result();
                    }
                    self.user_says(&text_of(content));
                }
                Some("assistant") => self.is_turn_open = false,
                _ => self.system_says(&text_of(content)),
            }
        }
        self.tools = items(&body["tools"])
            .iter()
            .filter_map(|tool| {
                let name = tool["name"].as_str()?;
                let first_argument = first_required(&tool["input_schema"]);
                Some(Tool { name: name.into(), is_freeform: false, first_argument })
            })
            .collect();
        let format = &body["output_config"]["format"];
        if format["type"] == "json_schema" {
            self.schema = Some(format["schema"].clone());
        }
    }

    fn read_responses(&mut self, body: &Value) {
        self.system_says(&text_of(&body["instructions"]));
        if let Some(prompt) = body["input"].as_str() {
            self.user_says(prompt);
        }
        for item in items(&body["input"]) {
            let kind = item["type"].as_str().unwrap_or("message");
            match (kind, item["role"].as_str()) {
                ("message", Some("user")) => self.user_says(&text_of(&item["content"])),
                ("message", Some("system" | "developer")) => {
                    self.system_says(&text_of(&item["content"]))
                }
                ("function_call_output" | "custom_tool_call_output", _) => self.tool_result(),
                // Assistant messages, calls, reasoning: the model spoke.
                _ => self.is_turn_open = false,
            }
        }
        for tool in items(&body["tools"]) {
            let (Some(kind), Some(name)) = (tool["type"].as_str(), tool["name"].as_str()) else {
                continue;
            };
            if kind == "function" || kind == "custom" {
                self.tools.push(Tool {
                    name: name.into(),
                    is_freeform: kind == "custom",
                    first_argument: first_required(&tool["parameters"]),
                });
            }
        }
    }

    fn read_chat(&mut self, body: &Value) {
        for message in items(&body["messages"]) {
            let content = &message["content"];
            match message["role"].as_str() {
                Some("user") => self.user_says(&unquoted(&text_of(content))),
                Some("tool") => self.tool_result(),
                Some("assistant") => self.is_turn_open = false,
                _ => self.system_says(&text_of(content)),
            }
        }
        self.tools = items(&body["tools"])
            .iter()
            .filter_map(|tool| {
                let name = tool["function"]["name"].as_str()?;
                let first_argument = first_required(&tool["function"]["parameters"]);
                Some(Tool { name: name.into(), is_freeform: false, first_argument })
            })
            .collect();
    }

    fn system_says(&mut self, text: &str) {
        if !text.is_empty() {
            self.system.push_str(text);
            self.system.push('\n');
        }
    }

    /// The turn the user is speaking in, opening one if the model spoke last.
    fn open_turn(&mut self) -> &mut Turn {
        if !self.is_turn_open {
            self.turns.push(Turn::default());
            self.is_turn_open = true;
        }
        self.turns.last_mut().expect("a turn was just opened")
    }

    fn user_says(&mut self, text: &str) {
        let turn = self.open_turn();
        if !text.is_empty() {
            if !turn.text.is_empty() {
                turn.text.push('\n');
            }
            turn.text.push_str(text);
        }
    }

    fn tool_result(&mut self) {
        self.open_turn().has_tool_result = true;
    }

    fn latest(&self) -> Turn {
        self.turns.last().cloned().unwrap_or_default()
    }

    fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    /// The directory the CLI works in, as its prompt states it: Claude Code says "Primary
    /// working directory" (in the system prompt, or in a message in newer versions), OpenCode
    /// "Working directory".
    fn working_directory(&self) -> Option<&str> {
        let texts = std::iter::once(self.system.as_str())
            .chain(self.turns.iter().map(|turn| turn.text.as_str()));
        for text in texts {
            let found = line_after(text, "Primary working directory: ")
                .or_else(|| line_after(text, "Working directory: "));
            if let Some(directory) = found.filter(|directory| directory.starts_with('/')) {
                return Some(directory);
            }
        }
        None
    }
}

/// `text` without the double quotes OpenCode's `run` wraps around a prompt that holds a
/// space (escaping the prompt's own quotes), so that markers see the prompt as written.
fn unquoted(text: &str) -> String {
    match text.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\""),
        None => text.into(),
    }
}

/// The rest of the line after the first `marker` in `text`, trimmed; none without one.
fn line_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    Some(rest.lines().next().unwrap_or_default().trim())
}

/// What the fake answers.
enum Reply {
    /// Text in deltas, sent `pause` apart.
    Text { deltas: Vec<String>, pause: Duration },
    /// A call of the tool `name`.
    Call { name: String, input: Input },
}

/// A tool call's input.
enum Input {
    Json(Value),
    /// For a Responses custom tool.
    Freeform(String),
}

impl Reply {
    fn text(text: &str) -> Reply {
        Reply::Text { deltas: vec![text.into()], pause: Duration::ZERO }
    }

    fn call(name: &str, input: Value) -> Reply {
        Reply::Call { name: name.into(), input: Input::Json(input) }
    }

    /// `words` words, one per delta, paced so that a client sees them arrive.
    fn slowly(words: usize) -> Reply {
        let deltas = (1..=words.max(1))
            .map(|n| if n == 1 { "word1".to_string() } else { format!(" word{n}") })
            .collect();
        Reply::Text { deltas, pause: SLOW_PAUSE }
    }

    fn full_text(&self) -> String {
        match self {
            Reply::Text { deltas, .. } => deltas.concat(),
            Reply::Call { .. } => String::new(),
        }
    }

    /// How long the whole reply takes to send.
    fn duration(&self) -> Duration {
        match self {
            Reply::Text { deltas, pause } => *pause * deltas.len().saturating_sub(1) as u32,
            Reply::Call { .. } => Duration::ZERO,
        }
    }

    /// The reply's length in bytes, for its token count.
    fn size(&self) -> usize {
        match self {
            Reply::Text { .. } => self.full_text().len(),
            Reply::Call { name, input } => name.len() + input.text().len(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Reply::Text { deltas, .. } if deltas.len() > 1 => {
                format!("text {:?} in {} deltas", self.full_text(), deltas.len())
            }
            Reply::Text { .. } => format!("text {:?}", self.full_text()),
            Reply::Call { name, input: Input::Json(input) } => format!("call {name} {input}"),
            Reply::Call { name, input: Input::Freeform(input) } => format!("call {name} {input:?}"),
        }
    }
}

impl Input {
    /// As a Responses item carries it: JSON arguments as a string, or the plain text.
    fn text(&self) -> String {
        match self {
            Input::Json(value) => value.to_string(),
            Input::Freeform(text) => text.clone(),
        }
    }

    /// As a JSON object, for the dialects that have no freeform tools.
    fn json(&self) -> Value {
        match self {
            Input::Json(value) => value.clone(),
            Input::Freeform(text) => json!({ "input": text }),
        }
    }
}

/// The reply the rules in the module documentation choose.
fn decide(conversation: &Conversation) -> Reply {
    let latest = conversation.latest();
    let text = latest.text.as_str();
    if latest.has_tool_result {
        return Reply::text("Done.");
    }
    if let Some(schema) = &conversation.schema {
        return Reply::text(&filled(schema).to_string());
    }
    if conversation.tools.is_empty() && conversation.system.to_lowercase().contains("title") {
        return Reply::text("Mock title");
    }
    if let Some(call) =
        line_after(text, "Create a file ").and_then(|rest| create_file(conversation, rest))
    {
        return call;
    }
    if let Some(call) = line_after(text, "Run: ").and_then(|command| run(conversation, command)) {
        return call;
    }
    if text.contains("RESUME-CHECK") {
        return resume_check(conversation);
    }
    if let Some(reply) = loop_step(conversation, text) {
        return reply;
    }
    if let Some(said) = line_after(text, "Say: ") {
        return Reply::text(said);
    }
    if let Some(words) = line_after(text, "Slowly: ").and_then(|n| n.parse().ok()) {
        return Reply::slowly(words);
    }
    Reply::text("ok")
}

/// A value of the shape `schema` describes: each string property `Mock <name>`.
fn filled(schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("object") => {
            let properties = schema["properties"].as_object().into_iter().flatten();
            let filled = properties.map(|(name, property)| {
                let value = match property["type"].as_str() {
                    Some("string") => json!(format!("Mock {name}")),
                    _ => filled(property),
                };
                (name.clone(), value)
            });
            Value::Object(filled.collect())
        }
        Some("array") => json!([]),
        Some("boolean") => json!(false),
        Some("integer" | "number") => json!(0),
        Some("string") => json!("Mock"),
        _ => Value::Null,
    }
}

/// `text` quoted for a POSIX shell, unless it needs no quoting.
fn shell_quote(text: &str) -> String {
    let is_plain = |c: char| c.is_ascii_alphanumeric() || "_./-=:,+@%".contains(c);
    if !text.is_empty() && text.chars().all(is_plain) {
        return text.into();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A call creating the file that `rest` ("NAME containing TEXT") asks for, with the first
/// suitable tool on offer.
fn create_file(conversation: &Conversation, rest: &str) -> Option<Reply> {
    let (name, content) = rest.split_once(" containing ")?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let path = match conversation.working_directory() {
        Some(directory) if !name.starts_with('/') => {
            format!("{}/{name}", directory.trim_end_matches('/'))
        }
        _ => name.to_string(),
    };
    if conversation.tool("Write").is_some() {
        return Some(Reply::call("Write", json!({ "file_path": path, "content": content })));
    }
    if conversation.tool("write").is_some() {
        return Some(Reply::call("write", json!({ "filePath": path, "content": content })));
    }
    // The shell comes first: Codex offers it with every model, apply_patch only with the
    // models it knows.
    if conversation.tool("exec_command").is_none() && conversation.tool("shell").is_none() {
        if let Some(tool) = conversation.tool("apply_patch") {
            let patch =
                format!("*** Begin Patch\n*** Add File: {name}\n+{content}\n*** End Patch\n");
            let input = if tool.is_freeform {
                Input::Freeform(patch)
            } else {
                let argument = tool.first_argument.as_deref().unwrap_or("input");
                Input::Json(json!({ argument: patch }))
            };
            return Some(Reply::Call { name: tool.name.clone(), input });
        }
    }
    let command = format!("printf '%s' {} > {}", shell_quote(content), shell_quote(name));
    run(conversation, &command)
}

/// A call running `command` with the shell tool on offer.
fn run(conversation: &Conversation, command: &str) -> Option<Reply> {
    for name in ["Bash", "bash"] {
        if conversation.tool(name).is_some() {
            let description = "Runs the command the user asked for";
            return Some(Reply::call(
                name,
                json!({ "command": command, "description": description }),
            ));
        }
    }
    if conversation.tool("exec_command").is_some() {
        return Some(Reply::call("exec_command", json!({ "cmd": command })));
    }
    if conversation.tool("shell").is_some() {
        return Some(Reply::call("shell", json!({ "command": ["bash", "-lc", command] })));
    }
    None
}

/// Says how many earlier prompts the request carries, which proves a resumed session sent its
/// history.
fn resume_check(conversation: &Conversation) -> Reply {
    let prompts = conversation.turns.iter().filter(|turn| !turn.has_tool_result).count();
    let prior = prompts.saturating_sub(1);
    Reply::text(&format!("RESUMED history_has_first_prompt={} prior_user_turns={prior}", prior > 0))
}

/// A loop's step: `FINISHED` once the continuation prompt has come as often as the
/// conversation's `FINISHED-AFTER N` asks; none outside such a loop.
fn loop_step(conversation: &Conversation, latest: &str) -> Option<Reply> {
    if !latest.contains(CONTINUATION) {
        return None;
    }
    let texts = || conversation.turns.iter().map(|turn| turn.text.as_str());
    let limit: usize = texts().find_map(|text| {
        let digits: String =
            line_after(text, "FINISHED-AFTER ")?.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })?;
    let count = texts().filter(|text| text.contains(CONTINUATION)).count();
    if count >= limit {
        Some(Reply::text("FINISHED"))
    } else {
        Some(Reply::text(&format!("Still working (step {count})")))
    }
}

/// Token counts for one reply.
struct Usage {
    input: u64,
    output: u64,
}

/// An event stream under construction: each frame waits for its pause, then goes out.
#[derive(Default)]
struct Sse {
    frames: Vec<(Duration, String)>,
    pause: Duration,
    /// Number events with `sequence_number`, as the Responses API does.
    is_numbered: bool,
}

impl Sse {
    /// Makes the next frame wait `pause` before it goes out.
    fn wait(&mut self, pause: Duration) {
        self.pause = pause;
    }

    fn push(&mut self, frame: String) {
        self.frames.push((std::mem::take(&mut self.pause), frame));
    }

    /// An event named by its `type`, as Anthropic and the Responses API send them.
    fn event(&mut self, mut data: Value) {
        if self.is_numbered {
            data["sequence_number"] = json!(self.frames.len());
        }
        let name = data["type"].as_str().unwrap_or_default().to_string();
        self.push(format!("event: {name}\ndata: {data}\n\n"));
    }

    /// A bare data line, as Chat Completions sends them.
    fn data(&mut self, data: impl std::fmt::Display) {
        self.push(format!("data: {data}\n\n"));
    }

    fn into_response(self) -> Response {
        let frames = futures_util::stream::iter(self.frames).then(|(pause, frame)| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            Ok::<_, Infallible>(frame)
        });
        let headers =
            [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")];
        (headers, Body::from_stream(frames)).into_response()
    }
}

fn anthropic_usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
    })
}

fn anthropic_stop_reason(reply: &Reply) -> &'static str {
    match reply {
        Reply::Text { .. } => "end_turn",
        Reply::Call { .. } => "tool_use",
    }
}

/// The reply as one non-streamed Anthropic message.
fn anthropic_message(reply: &Reply, model: &str, usage: &Usage) -> Value {
    let block = match reply {
        Reply::Text { .. } => json!({ "type": "text", "text": reply.full_text() }),
        Reply::Call { name, input } => {
            json!({ "type": "tool_use", "id": id("toolu_"), "name": name, "input": input.json() })
        }
    };
    json!({
        "id": id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block],
        "stop_reason": anthropic_stop_reason(reply),
        "stop_sequence": null,
        "usage": anthropic_usage(usage.input, usage.output),
    })
}

/// The reply as Anthropic streams it: the message, one content block, the stop reason.
fn anthropic_stream(reply: &Reply, model: &str, usage: &Usage) -> Sse {
    let mut sse = Sse::default();
    sse.event(json!({
        "type": "message_start",
        "message": {
            "id": id("msg_"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": anthropic_usage(usage.input, 1),
        },
    }));
    let block = match reply {
        Reply::Text { .. } => json!({ "type": "text", "text": "" }),
        Reply::Call { name, .. } => {
            json!({ "type": "tool_use", "id": id("toolu_"), "name": name, "input": {} })
        }
    };
    sse.event(json!({ "type": "content_block_start", "index": 0, "content_block": block }));
    match reply {
        Reply::Text { deltas, pause } => {
            for (n, text) in deltas.iter().enumerate() {
                if n > 0 {
                    sse.wait(*pause);
                }
                let delta = json!({ "type": "text_delta", "text": text });
                sse.event(json!({ "type": "content_block_delta", "index": 0, "delta": delta }));
            }
        }
        Reply::Call { input, .. } => {
            let delta =
                json!({ "type": "input_json_delta", "partial_json": input.json().to_string() });
            sse.event(json!({ "type": "content_block_delta", "index": 0, "delta": delta }));
        }
    }
    sse.event(json!({ "type": "content_block_stop", "index": 0 }));
    sse.event(json!({
        "type": "message_delta",
        "delta": { "stop_reason": anthropic_stop_reason(reply), "stop_sequence": null },
        "usage": anthropic_usage(usage.input, usage.output),
    }));
    sse.event(json!({ "type": "message_stop" }));
    sse
}

fn responses_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input,
        "input_tokens_details": { "cached_tokens": 0 },
        "output_tokens": usage.output,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": usage.input + usage.output,
    })
}

fn response_object(
    id: &str,
    model: &str,
    status: &str,
    output: Vec<Value>,
    usage: &Usage,
) -> Value {
    let usage = if status == "completed" { responses_usage(usage) } else { Value::Null };
    json!({
        "id": id,
        "object": "response",
        "created_at": chrono::Utc::now().timestamp(),
        "status": status,
        "model": model,
        "output": output,
        "usage": usage,
        "error": null,
        "incomplete_details": null,
    })
}

/// The reply as a finished Responses output item.
fn response_item(reply: &Reply) -> Value {
    match reply {
        Reply::Text { .. } => json!({
            "id": id("msg_"), "type": "message", "status": "completed", "role": "assistant",
            "content": [{ "type": "output_text", "text": reply.full_text(), "annotations": [] }],
        }),
        Reply::Call { name, input: Input::Json(input) } => json!({
            "id": id("fc_"), "type": "function_call", "status": "completed",
            "call_id": id("call_"), "name": name, "arguments": input.to_string(),
        }),
        Reply::Call { name, input: Input::Freeform(input) } => json!({
            "id": id("ctc_"), "type": "custom_tool_call", "call_id": id("call_"),
            "name": name, "input": input,
        }),
    }
}

/// The reply as the Responses API streams it: the response, one output item built up by
/// deltas, the completed response with usage.
fn responses_stream(reply: &Reply, model: &str, usage: &Usage) -> Sse {
    let mut sse = Sse { is_numbered: true, ..Sse::default() };
    let response_id = id("resp_");
    let started = response_object(&response_id, model, "in_progress", Vec::new(), usage);
    sse.event(json!({ "type": "response.created", "response": started.clone() }));
    sse.event(json!({ "type": "response.in_progress", "response": started }));

    let done = response_item(reply);
    let item_id = done["id"].clone();
    let mut added = done.clone();
    match reply {
        Reply::Text { .. } => {
            added["status"] = json!("in_progress");
            added["content"] = json!([]);
        }
        Reply::Call { input: Input::Json(_), .. } => {
            added["status"] = json!("in_progress");
            added["arguments"] = json!("");
        }
        Reply::Call { input: Input::Freeform(_), .. } => added["input"] = json!(""),
    }
    sse.event(json!({ "type": "response.output_item.added", "output_index": 0, "item": added }));
    item_deltas(&mut sse, reply, &item_id);
    sse.event(
        json!({ "type": "response.output_item.done", "output_index": 0, "item": done.clone() }),
    );

    let completed = response_object(&response_id, model, "completed", vec![done], usage);
    sse.event(json!({ "type": "response.completed", "response": completed }));
    sse
}

/// The events that build up the Responses output item `item_id` between its `added` and
/// `done` events.
fn item_deltas(sse: &mut Sse, reply: &Reply, item_id: &Value) {
    let event = |kind: &str, mut fields: Value| {
        fields["type"] = json!(kind);
        fields["item_id"] = item_id.clone();
        fields["output_index"] = json!(0);
        fields
    };
    match reply {
        Reply::Text { deltas, pause } => {
            let text = reply.full_text();
            let part =
                |text: &str| json!({ "type": "output_text", "text": text, "annotations": [] });
            let added = json!({ "content_index": 0, "part": part("") });
            sse.event(event("response.content_part.added", added));
            for (n, delta) in deltas.iter().enumerate() {
                if n > 0 {
                    sse.wait(*pause);
                }
                let delta = json!({ "content_index": 0, "delta": delta });
                sse.event(event("response.output_text.delta", delta));
            }
            let done = json!({ "content_index": 0, "text": text });
            sse.event(event("response.output_text.done", done));
            let done = json!({ "content_index": 0, "part": part(&text) });
            sse.event(event("response.content_part.done", done));
        }
        Reply::Call { input: Input::Json(input), .. } => {
            let arguments = input.to_string();
            sse.event(event(
                "response.function_call_arguments.delta",
                json!({ "delta": arguments }),
            ));
            let done = json!({ "arguments": arguments });
            sse.event(event("response.function_call_arguments.done", done));
        }
        Reply::Call { input: Input::Freeform(input), .. } => {
            sse.event(event("response.custom_tool_call_input.delta", json!({ "delta": input })));
            sse.event(event("response.custom_tool_call_input.done", json!({ "input": input })));
        }
    }
}

fn chat_usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": { "cached_tokens": 0 },
        "completion_tokens_details": { "reasoning_tokens": 0 },
    })
}

fn chat_finish_reason(reply: &Reply) -> &'static str {
    match reply {
        Reply::Text { .. } => "stop",
        Reply::Call { .. } => "tool_calls",
    }
}

/// The reply as one non-streamed chat completion.
fn chat_completion(reply: &Reply, model: &str, usage: &Usage) -> Value {
    let message = match reply {
        Reply::Text { .. } => json!({ "role": "assistant", "content": reply.full_text() }),
        Reply::Call { name, input } => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": id("call_"), "type": "function",
                "function": { "name": name, "arguments": input.json().to_string() },
            }],
        }),
    };
    json!({
        "id": id("chatcmpl-"),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": model,
        "choices": [{
            "index": 0, "message": message, "logprobs": null,
            "finish_reason": chat_finish_reason(reply),
        }],
        "usage": chat_usage(usage),
    })
}

/// The reply as Chat Completions streams it: chunks of deltas, the finish reason, a chunk
/// with the usage, `[DONE]`.
fn chat_stream(reply: &Reply, model: &str, usage: &Usage) -> Sse {
    let mut sse = Sse::default();
    let completion_id = id("chatcmpl-");
    let created = chrono::Utc::now().timestamp();
    let chunk = |choices: Value| {
        json!({
            "id": completion_id, "object": "chat.completion.chunk", "created": created,
            "model": model, "system_fingerprint": null, "choices": choices,
        })
    };
    let choice = |delta: Value, finish: Value| {
        chunk(json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]))
    };

    match reply {
        Reply::Text { deltas, pause } => {
            sse.data(choice(json!({ "role": "assistant", "content": "" }), Value::Null));
            for (n, text) in deltas.iter().enumerate() {
                if n > 0 {
                    sse.wait(*pause);
                }
                sse.data(choice(json!({ "content": text }), Value::Null));
            }
        }
        Reply::Call { name, input } => {
            let call = json!({
                "index": 0, "id": id("call_"), "type": "function",
                "function": { "name": name, "arguments": "" },
            });
            sse.data(choice(
                json!({ "role": "assistant", "content": null, "tool_calls": [call] }),
                Value::Null,
            ));
            let arguments =
                json!({ "index": 0, "function": { "arguments": input.json().to_string() } });
            sse.data(choice(json!({ "tool_calls": [arguments] }), Value::Null));
        }
    }
    sse.data(choice(json!({}), json!(chat_finish_reason(reply))));
    let mut last = chunk(json!([]));
    last["usage"] = chat_usage(usage);
    sse.data(last);
    sse.data("[DONE]");
    sse
}
