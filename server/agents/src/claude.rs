//! Claude Code: `claude -p … --output-format stream-json`.

use serde_json::Value;

use crate::invocation::{arguments, Invocation, Request};
use crate::parse::{self, count_at, str_at, Line, Run};
use crate::{Agent, Event, Parser, ToolStatus, Usage};

pub(crate) fn invocation(request: &Request) -> Invocation {
    let mut args = arguments([
        "-p",
        "--output-format",
        "stream-json",
        // stream-json in print mode refuses to start without it.
        "--verbose",
        "--dangerously-skip-permissions",
    ]);
    if !request.model.is_empty() {
        args.extend(arguments(["--model", request.model]));
    }
    if let Some(session) = request.resume {
        args.extend(arguments(["--resume", session]));
    }
    // A prompt that starts with a dash would otherwise be taken for an unknown option.
    args.extend(arguments(["--", request.prompt]));

    let mut env = vec![
        // The sandbox often runs as root, where the permission bypass refuses to start
        // unless it is told it is sandboxed.
        ("IS_SANDBOX", "1"),
        // Telemetry, bootstrap and title calls, which also stall a sandbox with no way out.
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
    ];
    let key = request.key.trim();
    if !key.is_empty() {
        // Subscription tokens from `claude setup-token` are not API keys and go elsewhere.
        let name = if key.starts_with("sk-ant-oat") {
            "CLAUDE_CODE_OAUTH_TOKEN"
        } else {
            "ANTHROPIC_API_KEY"
        };
        env.push((name, key));
    }
    if let Some(endpoint) = request.endpoint {
        env.push(("ANTHROPIC_BASE_URL", endpoint.trim_end_matches('/')));
    }

    Invocation::new(Agent::ClaudeCode, request, args, env)
}

/// Reads Claude Code's stream-json: `system`, `assistant`, `user` and a final `result`.
#[derive(Default)]
pub(crate) struct ClaudeParser {
    run: Run,
    last_text: Option<String>,
    /// The text of the last assistant message that was an API error.
    reported_error: Option<String>,
}

impl Parser for ClaudeParser {
    fn line(&mut self, line: &str) -> Vec<Event> {
        let value = match parse::read(line) {
            Line::Empty => return Vec::new(),
            Line::Text(text) => return vec![Event::Output { text }],
            Line::Json(value) => value,
        };
        // Every line carries the session id; the first one seen is the session.
        let mut events: Vec<Event> =
            str_at(&value, "session_id").and_then(|id| self.run.session(id)).into_iter().collect();
        match str_at(&value, "type") {
            Some("assistant") => self.blocks(&value, true, &mut events),
            Some("user") => self.blocks(&value, false, &mut events),
            Some("result") => events.extend(self.result(&value)),
            Some("system") if str_at(&value, "subtype") == Some("api_retry") => {
                events.push(self.run.error(retry_message(&value)));
            }
            _ => {}
        }
        events
    }

    fn end(&mut self, exit_code: Option<i32>) -> Vec<Event> {
        let is_error = exit_code != Some(0);
        self.run.ended(Agent::ClaudeCode, exit_code, is_error, None, self.last_text.take())
    }
}

impl ClaudeParser {
    /// The content blocks of a message, each in order: one message can hold several texts
    /// and several tool calls. Text is taken from the assistant only; the user side holds
    /// the prompt and tool results.
    fn blocks(&mut self, value: &Value, from_assistant: bool, events: &mut Vec<Event>) {
        let Some(blocks) = value.pointer("/message/content").and_then(Value::as_array) else {
            return;
        };
        // A failed API call comes back as a made-up assistant message marked with an error
        // kind; its text is the error, not the agent's words.
        let is_api_error = value.get("error").is_some_and(|error| !error.is_null());
        for block in blocks {
            let kind = str_at(block, "type").unwrap_or_default();
            if kind == "text" && from_assistant {
                let text = str_at(block, "text").unwrap_or_default();
                if text.trim().is_empty() {
                    continue;
                }
                if is_api_error {
                    self.reported_error = Some(text.to_owned());
                    events.push(self.run.error(text));
                } else {
                    self.last_text = Some(text.to_owned());
                    events.push(Event::Text { text: text.to_owned() });
                }
            } else if kind.ends_with("tool_use") {
                // tool_use, and the server_tool_use and mcp_tool_use blocks shaped like it.
                let id = str_at(block, "id").unwrap_or_default();
                let name = str_at(block, "name").unwrap_or_default();
                let input = block.get("input").cloned().unwrap_or(Value::Null);
                events.extend(self.run.tools.start(id, name, parse::summary(&input), input));
            } else if kind.ends_with("tool_result") {
                let id = str_at(block, "tool_use_id").unwrap_or_default();
                let content = block.get("content").unwrap_or(&Value::Null);
                let failed = block.get("is_error").and_then(Value::as_bool).unwrap_or(false)
                    || str_at(content, "type").is_some_and(|kind| kind.ends_with("_error"));
                let status = if failed { ToolStatus::Failed } else { ToolStatus::Completed };
                events.push(self.run.tools.finish(id, content_text(content), status));
            }
        }
    }

    fn result(&mut self, value: &Value) -> Vec<Event> {
        let subtype = str_at(value, "subtype").unwrap_or_default();
        // API and key failures arrive as subtype "success" with is_error set, so is_error
        // decides; the subtype only stands in when it is missing.
        let is_error = value
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| subtype.starts_with("error"));
        let result = str_at(value, "result").map(str::to_owned);
        // The same words already reported from the assistant's message are not repeated.
        let error = is_error
            .then(|| error_message(value, subtype))
            .filter(|message| self.reported_error.as_ref() != Some(message));
        self.run.finish(usage(value), error, is_error, result)
    }
}

/// The text of a tool result: a string, or text blocks joined by newlines.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| match str_at(block, "type") {
                Some("text") => str_at(block, "text").map(str::to_owned),
                Some("image") => Some("[image]".to_owned()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Tokens and cost from a `result` line. The per-model totals are preferred to `usage`
/// because, like the cost, they include sub-agents and side calls; `usage` counts only
/// the main loop.
fn usage(value: &Value) -> Option<Usage> {
    let cost_usd = value.get("total_cost_usd").and_then(Value::as_f64);
    let per_model = value.get("modelUsage").and_then(Value::as_object).filter(|m| !m.is_empty());
    if let Some(models) = per_model {
        let sum = |key| models.values().map(|model| count_at(model, key)).sum();
        return Some(Usage {
            input_tokens: sum("inputTokens"),
            output_tokens: sum("outputTokens"),
            cache_read_tokens: sum("cacheReadInputTokens"),
            cache_write_tokens: sum("cacheCreationInputTokens"),
            cost_usd,
        });
    }
    let usage = value.get("usage");
    if usage.is_none() && cost_usd.is_none() {
        return None;
    }
    let usage = usage.unwrap_or(&Value::Null);
    Some(Usage {
        input_tokens: count_at(usage, "input_tokens"),
        output_tokens: count_at(usage, "output_tokens"),
        cache_read_tokens: count_at(usage, "cache_read_input_tokens"),
        cache_write_tokens: count_at(usage, "cache_creation_input_tokens"),
        cost_usd,
    })
}

fn error_message(value: &Value, subtype: &str) -> String {
    if let Some(result) = str_at(value, "result").filter(|text| !text.trim().is_empty()) {
        return result.to_owned();
    }
    let errors: Vec<&str> = value
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !errors.is_empty() {
        return errors.join("\n");
    }
    match subtype {
        "" | "success" => "Claude Code reported an error".to_owned(),
        subtype => format!("Claude Code stopped: {subtype}"),
    }
}

fn retry_message(value: &Value) -> String {
    let attempt = count_at(value, "attempt");
    let max = count_at(value, "max_retries");
    let cause = value
        .get("error")
        .and_then(|error| error.as_str().or_else(|| str_at(error, "message")))
        .map(|cause| format!(": {cause}"))
        .unwrap_or_default();
    format!("The model API failed; retrying (attempt {attempt} of {max}){cause}")
}
