//! A fake GitHub: the REST endpoints the workspace uses and the OAuth web flow.
//!
//! Lists are paginated with `per_page`/`page` and a `Link` header built from the request's
//! own Host, as GitHub does. Requests need a known bearer token (401 "Bad credentials"
//! otherwise) and a User-Agent (403 otherwise). The authorize page approves at once and
//! sends the browser back with a code, as if the user had clicked "Authorize".
//!
//! Repositories also answer git itself at their `clone_url`, which points back at the fake:
//! see [`crate::git_http`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::git_http;

/// An account the fake knows, with the token that signs in as it.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub token: String,
}

/// A repository and its branches.
#[derive(Clone, Debug)]
pub struct Repo {
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub description: String,
    pub default_branch: String,
    pub branches: Vec<String>,
    /// The logins that can see it.
    pub visible_to: Vec<String>,
}

/// The fake's whole world.
#[derive(Default)]
pub struct World {
    pub accounts: Vec<Account>,
    pub repos: Vec<Repo>,
    /// OAuth codes handed out, and the login each one signs in.
    pub codes: HashMap<String, String>,
    pub client_id: String,
    pub client_secret: String,
    /// Every request's method and path with query, in order.
    pub requests: Vec<String>,
    /// Where git finds the repositories' bare clones, as `<owner>/<name>.git`; without it
    /// every repository answers git with 404. See [`World::create_git_repository`].
    pub git_root: Option<PathBuf>,
    /// How long git waits for each refs advertisement, so that a test can watch a clone
    /// while it runs.
    pub git_delay: Duration,
}

pub type Shared = Arc<Mutex<World>>;

impl World {
    /// Two accounts: `octo` (token `gho_octo`), who sees `octo-org/widgets`,
    /// `octo-org/gadgets`, `octo/dotfiles` and 150 sample repositories (two pages), and
    /// `other` (token `gho_other`) who sees only `other/private-thing`. The OAuth app is
    /// `fake-client-id` / `fake-client-secret`.
    pub fn sample() -> Self {
        let account = |id, login: &str, name: &str| Account {
            id,
            login: login.into(),
            name: name.into(),
            token: format!("gho_{login}"),
        };
        let repo = |owner: &str, name: &str, visible: &str, branches: &[&str]| Repo {
            owner: owner.into(),
            name: name.into(),
            private: owner == "octo-org",
            description: format!("The {name} project"),
            default_branch: "main".into(),
            branches: branches.iter().map(|b| b.to_string()).collect(),
            visible_to: vec![visible.into()],
        };
        let mut repos = vec![
            repo("octo-org", "widgets", "octo", &["main", "develop", "release/1.0"]),
            repo("octo-org", "gadgets", "octo", &["main"]),
            repo("octo", "dotfiles", "octo", &["main"]),
            repo("other", "private-thing", "other", &["main"]),
        ];
        for n in 0..150 {
            repos.push(repo("octo", &format!("sample-{n:03}"), "octo", &["main"]));
        }
        World {
            accounts: vec![account(1001, "octo", "Octo Cat"), account(1002, "other", "Other")],
            repos,
            codes: HashMap::new(),
            client_id: "fake-client-id".into(),
            client_secret: "fake-client-secret".into(),
            requests: Vec::new(),
            git_root: None,
            git_delay: Duration::ZERO,
        }
    }
}

/// The router of the fake.
pub fn router(world: Shared) -> Router {
    Router::new()
        .route("/user", get(user))
        .route("/user/repos", get(user_repos))
        .route("/repos/{owner}/{repo}", get(repo))
        .route("/repos/{owner}/{repo}/branches", get(branches))
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
        .route("/{owner}/{repo}/info/refs", get(git_http::info_refs))
        .route("/{owner}/{repo}/git-upload-pack", post(git_http::upload_pack))
        .route("/{owner}/{repo}/git-receive-pack", post(git_http::receive_pack))
        .layer(axum::middleware::from_fn_with_state(world.clone(), record))
        .with_state(world)
}

/// Serves the fake on `address` (port 0 picks a free one) in the background and returns
/// where it listens.
pub async fn spawn(world: Shared, address: &str) -> std::io::Result<SocketAddr> {
    crate::serve(router(world), address).await
}

async fn record(
    State(world): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    world.lock().unwrap().requests.push(line);
    next.run(request).await
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// The account a request's bearer token belongs to, or the response GitHub would give.
fn caller(world: &World, headers: &HeaderMap) -> Result<Account, Response> {
    if !headers.contains_key(header::USER_AGENT) {
        return Err(error(StatusCode::FORBIDDEN, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")));
    world
        .accounts
        .iter()
        .find(|a| Some(a.token.as_str()) == token)
        .cloned()
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Bad credentials"))
}

fn account_json(account: &Account) -> Value {
    json!({
        "login": account.login,
        "id": account.id,
        "node_id": format!("U_{}", account.id),
        "name": account.name,
        "email": null,
        "avatar_url": null,
        "html_url": format!("https://github.com/{}", account.login),
        "type": "User",
    })
}

/// The repository as the API describes it; `web` is where the fake serves git.
fn repo_json(repo: &Repo, web: &str) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    json!({
        "id": full_name.len() as i64 * 7919 + repo.name.len() as i64,
        "name": repo.name,
        "full_name": full_name,
        "private": repo.private,
        "visibility": if repo.private { "private" } else { "public" },
        "owner": { "login": repo.owner, "id": 1, "avatar_url": null },
        "html_url": format!("https://github.com/{full_name}"),
        "clone_url": format!("{web}/{full_name}.git"),
        "ssh_url": format!("git@github.com:{full_name}.git"),
        "default_branch": repo.default_branch,
        "description": repo.description,
        "fork": false,
        "archived": false,
        "disabled": false,
        "pushed_at": "2026-11-30T12:00:00Z",
        "updated_at": "2026-11-30T12:00:00Z",
        "permissions": { "admin": true, "maintain": true, "push": true, "triage": true, "pull": true },
    })
}

#[derive(Deserialize)]
struct Page {
    per_page: Option<usize>,
    page: Option<usize>,
}

/// The fake's own address as the request reached it.
fn web_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// One page of `items`, with the `Link` header GitHub would send.
fn paged(items: Vec<Value>, page: &Page, headers: &HeaderMap, path: &str) -> Response {
    let per_page = page.per_page.unwrap_or(30).clamp(1, 100);
    let number = page.page.unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> =
        items.into_iter().skip((number - 1) * per_page).take(per_page).collect();
    let web = web_url(headers);
    let link =
        |n: usize, rel: &str| format!("<{web}{path}?per_page={per_page}&page={n}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if number > 1 {
        links.push(link(number - 1, "prev"));
        links.push(link(1, "first"));
    }
    if number < last {
        links.push(link(number + 1, "next"));
        links.push(link(last, "last"));
    }
    let mut response = Json(slice).into_response();
    if !links.is_empty() {
        response.headers_mut().insert(header::LINK, links.join(", ").parse().unwrap());
    }
    response
}

async fn user(State(world): State<Shared>, headers: HeaderMap) -> Result<Response, Response> {
    let world = world.lock().unwrap();
    let account = caller(&world, &headers)?;
    Ok(Json(account_json(&account)).into_response())
}

async fn user_repos(
    State(world): State<Shared>,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> Result<Response, Response> {
    let world = world.lock().unwrap();
    let account = caller(&world, &headers)?;
    let visible = world
        .repos
        .iter()
        .filter(|r| r.visible_to.contains(&account.login))
        .map(|r| repo_json(r, &web_url(&headers)))
        .collect();
    Ok(paged(visible, &page, &headers, "/user/repos"))
}

fn find_repo<'a>(world: &'a World, account: &Account, owner: &str, name: &str) -> Option<&'a Repo> {
    world
        .repos
        .iter()
        .find(|r| r.owner == owner && r.name == name && r.visible_to.contains(&account.login))
}

async fn repo(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, Response> {
    let world = world.lock().unwrap();
    let account = caller(&world, &headers)?;
    let repo = find_repo(&world, &account, &owner, &name).ok_or_else(not_found)?;
    Ok(Json(repo_json(repo, &web_url(&headers))).into_response())
}

async fn branches(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    Query(page): Query<Page>,
) -> Result<Response, Response> {
    let world = world.lock().unwrap();
    let account = caller(&world, &headers)?;
    let repo = find_repo(&world, &account, &owner, &name).ok_or_else(not_found)?;
    let items = repo
        .branches
        .iter()
        .enumerate()
        .map(|(i, b)| json!({ "name": b, "commit": { "sha": format!("{:040x}", i + 1), "url": "" }, "protected": false }))
        .collect();
    Ok(paged(items, &page, &headers, &format!("/repos/{owner}/{name}/branches")))
}

#[derive(Deserialize)]
struct Authorize {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    /// Not part of GitHub's API: which account "clicks Authorize" (default `octo`).
    login: Option<String>,
}

async fn authorize(State(world): State<Shared>, Query(query): Query<Authorize>) -> Response {
    let mut world = world.lock().unwrap();
    if query.client_id != world.client_id {
        return (StatusCode::NOT_FOUND, "unknown client_id").into_response();
    }
    let code = format!("code-{}", world.codes.len() + 1);
    world.codes.insert(code.clone(), query.login.unwrap_or_else(|| "octo".into()));
    let separator = if query.redirect_uri.contains('?') { '&' } else { '?' };
    let state = query.state.unwrap_or_default();
    Redirect::to(&format!("{}{separator}code={code}&state={state}", query.redirect_uri))
        .into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    client_id: String,
    client_secret: String,
    code: String,
}

async fn access_token(State(world): State<Shared>, Form(form): Form<TokenRequest>) -> Response {
    let mut world = world.lock().unwrap();
    // GitHub answers these errors with HTTP 200.
    if form.client_id != world.client_id || form.client_secret != world.client_secret {
        return Json(json!({
            "error": "incorrect_client_credentials",
            "error_description": "The client_id and/or client_secret passed are incorrect.",
        }))
        .into_response();
    }
    let Some(login) = world.codes.remove(&form.code) else {
        return Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
        }))
        .into_response();
    };
    let token = world.accounts.iter().find(|a| a.login == login).map(|a| a.token.clone());
    Json(json!({ "access_token": token, "token_type": "bearer", "scope": "repo,read:user" }))
        .into_response()
}
