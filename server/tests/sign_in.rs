//! Signing in: the GitHub OAuth flow, sessions, and the guards around them.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use support::{SignIn, TestApp};

#[tokio::test]
async fn without_a_session_server_functions_answer_401_and_pages_send_to_sign_in() {
    let app = TestApp::start(SignIn::OAuth).await;
    let mut browser = app.browser();
    let answer = browser.call("get_workspace", json!({})).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "unauthorized");
    let method = browser.ok("get_sign_in_method", json!({})).await;
    assert_eq!(method, json!("GithubOAuth"));
}

#[tokio::test]
async fn github_sign_in_creates_the_user_and_keeps_the_token_sealed() {
    let app = TestApp::start(SignIn::OAuth).await;
    let mut browser = app.signed_in("octo").await;
    let workspace = browser.ok("get_workspace", json!({})).await;
    assert_eq!(workspace["user"]["login"], "octo");
    assert_eq!(workspace["user"]["is_admin"], false);
    assert_eq!(workspace["github_connected"], true);
    assert_eq!(workspace["can_sign_out"], true, "a GitHub user can sign out");

    let row = user::Entity::find()
        .filter(user::Column::Login.eq("octo"))
        .one(&app.state.services.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.github_token.expect("the token is stored");
    assert!(!stored.contains("gho_octo"), "the token must not be stored in the clear");
    assert_eq!(app.state.services.sealer.open(&stored).unwrap().expose(), "gho_octo");
}

#[tokio::test]
async fn a_callback_with_a_foreign_state_is_refused() {
    let app = TestApp::start(SignIn::OAuth).await;
    let mut browser = app.browser();
    browser.get("/auth/github/login").await;
    let answer = browser.get("/auth/github/callback?code=code-1&state=forged").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.call("get_workspace", json!({})).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_survive_a_restart_and_end_at_logout() {
    let app = TestApp::start(SignIn::OAuth).await;
    let browser = app.signed_in("octo").await;
    let cookies = browser.cookies.clone();

    let app = app.restart().await;
    let mut browser = app.browser();
    browser.cookies = cookies;
    assert_eq!(browser.call("get_workspace", json!({})).await.status, StatusCode::OK);

    let request = Request::post("/auth/logout").body(Body::empty()).unwrap();
    let answer = browser.send(request).await;
    assert_eq!(answer.location(), "/sign-in");
    assert_eq!(browser.call("get_workspace", json!({})).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = TestApp::start(SignIn::Dev).await;
    let answer = app.browser().call("get_workspace", json!({})).await;
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("upstream_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http must not set Secure: {cookie}");
}

#[tokio::test]
async fn a_change_requested_from_another_origin_is_refused() {
    let app = TestApp::start(SignIn::Dev).await;
    let mut browser = app.browser();
    let request = Request::post("/api/add_git_repository")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::from(json!({ "url": "/tmp" }).to_string()))
        .unwrap();
    let answer = browser.send(request).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_page_reached_under_a_foreign_host_is_not_signed_in_automatically() {
    let app = TestApp::start(SignIn::Local).await;
    let mut browser = app.browser();
    let request = Request::post("/api/get_workspace")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "rebound.example:3000")
        .body(Body::from("{}"))
        .unwrap();
    let answer = browser.send(request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "DNS rebinding must not sign in");
}

#[tokio::test]
async fn the_workspace_page_renders_on_the_server() {
    let app = TestApp::start(SignIn::Dev).await;
    let answer = app.browser().get("/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text.contains("Upstream Agents"), "{}", answer.text);
    assert!(answer.text.contains("/pkg/upstream.js"), "the page loads the app");
}
