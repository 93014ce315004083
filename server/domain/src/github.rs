//! A small client for the parts of GitHub's REST API and OAuth web flow the workspace uses.
//!
//! Both base URLs are configurable so that tests can point the client at a fake server.
//! Lists follow the `Link: <…>; rel="next"` header rather than building page numbers.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, LINK, USER_AGENT};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use crate::seal::Secret;
use crate::{Error, Result};

/// Lists are cut here so that an account with thousands of repositories stays quick.
const MAX_PAGES: usize = 10;

/// A GitHub API client. Cloning it shares the connection pool.
#[derive(Clone)]
pub struct GitHub {
    http: reqwest::Client,
    api: Url,
    web: Url,
}

/// The signed-in account.
#[derive(Debug, Clone, Deserialize)]
pub struct GithubUser {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// A repository as GitHub lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct GithubRepo {
    pub name: String,
    pub full_name: String,
    pub owner: GithubOwner,
    pub clone_url: String,
    pub default_branch: String,
    #[serde(default)]
    pub private: bool,
    pub description: Option<String>,
    pub pushed_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubOwner {
    pub login: String,
    pub avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct BranchItem {
    name: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl GitHub {
    /// A client for the API at `api` (e.g. `https://api.github.com`) and the OAuth pages at
    /// `web` (e.g. `https://github.com`).
    pub fn new(api: Url, web: Url) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("upstream-agents"));
        headers.insert("X-GitHub-Api-Version", HeaderValue::from_static("2022-11-28"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("a reqwest client with static headers always builds");
        Self { http, api, web }
    }

    /// The account the token belongs to.
    pub async fn user(&self, token: &Secret) -> Result<GithubUser> {
        self.get_json(self.url("/user"), token).await
    }

    /// Every repository the token can see, most recently pushed first.
    pub async fn repositories(&self, token: &Secret) -> Result<Vec<GithubRepo>> {
        let mut first = self.url("/user/repos");
        first
            .query_pairs_mut()
            .append_pair("per_page", "100")
            .append_pair("sort", "pushed")
            .append_pair("affiliation", "owner,collaborator,organization_member");
        self.get_all(first, token).await
    }

    /// One repository, or [`Error::NotFound`] when the token cannot see it.
    pub async fn repository(&self, token: &Secret, owner: &str, name: &str) -> Result<GithubRepo> {
        let url = self.url(&format!("/repos/{}/{}", segment(owner)?, segment(name)?));
        self.get_json(url, token).await
    }

    /// The names of a repository's branches.
    pub async fn branches(&self, token: &Secret, owner: &str, name: &str) -> Result<Vec<String>> {
        let mut url = self.url(&format!("/repos/{}/{}/branches", segment(owner)?, segment(name)?));
        url.query_pairs_mut().append_pair("per_page", "100");
        let items: Vec<BranchItem> = self.get_all(url, token).await?;
        Ok(items.into_iter().map(|b| b.name).collect())
    }

    /// Where to send the browser to start the OAuth web flow.
    pub fn authorize_url(&self, client_id: &str, redirect_uri: &str, state: &str) -> String {
        let mut url = self.web.join("login/oauth/authorize").expect("a fixed relative path joins");
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "repo read:user")
            .append_pair("state", state);
        url.into()
    }

    /// Trades the code GitHub sent back for an access token.
    ///
    /// GitHub reports a bad code with HTTP 200 and an `error` field; that becomes
    /// [`Error::Upstream`] with GitHub's description.
    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &Secret,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Secret> {
        let url = self.web.join("login/oauth/access_token").expect("a fixed relative path joins");
        let form = [
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        let response = self
            .http
            .post(url)
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let body: TokenBody = check(response).await?.json().await.map_err(bad_body)?;
        match (body.access_token, body.error) {
            (Some(token), None) => Ok(Secret::new(token)),
            (_, error) => Err(Error::Upstream(format!(
                "GitHub refused the sign-in: {}",
                body.error_description.or(error).unwrap_or_else(|| "no reason given".into())
            ))),
        }
    }

    fn url(&self, path: &str) -> Url {
        let base = self.api.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).expect("an API path on a valid base URL parses")
    }

    fn get(&self, url: Url, token: &Secret) -> RequestBuilder {
        self.http.get(url).bearer_auth(token.expose())
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url, token: &Secret) -> Result<T> {
        let response = self.get(url, token).send().await.map_err(unreachable)?;
        check(response).await?.json().await.map_err(bad_body)
    }

    async fn get_all<T: DeserializeOwned>(&self, first: Url, token: &Secret) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut next = Some(first);
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else { break };
            let response = check(self.get(url, token).send().await.map_err(unreachable)?).await?;
            next = next_link(response.headers());
            let page: Vec<T> = response.json().await.map_err(bad_body)?;
            items.extend(page);
        }
        Ok(items)
    }
}

/// The `rel="next"` target of a `Link` header, if any.
fn next_link(headers: &HeaderMap) -> Option<Url> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.split(';').any(|p| p.trim() == "rel=\"next\"").then_some(())?;
        Url::parse(target.trim().trim_start_matches('<').trim_end_matches('>')).ok()
    })
}

/// Turns a non-success response into the error a user should see.
async fn check(response: Response) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let rate_limited =
        response.headers().get("x-ratelimit-remaining").is_some_and(|v| v.as_bytes() == b"0");
    let message = response
        .json::<ErrorBody>()
        .await
        .ok()
        .and_then(|b| b.message)
        .unwrap_or_else(|| status.to_string());
    Err(match status {
        StatusCode::NOT_FOUND => Error::NotFound("GitHub repository"),
        StatusCode::UNAUTHORIZED => {
            Error::Upstream("GitHub rejected the token; sign in again".into())
        }
        _ if rate_limited => {
            Error::Upstream("GitHub's rate limit is used up; try again later".into())
        }
        _ => Error::Upstream(format!("GitHub answered {}: {message}", status.as_u16())),
    })
}

fn segment(part: &str) -> Result<&str> {
    let ok = !part.is_empty()
        && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && part != "."
        && part != "..";
    ok.then_some(part).ok_or_else(|| Error::invalid("repository", "not a GitHub owner or name"))
}

fn unreachable(err: reqwest::Error) -> Error {
    tracing::warn!(error = %err, "github unreachable");
    Error::Upstream("GitHub could not be reached".into())
}

fn bad_body(err: reqwest::Error) -> Error {
    tracing::warn!(error = %err, "github sent an unexpected body");
    Error::Upstream("GitHub sent an answer we could not read".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_other_relations() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/user/repos?page=1>; rel=\"prev\", \
                 <https://api.github.com/user/repos?page=3>; rel=\"next\", \
                 <https://api.github.com/user/repos?page=7>; rel=\"last\"",
            ),
        );
        let next = next_link(&headers).expect("a next link");
        assert_eq!(next.as_str(), "https://api.github.com/user/repos?page=3");
    }

    #[test]
    fn last_page_has_no_next_link() {
        let mut headers = HeaderMap::new();
        headers.insert(LINK, HeaderValue::from_static("<https://x/y?page=1>; rel=\"first\""));
        assert!(next_link(&headers).is_none());
    }
}
