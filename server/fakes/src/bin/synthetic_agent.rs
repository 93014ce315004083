//! A stand-in for Claude Code that prints its stream-json at a set pace, for the run-engine
//! benchmark (`server/benches/runs.rs`).
//!
//! Planted as the Claude Code program, it is started exactly as Claude Code is, and it
//! ignores those arguments: the benchmark passes its own through the environment (the
//! repository's sandbox variables reach every command in the sandbox):
//!
//! - `SYNTHETIC_EVENTS`: how many assistant text lines to print (default 100);
//! - `SYNTHETIC_RATE`: how many per second (default 100);
//! - `SYNTHETIC_START_AT`: when to print the first, in nanoseconds since the Unix epoch, so
//!   that many runs emit together (default: at once).
//!
//! It prints an `init` line, then each text line holding the wall-clock time it was written
//! (`t=<nanoseconds since the epoch>`), then a `result` line, writing each line whole.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

fn main() {
    let events: u64 = setting("SYNTHETIC_EVENTS", 100);
    let rate: u64 = setting("SYNTHETIC_RATE", 100).max(1);
    let start_at: u64 = setting("SYNTHETIC_START_AT", 0);
    let session = uuid::Uuid::new_v4().to_string();

    let init = json!({
        "type": "system", "subtype": "init", "session_id": session, "model": "synthetic",
        "tools": []
    });
    if emit(&init).is_err() {
        return;
    }

    // Every line has its own deadline counted from one start, so a late line does not
    // push the later ones back: the rate holds on average even when the host is busy.
    let start = Instant::now() + until(start_at);
    for index in 0..events {
        let deadline = start + Duration::from_nanos(index * 1_000_000_000 / rate);
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let text = format!("t={}", now_nanos());
        let line = json!({
            "type": "assistant",
            "message": { "role": "assistant", "content": [{ "type": "text", "text": text }] },
            "session_id": session
        });
        if emit(&line).is_err() {
            // Nobody reads any more: the run was stopped.
            return;
        }
    }

    let result = json!({
        "type": "result", "subtype": "success", "is_error": false,
        "result": format!("sent {events} events"), "session_id": session, "total_cost_usd": 0,
        "usage": { "input_tokens": 1, "output_tokens": events }
    });
    let _ = emit(&result);
}

/// A whole number from the environment, or `default` when it is unset or not a number.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// How long until the wall-clock time `at` (nanoseconds since the epoch); zero if passed.
fn until(at: u64) -> Duration {
    Duration::from_nanos(at.saturating_sub(now_nanos()))
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Writes one line in one write and flushes it, so that it leaves at once and whole.
fn emit(line: &Value) -> std::io::Result<()> {
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()
}
