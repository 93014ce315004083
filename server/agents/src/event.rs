//! The one event model every agent's output is turned into.

use serde::{Deserialize, Serialize};

use crate::{claude, codex, opencode, Agent};

/// One normalised thing a run produced, in the order the agent produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The agent's own conversation id; the next run of the branch resumes it.
    Session { id: String },
    /// Text the agent wrote to the user.
    Text { text: String },
    ToolStarted {
        /// The agent's id for this call; its [`Event::ToolFinished`] carries the same one.
        id: String,
        name: String,
        /// One line saying what the call is about: the command, the file, the pattern.
        summary: String,
        input: serde_json::Value,
    },
    /// A tool call ended. Name, summary and input repeat those of its start, so that the
    /// event can be shown on its own.
    ToolFinished {
        id: String,
        name: String,
        summary: String,
        input: serde_json::Value,
        output: String,
        status: ToolStatus,
    },
    /// Raw output: a line of stdout that was not an event.
    Output { text: String },
    /// Tokens and cost of the run, reported once, just before [`Event::Done`].
    Usage(Usage),
    /// Something went wrong. It is fatal only when a `Done { is_error: true }` follows.
    Error { message: String },
    /// The last event of every parsed run, emitted exactly once.
    Done {
        is_error: bool,
        /// The agent's final answer, or its error text when it reports one that way.
        result: Option<String>,
    },
}

impl Event {
    /// The name it is stored and sent under: the `kind` field of its JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Session { .. } => "session",
            Event::Text { .. } => "text",
            Event::ToolStarted { .. } => "tool_started",
            Event::ToolFinished { .. } => "tool_finished",
            Event::Output { .. } => "output",
            Event::Usage(_) => "usage",
            Event::Error { .. } => "error",
            Event::Done { .. } => "done",
        }
    }
}

/// How a tool call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    Completed,
    Failed,
}

/// Tokens a run used and what it cost.
///
/// The four token counts do not overlap, so their sum is everything the model read and
/// wrote. Codex reports the thread's running totals, so the usage of a resumed Codex run
/// includes the runs before it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens neither read from nor written to the prompt cache.
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// The agent's own estimate in US dollars; `None` when it reports none (Codex).
    pub cost_usd: Option<f64>,
}

/// Turns one run's stdout, line by line, into events.
pub trait Parser: Send {
    /// Takes one line of stdout, without its newline.
    fn line(&mut self, line: &str) -> Vec<Event>;

    /// Takes the end of the process: its exit code, or `None` when a signal ended it.
    /// Finishes what the output left open, and emits [`Event::Done`] unless a line already
    /// did.
    fn end(&mut self, exit_code: Option<i32>) -> Vec<Event>;
}

/// A parser for one run of `agent`.
pub fn parser(agent: Agent) -> Box<dyn Parser> {
    match agent {
        Agent::ClaudeCode => Box::new(claude::ClaudeParser::default()),
        Agent::Codex => Box::new(codex::CodexParser::default()),
        Agent::Opencode => Box::new(opencode::OpencodeParser::default()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_serialise_with_their_kind_beside_their_fields() {
        let usage =
            Event::Usage(Usage { input_tokens: 3, cost_usd: Some(0.5), ..Usage::default() });
        assert_eq!(
            serde_json::to_value(&usage).unwrap(),
            json!({
                "kind": "usage", "input_tokens": 3, "output_tokens": 0,
                "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 0.5
            })
        );
        let finished = Event::ToolFinished {
            id: "t1".into(),
            name: "Bash".into(),
            summary: "ls".into(),
            input: json!({"command": "ls"}),
            output: "a\n".into(),
            status: ToolStatus::Failed,
        };
        let value = serde_json::to_value(&finished).unwrap();
        assert_eq!(value["kind"], "tool_finished");
        assert_eq!(value["status"], "failed");
        assert_eq!(serde_json::from_value::<Event>(value).unwrap(), finished);
    }

    #[test]
    fn every_event_kind_reads_back_what_it_wrote() {
        let events = [
            Event::Session { id: "s".into() },
            Event::Text { text: "t".into() },
            Event::ToolStarted {
                id: "i".into(),
                name: "n".into(),
                summary: "s".into(),
                input: json!({}),
            },
            Event::Output { text: "o".into() },
            Event::Usage(Usage::default()),
            Event::Error { message: "e".into() },
            Event::Done { is_error: false, result: None },
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event, "{json}");
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["kind"], event.kind(), "the kind named matches the JSON's");
        }
    }
}
