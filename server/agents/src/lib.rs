//! The coding agents: Claude Code, Codex and OpenCode.
//!
//! For each agent this crate knows which npm package and pinned version to install
//! ([`Tools`], [`install_script`]), how to start a run ([`invocation`]) and how to turn the
//! run's JSON lines into one event model ([`parser`], [`Event`]). It starts no process
//! itself other than npm: the caller runs the invocation wherever the branch's sandbox is,
//! feeds stdout to the parser line by line and tells it the exit code.
//!
//! Without the default `tools` feature the crate is data and parsing only, and builds for
//! the browser, which shares [`Agent`], [`Event`], [`Usage`] and [`ToolStatus`].

mod agent;
mod claude;
mod codex;
mod event;
mod invocation;
mod opencode;
mod parse;
mod script;
#[cfg(feature = "tools")]
mod tools;

pub use agent::{Agent, KeyKind, Model, UnknownAgent};
pub use event::{parser, Event, Parser, ToolStatus, Usage};
pub use invocation::{invocation, shell_quote, Invocation, Request};
pub use script::install_script;
#[cfg(feature = "tools")]
pub use tools::{InstallError, Tools};
