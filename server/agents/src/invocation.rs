//! How a run is started: the program, its arguments and its environment.

use std::fmt;

use crate::{claude, codex, opencode, Agent};

/// What one run asks of an agent.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub prompt: &'a str,
    /// The model as the agent names it (see [`Agent::models`]); empty for the CLI's own
    /// default.
    pub model: &'a str,
    /// The session to continue, from an earlier run's [`crate::Event::Session`].
    pub resume: Option<&'a str>,
    /// The user's key, in the clear. It goes into the environment only.
    pub key: &'a str,
    /// The base URL of the model API without `/v1` (`http://127.0.0.1:3101`), or `None`
    /// for the vendor's own.
    pub endpoint: Option<&'a str>,
    /// Where the installed CLIs are, as the process will see that directory.
    pub tools_root: &'a str,
    /// MCP servers to offer the agent.
    ///
    /// Limitation: not passed on yet, so agents run with no MCP servers; carrying it needs
    /// one agreed shape for the servers and, for Claude Code and Codex, a config file in
    /// the sandbox, because their flags would put the servers' tokens on the command line.
    pub mcp_config: Option<&'a serde_json::Value>,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("prompt", &self.prompt)
            .field("model", &self.model)
            .field("resume", &self.resume)
            .field("key", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .field("tools_root", &self.tools_root)
            .field("mcp_config", &self.mcp_config.map(|_| "<redacted>"))
            .finish()
    }
}

/// A process to start. Its stdin must be `/dev/null`: Codex and OpenCode wait for more
/// input on an open stdin and never start.
#[derive(Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    /// Variables to set on top of the process's environment. They hold the key.
    pub env: Vec<(String, String)>,
}

impl Invocation {
    pub(crate) fn new(
        agent: Agent,
        request: &Request,
        args: Vec<String>,
        env: Vec<(&str, &str)>,
    ) -> Invocation {
        Invocation {
            program: agent.program(request.tools_root),
            args,
            env: env.into_iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect(),
        }
    }

    /// The program and its arguments as one shell command, each word single-quoted. The
    /// environment is left out, because it holds the key.
    pub fn command_line(&self) -> String {
        let words = std::iter::once(&self.program).chain(&self.args);
        words.map(|word| shell_quote(word)).collect::<Vec<_>>().join(" ")
    }
}

// Only the variables' names: their values include the key.
impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Invocation")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &names)
            .finish()
    }
}

/// How to start `agent` for `request`.
pub fn invocation(agent: Agent, request: &Request) -> Invocation {
    match agent {
        Agent::ClaudeCode => claude::invocation(request),
        Agent::Codex => codex::invocation(request),
        Agent::Opencode => opencode::invocation(request),
    }
}

/// `s` as one POSIX shell word: single-quoted, each `'` inside written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub(crate) fn arguments<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    words.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_word_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's a $HOME"), r"'it'\''s a $HOME'");
    }

    #[test]
    fn debug_output_names_the_variables_but_hides_their_values() {
        let invocation = Invocation {
            program: "claude".into(),
            args: vec!["-p".into()],
            env: vec![("ANTHROPIC_API_KEY".into(), "sk-secret".into())],
        };
        let debug = format!("{invocation:?}");
        assert!(debug.contains("ANTHROPIC_API_KEY"), "{debug}");
        assert!(!debug.contains("sk-secret"), "{debug}");
    }

    #[test]
    fn debug_output_of_a_request_hides_the_key() {
        let request = Request {
            prompt: "hi",
            model: "",
            resume: None,
            key: "sk-secret",
            endpoint: None,
            tools_root: "/t",
            mcp_config: None,
        };
        assert!(!format!("{request:?}").contains("sk-secret"));
    }
}
