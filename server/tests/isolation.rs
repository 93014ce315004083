//! One user can never reach another's data: every server function, given ids or names
//! that belong to someone else, answers 404 and changes nothing.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{SignIn, TestApp};

#[tokio::test]
async fn another_users_repositories_and_branches_are_not_found_by_any_server_function() {
    let app = TestApp::start(SignIn::OAuth).await;
    let mut alice = app.signed_in("octo").await;
    let mut bob = app.signed_in("other").await;

    let repo = alice.ok("add_github_repository", json!({ "full_name": "octo-org/widgets" })).await;
    let branch = alice
        .ok(
            "create_branch",
            json!({ "repository_id": repo["id"], "name": "secret-work", "base_branch": "main",
                    "agent": "claude-code", "model": "sonnet" }),
        )
        .await;

    let attempts = [
        ("list_remote_branches", json!({ "repository_id": repo["id"] })),
        ("reorder_repositories", json!({ "order": [repo["id"]] })),
        ("remove_repository", json!({ "repository_id": repo["id"] })),
        (
            "create_branch",
            json!({ "repository_id": repo["id"], "name": "intruder", "base_branch": "main", "agent": "codex", "model": "o4-mini" }),
        ),
        ("get_branch", json!({ "owner": "octo-org", "repo": "widgets", "branch": "secret-work" })),
        ("rename_branch", json!({ "branch_id": branch["id"], "name": "stolen" })),
        ("delete_branch", json!({ "branch_id": branch["id"] })),
        ("add_github_repository", json!({ "full_name": "octo-org/widgets" })),
    ];
    for (name, args) in attempts {
        let answer = bob.call(name, args).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{name} leaked: {}", answer.text);
    }

    let bobs = bob.ok("get_workspace", json!({})).await;
    assert_eq!(bobs["user"]["login"], "other");
    assert_eq!(bobs["repositories"], json!([]), "bob's workspace shows nothing of alice's");
    let alices = alice.ok("get_workspace", json!({})).await;
    let branches = &alices["repositories"][0]["branches"];
    assert_eq!(branches.as_array().unwrap().len(), 1, "alice's branch is untouched");
    assert_eq!(branches[0]["name"], "secret-work");
}
