//! What every integration test needs: a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` names a server), the fake GitHub, and the real router driven
//! without a socket, with a cookie jar per signed-in browser.

#![allow(dead_code)]

pub mod runs;
pub mod sandbox;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use fakes::github::World;
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tower::ServiceExt;
use upstream::config::Config;
use upstream::AppState;

/// A database of its own for one test, dropped afterwards on PostgreSQL.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let postgres =
            std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres"));
        TestDb::on(postgres).await
    }

    /// A PostgreSQL database whichever database the suite runs on, for what only
    /// PostgreSQL offers (several server instances): `TEST_DATABASE_URL`'s server, or the
    /// local one.
    pub async fn postgres() -> TestDb {
        let url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
        TestDb::on(Some(url)).await
    }

    async fn on(postgres: Option<String>) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("upstream_test_{}", uuid_like());
        match postgres {
            Some(admin_url) => {
                let admin = Database::connect(&admin_url).await.expect("PostgreSQL for tests");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => unreachable!("a postgres URL has a path"),
                };
                TestDb { url, admin_url: Some(admin_url), name, _dir: dir }
            }
            None => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                TestDb { url, admin_url: None, name, _dir: dir }
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs outside async code; a short-lived runtime on its own thread drops the
        // database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            runtime.unwrap().block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = admin.execute_unprepared(&sql).await;
                }
            });
        })
        .join();
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos.subsec_nanos(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// How the server under test signs people in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// `GITHUB_PAT` set: everyone is the dev user, whose GitHub token is octo's.
    Dev,
    /// GitHub OAuth against the fake.
    OAuth,
    /// Nothing configured, listening on loopback: the local user.
    Local,
}

/// The real router over a fresh database, with the fake GitHub beside it.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub github: Arc<Mutex<World>>,
    pub github_url: String,
    pub db: TestDb,
    pub sign_in: SignIn,
    /// Configuration variables set on top of the usual ones.
    extra: Vec<(String, String)>,
}

impl TestApp {
    pub async fn start(sign_in: SignIn) -> TestApp {
        TestApp::start_with(sign_in, &[]).await
    }

    /// A server whose configuration also sets `extra` variables (which win over the usual
    /// ones), e.g. `DAYTONA_API_KEY` to put sandboxes at a fake Daytona.
    pub async fn start_with(sign_in: SignIn, extra: &[(&str, &str)]) -> TestApp {
        let db = TestDb::new().await;
        let github = Arc::new(Mutex::new(World::sample()));
        let address = fakes::github::spawn(github.clone(), "127.0.0.1:0").await.unwrap();
        let github_url = format!("http://{address}");
        let extra: Vec<(String, String)> =
            extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = config(&db, &github_url, sign_in, &extra);
        let (router, state) = upstream::build(&config).await.unwrap();
        TestApp { router, state, github, github_url, db, sign_in, extra }
    }

    /// The same database and fake, served by a freshly started server, as after a restart.
    pub async fn restart(self) -> TestApp {
        let config = config(&self.db, &self.github_url, self.sign_in, &self.extra);
        let (router, state) = upstream::build(&config).await.unwrap();
        TestApp { router, state, ..self }
    }

    /// Gives the fake GitHub a real repository for `owner/name` (one it lists), served over
    /// git's HTTP protocol at the `clone_url` it reports, with a commit on `main` and its
    /// other listed branches.
    pub fn github_git_repository(&self, owner: &str, name: &str) -> std::path::PathBuf {
        let mut world = self.github.lock().unwrap();
        world.git_root.get_or_insert_with(|| self.db.dir().join("github"));
        world.create_git_repository(owner, name).expect("the fake makes its repository")
    }

    /// A browser with its own cookies.
    pub fn browser(&self) -> Browser {
        Browser { router: self.router.clone(), cookies: HashMap::new() }
    }

    /// A browser signed in through the OAuth flow as `login` (`octo` or `other`).
    pub async fn signed_in(&self, login: &str) -> Browser {
        let mut browser = self.browser();
        let start = browser.get("/auth/github/login").await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "sign-in starts with a redirect");
        let authorize = format!("{}&login={login}", start.location());
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let approved = client.get(&authorize).send().await.unwrap();
        let back = approved.headers()["location"].to_str().unwrap().to_owned();
        let callback = back.split_once("/auth/").map(|(_, rest)| format!("/auth/{rest}")).unwrap();
        let done = browser.get(&callback).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "callback: {}", done.text);
        assert_eq!(done.location(), "/");
        browser
    }

    /// Requests the fake GitHub has received, in order.
    pub fn github_requests(&self) -> Vec<String> {
        self.github.lock().unwrap().requests.clone()
    }
}

fn config(db: &TestDb, github_url: &str, sign_in: SignIn, extra: &[(String, String)]) -> Config {
    let data_dir = db.dir().join("data");
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", db.url.clone()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("ENCRYPTION_KEY", "42".repeat(32)),
        ("GITHUB_API_URL", github_url.to_owned()),
        ("GITHUB_WEB_URL", github_url.to_owned()),
        ("BIND_ADDRESS", "127.0.0.1:3000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    match sign_in {
        SignIn::Dev => {
            vars.insert("GITHUB_PAT".into(), "gho_octo".into());
        }
        SignIn::OAuth => {
            vars.insert("GITHUB_CLIENT_ID".into(), "fake-client-id".into());
            vars.insert("GITHUB_CLIENT_SECRET".into(), "fake-client-secret".into());
        }
        SignIn::Local => {}
    }
    vars.extend(extra.iter().cloned());
    Config::from_map(&vars).unwrap()
}

/// One HTTP answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn location(&self) -> String {
        self.headers[header::LOCATION].to_str().unwrap().to_owned()
    }

    /// The `code` of an error answer.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// A client that keeps cookies, as a browser does.
pub struct Browser {
    router: Router,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    /// Calls a server function with JSON arguments, as the app does.
    pub async fn call(&mut self, name: &str, args: Value) -> Answer {
        let request = Request::post(format!("/api/{name}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .header(header::HOST, "127.0.0.1:3000")
            .body(Body::from(args.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// Posts a form to a server function, as an HTML form without JavaScript does (but
    /// asking for the answer rather than a redirect back to the page).
    pub async fn form(&mut self, name: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let request = Request::post(format!("/api/{name}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .header(header::HOST, "127.0.0.1:3000")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Calls a server function and expects it to succeed.
    pub async fn ok(&mut self, name: &str, args: Value) -> Value {
        let answer = self.call(name, args).await;
        assert_eq!(answer.status, StatusCode::OK, "{name} failed: {}", answer.text);
        answer.json()
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Answer {
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request.headers_mut().insert(header::COOKIE, jar.join("; ").parse().unwrap());
        }
        let response = self.router.clone().oneshot(request).await.unwrap();
        for cookie in response.headers().get_all(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let pair = cookie.split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }
}

/// A bare repository in `dir` with commits on `main` (its HEAD) and on each of `others`.
pub fn bare_repository(dir: &Path, name: &str, others: &[&str]) -> String {
    let work = dir.join(format!("{name}-work"));
    let bare = dir.join(format!("{name}.git"));
    let git = |args: &[&str], cwd: &Path| {
        let status = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?} failed");
    };
    std::fs::create_dir_all(&work).unwrap();
    git(&["init", "-q", "-b", "main"], &work);
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git(&["add", "."], &work);
    git(&["commit", "-q", "-m", "first"], &work);
    for branch in others {
        git(&["branch", branch], &work);
    }
    git(&["clone", "-q", "--bare", work.to_str().unwrap(), bare.to_str().unwrap()], dir);
    bare.display().to_string()
}
