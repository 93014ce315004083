//! How each agent is started: arguments, environment and what the command line shows.

use agents::{invocation, Agent, Invocation, Request};
use serde_json::Value;

const KEY: &str = "sk-secret-key-123";

fn request() -> Request<'static> {
    Request {
        prompt: "Fix the failing test, it's in core",
        model: "",
        resume: None,
        key: KEY,
        endpoint: None,
        tools_root: "/opt/tools",
        mcp_config: None,
    }
}

fn env<'a>(invocation: &'a Invocation, name: &str) -> Option<&'a str> {
    invocation.env.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn args(invocation: &Invocation) -> Vec<&str> {
    invocation.args.iter().map(String::as_str).collect()
}

#[test]
fn the_key_is_never_on_the_command_line() {
    for agent in Agent::ALL {
        for endpoint in [None, Some("http://127.0.0.1:3101")] {
            let invocation = invocation(agent, &Request { endpoint, ..request() });
            assert!(
                !invocation.command_line().contains(KEY),
                "{agent}: {}",
                invocation.command_line()
            );
            assert!(
                !invocation.args.iter().any(|arg| arg.contains(KEY)),
                "{agent}: {:?}",
                invocation.args
            );
            assert!(
                invocation.env.iter().any(|(_, value)| value.contains(KEY)),
                "{agent} lost the key"
            );
        }
    }
}

#[test]
fn the_program_is_the_installed_cli_under_the_tools_root() {
    for agent in Agent::ALL {
        assert_eq!(invocation(agent, &request()).program, agent.program("/opt/tools"));
    }
}

#[test]
fn the_command_line_quotes_every_word() {
    let line = invocation(Agent::ClaudeCode, &request()).command_line();
    assert!(
        line.starts_with("'/opt/tools/claude-code-2.1.197/node_modules/.bin/claude' '-p' "),
        "{line}"
    );
    assert!(line.ends_with(r"'--' 'Fix the failing test, it'\''s in core'"), "{line}");
}

#[test]
fn claude_code_streams_json_without_asking_for_permission() {
    let invocation = invocation(Agent::ClaudeCode, &Request { model: "sonnet", ..request() });
    assert_eq!(
        args(&invocation),
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--dangerously-skip-permissions",
            "--model",
            "sonnet",
            "--",
            "Fix the failing test, it's in core",
        ]
    );
    assert_eq!(env(&invocation, "ANTHROPIC_API_KEY"), Some(KEY));
    assert_eq!(env(&invocation, "IS_SANDBOX"), Some("1"));
    assert_eq!(env(&invocation, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"), Some("1"));
    assert_eq!(env(&invocation, "DISABLE_AUTOUPDATER"), Some("1"));
    assert_eq!(env(&invocation, "ANTHROPIC_BASE_URL"), None);
    assert_eq!(env(&invocation, "CLAUDE_CODE_OAUTH_TOKEN"), None);
}

#[test]
fn claude_code_resumes_a_session_and_omits_an_empty_model() {
    let invocation =
        invocation(Agent::ClaudeCode, &Request { resume: Some("14e78f1c"), ..request() });
    let args = args(&invocation);
    assert!(!args.contains(&"--model"), "{args:?}");
    let resume = args.iter().position(|arg| *arg == "--resume").expect("--resume");
    assert_eq!(args[resume + 1], "14e78f1c");
    assert!(resume < args.iter().position(|arg| *arg == "--").unwrap(), "flags before the prompt");
}

#[test]
fn a_claude_subscription_token_travels_as_an_oauth_token() {
    let token = "sk-ant-oat01-abcdef";
    let invocation = invocation(Agent::ClaudeCode, &Request { key: token, ..request() });
    assert_eq!(env(&invocation, "CLAUDE_CODE_OAUTH_TOKEN"), Some(token));
    assert_eq!(env(&invocation, "ANTHROPIC_API_KEY"), None);
}

#[test]
fn claude_code_talks_to_the_endpoint_given() {
    let request = Request { endpoint: Some("http://127.0.0.1:3101/"), ..request() };
    let invocation = invocation(Agent::ClaudeCode, &request);
    assert_eq!(env(&invocation, "ANTHROPIC_BASE_URL"), Some("http://127.0.0.1:3101"));
}

#[test]
fn an_empty_key_sets_no_key_variable() {
    for agent in Agent::ALL {
        let invocation = invocation(agent, &Request { key: "  ", ..request() });
        let names: Vec<&str> = invocation.env.iter().map(|(name, _)| name.as_str()).collect();
        assert!(
            !names.iter().any(|name| name.contains("KEY") || name.contains("TOKEN")),
            "{agent}: {names:?}"
        );
    }
}

#[test]
fn codex_runs_exec_with_json_and_no_outside_calls() {
    let invocation = invocation(Agent::Codex, &Request { model: "gpt-5.5", ..request() });
    assert_eq!(
        args(&invocation),
        [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-c",
            "analytics.enabled=false",
            "-c",
            "features.plugins=false",
            "-m",
            "gpt-5.5",
            "--",
            "Fix the failing test, it's in core",
        ]
    );
    assert_eq!(invocation.env, [("CODEX_API_KEY".to_owned(), KEY.to_owned())]);
}

#[test]
fn codex_resumes_a_thread_with_exec_resume() {
    let invocation = invocation(Agent::Codex, &Request { resume: Some("01a23c47"), ..request() });
    assert_eq!(args(&invocation)[..4], ["exec", "resume", "01a23c47", "--json"]);
    assert_eq!(invocation.args.last().unwrap(), "Fix the failing test, it's in core");
}

#[test]
fn codex_sends_the_responses_api_to_the_endpoint_given() {
    let request =
        Request { endpoint: Some("http://127.0.0.1:3101"), model: "gpt-5.5", ..request() };
    let invocation = invocation(Agent::Codex, &request);
    let overrides: Vec<&str> = invocation
        .args
        .windows(2)
        .filter(|pair| pair[0] == "-c")
        .map(|pair| pair[1].as_str())
        .collect();
    for expected in [
        r#"model_provider="upstream""#,
        r#"model_providers.upstream.name="Upstream""#,
        r#"model_providers.upstream.base_url="http://127.0.0.1:3101/v1""#,
        r#"model_providers.upstream.env_key="CODEX_API_KEY""#,
        r#"model_providers.upstream.wire_api="responses""#,
    ] {
        assert!(overrides.contains(&expected), "{expected} missing from {overrides:?}");
    }
    assert_eq!(invocation.args.last().unwrap(), "Fix the failing test, it's in core");
    assert_eq!(env(&invocation, "CODEX_API_KEY"), Some(KEY));
}

#[test]
fn opencode_runs_with_json_and_every_permission_allowed() {
    let request = Request { model: "opencode/big-pickle", resume: Some("ses_1"), ..request() };
    let invocation = invocation(Agent::Opencode, &request);
    let args = args(&invocation);
    assert_eq!(
        args[..8],
        ["run", "--format", "json", "--model", "opencode/big-pickle", "--session", "ses_1", "--"]
    );
    assert_eq!(env(&invocation, "OPENCODE_PERMISSION"), Some(r#"{"*":"allow"}"#));
    assert_eq!(env(&invocation, "OPENCODE_DISABLE_MODELS_FETCH"), Some("1"));
    assert_eq!(env(&invocation, "OPENCODE_DISABLE_AUTOUPDATE"), Some("1"));
    assert_eq!(env(&invocation, "OPENCODE_DISABLE_LSP_DOWNLOAD"), Some("1"));
    assert_eq!(env(&invocation, "OPENCODE_API_KEY"), Some(KEY));
    assert_eq!(env(&invocation, "OPENCODE_CONFIG_CONTENT"), None);
}

#[test]
fn opencode_gets_the_prompt_as_words_that_join_back_into_it() {
    let prompt = "-x  two spaces\nand a \"quote\" ";
    let invocation = invocation(Agent::Opencode, &Request { prompt, ..request() });
    let separator = invocation.args.iter().position(|arg| arg == "--").expect("--");
    let words = &invocation.args[separator + 1..];
    assert!(words.iter().all(|word| !word.contains(' ')), "{words:?}");
    assert_eq!(words.join(" "), prompt);
}

#[test]
fn opencode_sends_chat_completions_to_the_endpoint_given() {
    let request = Request {
        endpoint: Some("http://127.0.0.1:3101"),
        model: "opencode/big-pickle",
        ..request()
    };
    let invocation = invocation(Agent::Opencode, &request);
    let args = args(&invocation);
    assert_eq!(args[3..5], ["--model", "upstream/big-pickle"]);

    let config: Value =
        serde_json::from_str(env(&invocation, "OPENCODE_CONFIG_CONTENT").expect("a config"))
            .unwrap();
    let provider = &config["provider"]["upstream"];
    assert_eq!(provider["npm"], "@ai-sdk/openai-compatible");
    assert_eq!(provider["options"]["baseURL"], "http://127.0.0.1:3101/v1");
    assert_eq!(provider["options"]["apiKey"], KEY);
    assert_eq!(provider["models"]["big-pickle"]["tool_call"], true);
    assert_eq!(config["model"], "upstream/big-pickle");
    assert_eq!(config["small_model"], "upstream/big-pickle");
    assert_eq!(env(&invocation, "npm_config_registry"), Some("http://127.0.0.1:9/"));
    assert_eq!(env(&invocation, "OPENCODE_API_KEY"), None);
}
