//! Git over HTTP for the fake GitHub: clones, fetches and pushes at the `clone_url` the fake
//! reports, served by the real `git http-backend` from bare repositories on disk.
//!
//! Access works as at GitHub. Credentials come by HTTP Basic, any user name with an
//! account's token as the password; a bad pair is refused with 401. Without credentials
//! only a public repository can be read; anything else answers 401 with a `Basic` challenge,
//! which is what makes git ask its credential helper. An account that cannot see the
//! repository gets 404, as if it did not exist.

// Refusals are whole responses; their size is of no concern in a fake.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Output, Stdio};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use tokio::io::AsyncWriteExt;

use crate::github::{Account, Shared, World};

/// Commits made by [`World::create_git_repository`] carry this author and date, so every
/// run makes the same commit ids.
const AUTHOR: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Octo Cat"),
    ("GIT_AUTHOR_EMAIL", "octo@example.com"),
    ("GIT_AUTHOR_DATE", "2026-01-01T12:00:00Z"),
    ("GIT_COMMITTER_NAME", "Octo Cat"),
    ("GIT_COMMITTER_EMAIL", "octo@example.com"),
    ("GIT_COMMITTER_DATE", "2026-01-01T12:00:00Z"),
];

/// Keeps the host's own git configuration (hooks, templates, default branch) out of the
/// fake's repositories.
const ISOLATED: [(&str, &str); 2] =
    [("GIT_CONFIG_NOSYSTEM", "1"), ("GIT_CONFIG_GLOBAL", "/dev/null")];

/// The two services of git's smart protocol.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    /// Clone and fetch.
    UploadPack,
    /// Push.
    ReceivePack,
}

impl Service {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        }
    }
}

impl World {
    /// Makes a bare repository for `owner/name`, which the world must list, under
    /// [`World::git_root`]: one commit with a README on its default branch, and every other
    /// branch the world lists for it at that same commit. Returns the repository's path.
    ///
    /// Fails when `git_root` is unset, the world does not list the repository, or git fails.
    pub fn create_git_repository(&self, owner: &str, name: &str) -> io::Result<PathBuf> {
        let root = self.git_root.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the world has no git_root to keep repositories in",
            )
        })?;
        let repo =
            self.repos.iter().find(|r| r.owner == owner && r.name == name).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the world lists no {owner}/{name}"),
                )
            })?;
        let path = root.join(owner).join(format!("{name}.git"));
        std::fs::create_dir_all(&path)?;
        let dir = path.to_string_lossy().into_owned();

        git(&["init", "--quiet", "--bare", "--initial-branch", &repo.default_branch, &dir], None)?;
        let readme = format!("# {name}\n\n{}\n", repo.description);
        let blob = git(&["-C", &dir, "hash-object", "-w", "--stdin"], Some(readme.as_bytes()))?;
        let listing = format!("100644 blob {blob}\tREADME.md\n");
        let tree = git(&["-C", &dir, "mktree"], Some(listing.as_bytes()))?;
        let commit = git(&["-C", &dir, "commit-tree", &tree, "-m", "Initial commit"], None)?;
        let branches = std::iter::once(&repo.default_branch).chain(&repo.branches);
        for branch in branches {
            git(&["-C", &dir, "update-ref", &format!("refs/heads/{branch}"), &commit], None)?;
        }
        Ok(path)
    }
}

/// Runs git to completion and returns what it printed, trimmed.
fn git(args: &[&str], input: Option<&[u8]>) -> io::Result<String> {
    let mut child = std::process::Command::new("git")
        .args(args)
        .envs(AUTHOR)
        .envs(ISOLATED)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        io::Write::write_all(&mut stdin, input)?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(io::Error::other(format!("git {args:?} failed: {}", stderr.trim())));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `GET /{owner}/{repo}/info/refs?service=…`: the refs advertisement that starts every
/// clone, fetch and push, after the world's `git_delay`.
pub(crate) async fn info_refs(
    State(world): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    request: Request,
) -> Response {
    let delay = world.lock().unwrap().git_delay;
    tokio::time::sleep(delay).await;
    let query = request.uri().query().unwrap_or_default();
    let service = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("service="))
        .and_then(Service::from_name);
    let Some(service) = service else {
        return refusal(StatusCode::FORBIDDEN, "The fake serves only git's smart HTTP protocol.");
    };
    serve(world, &owner, &repo, service, "info/refs", request).await
}

/// `POST /{owner}/{repo}/git-upload-pack`: sends the objects of a clone or fetch.
pub(crate) async fn upload_pack(
    State(world): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(world, &owner, &repo, Service::UploadPack, "git-upload-pack", request).await
}

/// `POST /{owner}/{repo}/git-receive-pack`: takes the objects and ref updates of a push.
pub(crate) async fn receive_pack(
    State(world): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(world, &owner, &repo, Service::ReceivePack, "git-receive-pack", request).await
}

/// Who may do what, decided as GitHub decides it.
struct Access {
    root: PathBuf,
    /// The repository's path below `root`, as `http-backend` wants it in `PATH_INFO`.
    path: String,
    /// The signed-in login, which `http-backend` requires before it accepts a push.
    remote_user: Option<String>,
}

async fn serve(
    world: Shared,
    owner: &str,
    repo: &str,
    service: Service,
    rest: &str,
    request: Request,
) -> Response {
    let access = match authorize(&world.lock().unwrap(), request.headers(), owner, repo, service) {
        Ok(access) => access,
        Err(response) => return response,
    };
    let mut cgi = cgi_env(request.headers(), &access);
    cgi.insert("PATH_INFO", format!("/{}/{rest}", access.path));
    cgi.insert("QUERY_STRING", request.uri().query().unwrap_or_default().to_owned());
    cgi.insert("REQUEST_METHOD", request.method().as_str().to_owned());

    let body = match axum::body::to_bytes(request.into_body(), usize::MAX).await {
        Ok(body) => body,
        Err(err) => return refusal(StatusCode::BAD_REQUEST, &format!("unreadable body: {err}")),
    };
    match run_backend(cgi, body).await {
        Ok(output) if !output.stdout.is_empty() => cgi_response(&output.stdout),
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            refusal(StatusCode::INTERNAL_SERVER_ERROR, stderr.trim())
        }
        Err(err) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &format!("http-backend: {err}")),
    }
}

fn authorize(
    world: &World,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    service: Service,
) -> Result<Access, Response> {
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    let account = match basic_password(headers) {
        None => None,
        Some(password) => match world.accounts.iter().find(|a| a.token == password) {
            Some(account) => Some(account),
            None => {
                return Err(challenge(
                    "Invalid username or token. Password authentication is not supported for \
                     Git operations.",
                ))
            }
        },
    };
    let listed = world.repos.iter().find(|r| r.owner == owner && r.name == name);
    let readable =
        |account: &Account| listed.is_some_and(|r| r.visible_to.contains(&account.login));
    match account {
        // Asking for credentials rather than answering 404 keeps private names secret.
        None if !(service == Service::UploadPack && listed.is_some_and(|r| !r.private)) => {
            return Err(challenge("Authentication required."));
        }
        Some(account) if !readable(account) => return Err(not_found()),
        _ => {}
    }
    let root = world.git_root.clone().ok_or_else(not_found)?;
    let path = format!("{owner}/{name}.git");
    if !root.join(&path).is_dir() {
        return Err(not_found());
    }
    Ok(Access { root, path, remote_user: account.map(|a| a.login.clone()) })
}

/// The password of an `Authorization: Basic` header.
fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    decoded.split_once(':').map(|(_, password)| password.to_owned())
}

/// The CGI variables every request to `http-backend` gets, plus the request headers it
/// reads.
fn cgi_env(headers: &HeaderMap, access: &Access) -> BTreeMap<&'static str, String> {
    let mut cgi = BTreeMap::from([
        ("GIT_PROJECT_ROOT", access.root.display().to_string()),
        ("GIT_HTTP_EXPORT_ALL", "1".to_owned()),
        ("REMOTE_ADDR", "127.0.0.1".to_owned()),
    ]);
    if let Some(user) = &access.remote_user {
        cgi.insert("REMOTE_USER", user.clone());
    }
    let passed = [
        (header::CONTENT_TYPE, "CONTENT_TYPE"),
        (header::CONTENT_LENGTH, "CONTENT_LENGTH"),
        // http-backend inflates a gzip body itself when told the encoding.
        (header::CONTENT_ENCODING, "HTTP_CONTENT_ENCODING"),
        // Protocol version 2, when the client asks for it.
        (HeaderName::from_static("git-protocol"), "HTTP_GIT_PROTOCOL"),
    ];
    for (name, variable) in passed {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            cgi.insert(variable, value.to_owned());
        }
    }
    cgi
}

/// Runs `git http-backend` with `cgi` as its whole environment (but `PATH`), feeding it
/// `body`.
async fn run_backend(
    cgi: BTreeMap<&'static str, String>,
    body: axum::body::Bytes,
) -> io::Result<Output> {
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .envs(ISOLATED)
        .envs(cgi)
        .current_dir(FsPath::new("/"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written alongside reading the answer, so that neither side waits on a full pipe.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await;
    let _ = writer.await;
    output
}

/// Turns a CGI answer (headers, a blank line, the body) into a response; `Status:` sets the
/// status, 200 when absent.
fn cgi_response(output: &[u8]) -> Response {
    let (head, body) = match find(output, b"\r\n\r\n") {
        Some(end) => (&output[..end], &output[end + 4..]),
        None => match find(output, b"\n\n") {
            Some(end) => (&output[..end], &output[end + 2..]),
            None => return refusal(StatusCode::BAD_GATEWAY, "http-backend sent no headers"),
        },
    };
    let mut response = Response::new(Body::from(body.to_vec()));
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().and_then(|c| c.parse().ok());
            *response.status_mut() =
                code.and_then(|c| StatusCode::from_u16(c).ok()).unwrap_or(StatusCode::BAD_GATEWAY);
        } else if let (Ok(name), Ok(value)) =
            (HeaderName::try_from(name.trim()), HeaderValue::try_from(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// A plain-text refusal, which git shows its user as `remote: <message>`.
fn refusal(status: StatusCode, message: &str) -> Response {
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    (status, headers, format!("{message}\n")).into_response()
}

fn challenge(message: &str) -> Response {
    let mut response = refusal(StatusCode::UNAUTHORIZED, message);
    let realm = HeaderValue::from_static("Basic realm=\"GitHub\"");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, realm);
    response
}

fn not_found() -> Response {
    refusal(StatusCode::NOT_FOUND, "Repository not found.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgi_answer_gives_its_status_headers_and_body() {
        let answer = b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope\n";
        let response = cgi_response(answer);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain");

        let response = cgi_response(b"Content-Type: application/x-git-upload-pack-result\n\n");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn the_password_of_a_basic_header_is_read_whatever_the_user_name() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", BASE64.encode("x-access-token:gho_octo"));
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(basic_password(&headers).as_deref(), Some("gho_octo"));
        headers.insert(header::AUTHORIZATION, "Bearer gho_octo".parse().unwrap());
        assert_eq!(basic_password(&headers), None);
    }
}
