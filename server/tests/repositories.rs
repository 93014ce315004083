//! Adding, listing, ordering and removing repositories through the server functions.

mod support;

use axum::http::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use support::{bare_repository, SignIn, TestApp};

#[tokio::test]
async fn dev_mode_signs_the_dev_user_in_without_any_step() {
    let app = TestApp::start(SignIn::Dev).await;
    let workspace = app.browser().ok("get_workspace", json!({})).await;
    assert_eq!(workspace["user"]["login"], "dev");
    assert_eq!(workspace["user"]["is_admin"], true);
    assert_eq!(workspace["github_connected"], true);
    assert_eq!(workspace["can_sign_out"], false, "signing out of dev mode means nothing");
    assert_eq!(workspace["repositories"], json!([]));
}

#[tokio::test]
async fn embedded_default_signs_the_local_user_in() {
    let app = TestApp::start(SignIn::Local).await;
    let workspace = app.browser().ok("get_workspace", json!({})).await;
    assert_eq!(workspace["user"]["login"], "local");
    assert_eq!(workspace["github_connected"], false);
}

#[tokio::test]
async fn github_repositories_are_listed_across_pages_and_filtered() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let all = browser.ok("list_github_repositories", json!({ "query": "" })).await;
    assert_eq!(all.as_array().unwrap().len(), 153, "both pages of octo's repositories");
    assert!(
        app.github_requests().iter().any(|r| r.contains("/user/repos") && r.contains("page=2")),
        "the second page is fetched by following the Link header"
    );
    let found = browser.ok("list_github_repositories", json!({ "query": "WIDG" })).await;
    assert_eq!(
        found,
        json!([{ "full_name": "octo-org/widgets", "description": "The widgets project", "private": true, "added": false }])
    );
}

#[tokio::test]
async fn a_github_repository_is_added_once_and_listed() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let added =
        browser.ok("add_github_repository", json!({ "full_name": "octo-org/widgets" })).await;
    assert_eq!(added["default_branch"], "main");
    assert_eq!(added["provider"], "github");

    let again =
        browser.call("add_github_repository", json!({ "full_name": "octo-org/widgets" })).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.json()["message"].as_str().unwrap().contains("already in your workspace"));

    let workspace = browser.ok("get_workspace", json!({})).await;
    assert_eq!(workspace["repositories"][0]["owner"], "octo-org");
    let listed = browser.ok("list_github_repositories", json!({ "query": "widgets" })).await;
    assert_eq!(listed[0]["added"], true, "the list marks what is already added");
}

#[tokio::test]
async fn an_unknown_or_malformed_github_repository_is_refused_clearly() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let unknown =
        browser.call("add_github_repository", json!({ "full_name": "other/private-thing" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = browser.call("add_github_repository", json!({ "full_name": "no-slash" })).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json()["field"], "repository");
}

#[tokio::test]
async fn without_github_the_github_list_says_how_to_connect_it() {
    let app = TestApp::start(SignIn::Local).await;
    let answer = app.browser().call("list_github_repositories", json!({ "query": "" })).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "not_configured");
    assert!(answer.text.contains("GITHUB_PAT"), "{}", answer.text);
}

#[tokio::test]
async fn a_local_git_repository_is_added_with_its_default_branch_and_branches() {
    let app = TestApp::start(SignIn::Local).await;
    let path = bare_repository(app.db.dir(), "tools", &["develop", "feature/x"]);
    let mut browser = app.browser();
    let added = browser.ok("add_git_repository", json!({ "url": path })).await;
    assert_eq!(added["provider"], "git");
    assert_eq!(added["name"], "tools");
    assert_eq!(added["default_branch"], "main");

    let remote = browser.ok("list_remote_branches", json!({ "repository_id": added["id"] })).await;
    assert_eq!(remote["branches"], json!(["develop", "feature/x", "main"]));
}

#[tokio::test]
async fn an_unreadable_git_source_is_refused_with_gits_reason() {
    let app = TestApp::start(SignIn::Local).await;
    let mut browser = app.browser();
    let missing = browser.call("add_git_repository", json!({ "url": "/no/such/repository" })).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.text.contains("does not exist"), "{}", missing.text);

    let not_git = app.db.dir().join("plain");
    std::fs::create_dir_all(&not_git).unwrap();
    let answer = browser.call("add_git_repository", json!({ "url": not_git })).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text);
    assert!(answer.text.contains("git could not read"), "{}", answer.text);

    let injected = browser
        .call("add_git_repository", json!({ "url": "--upload-pack=touch /tmp/pwned" }))
        .await;
    assert_eq!(injected.status, StatusCode::BAD_REQUEST);
    let workspace = browser.ok("get_workspace", json!({})).await;
    assert_eq!(workspace["repositories"], json!([]), "nothing is written after a failure");
}

#[tokio::test]
async fn the_sidebar_order_is_kept_and_survives_a_restart() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let mut ids = Vec::new();
    for name in ["octo-org/widgets", "octo-org/gadgets", "octo/dotfiles"] {
        let added = browser.ok("add_github_repository", json!({ "full_name": name })).await;
        ids.push(added["id"].as_i64().unwrap());
    }
    let reordered = vec![ids[2], ids[0], ids[1]];
    browser.ok("reorder_repositories", json!({ "order": reordered })).await;

    let app = app.restart().await;
    let workspace = app.browser().ok("get_workspace", json!({})).await;
    let names: Vec<&str> = workspace["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dotfiles", "widgets", "gadgets"]);
}

#[tokio::test]
async fn reordering_with_a_repeated_or_unknown_id_is_refused() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let added = browser.ok("add_github_repository", json!({ "full_name": "octo/dotfiles" })).await;
    let id = added["id"].as_i64().unwrap();
    for order in [json!([id, id]), json!([id, 9999])] {
        let answer = browser.call("reorder_repositories", json!({ "order": order })).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{order}: {}", answer.text);
    }
}

#[tokio::test]
async fn removing_a_repository_removes_its_branches() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let repo =
        browser.ok("add_github_repository", json!({ "full_name": "octo-org/widgets" })).await;
    let branch = json!({
        "repository_id": repo["id"], "name": "feature/a", "base_branch": "main",
        "agent": "claude-code", "model": "sonnet"
    });
    browser.ok("create_branch", branch).await;
    browser.ok("remove_repository", json!({ "repository_id": repo["id"] })).await;

    let workspace = browser.ok("get_workspace", json!({})).await;
    assert_eq!(workspace["repositories"], json!([]));
    let gone = browser
        .call(
            "get_branch",
            json!({ "owner": "octo-org", "repo": "widgets", "branch": "feature/a" }),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let count = entity::branch::Entity::find().count(&app.state.services.db).await.unwrap();
    assert_eq!(count, 0, "branch rows are deleted with their repository");
}
