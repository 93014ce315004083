//! Branch sandboxes at Daytona: the server configured for the fake Daytona, which runs each
//! sandbox's commands on this host, cloning a GitHub repository from the fake GitHub.

mod support;

use std::sync::{Arc, Mutex};

use fakes::daytona::World as Daytona;
use serde_json::{json, Value};
use support::sandbox::{ready, run, sandbox_row};
use support::{Browser, SignIn, TestApp};

const API_KEY: &str = "dtn_test_key";
/// The dev user's GitHub token in the fake GitHub.
const TOKEN: &str = "gho_octo";

/// A server whose sandboxes live at a fake Daytona, the dev user's `octo-org/widgets` with a
/// real repository behind it, and a branch `feature` of it.
async fn with_branch() -> (TestApp, Arc<Mutex<Daytona>>, Browser, Value) {
    with_branch_and(&[]).await
}

/// The same, with `extra` configuration on top.
async fn with_branch_and(extra: &[(&str, &str)]) -> (TestApp, Arc<Mutex<Daytona>>, Browser, Value) {
    let daytona = Arc::new(Mutex::new(Daytona::new(API_KEY)));
    let address = fakes::daytona::spawn(daytona.clone(), "127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{address}/api");
    let mut config = vec![("DAYTONA_API_KEY", API_KEY), ("DAYTONA_API_URL", api_url.as_str())];
    config.extend_from_slice(extra);
    let app = TestApp::start_with(SignIn::Dev, &config).await;
    let mut browser = app.browser();
    app.github_git_repository("octo-org", "widgets");
    let repo =
        browser.ok("add_github_repository", json!({ "full_name": "octo-org/widgets" })).await;
    let branch = browser
        .ok(
            "create_branch",
            json!({
                "repository_id": repo["id"], "name": "feature", "base_branch": "main",
                "agent": "claude-code", "model": "sonnet"
            }),
        )
        .await;
    (app, daytona, browser, branch)
}

#[tokio::test]
async fn a_daytona_sandbox_is_prepared_and_runs_commands() {
    let (app, daytona, mut browser, branch) = with_branch().await;
    let view = ready(&mut browser, &branch).await;
    assert_eq!(view["state"], "running", "{view}");
    let steps = view["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{view}");
    assert!(steps.iter().all(|s| s["state"] == "done"), "every step is done: {view}");

    let id = sandbox_row(&app, &branch).await.provider_id;
    {
        let world = daytona.lock().unwrap();
        let made = world.sandbox(&id).expect("the fake holds the sandbox the server recorded");
        assert!(made.name.starts_with("upstream-"), "{}", made.name);
        assert_eq!(made.labels["upstream.user"], "dev");
        assert_eq!(made.labels["upstream.repository"], "octo-org/widgets");
        assert_eq!(made.labels["upstream.branch"], "feature");
        let leaked: Vec<&String> = world.commands.iter().filter(|c| c.contains(TOKEN)).collect();
        assert!(leaked.is_empty(), "Daytona was sent the token in a command: {leaked:?}");
    }

    let out = run(&mut browser, &branch, "echo hello; git branch --show-current; ls").await;
    assert_eq!(out.stdout, "hello\nfeature\nREADME.md\n", "{out:?}");
    assert_eq!(out.exit.as_deref(), Some("exit 0"), "{out:?}");
}

#[tokio::test]
async fn a_vanished_daytona_sandbox_is_recreated_on_next_use() {
    let (app, daytona, mut browser, branch) = with_branch().await;
    assert_eq!(ready(&mut browser, &branch).await["state"], "running");
    let pushed = run(
        &mut browser,
        &branch,
        "git commit -q --allow-empty -m 'saved work' && git push -q origin feature",
    )
    .await;
    assert_eq!(pushed.exit.as_deref(), Some("exit 0"), "the push from the sandbox: {pushed:?}");
    let before = sandbox_row(&app, &branch).await.provider_id;
    assert!(daytona.lock().unwrap().vanish(&before), "the fake held the sandbox");

    let out = run(&mut browser, &branch, "git log -1 --format=%s").await;
    assert_eq!(out.stdout, "saved work\n", "{out:?}");
    let after = sandbox_row(&app, &branch).await.provider_id;
    assert_ne!(after, before, "a new sandbox was made");
    let world = daytona.lock().unwrap();
    let ids: Vec<&str> = world.sandboxes.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [after.as_str()], "only the new sandbox exists");
}

#[tokio::test]
async fn a_daytona_refusal_shows_as_a_failed_step_with_daytonas_reason() {
    let (_app, daytona, mut browser, branch) = with_branch().await;
    daytona.lock().unwrap().refuse_next = Some((500, "no runner available in region eu".into()));

    let view = ready(&mut browser, &branch).await;
    assert_eq!(view["state"], "error", "{view}");
    let failed: Vec<&Value> =
        view["steps"].as_array().unwrap().iter().filter(|s| s["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{view}");
    assert_eq!(failed[0]["name"], "Create the sandbox");
    let detail = failed[0]["detail"].as_str().unwrap();
    assert!(detail.contains("no runner available in region eu"), "{detail}");
    assert_eq!(view["held"], 0, "a failed sandbox holds no slot");
    assert!(daytona.lock().unwrap().sandboxes.is_empty(), "nothing was made at Daytona");
}

#[tokio::test]
async fn a_new_auto_stop_interval_reaches_the_users_daytona_sandboxes() {
    let (app, daytona, mut browser, branch) = with_branch().await;
    assert_eq!(ready(&mut browser, &branch).await["state"], "running");
    let id = sandbox_row(&app, &branch).await.provider_id;
    assert_eq!(daytona.lock().unwrap().sandbox(&id).unwrap().auto_stop_interval, 10);

    let saved = browser.form("set_auto_stop", &[("minutes", "17")]).await;
    assert!(saved.status.is_success(), "{}", saved.text);
    assert_eq!(daytona.lock().unwrap().sandbox(&id).unwrap().auto_stop_interval, 17);
}

#[tokio::test]
async fn an_agent_is_installed_inside_a_daytona_sandbox_and_works_there() {
    let models = fakes::models::World::shared("");
    let address = fakes::models::spawn(models.clone(), "127.0.0.1:0").await.unwrap();
    let models_url = format!("http://{address}");
    let (_app, daytona, mut browser, branch) =
        with_branch_and(&[("ANTHROPIC_BASE_URL", models_url.as_str())]).await;
    browser.form("set_agent_key", &[("kind", "anthropic"), ("value", "sk-ant-test")]).await;
    let prompt = "Create a file hello.txt containing hi from Daytona";
    let args = json!({
        "branch_id": branch["id"], "prompt": prompt, "agent": "claude-code", "model": "sonnet"
    });
    browser.ok("send_prompt", args).await;

    // Installing the agent in the sandbox comes first, from npm.
    let mut waited = 0;
    let conversation = loop {
        let conversation =
            browser.ok("get_conversation", json!({ "branch_id": branch["id"] })).await;
        if conversation["runs"].as_array().unwrap().is_empty() {
            break conversation;
        }
        waited += 1;
        assert!(waited < 1200, "the run is still under way after five minutes");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let reply = conversation["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(reply["status"], "completed", "{conversation}");
    let file = run(&mut browser, &branch, "cat hello.txt").await;
    assert_eq!(file.stdout.trim(), "hi from Daytona");
    // The agent was installed inside the sandbox, not on the server's host.
    let installed = run(&mut browser, &branch, "ls ~/.upstream/agents").await;
    assert!(installed.stdout.contains("claude-code-2.1.197"), "{installed:?}");
    let world = daytona.lock().unwrap();
    let leaked: Vec<&String> =
        world.commands.iter().filter(|c| c.contains("sk-ant-test")).collect();
    assert!(leaked.is_empty(), "the key went into a command line: {leaked:?}");
}
