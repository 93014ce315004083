//! The agents themselves: names, npm packages, pinned versions, models and keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the coding CLIs a branch's run can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Agent {
    #[serde(rename = "claude-code")]
    ClaudeCode,
    #[serde(rename = "codex")]
    Codex,
    #[serde(rename = "opencode")]
    Opencode,
}

/// A model an agent offers in the model picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Model {
    /// What the CLI's model flag receives.
    pub id: &'static str,
    pub label: &'static str,
}

/// The kind of secret an agent needs to reach its model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// An Anthropic API key, or a Claude subscription token from `claude setup-token`.
    Anthropic,
    OpenAi,
    /// An OpenCode Zen key.
    Opencode,
}

impl KeyKind {
    /// What to call the key in forms and messages.
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::Anthropic => "Anthropic API key or token",
            KeyKind::OpenAi => "OpenAI API key",
            KeyKind::Opencode => "OpenCode Zen API key",
        }
    }
}

// Aliases rather than dated ids: the pinned CLI maps each to its newest model of that line
// (2.1.197 sends `claude-opus-4-8`, `claude-sonnet-5` and `claude-haiku-4-5-20251001`).
// Opus first because it is what the CLI itself picks when no model is named.
const CLAUDE_MODELS: [Model; 3] = [
    Model { id: "opus", label: "Claude Opus" },
    Model { id: "sonnet", label: "Claude Sonnet" },
    Model { id: "haiku", label: "Claude Haiku" },
];

const CODEX_MODELS: [Model; 3] = [
    Model { id: "gpt-5.5", label: "GPT-5.5" },
    Model { id: "gpt-5.4", label: "GPT-5.4" },
    Model { id: "gpt-5.1-codex", label: "GPT-5.1 Codex" },
];

// OpenCode names models `provider/model`; these are OpenCode Zen's, which one Zen key pays
// for. Big Pickle is free, so it is the default.
const OPENCODE_MODELS: [Model; 4] = [
    Model { id: "opencode/big-pickle", label: "Big Pickle (free)" },
    Model { id: "opencode/claude-sonnet-4-5", label: "Claude Sonnet 4.5" },
    Model { id: "opencode/claude-opus-4-6", label: "Claude Opus 4.6" },
    Model { id: "opencode/gpt-5.1-codex", label: "GPT-5.1 Codex" },
];

impl Agent {
    pub const ALL: [Agent; 3] = [Agent::ClaudeCode, Agent::Codex, Agent::Opencode];

    /// The agent's stable name: `claude-code`, `codex` or `opencode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Opencode => "opencode",
        }
    }

    /// The agent named `s` (as [`Agent::as_str`] spells it), if any.
    pub fn parse(s: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|agent| agent.as_str() == s)
    }

    /// The name people know the agent by.
    pub fn label(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex",
            Agent::Opencode => "OpenCode",
        }
    }

    /// The npm package the CLI ships in.
    pub fn package(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "@anthropic-ai/claude-code",
            Agent::Codex => "@openai/codex",
            Agent::Opencode => "opencode-ai",
        }
    }

    /// The pinned version. The CLIs change weekly and their output formats with them, so a
    /// version moves only together with the parsers and their captures.
    pub fn version(self) -> &'static str {
        match self {
            // Newer releases declare Node 22; 2.1.197 is the newest that declares Node 18.
            Agent::ClaudeCode => "2.1.197",
            Agent::Codex => "0.171.0",
            Agent::Opencode => "1.18.33",
        }
    }

    /// The executable's name.
    pub fn binary(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude",
            Agent::Codex => "codex",
            Agent::Opencode => "opencode",
        }
    }

    /// The directory under the tools root the pinned version is installed in. The version is
    /// part of the name so that a new pin installs beside the old one instead of over it
    /// while runs may still be using it.
    pub fn install_dir(self) -> String {
        format!("{}-{}", self.as_str(), self.version())
    }

    /// The path of the installed executable, given where the tools root is as seen by the
    /// process that will run it.
    pub fn program(self, tools_root: &str) -> String {
        let root = tools_root.trim_end_matches('/');
        format!("{root}/{}/node_modules/.bin/{}", self.install_dir(), self.binary())
    }

    /// The models offered for this agent, the default first.
    pub fn models(self) -> &'static [Model] {
        match self {
            Agent::ClaudeCode => &CLAUDE_MODELS,
            Agent::Codex => &CODEX_MODELS,
            Agent::Opencode => &OPENCODE_MODELS,
        }
    }

    pub fn default_model(self) -> &'static str {
        self.models()[0].id
    }

    /// The kind of key a run of this agent needs.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Agent::ClaudeCode => KeyKind::Anthropic,
            Agent::Codex => KeyKind::OpenAi,
            Agent::Opencode => KeyKind::Opencode,
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAgent(pub String);

impl fmt::Display for UnknownAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown agent {:?}: expected claude-code, codex or opencode", self.0)
    }
}

impl std::error::Error for UnknownAgent {}

impl FromStr for Agent {
    type Err = UnknownAgent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Agent::parse(s).ok_or_else(|| UnknownAgent(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_parses_back_from_its_name() {
        for agent in Agent::ALL {
            assert_eq!(Agent::parse(agent.as_str()), Some(agent));
            assert_eq!(agent.as_str().parse::<Agent>(), Ok(agent));
            assert_eq!(agent.to_string(), agent.as_str());
        }
    }

    #[test]
    fn an_unknown_name_is_refused() {
        assert_eq!(Agent::parse("gemini"), None);
        let error = "Claude Code".parse::<Agent>().unwrap_err();
        assert!(error.to_string().contains("claude-code, codex or opencode"), "{error}");
    }

    #[test]
    fn agents_serialise_as_their_names() {
        let json = serde_json::to_string(&Agent::ALL).unwrap();
        assert_eq!(json, r#"["claude-code","codex","opencode"]"#);
        let back: Vec<Agent> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Agent::ALL);
    }

    #[test]
    fn the_program_lives_in_the_versioned_install_dir() {
        assert_eq!(Agent::ClaudeCode.install_dir(), "claude-code-2.1.197");
        assert_eq!(
            Agent::ClaudeCode.program("/opt/tools/"),
            "/opt/tools/claude-code-2.1.197/node_modules/.bin/claude"
        );
        assert_eq!(
            Agent::Codex.program("/opt/tools"),
            "/opt/tools/codex-0.171.0/node_modules/.bin/codex"
        );
        assert_eq!(Agent::Opencode.program("/t"), "/t/opencode-1.18.33/node_modules/.bin/opencode");
    }

    #[test]
    fn the_default_model_is_one_of_the_offered_models() {
        for agent in Agent::ALL {
            let ids: Vec<_> = agent.models().iter().map(|model| model.id).collect();
            assert!(ids.contains(&agent.default_model()), "{agent}: {ids:?}");
        }
        assert_eq!(Agent::Codex.default_model(), "gpt-5.5");
    }

    #[test]
    fn opencode_models_name_their_provider() {
        for model in Agent::Opencode.models() {
            assert!(model.id.contains('/'), "{} has no provider", model.id);
        }
    }

    #[test]
    fn each_agent_needs_its_own_kind_of_key() {
        assert_eq!(Agent::ClaudeCode.key_kind(), KeyKind::Anthropic);
        assert_eq!(Agent::Codex.key_kind(), KeyKind::OpenAi);
        assert_eq!(Agent::Opencode.key_kind(), KeyKind::Opencode);
        assert_eq!(KeyKind::Anthropic.label(), "Anthropic API key or token");
    }
}
