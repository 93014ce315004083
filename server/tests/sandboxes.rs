//! Branch sandboxes on the local provider, for real: bubblewrap, git and the server's own
//! router. Each test prepares sandboxes from a bare repository on disk.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use domain::clock::ManualClock;
use entity::user;
use http_body_util::BodyExt;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{json, Value};
use support::sandbox::{new_branch, process_running, ready, run, sandbox_row};
use support::{bare_repository, Browser, SignIn, TestApp};

/// A server with the local user, a repository on disk with `main` and `shared`, and a
/// branch `feature` of it.
async fn with_branch() -> (TestApp, Browser, Value, Value) {
    let app = TestApp::start(SignIn::Local).await;
    let mut browser = app.browser();
    let url = bare_repository(app.db.dir(), "widgets", &["shared"]);
    let repo = browser.ok("add_git_repository", json!({ "url": url })).await;
    let branch = browser.ok("create_branch", new_branch(&repo, "feature")).await;
    (app, browser, repo, branch)
}

fn sandbox_dir(app: &TestApp, provider_id: &str) -> std::path::PathBuf {
    app.db.dir().join("data").join("sandboxes").join(provider_id)
}

#[tokio::test]
async fn a_sandbox_is_prepared_in_named_steps_and_holds_the_branch_checked_out() {
    let (_app, mut browser, repo, branch) = with_branch().await;
    let view = ready(&mut browser, &branch).await;
    assert_eq!(view["state"], "running", "{view}");
    let steps: Vec<(String, String)> = view["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s["state"].as_str().unwrap().to_owned()))
        .collect();
    let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    let clone = format!("Clone {}/widgets", repo["owner"].as_str().unwrap());
    assert_eq!(names, ["Create the sandbox", &clone, "Check out feature", "Set the git identity"]);
    assert!(steps.iter().all(|(_, state)| state == "done"), "{steps:?}");

    let out =
        run(&mut browser, &branch, "ls; git branch --show-current; git config user.email; pwd")
            .await;
    assert_eq!(out.exit.as_deref(), Some("exit 0"), "{out:?}");
    assert_eq!(out.stdout, "README.md\nfeature\nlocal@upstream.invalid\n/workspace\n");
}

#[tokio::test]
async fn output_streams_in_order_and_ends_with_the_exit_code() {
    let (_app, mut browser, _repo, branch) = with_branch().await;
    ready(&mut browser, &branch).await;
    let out = run(
        &mut browser,
        &branch,
        "for i in 1 2 3; do echo line $i; sleep 0.1; done; echo oops >&2; exit 3",
    )
    .await;
    assert_eq!(out.stdout, "line 1\nline 2\nline 3\n");
    assert_eq!(out.stderr, "oops\n");
    assert_eq!(out.exit.as_deref(), Some("exit 3"));
    assert_eq!(out.order.last().map(String::as_str), Some("exit"), "the exit comes last");
    assert!(out.order.iter().filter(|k| *k == "stdout").count() >= 3, "lines arrive as they come");
}

#[tokio::test]
async fn a_sandbox_sees_neither_other_branches_nor_the_server_data_nor_its_environment() {
    // A variable only the server process has, as a deployment's secrets would be.
    std::env::set_var("UPSTREAM_SERVER_ONLY_CANARY", "canary-value");
    let (app, mut browser, repo, first) = with_branch().await;
    let second = browser.ok("create_branch", new_branch(&repo, "other")).await;
    ready(&mut browser, &first).await;
    ready(&mut browser, &second).await;
    let secret = run(&mut browser, &first, "echo first-branch-secret > only-here.txt").await;
    assert_eq!(secret.exit.as_deref(), Some("exit 0"));

    let first_dir = sandbox_dir(&app, &sandbox_row(&app, &first).await.provider_id);
    let data_dir = app.db.dir().join("data");
    let script = format!(
        "ls /workspace; cat {first}/workspace/only-here.txt; ls {data}; \
         cat {data}/encryption.key; ls /proc | grep -c '^[0-9]'; env",
        first = first_dir.display(),
        data = data_dir.display()
    );
    let out = run(&mut browser, &second, &script).await;
    assert!(!out.stdout.contains("only-here.txt"), "{out:?}");
    assert!(!out.stdout.contains("first-branch-secret"), "{out:?}");
    assert!(out.stderr.contains("No such file or directory"), "{out:?}");
    for variable in ["UPSTREAM_SERVER_ONLY_CANARY", "canary-value", "CARGO"] {
        assert!(!out.stdout.contains(variable), "{variable} leaked: {}", out.stdout);
    }
    let process_count: usize = out
        .stdout
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("the process count is printed");
    assert!(process_count < 10, "only the sandbox's own processes are visible");
    assert!(std::fs::read_to_string(first_dir.join("workspace/only-here.txt")).is_ok());
}

#[tokio::test]
async fn stopping_a_sandbox_kills_everything_its_commands_left_running() {
    let (_app, mut browser, _repo, branch) = with_branch().await;
    ready(&mut browser, &branch).await;
    let out = run(&mut browser, &branch, "nohup sleep 3033 >/dev/null 2>&1 & echo started").await;
    assert_eq!(out.stdout, "started\n");
    assert_eq!(out.exit.as_deref(), Some("exit 0"));
    assert!(process_running("sleep 3033"), "a background process outlives its command");

    // A command still running when the sandbox stops is killed too.
    let id = browser
        .ok("run_command", json!({ "branch_id": branch["id"], "command": "sleep 3044" }))
        .await;
    for _ in 0..100 {
        if process_running("sleep 3044") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(process_running("sleep 3044"));

    let stopped =
        browser.ok("change_sandbox", json!({ "branch_id": branch["id"], "action": "stop" })).await;
    assert_eq!(stopped["state"], "stopped");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!process_running("sleep 3033"), "the background process is gone");
    assert!(!process_running("sleep 3044"), "the running command is gone");
    let stream = browser.get(&format!("/streams/commands/{}", id.as_str().unwrap())).await;
    assert!(stream.text.contains(r#""kind":"exit","text":"killed""#), "{}", stream.text);

    // The files stay; the next command starts the sandbox again.
    let again = run(&mut browser, &branch, "ls").await;
    assert_eq!(again.stdout, "README.md\n");
    let view = browser.ok("get_sandbox", json!({ "branch_id": branch["id"] })).await;
    assert_eq!(view["state"], "running");
}

#[tokio::test]
async fn a_failed_step_is_named_with_its_reason_and_leaves_nothing_behind() {
    let (app, mut browser, repo, _) = with_branch().await;
    let mut orphan = new_branch(&repo, "orphan");
    orphan["base_branch"] = json!("no-such-base");
    let branch = browser.ok("create_branch", orphan).await;
    let view = ready(&mut browser, &branch).await;
    assert_eq!(view["state"], "error");
    let failed: Vec<&Value> =
        view["steps"].as_array().unwrap().iter().filter(|s| s["state"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "Check out orphan");
    assert!(failed[0]["detail"].as_str().unwrap().contains("no-such-base"), "{view}");
    assert!(view["error"].as_str().unwrap().starts_with("Check out orphan failed"), "{view}");
    let row = sandbox_row(&app, &branch).await;
    assert!(!sandbox_dir(&app, &row.provider_id).exists(), "the half-made sandbox is deleted");
    assert_eq!(view["held"], 0, "a failed sandbox holds no slot");
}

#[tokio::test]
async fn over_quota_creation_is_refused_naming_the_limit_until_a_slot_is_freed() {
    let (app, mut browser, repo, first) = with_branch().await;
    let second = browser.ok("create_branch", new_branch(&repo, "second")).await;
    let local = user::Entity::find().one(&app.state.services.db).await.unwrap().unwrap();
    let mut limited: user::ActiveModel = local.into();
    limited.sandbox_quota = Set(Some(1));
    limited.update(&app.state.services.db).await.unwrap();

    ready(&mut browser, &first).await;
    browser.ok("change_sandbox", json!({ "branch_id": first["id"], "action": "stop" })).await;
    let refused = browser
        .call("change_sandbox", json!({ "branch_id": second["id"], "action": "start" }))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let message = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("limit of 1"), "{message}");
    assert!(message.contains("Delete a sandbox"), "{message}");

    browser.ok("change_sandbox", json!({ "branch_id": first["id"], "action": "delete" })).await;
    let view = ready(&mut browser, &second).await;
    assert_eq!(view["state"], "running");
    assert_eq!((view["held"].as_u64(), view["quota"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn an_idle_sandbox_stops_after_the_users_interval_and_starts_again_on_use() {
    let (app, mut browser, _repo, branch) = with_branch().await;
    let saved = browser.form("set_auto_stop", &[("minutes", "5")]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    ready(&mut browser, &branch).await;

    let clock = Arc::new(ManualClock::new(Utc::now()));
    let mut services = app.state.services.clone();
    services.clock = clock.clone();
    clock.advance(chrono::Duration::minutes(4));
    assert!(domain::sandboxes::stop_idle(&services).await.unwrap().is_empty());
    clock.advance(chrono::Duration::minutes(2));
    let stopped = domain::sandboxes::stop_idle(&services).await.unwrap();
    assert_eq!(stopped, vec![branch["id"].as_i64().unwrap()]);
    let view = browser.ok("get_sandbox", json!({ "branch_id": branch["id"] })).await;
    assert_eq!(view["state"], "stopped");

    let out = run(&mut browser, &branch, "git branch --show-current").await;
    assert_eq!(out.stdout, "feature\n", "the next use starts it again, files intact");
}

#[tokio::test]
async fn the_auto_stop_interval_is_kept_between_5_and_20_minutes() {
    let app = TestApp::start(SignIn::Local).await;
    let mut browser = app.browser();
    assert_eq!(browser.ok("get_user_settings", json!({})).await["auto_stop_minutes"], 10);
    for minutes in ["4", "21", "-1", "ten"] {
        let refused = browser.form("set_auto_stop", &[("minutes", minutes)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{minutes}");
        assert_eq!(refused.json()["field"], "auto_stop_minutes");
    }
    let saved = browser.form("set_auto_stop", &[("minutes", "15")]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

    // Without JavaScript the settings page posts its form and is sent back to itself,
    // showing the refusal there.
    let request = Request::post("/api/set_auto_stop")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", "http://127.0.0.1:3000/settings")
        .header("origin", "http://127.0.0.1:3000")
        .header("host", "127.0.0.1:3000")
        .body(Body::from("minutes=30"))
        .unwrap();
    let answer = browser.send(request).await;
    assert!(answer.status.is_redirection(), "{} {}", answer.status, answer.text);
    let back = answer.location();
    assert!(back.starts_with("http://127.0.0.1:3000/settings?"), "{back}");
    let page = browser.get(back.trim_start_matches("http://127.0.0.1:3000")).await;
    assert!(page.text.contains("choose between 5 and 20 minutes"), "{}", page.text);
    assert!(page.text.contains(r#"value="15""#), "the kept value is shown");
    assert_eq!(browser.ok("get_user_settings", json!({})).await["auto_stop_minutes"], 15);
}

#[tokio::test]
async fn a_vanished_sandbox_is_recreated_on_next_use_with_the_branch_fetched_back() {
    let (app, mut browser, _repo, branch) = with_branch().await;
    ready(&mut browser, &branch).await;
    let pushed = run(
        &mut browser,
        &branch,
        "git commit -q --allow-empty -m 'saved work' && git push -q origin feature",
    )
    .await;
    assert_eq!(pushed.exit.as_deref(), Some("exit 0"), "{pushed:?}");
    let before = sandbox_row(&app, &branch).await;
    std::fs::remove_dir_all(sandbox_dir(&app, &before.provider_id)).unwrap();

    let out = run(&mut browser, &branch, "git log -1 --format=%s").await;
    assert_eq!(out.stdout, "saved work\n", "{out:?}");
    let after = sandbox_row(&app, &branch).await;
    assert_ne!(after.provider_id, before.provider_id, "a new sandbox was made");
}

#[tokio::test]
async fn reconciling_forgets_sandboxes_their_provider_lost_so_counts_stay_true() {
    let (app, mut browser, _repo, branch) = with_branch().await;
    let view = ready(&mut browser, &branch).await;
    assert_eq!(view["held"], 1);
    let row = sandbox_row(&app, &branch).await;
    std::fs::remove_dir_all(sandbox_dir(&app, &row.provider_id)).unwrap();

    domain::sandboxes::reconcile(&app.state.services).await.unwrap();
    let view = browser.ok("get_sandbox", json!({ "branch_id": branch["id"] })).await;
    assert_eq!(view["state"], "none");
    assert_eq!(view["held"], 0);
}

#[tokio::test]
async fn deleting_a_branch_or_its_repository_deletes_their_sandboxes() {
    let (app, mut browser, repo, branch) = with_branch().await;
    let other = browser.ok("create_branch", new_branch(&repo, "other")).await;
    ready(&mut browser, &branch).await;
    ready(&mut browser, &other).await;
    let first = sandbox_dir(&app, &sandbox_row(&app, &branch).await.provider_id);
    let second = sandbox_dir(&app, &sandbox_row(&app, &other).await.provider_id);
    assert!(first.exists() && second.exists());

    browser.ok("delete_branch", json!({ "branch_id": branch["id"] })).await;
    assert!(!first.exists(), "the branch's sandbox is gone");
    assert!(second.exists());
    browser.ok("remove_repository", json!({ "repository_id": repo["id"] })).await;
    assert!(!second.exists(), "the repository's sandboxes are gone");
}

#[tokio::test]
async fn repository_variables_reach_commands_but_never_travel_back() {
    let (app, mut browser, repo, branch) = with_branch().await;
    let repository_id = repo["id"].to_string();
    let set = |name: &'static str, value: &'static str| {
        vec![
            ("repository_id", repository_id.clone()),
            ("name", name.into()),
            ("value", value.into()),
        ]
    };
    let fields = set("API_TOKEN", "s3cret-value");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let names = browser.form("set_repository_env", &fields).await;
    assert_eq!(names.json(), json!(["API_TOKEN"]));
    for name in ["1BAD", "PATH", "A-B"] {
        let fields = set(name, "x");
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = browser.form("set_repository_env", &fields).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(refused.json()["field"], "name");
    }
    let settings = browser
        .ok("get_repository_settings", json!({ "owner": repo["owner"], "repo": "widgets" }))
        .await;
    assert_eq!(settings["env_names"], json!(["API_TOKEN"]));
    assert!(!settings.to_string().contains("s3cret"), "values are never sent back");
    let stored = entity::repository::Entity::find().one(&app.state.services.db).await.unwrap();
    assert!(!stored.unwrap().env_vars.unwrap().contains("s3cret"), "sealed at rest");

    ready(&mut browser, &branch).await;
    let out = run(&mut browser, &branch, "echo \"$API_TOKEN\"").await;
    assert_eq!(out.stdout, "s3cret-value\n");

    let removed = browser
        .form("set_repository_env", &[("repository_id", &repository_id), ("name", "API_TOKEN")])
        .await;
    assert_eq!(removed.json(), json!([]));
    let out = run(&mut browser, &branch, "echo \"[${API_TOKEN:-unset}]\"").await;
    assert_eq!(out.stdout, "[unset]\n");
}

#[tokio::test]
async fn the_page_stream_sends_the_sandbox_state_now_and_each_change() {
    let (app, mut browser, _repo, branch) = with_branch().await;
    let mut request =
        Request::get(format!("/streams/page?branch={}", branch["id"])).body(Body::empty()).unwrap();
    let cookies: Vec<String> = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    request.headers_mut().insert("cookie", cookies.join("; ").parse().unwrap());
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();

    let mut seen = String::new();
    let mut next_event = async || -> Value {
        loop {
            if let Some(end) = seen.find("\n\n") {
                let event: String = seen.drain(..end + 2).collect();
                // The page's stream also carries the branch's run events and statuses.
                if !event.lines().any(|l| l == "event: sandbox") {
                    continue;
                }
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
                .await
                .expect("an event within 30 s")
                .unwrap()
                .unwrap();
            if let Ok(data) = frame.into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
        }
    };
    assert_eq!(next_event().await["state"], "none");
    browser.ok("change_sandbox", json!({ "branch_id": branch["id"], "action": "start" })).await;
    let mut states = Vec::new();
    loop {
        let view = next_event().await;
        states.push(view["state"].as_str().unwrap().to_owned());
        if view["state"] != "creating" {
            break;
        }
        let running = view["steps"].as_array().unwrap().iter().any(|s| s["state"] == "running");
        assert!(running || states.len() == 1, "each update shows a step at work: {view}");
    }
    assert_eq!(states.first().map(String::as_str), Some("creating"));
    assert_eq!(states.last().map(String::as_str), Some("running"));
    assert!(states.len() >= 3, "the steps arrive one by one: {states:?}");
}

#[tokio::test]
async fn another_users_sandbox_and_commands_are_not_found() {
    let app = TestApp::start(SignIn::OAuth).await;
    let mut owner = app.signed_in("octo").await;
    let mut stranger = app.signed_in("other").await;
    let url = bare_repository(app.db.dir(), "widgets", &[]);
    let repo = owner.ok("add_git_repository", json!({ "url": url })).await;
    let branch = owner.ok("create_branch", new_branch(&repo, "feature")).await;
    ready(&mut owner, &branch).await;
    let id = owner.ok("run_command", json!({ "branch_id": branch["id"], "command": "true" })).await;

    let id_arg = json!({ "branch_id": branch["id"] });
    let answer = stranger.call("get_sandbox", id_arg.clone()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
    for action in ["start", "stop", "delete"] {
        let args = json!({ "branch_id": branch["id"], "action": action });
        let answer = stranger.call("change_sandbox", args).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{action}: {}", answer.text);
    }
    let answer =
        stranger.call("run_command", json!({ "branch_id": branch["id"], "command": "ls" })).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = stranger.call("kill_command", json!({ "command_id": id })).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let stream = stranger.get(&format!("/streams/commands/{}", id.as_str().unwrap())).await;
    assert_eq!(stream.status, StatusCode::NOT_FOUND);
    let stream = stranger.get(&format!("/streams/page?branch={}", branch["id"])).await;
    assert_eq!(stream.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_server_running_sandboxes_unisolated_says_so_on_every_sandbox() {
    let app = TestApp::start_with(SignIn::Local, &[("SANDBOX_ISOLATION", "none")]).await;
    let mut browser = app.browser();
    let url = bare_repository(app.db.dir(), "widgets", &[]);
    let repo = browser.ok("add_git_repository", json!({ "url": url })).await;
    let branch = browser.ok("create_branch", new_branch(&repo, "feature")).await;
    let view = ready(&mut browser, &branch).await;
    assert_eq!(view["state"], "running");
    assert!(view["warning"].as_str().unwrap().contains("not isolated"), "{view}");
    let out = run(&mut browser, &branch, "git branch --show-current").await;
    assert_eq!(out.stdout, "feature\n");

    let isolated = TestApp::start(SignIn::Local).await;
    let mut browser = isolated.browser();
    let url = bare_repository(isolated.db.dir(), "widgets", &[]);
    let repo = browser.ok("add_git_repository", json!({ "url": url })).await;
    let branch = browser.ok("create_branch", new_branch(&repo, "feature")).await;
    let view = browser.ok("get_sandbox", json!({ "branch_id": branch["id"] })).await;
    assert_eq!(view["warning"], Value::Null, "no warning where sandboxes are isolated");
}
