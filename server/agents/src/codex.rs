//! Codex: `codex exec --json`.

use serde_json::{json, Value};

use crate::invocation::{arguments, Invocation, Request};
use crate::parse::{self, count_at, one_line, str_at, Line, Run};
use crate::{Agent, Event, Parser, ToolStatus, Usage};

/// The provider id Codex is given when the model API is not OpenAI's own. Codex refuses
/// to redefine its built-in providers, so it needs a name of its own.
const PROVIDER: &str = "upstream";

/// The variable the key travels in. `codex exec` reads it for its own provider, and the
/// endpoint's provider is told to read it too, so the key sits in one place.
const KEY_VARIABLE: &str = "CODEX_API_KEY";

pub(crate) fn invocation(request: &Request) -> Invocation {
    let mut args = arguments(["exec"]);
    if let Some(session) = request.resume {
        args.extend(arguments(["resume", session]));
    }
    args.extend(arguments([
        "--json",
        "--skip-git-repo-check",
        // The sandbox is the isolation; Codex's own sandbox fails inside containers.
        "--dangerously-bypass-approvals-and-sandbox",
        // Metrics export and the plugin sync reach out to hosts a sandbox may not reach.
        "-c",
        "analytics.enabled=false",
        "-c",
        "features.plugins=false",
    ]));
    if !request.model.is_empty() {
        args.extend(arguments(["-m", request.model]));
    }
    if let Some(endpoint) = request.endpoint {
        args.extend(provider(endpoint));
    }
    // A prompt that starts with a dash would otherwise be taken for an option.
    args.extend(arguments(["--", request.prompt]));

    let key = request.key.trim();
    let env = if key.is_empty() { Vec::new() } else { vec![(KEY_VARIABLE, key)] };
    Invocation::new(Agent::Codex, request, args, env)
}

/// `-c` overrides that send requests to `<endpoint>/v1/responses`. Values are TOML.
fn provider(endpoint: &str) -> Vec<String> {
    let base_url = format!("{}/v1", endpoint.trim_end_matches('/'));
    let settings = [
        ("name", toml_string("Upstream")),
        ("base_url", toml_string(&base_url)),
        ("env_key", toml_string(KEY_VARIABLE)),
        ("wire_api", toml_string("responses")),
    ];
    let mut args = vec!["-c".to_owned(), format!("model_provider={}", toml_string(PROVIDER))];
    for (key, value) in settings {
        args.push("-c".to_owned());
        args.push(format!("model_providers.{PROVIDER}.{key}={value}"));
    }
    args
}

/// A TOML basic string. JSON's string escapes are all valid TOML.
fn toml_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Reads `codex exec --json`: thread and turn events, and items that start and complete.
#[derive(Default)]
pub(crate) struct CodexParser {
    run: Run,
    last_text: Option<String>,
}

impl Parser for CodexParser {
    fn line(&mut self, line: &str) -> Vec<Event> {
        let value = match parse::read(line) {
            Line::Empty => return Vec::new(),
            Line::Text(text) => return vec![Event::Output { text }],
            Line::Json(value) => value,
        };
        let mut events = Vec::new();
        match str_at(&value, "type").unwrap_or_default() {
            "thread.started" => {
                let id = str_at(&value, "thread_id").unwrap_or_default();
                events.extend(self.run.session(id));
            }
            "item.started" => self.item(&value["item"], false, &mut events),
            "item.completed" => self.item(&value["item"], true, &mut events),
            "turn.completed" => {
                let usage = usage(&value["usage"]);
                events.extend(self.run.finish(Some(usage), None, false, self.last_text.clone()));
            }
            "turn.failed" => {
                let message = str_at(&value["error"], "message").unwrap_or("the turn failed");
                events.extend(self.run.finish(None, Some(message.to_owned()), true, None));
            }
            // Reconnects and retries are reported this way too; a real failure is followed
            // by turn.failed.
            "error" => {
                let message = str_at(&value, "message").unwrap_or("unknown error");
                events.push(self.run.error(message));
            }
            _ => {}
        }
        events
    }

    fn end(&mut self, exit_code: Option<i32>) -> Vec<Event> {
        // Without turn.completed the turn did not finish, whatever the exit code says.
        self.run.ended(Agent::Codex, exit_code, true, None, self.last_text.take())
    }
}

impl CodexParser {
    fn item(&mut self, item: &Value, completed: bool, events: &mut Vec<Event>) {
        // The earliest JSON output named the field item_type and the answer
        // assistant_message.
        let kind = str_at(item, "type").or_else(|| str_at(item, "item_type")).unwrap_or_default();
        match kind {
            "agent_message" | "assistant_message" if completed => {
                let text = str_at(item, "text").unwrap_or_default();
                if !text.trim().is_empty() {
                    self.last_text = Some(text.to_owned());
                    events.push(Event::Text { text: text.to_owned() });
                }
            }
            "error" if completed => {
                events.push(self.run.error(str_at(item, "message").unwrap_or("unknown error")));
            }
            _ => {
                let Some(call) = call(kind, item) else { return };
                let id = str_at(item, "id").unwrap_or_default();
                // Some items (older file changes) only ever complete; they start here too.
                let started =
                    self.run.tools.start(id, &call.name, call.summary.clone(), call.input.clone());
                match started {
                    Some(started) => events.push(started),
                    None => self.run.tools.update(id, call.summary, call.input),
                }
                if completed {
                    events.push(self.run.tools.finish(id, call.output, call.status));
                }
            }
        }
    }
}

/// An item that is a tool call, as the event model sees it.
struct Call {
    name: String,
    summary: String,
    input: Value,
    output: String,
    status: ToolStatus,
}

fn call(kind: &str, item: &Value) -> Option<Call> {
    let call = match kind {
        "command_execution" => {
            let command = match item.get("command") {
                Some(Value::Array(words)) => {
                    words.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")
                }
                command => command.and_then(Value::as_str).unwrap_or_default().to_owned(),
            };
            Call {
                name: kind.to_owned(),
                summary: one_line(&unwrap_shell(&command)),
                input: json!({ "command": command }),
                output: str_at(item, "aggregated_output").unwrap_or_default().to_owned(),
                status: status(item),
            }
        }
        "file_change" => {
            let changes =
                item.get("changes").and_then(Value::as_array).cloned().unwrap_or_default();
            let path = |change: &Value| str_at(change, "path").unwrap_or_default().to_owned();
            let paths: Vec<String> = changes.iter().map(path).collect();
            let output: Vec<String> = changes
                .iter()
                .map(|change| {
                    format!("{} {}", str_at(change, "kind").unwrap_or("update"), path(change))
                })
                .collect();
            Call {
                name: kind.to_owned(),
                summary: one_line(&paths.join(", ")),
                input: json!({ "changes": changes }),
                output: output.join("\n"),
                status: status(item),
            }
        }
        "mcp_tool_call" => {
            let server = str_at(item, "server").unwrap_or_default();
            let tool = str_at(item, "tool").unwrap_or_default();
            let input = item.get("arguments").cloned().unwrap_or(Value::Null);
            let summary = match parse::summary(&input) {
                summary if summary.is_empty() => format!("{server}/{tool}"),
                summary => summary,
            };
            let error = str_at(&item["error"], "message");
            let output = match error {
                Some(message) => message.to_owned(),
                None => mcp_text(&item["result"]),
            };
            Call {
                // Claude Code's spelling of MCP tools, so that both read alike.
                name: format!("mcp__{server}__{tool}"),
                summary,
                input,
                output,
                status: if error.is_some() { ToolStatus::Failed } else { status(item) },
            }
        }
        "web_search" => {
            let query = str_at(item, "query").unwrap_or_default();
            Call {
                name: kind.to_owned(),
                summary: one_line(query),
                input: json!({ "query": query }),
                output: String::new(),
                status: status(item),
            }
        }
        "todo_list" => {
            let items = item.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let is_done =
                |todo: &Value| todo.get("completed").and_then(Value::as_bool) == Some(true);
            let lines: Vec<String> = items
                .iter()
                .map(|todo| {
                    let mark = if is_done(todo) { "[x]" } else { "[ ]" };
                    format!("{mark} {}", str_at(todo, "text").unwrap_or_default())
                })
                .collect();
            Call {
                name: kind.to_owned(),
                summary: parse::todos_summary(
                    items.iter().filter(|todo| is_done(todo)).count(),
                    items.len(),
                ),
                input: json!({ "items": items }),
                output: lines.join("\n"),
                status: ToolStatus::Completed,
            }
        }
        _ => return None,
    };
    Some(call)
}

fn status(item: &Value) -> ToolStatus {
    let failed = matches!(str_at(item, "status"), Some("failed" | "declined"))
        || item.get("exit_code").and_then(Value::as_i64).is_some_and(|code| code != 0);
    if failed {
        ToolStatus::Failed
    } else {
        ToolStatus::Completed
    }
}

/// The text blocks of an MCP result.
fn mcp_text(result: &Value) -> String {
    let blocks = result.get("content").and_then(Value::as_array);
    let texts = blocks.into_iter().flatten().filter_map(|block| str_at(block, "text"));
    texts.collect::<Vec<_>>().join("\n")
}

// Codex runs every command through a shell, so the command it reports is wrapped in one.
const SHELLS: [&str; 6] =
    ["/bin/bash -lc ", "/bin/bash -c ", "bash -lc ", "bash -c ", "/bin/sh -c ", "sh -c "];

/// The command inside `/bin/bash -lc '…'`, or the command itself when it is not wrapped
/// in one single-quoted word.
fn unwrap_shell(command: &str) -> String {
    SHELLS
        .iter()
        .filter_map(|shell| command.strip_prefix(shell))
        .find_map(single_quoted)
        .unwrap_or_else(|| command.to_owned())
}

/// The value of one shell word made of single-quoted parts joined by `\'`, as
/// [`crate::shell_quote`] writes it.
fn single_quoted(word: &str) -> Option<String> {
    let mut value = String::new();
    let mut rest = word.strip_prefix('\'')?;
    loop {
        let end = rest.find('\'')?;
        value.push_str(&rest[..end]);
        rest = &rest[end + 1..];
        if rest.is_empty() {
            return Some(value);
        }
        rest = rest.strip_prefix("\\'")?;
        value.push('\'');
        if rest.is_empty() {
            return Some(value);
        }
        rest = rest.strip_prefix('\'')?;
    }
}

/// Codex counts cached tokens inside `input_tokens`, the OpenAI way; the event model
/// counts them apart.
fn usage(value: &Value) -> Usage {
    let cache_read_tokens = count_at(value, "cached_input_tokens");
    let cache_write_tokens = count_at(value, "cache_write_input_tokens");
    let input_tokens = count_at(value, "input_tokens");
    Usage {
        input_tokens: input_tokens.saturating_sub(cache_read_tokens + cache_write_tokens),
        output_tokens: count_at(value, "output_tokens"),
        cache_read_tokens,
        cache_write_tokens,
        cost_usd: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_loses_its_login_shell_wrapper() {
        assert_eq!(unwrap_shell("/bin/bash -lc 'cargo test'"), "cargo test");
        assert_eq!(unwrap_shell(r"bash -lc 'echo '\''hi'\'''"), "echo 'hi'");
        assert_eq!(unwrap_shell("/bin/bash -lc ls"), "/bin/bash -lc ls");
        assert_eq!(unwrap_shell("/bin/bash -lc 'a' 'b'"), "/bin/bash -lc 'a' 'b'");
        assert_eq!(unwrap_shell("git status"), "git status");
    }

    #[test]
    fn a_shell_quoted_word_unquotes_to_itself() {
        for text in ["", "plain", "it's", "''", "a'b'c'", "$HOME \n x"] {
            let quoted = crate::shell_quote(text);
            assert_eq!(single_quoted(&quoted).as_deref(), Some(text), "{quoted}");
        }
    }

    #[test]
    fn a_toml_string_escapes_quotes() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
