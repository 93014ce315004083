//! What the three parsers share: reading a line, the tool calls in flight, one-line
//! summaries and the end of a run.

use serde_json::Value;

use crate::{Agent, Event, ToolStatus, Usage};

/// Summaries longer than this many characters are cut.
pub(crate) const SUMMARY_CHARS: usize = 120;

/// What one line of stdout holds.
pub(crate) enum Line {
    Empty,
    Json(Value),
    /// Not a JSON object: a warning, an update notice, a stray print.
    Text(String),
}

pub(crate) fn read(line: &str) -> Line {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Line::Empty;
    }
    match serde_json::from_str::<Value>(line) {
        Ok(value @ Value::Object(_)) => Line::Json(value),
        _ => Line::Text(line.to_owned()),
    }
}

pub(crate) fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A token count; absent, negative or not a number counts as zero.
pub(crate) fn count_at(value: &Value, key: &str) -> u64 {
    match value.get(key) {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        _ => None,
    }
    .unwrap_or(0)
}

/// `text` on one line: every run of whitespace (newlines included) becomes one space, and
/// it is cut to [`SUMMARY_CHARS`] characters with an ellipsis.
pub(crate) fn one_line(text: &str) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > SUMMARY_CHARS {
        // Room for the ellipsis within the limit.
        let (cut, _) = line.char_indices().nth(SUMMARY_CHARS - 1).expect("longer than the limit");
        line.truncate(cut);
        line.push('…');
    }
    line
}

// The input fields that best say what a call is about, most telling first. Claude Code
// spells paths `file_path`, OpenCode `filePath`; Bash's `description` loses to its command.
const SUMMARY_KEYS: [&str; 12] = [
    "command",
    "cmd",
    "file_path",
    "filePath",
    "notebook_path",
    "pattern",
    "url",
    "query",
    "description",
    "path",
    "prompt",
    "skill",
];

/// A one-line summary of a tool call from its input, or an empty string when the input
/// says nothing recognisable.
pub(crate) fn summary(input: &Value) -> String {
    let found = SUMMARY_KEYS
        .iter()
        .filter_map(|key| str_at(input, key))
        .find(|text| !text.trim().is_empty());
    if let Some(text) = found {
        return one_line(text);
    }
    match input.get("todos").and_then(Value::as_array) {
        Some(todos) => {
            let done = todos.iter().filter(|todo| str_at(todo, "status") == Some("completed"));
            todos_summary(done.count(), todos.len())
        }
        None => String::new(),
    }
}

pub(crate) fn todos_summary(done: usize, total: usize) -> String {
    format!("{done} of {total} done")
}

/// Tool calls started and not yet finished, in the order they started.
#[derive(Default)]
pub(crate) struct OpenTools(Vec<OpenTool>);

struct OpenTool {
    id: String,
    name: String,
    summary: String,
    input: Value,
}

impl OpenTools {
    /// Records a call and returns its start, or nothing when it has already started.
    pub(crate) fn start(
        &mut self,
        id: &str,
        name: &str,
        summary: String,
        input: Value,
    ) -> Option<Event> {
        if self.0.iter().any(|tool| tool.id == id) {
            return None;
        }
        self.0.push(OpenTool {
            id: id.to_owned(),
            name: name.to_owned(),
            summary: summary.clone(),
            input: input.clone(),
        });
        Some(Event::ToolStarted { id: id.to_owned(), name: name.to_owned(), summary, input })
    }

    /// Replaces what an open call is about with what the agent reports now: a later
    /// report of the same call (a to-do list ticked off, a change touching more files)
    /// holds the final state.
    pub(crate) fn update(&mut self, id: &str, summary: String, input: Value) {
        if let Some(tool) = self.0.iter_mut().find(|tool| tool.id == id) {
            tool.summary = summary;
            tool.input = input;
        }
    }

    /// Ends a call. One whose start was never seen ends with an empty name and no input.
    pub(crate) fn finish(&mut self, id: &str, output: String, status: ToolStatus) -> Event {
        let tool = match self.0.iter().position(|tool| tool.id == id) {
            Some(index) => self.0.remove(index),
            None => OpenTool {
                id: id.to_owned(),
                name: String::new(),
                summary: String::new(),
                input: Value::Null,
            },
        };
        Event::ToolFinished {
            id: tool.id,
            name: tool.name,
            summary: tool.summary,
            input: tool.input,
            output,
            status,
        }
    }

    /// Fails every call still open: the run ended without their results.
    fn finish_all(&mut self) -> Vec<Event> {
        let ids: Vec<String> = self.0.iter().map(|tool| tool.id.clone()).collect();
        ids.iter().map(|id| self.finish(id, String::new(), ToolStatus::Failed)).collect()
    }
}

/// The state every parser keeps about its run.
#[derive(Default)]
pub(crate) struct Run {
    pub(crate) tools: OpenTools,
    session: Option<String>,
    done: bool,
    saw_fatal_error: bool,
}

impl Run {
    /// The session event for the first id seen. Later ids are ignored: sub-agents can run
    /// in sessions of their own, and the one to resume is the first.
    pub(crate) fn session(&mut self, id: &str) -> Option<Event> {
        if id.is_empty() || self.session.is_some() {
            return None;
        }
        self.session = Some(id.to_owned());
        Some(Event::Session { id: id.to_owned() })
    }

    /// An error the run may recover from.
    pub(crate) fn error(&self, message: impl Into<String>) -> Event {
        Event::Error { message: message.into() }
    }

    /// An error that fails the run.
    pub(crate) fn fatal(&mut self, message: impl Into<String>) -> Event {
        self.saw_fatal_error = true;
        Event::Error { message: message.into() }
    }

    /// The tail of a run: open calls failed, then usage, then the error, then `Done`.
    /// Nothing once the run is already done.
    pub(crate) fn finish(
        &mut self,
        usage: Option<Usage>,
        error: Option<String>,
        is_error: bool,
        result: Option<String>,
    ) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        let mut events = self.tools.finish_all();
        events.extend(usage.map(Event::Usage));
        events.extend(error.map(|message| self.fatal(message)));
        events.push(Event::Done { is_error, result });
        events
    }

    /// The tail of a run whose output never said it was done. When it failed and no fatal
    /// error was reported, the exit itself becomes the error.
    pub(crate) fn ended(
        &mut self,
        agent: Agent,
        exit_code: Option<i32>,
        is_error: bool,
        usage: Option<Usage>,
        result: Option<String>,
    ) -> Vec<Event> {
        let error = (is_error && !self.saw_fatal_error).then(|| exit_message(agent, exit_code));
        self.finish(usage, error, is_error, result)
    }
}

pub(crate) fn exit_message(agent: Agent, exit_code: Option<i32>) -> String {
    let agent = agent.label();
    match exit_code {
        Some(0) => format!("{agent} exited before it finished its turn"),
        Some(code) => format!("{agent} exited with code {code}"),
        None => format!("{agent} was stopped before it finished"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_long_or_multiline_text_becomes_one_short_line() {
        assert_eq!(one_line("  cargo test\n  --all \t-q "), "cargo test --all -q");
        let long = "x".repeat(500);
        let line = one_line(&long);
        assert_eq!(line.chars().count(), SUMMARY_CHARS);
        assert!(line.ends_with('…'));
        assert_eq!(one_line(&"é".repeat(SUMMARY_CHARS)), "é".repeat(SUMMARY_CHARS));
    }

    #[test]
    fn the_summary_prefers_the_command_then_the_path() {
        let bash = json!({"command": "ls -la", "description": "List files"});
        assert_eq!(summary(&bash), "ls -la");
        assert_eq!(summary(&json!({"file_path": "/a/b.rs", "content": "x"})), "/a/b.rs");
        assert_eq!(summary(&json!({"filePath": "/a/c.rs"})), "/a/c.rs");
        assert_eq!(summary(&json!({"pattern": "fn main", "path": "src"})), "fn main");
        assert_eq!(summary(&json!({"command": "  ", "path": "src"})), "src");
        assert_eq!(summary(&json!({"unknown": 1})), "");
        assert_eq!(summary(&Value::Null), "");
    }

    #[test]
    fn a_todo_list_is_summarised_by_its_progress() {
        let input = json!({"todos": [
            {"content": "a", "status": "completed"},
            {"content": "b", "status": "in_progress"},
            {"content": "c", "status": "pending"}
        ]});
        assert_eq!(summary(&input), "1 of 3 done");
    }

    #[test]
    fn a_tool_started_twice_is_announced_once() {
        let mut tools = OpenTools::default();
        assert!(tools.start("a", "Bash", "ls".into(), json!({})).is_some());
        assert!(tools.start("a", "Bash", "ls".into(), json!({})).is_none());
    }

    #[test]
    fn a_finished_tool_repeats_its_start() {
        let mut tools = OpenTools::default();
        tools.start("a", "Bash", "ls".into(), json!({"command": "ls"}));
        let finished = tools.finish("a", "out".into(), ToolStatus::Completed);
        assert_eq!(
            finished,
            Event::ToolFinished {
                id: "a".into(),
                name: "Bash".into(),
                summary: "ls".into(),
                input: json!({"command": "ls"}),
                output: "out".into(),
                status: ToolStatus::Completed,
            }
        );
    }

    #[test]
    fn a_run_finishes_only_once() {
        let mut run = Run::default();
        assert_eq!(run.finish(None, None, false, None).len(), 1);
        assert!(run.finish(None, None, true, None).is_empty());
        assert!(run.ended(Agent::Codex, Some(1), true, None, None).is_empty());
    }
}
