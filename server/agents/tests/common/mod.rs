//! What the parser tests share: running output through a parser and building the events
//! they expect.

#![allow(dead_code)]

use agents::{parser, Agent, Event, ToolStatus, Usage};
use serde_json::Value;

/// The events `agent`'s parser makes of `output`, a process that ended with `exit_code`.
pub fn parse(agent: Agent, output: &str, exit_code: Option<i32>) -> Vec<Event> {
    let mut parser = parser(agent);
    let mut events: Vec<Event> = output.lines().flat_map(|line| parser.line(line)).collect();
    events.extend(parser.end(exit_code));
    events
}

/// One of the outputs recorded from the real CLIs, in `tests/captures`.
pub fn capture(name: &str) -> String {
    let path = format!("{}/tests/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
}

/// Lines of JSON, one per value.
pub fn lines(values: &[Value]) -> String {
    values.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
}

pub fn session(id: &str) -> Event {
    Event::Session { id: id.into() }
}

pub fn text(text: &str) -> Event {
    Event::Text { text: text.into() }
}

pub fn error(message: &str) -> Event {
    Event::Error { message: message.into() }
}

pub fn output(text: &str) -> Event {
    Event::Output { text: text.into() }
}

pub fn done(is_error: bool, result: Option<&str>) -> Event {
    Event::Done { is_error, result: result.map(str::to_owned) }
}

pub fn usage(
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
    cost: Option<f64>,
) -> Event {
    Event::Usage(Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        cost_usd: cost,
    })
}

pub fn started(id: &str, name: &str, summary: &str, input: Value) -> Event {
    Event::ToolStarted { id: id.into(), name: name.into(), summary: summary.into(), input }
}

/// The end of the call `start` started.
pub fn finished(start: &Event, output: &str, status: ToolStatus) -> Event {
    let Event::ToolStarted { id, name, summary, input } = start.clone() else {
        panic!("{start:?} is not a tool start");
    };
    Event::ToolFinished { id, name, summary, input, output: output.into(), status }
}

/// Asserts two event lists are equal, showing both one event a line when they are not.
#[track_caller]
pub fn assert_events(actual: &[Event], expected: &[Event]) {
    if actual != expected {
        let show = |events: &[Event]| {
            events.iter().map(|event| format!("  {event:?}")).collect::<Vec<_>>().join("\n")
        };
        panic!("events differ\nactual:\n{}\nexpected:\n{}", show(actual), show(expected));
    }
}
