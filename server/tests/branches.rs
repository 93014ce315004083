//! Creating, opening, renaming and deleting branches through the server functions.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::{Browser, SignIn, TestApp};

async fn with_repository() -> (TestApp, Browser, Value) {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let repo =
        browser.ok("add_github_repository", json!({ "full_name": "octo-org/widgets" })).await;
    (app, browser, repo)
}

fn new_branch(repo: &Value, name: &str) -> Value {
    json!({
        "repository_id": repo["id"], "name": name, "base_branch": "main",
        "agent": "codex", "model": "gpt-5.4"
    })
}

#[tokio::test]
async fn a_new_branch_opens_by_its_deep_link_with_its_settings() {
    let (_app, mut browser, repo) = with_repository().await;
    let created = browser.ok("create_branch", new_branch(&repo, "feature/search")).await;
    assert_eq!(created["status"], "idle");

    let detail = browser
        .ok(
            "get_branch",
            json!({ "owner": "octo-org", "repo": "widgets", "branch": "feature/search" }),
        )
        .await;
    assert_eq!(detail["branch"]["agent"], "codex");
    assert_eq!(detail["branch"]["model"], "gpt-5.4");
    assert_eq!(detail["branch"]["base_branch"], "main");
    assert_eq!(detail["repository"]["name"], "widgets");

    let workspace = browser.ok("get_workspace", json!({})).await;
    assert_eq!(workspace["repositories"][0]["branches"][0]["name"], "feature/search");
}

#[tokio::test]
async fn branch_names_git_refuses_are_refused_and_nothing_is_written() {
    let (_app, mut browser, repo) = with_repository().await;
    for name in ["--upload-pack=x", "../x", "@{-1}", "a b", "x.lock", ""] {
        let answer = browser.call("create_branch", new_branch(&repo, name)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name:?}: {}", answer.text);
        assert_eq!(answer.json()["field"], "name", "{name:?}");
    }
    let mut bad_base = new_branch(&repo, "fine");
    bad_base["base_branch"] = json!("main..evil");
    let answer = browser.call("create_branch", bad_base).await;
    assert_eq!(answer.json()["field"], "base_branch");
    let workspace = browser.ok("get_workspace", json!({})).await;
    assert_eq!(workspace["repositories"][0]["branches"], json!([]));
}

#[tokio::test]
async fn a_second_branch_of_the_same_name_is_a_conflict() {
    let (_app, mut browser, repo) = with_repository().await;
    browser.ok("create_branch", new_branch(&repo, "dup")).await;
    let answer = browser.call("create_branch", new_branch(&repo, "dup")).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert!(answer.text.contains("already has a branch named dup"), "{}", answer.text);
}

#[tokio::test]
async fn a_renamed_branch_is_found_under_its_new_name_only() {
    let (_app, mut browser, repo) = with_repository().await;
    let created = browser.ok("create_branch", new_branch(&repo, "old-name")).await;
    let renamed = browser
        .ok("rename_branch", json!({ "branch_id": created["id"], "name": "new/name" }))
        .await;
    assert_eq!(renamed["name"], "new/name");
    let path = |branch: &str| json!({ "owner": "octo-org", "repo": "widgets", "branch": branch });
    assert_eq!(browser.call("get_branch", path("old-name")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(browser.call("get_branch", path("new/name")).await.status, StatusCode::OK);

    let refused = browser
        .call("rename_branch", json!({ "branch_id": created["id"], "name": "bad..name" }))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_deleted_branch_is_gone() {
    let (_app, mut browser, repo) = with_repository().await;
    let created = browser.ok("create_branch", new_branch(&repo, "short-lived")).await;
    browser.ok("delete_branch", json!({ "branch_id": created["id"] })).await;
    let again = browser.call("delete_branch", json!({ "branch_id": created["id"] })).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_base_branch_list_comes_from_github() {
    let (_app, mut browser, repo) = with_repository().await;
    let remote = browser.ok("list_remote_branches", json!({ "repository_id": repo["id"] })).await;
    assert_eq!(remote["default_branch"], "main");
    assert_eq!(remote["branches"], json!(["main", "develop", "release/1.0"]));
}
