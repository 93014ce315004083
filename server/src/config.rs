//! The server's one typed configuration, read once from the environment (and an optional
//! `.env` file). Every setting has a default that makes a first run on a fresh machine
//! work; a bad value stops start-up with a message naming the variable and what it expects.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use domain::runs::Endpoints;
use domain::sandbox::daytona;
use domain::sandbox::local::Isolation;
use domain::seal::Secret;
use url::Url;

/// Whether the server runs for development or for real users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

/// Where the key that seals secrets comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Given([u8; 32]),
    /// Not configured: read from this file, or created there on first start.
    File(PathBuf),
}

/// A GitHub OAuth app.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: Secret,
}

/// Where branches' sandboxes live.
#[derive(Debug, Clone)]
pub enum Sandboxes {
    /// Directories on this host, commands run under bubblewrap unless the operator turned
    /// isolation off.
    Local {
        isolation: Isolation,
    },
    Daytona(daytona::Settings),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub public_url: Url,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub key: KeySource,
    pub mode: Mode,
    pub github_oauth: Option<OAuthApp>,
    pub github_pat: Option<Secret>,
    pub github_api_url: Url,
    pub github_web_url: Url,
    pub default_quota: i32,
    pub sandboxes: Sandboxes,
    pub agents: Agents,
    pub site_root: PathBuf,
}

/// How agent runs are carried out.
#[derive(Clone, Debug)]
pub struct Agents {
    /// Where the agent CLIs are installed on this host for local sandboxes.
    pub tools_dir: PathBuf,
    /// The model APIs, when not the vendors' own.
    pub endpoints: Endpoints,
    /// The longest one run may take.
    pub timeout: Duration,
    /// How long an instance's claim on a run lasts without renewal.
    pub lease: Duration,
}

/// A setting that cannot be used, and what it should look like.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not usable: expected {}", self.variable, self.expected)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `.env` (if present) and the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_map(&std::env::vars().collect())
    }

    /// Builds the configuration from variables; empty values count as unset.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let fail = |variable: &'static str, expected: &str| ConfigError {
            variable,
            expected: expected.to_owned(),
        };

        let bind: SocketAddr = get("BIND_ADDRESS")
            .unwrap_or("127.0.0.1:3000")
            .parse()
            .map_err(|_| fail("BIND_ADDRESS", "an address and port such as 127.0.0.1:3000"))?;
        let public_url = match get("PUBLIC_URL") {
            Some(url) => parse_http_url(url).ok_or_else(|| {
                fail("PUBLIC_URL", "an http or https URL such as https://agents.example.com")
            })?,
            None => Url::parse(&format!("http://{bind}")).expect("a socket address makes a URL"),
        };
        let mode = match get("UPSTREAM_ENV").unwrap_or("development") {
            "development" => Mode::Development,
            "production" => Mode::Production,
            _ => return Err(fail("UPSTREAM_ENV", "`development` or `production`")),
        };
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or("./data"));
        let database_url = match get("DATABASE_URL") {
            Some(url) if url.starts_with("sqlite:") || url.starts_with("postgres") => {
                url.to_owned()
            }
            Some(_) => {
                return Err(fail("DATABASE_URL", "a sqlite:// or postgres:// connection URL"))
            }
            None => format!("sqlite://{}?mode=rwc", data_dir.join("upstream.db").display()),
        };
        let key = match get("ENCRYPTION_KEY") {
            Some(hex_key) => KeySource::Given(parse_key(hex_key).ok_or_else(|| {
                fail("ENCRYPTION_KEY", "64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`")
            })?),
            None if mode == Mode::Production => {
                return Err(fail("ENCRYPTION_KEY", "a key in production: 64 hex digits"))
            }
            None => KeySource::File(data_dir.join("encryption.key")),
        };
        let github_oauth = match (get("GITHUB_CLIENT_ID"), get("GITHUB_CLIENT_SECRET")) {
            (Some(id), Some(secret)) => {
                Some(OAuthApp { client_id: id.to_owned(), client_secret: Secret::new(secret) })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(fail("GITHUB_CLIENT_SECRET", "the secret of the OAuth app"))
            }
            (None, Some(_)) => {
                return Err(fail("GITHUB_CLIENT_ID", "the client id of the OAuth app"))
            }
        };
        let github_url = |name: &'static str, default: &str| {
            parse_http_url(get(name).unwrap_or(default))
                .ok_or_else(|| fail(name, "an http or https URL"))
        };
        let default_quota = match get("DEFAULT_SANDBOX_QUOTA") {
            None => 10,
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| fail("DEFAULT_SANDBOX_QUOTA", "a whole number from 1 to 100"))?,
        };
        let sandboxes = match get("DAYTONA_API_KEY") {
            Some(key) => Sandboxes::Daytona(daytona::Settings {
                api_url: parse_http_url(get("DAYTONA_API_URL").unwrap_or(DAYTONA_API))
                    .ok_or_else(|| fail("DAYTONA_API_URL", "an http or https URL"))?,
                api_key: Secret::new(key),
                snapshot: get("DAYTONA_SNAPSHOT").map(str::to_owned),
                target: get("DAYTONA_TARGET").map(str::to_owned),
            }),
            None => Sandboxes::Local {
                isolation: match get("SANDBOX_ISOLATION").unwrap_or("bubblewrap") {
                    "bubblewrap" => Isolation::Bubblewrap,
                    "none" => Isolation::None,
                    _ => return Err(fail("SANDBOX_ISOLATION", "`bubblewrap` or `none`")),
                },
            },
        };

        let endpoint = |name: &'static str| match get(name) {
            None => Ok(None),
            Some(url) => parse_http_url(url)
                .map(|u| Some(u.as_str().trim_end_matches('/').to_owned()))
                .ok_or_else(|| fail(name, "an http or https URL")),
        };
        let agents = Agents {
            tools_dir: get("AGENT_TOOLS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("agent-tools")),
            endpoints: Endpoints {
                anthropic: endpoint("ANTHROPIC_BASE_URL")?,
                openai: endpoint("OPENAI_BASE_URL")?,
                opencode: endpoint("OPENCODE_BASE_URL")?,
            },
            timeout: match get("AGENT_TIMEOUT_MINUTES") {
                None => Duration::from_secs(60 * 60),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=24 * 60).contains(n))
                    .map(|n| Duration::from_secs(n * 60))
                    .ok_or_else(|| {
                        fail("AGENT_TIMEOUT_MINUTES", "a whole number of minutes from 1 to 1440")
                    })?,
            },
            lease: match get("RUN_LEASE_SECONDS") {
                None => Duration::from_secs(30),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (3..=600).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        fail("RUN_LEASE_SECONDS", "a whole number of seconds from 3 to 600")
                    })?,
            },
        };

        Ok(Config {
            bind,
            public_url,
            data_dir,
            database_url,
            key,
            mode,
            github_oauth,
            github_pat: get("GITHUB_PAT").map(Secret::new),
            github_api_url: github_url("GITHUB_API_URL", "https://api.github.com")?,
            github_web_url: github_url("GITHUB_WEB_URL", "https://github.com")?,
            default_quota,
            sandboxes,
            agents,
            site_root: PathBuf::from(get("LEPTOS_SITE_ROOT").unwrap_or("target/site")),
        })
    }

    /// The personal access token when dev mode is on: set, and not in production.
    pub fn dev_token(&self) -> Option<&Secret> {
        self.github_pat.as_ref().filter(|_| self.mode == Mode::Development)
    }

    /// One line for the log, without secrets.
    pub fn summary(&self) -> String {
        let database = if self.database_url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let sign_in = if self.dev_token().is_some() {
            "dev user (GITHUB_PAT)"
        } else if self.github_oauth.is_some() {
            "github oauth"
        } else if self.bind.ip().is_loopback() {
            "local user"
        } else {
            "none configured"
        };
        let key = match self.key {
            KeySource::Given(_) => "ENCRYPTION_KEY",
            KeySource::File(_) => "key file",
        };
        let sandboxes = match &self.sandboxes {
            Sandboxes::Local { isolation: Isolation::Bubblewrap } => "local".to_owned(),
            Sandboxes::Local { isolation: Isolation::None } => "local-unisolated".to_owned(),
            Sandboxes::Daytona(settings) => format!("daytona({})", settings.api_url),
        };
        format!(
            "mode={:?} bind={} public_url={} database={database} sign_in={sign_in} key={key} github_api={} sandboxes={sandboxes}",
            self.mode, self.bind, self.public_url, self.github_api_url
        )
        .to_lowercase()
    }
}

const DAYTONA_API: &str = "https://app.daytona.io/api";

fn parse_http_url(text: &str) -> Option<Url> {
    Url::parse(text).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_map(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn nothing_set_gives_the_embedded_default() {
        let config = config(&[]).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert!(config.database_url.starts_with("sqlite://./data/upstream.db"));
        assert_eq!(config.key, KeySource::File(PathBuf::from("./data/encryption.key")));
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:3000/");
        assert!(config.summary().contains("sign_in=local user"));
    }

    #[test]
    fn bad_values_name_the_variable_and_what_it_expects() {
        let cases = [
            ("BIND_ADDRESS", "localhost"),
            ("ENCRYPTION_KEY", "abc"),
            ("DATABASE_URL", "mysql://x"),
            ("UPSTREAM_ENV", "staging"),
            ("PUBLIC_URL", "ftp://x"),
            ("DEFAULT_SANDBOX_QUOTA", "0"),
            ("GITHUB_API_URL", "not a url"),
        ];
        for (variable, value) in cases {
            let err = config(&[(variable, value)]).expect_err(variable);
            assert_eq!(err.variable, variable);
            assert!(err.to_string().contains("expected"), "{err}");
        }
    }

    #[test]
    fn production_requires_a_key_and_ignores_the_personal_token() {
        let err = config(&[("UPSTREAM_ENV", "production")]).unwrap_err();
        assert_eq!(err.variable, "ENCRYPTION_KEY");
        let key = "00".repeat(32);
        let config = config(&[
            ("UPSTREAM_ENV", "production"),
            ("ENCRYPTION_KEY", &key),
            ("GITHUB_PAT", "p"),
        ])
        .unwrap();
        assert!(config.dev_token().is_none(), "a PAT must not sign anyone in in production");
    }

    #[test]
    fn oauth_needs_both_halves() {
        assert_eq!(
            config(&[("GITHUB_CLIENT_ID", "x")]).unwrap_err().variable,
            "GITHUB_CLIENT_SECRET"
        );
    }

    #[test]
    fn summary_never_contains_secrets() {
        let key = "ab".repeat(32);
        let config = config(&[
            ("ENCRYPTION_KEY", &key),
            ("GITHUB_PAT", "ghp_supersecret"),
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "oauthsecret"),
        ])
        .unwrap();
        let summary = config.summary();
        for secret in [key.as_str(), "ghp_supersecret", "oauthsecret"] {
            assert!(!summary.contains(secret), "summary leaks a secret: {summary}");
        }
    }
}
