//! OpenCode: `opencode run --format json`.

use serde_json::{json, Value};

use crate::invocation::{arguments, Invocation, Request};
use crate::parse::{self, count_at, one_line, str_at, Line, Run};
use crate::{Agent, Event, Parser, ToolStatus, Usage};

/// The provider id given to the model API when it is not the vendor's own.
const PROVIDER: &str = "upstream";

pub(crate) fn invocation(request: &Request) -> Invocation {
    let mut args = arguments(["run", "--format", "json"]);
    let config = request.endpoint.map(|endpoint| endpoint_config(endpoint, request));
    match &config {
        Some((model, _)) => args.extend(arguments(["--model", model])),
        None if !request.model.is_empty() => args.extend(arguments(["--model", request.model])),
        None => {}
    }
    if let Some(session) = request.resume {
        args.extend(arguments(["--session", session]));
    }
    // OpenCode joins its message words with spaces but first wraps every word that holds
    // a space in double quotes, so a prompt passed as one word reaches the model quoted.
    // Split at spaces, the words join back into exactly the prompt. The `--` keeps a
    // leading dash from reading as an option.
    args.push("--".to_owned());
    args.extend(arguments(request.prompt.split(' ')));

    let mut env = vec![
        // `run` rejects every permission that would ask, which stops most tool calls.
        ("OPENCODE_PERMISSION", r#"{"*":"allow"}"#),
        // The model catalogue lives on a host a sandbox may not reach; the bundled copy
        // serves.
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
    ];
    let key = request.key.trim();
    match &config {
        Some((_, content)) => {
            env.push(("OPENCODE_CONFIG_CONTENT", content));
            // Every run starts a background `npm install` of OpenCode's plugin package.
            // Nothing needs it, and against a local model API the registry should not be
            // contacted either, so it goes to a port where nothing listens.
            env.push(("npm_config_registry", "http://127.0.0.1:9/"));
        }
        None if !key.is_empty() => env.push(("OPENCODE_API_KEY", key)),
        None => {}
    }

    Invocation::new(Agent::Opencode, request, args, env)
}

/// The `provider/model` name and the inline config of a provider that speaks OpenAI chat
/// completions to `<endpoint>/v1`, whatever provider the requested model belongs to.
fn endpoint_config(endpoint: &str, request: &Request) -> (String, String) {
    let id = match request.model.split_once('/') {
        Some((_, id)) => id,
        None => request.model,
    };
    let id = if id.is_empty() { "default" } else { id };
    let model = format!("{PROVIDER}/{id}");

    let mut options = json!({ "baseURL": format!("{}/v1", endpoint.trim_end_matches('/')) });
    let key = request.key.trim();
    if !key.is_empty() {
        options["apiKey"] = json!(key);
    }
    let config = json!({
        "provider": {
            PROVIDER: {
                // Bundled in the binary, so nothing is downloaded for it.
                "npm": "@ai-sdk/openai-compatible",
                "name": "Upstream",
                "options": options,
                "models": { id: { "name": id, "tool_call": true } },
            }
        },
        "model": model,
        // Titles are written by the small model, which would otherwise be a vendor's.
        "small_model": model,
    });
    (model, config.to_string())
}

/// Reads `opencode run --format json`: steps, texts and finished tool calls. Nothing says
/// the run is over, so [`Event::Done`] comes from [`Parser::end`].
#[derive(Default)]
pub(crate) struct OpencodeParser {
    run: Run,
    usage: Option<Usage>,
    /// The texts of the current step; those of the last step are the answer.
    step_texts: Vec<String>,
    failed: bool,
}

impl Parser for OpencodeParser {
    fn line(&mut self, line: &str) -> Vec<Event> {
        let value = match parse::read(line) {
            Line::Empty => return Vec::new(),
            Line::Text(text) => return vec![Event::Output { text }],
            Line::Json(value) => value,
        };
        let part = &value["part"];
        let session = str_at(&value, "sessionID").or_else(|| str_at(part, "sessionID"));
        let mut events: Vec<Event> =
            session.and_then(|id| self.run.session(id)).into_iter().collect();
        match str_at(&value, "type").unwrap_or_default() {
            "step_start" => self.step_texts.clear(),
            "text" => {
                let text = str_at(part, "text").unwrap_or_default();
                if !text.trim().is_empty() {
                    self.step_texts.push(text.to_owned());
                    events.push(Event::Text { text: text.to_owned() });
                }
            }
            "tool_use" => self.tool(part, &mut events),
            "step_finish" => self.add_usage(part),
            "error" => {
                self.failed = true;
                events.push(self.run.fatal(error_message(&value["error"])));
            }
            _ => {}
        }
        events
    }

    fn end(&mut self, exit_code: Option<i32>) -> Vec<Event> {
        let is_error = self.failed || exit_code != Some(0);
        let answer = self.step_texts.join("\n\n");
        let result = (!answer.is_empty()).then_some(answer);
        self.run.ended(Agent::Opencode, exit_code, is_error, self.usage.take(), result)
    }
}

impl OpencodeParser {
    /// A tool part. In JSON mode it arrives once, completed or failed, with input and
    /// output together; a part still running starts the call and waits for its end.
    fn tool(&mut self, part: &Value, events: &mut Vec<Event>) {
        let id = str_at(part, "callID").or_else(|| str_at(part, "id")).unwrap_or_default();
        let name = str_at(part, "tool").unwrap_or_default();
        let state = &part["state"];
        let input = state.get("input").cloned().unwrap_or(Value::Null);
        let summary = match parse::summary(&input) {
            summary if summary.is_empty() => one_line(str_at(state, "title").unwrap_or_default()),
            summary => summary,
        };
        events.extend(self.run.tools.start(id, name, summary, input));

        let text = |key| str_at(state, key).unwrap_or_default().to_owned();
        match str_at(state, "status") {
            Some("completed") => {
                events.push(self.run.tools.finish(id, text("output"), ToolStatus::Completed));
            }
            Some("error") => {
                events.push(self.run.tools.finish(id, text("error"), ToolStatus::Failed));
            }
            _ => {}
        }
    }

    /// Adds one step's tokens and cost to the run's.
    fn add_usage(&mut self, part: &Value) {
        let tokens = &part["tokens"];
        let usage = self.usage.get_or_insert_with(Usage::default);
        usage.input_tokens += count_at(tokens, "input");
        // Reasoning is counted apart from output here, and is billed as output.
        usage.output_tokens += count_at(tokens, "output") + count_at(tokens, "reasoning");
        usage.cache_read_tokens += count_at(&tokens["cache"], "read");
        usage.cache_write_tokens += count_at(&tokens["cache"], "write");
        let cost = part.get("cost").and_then(Value::as_f64);
        if let Some(cost) = cost {
            usage.cost_usd = Some(usage.cost_usd.unwrap_or(0.0) + cost);
        }
    }
}

/// The words of an OpenCode error: `{name, data: {message}}`.
fn error_message(error: &Value) -> String {
    let message = str_at(&error["data"], "message")
        .or_else(|| str_at(error, "message"))
        .or_else(|| str_at(error, "name"))
        .or_else(|| error.as_str());
    message.unwrap_or("unknown error").to_owned()
}
