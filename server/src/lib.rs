//! The Upstream Agents server: it reads the configuration, opens the database, and serves
//! the Leptos app, its server functions and the sign-in routes from one axum router.
//!
//! `main` only calls [`start`]; tests build the same router with [`build`] and drive it
//! without a socket.

#![recursion_limit = "256"]

mod assets;
pub mod config;
mod guard;
mod keys;
mod oauth;
mod streams;
mod workers;

use std::sync::Arc;

use anyhow::Context;

use app::model::SignInMethod;
use app::{shell, App};
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use axum_login::AuthManagerLayerBuilder;
use domain::auth::{Backend, DbSessionStore};
use domain::clock::SystemClock;
use domain::github::GitHub;
use domain::runs::{Runs, Settings as RunSettings};
use domain::sandbox::daytona::DaytonaProvider;
use domain::sandbox::local::LocalProvider;
use domain::sandbox::Provider;
use domain::seal::Sealer;
use domain::users::{self, FixedUser};
use domain::Services;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use config::{Config, OAuthApp, Sandboxes};

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
    pub sign_in: SignInMethod,
    /// The user signed in automatically on this server, if it signs anyone in that way.
    pub automatic_user: Option<i64>,
    pub oauth: Option<Arc<OAuthApp>>,
    pub public_url: url::Url,
    /// The browser files, compressed once.
    pub assets: assets::Compressed,
}

/// Opens the database (applying migrations), prepares the users the sign-in mode needs,
/// and returns the router with its state.
pub async fn build(config: &Config) -> anyhow::Result<(Router, AppState)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating DATA_DIR {}", config.data_dir.display()))?;
    let key = keys::load(&config.key)?;
    let db = domain::db::connect(&config.database_url).await?;
    let services = Services {
        db,
        sealer: Arc::new(Sealer::new(&key)),
        github: GitHub::new(config.github_api_url.clone(), config.github_web_url.clone()),
        default_quota: config.default_quota,
        sandboxes: sandbox_provider(config).await,
        clock: Arc::new(SystemClock),
        changes: Default::default(),
        commands: Default::default(),
        runs: Runs::new(RunSettings {
            endpoints: config.agents.endpoints.clone(),
            timeout: config.agents.timeout,
            lease: config.agents.lease,
            single_instance: config.database_url.starts_with("sqlite:"),
        }),
    };

    let (sign_in, automatic_user) = if let Some(token) = config.dev_token() {
        tracing::warn!("dev mode: GITHUB_PAT is set, everyone is signed in as the dev user");
        let user = users::ensure_fixed(&services, FixedUser::Dev, Some(token)).await?;
        (SignInMethod::Automatic, Some(user.id))
    } else if config.github_oauth.is_some() {
        (SignInMethod::GithubOAuth, None)
    } else if config.bind.ip().is_loopback() {
        let user = users::ensure_fixed(&services, FixedUser::Local, None).await?;
        (SignInMethod::Automatic, Some(user.id))
    } else {
        tracing::warn!("no sign-in method: set GitHub OAuth, or listen on a loopback address");
        (SignInMethod::Unavailable, None)
    };
    if config.github_pat.is_some() && config.dev_token().is_none() {
        tracing::warn!("GITHUB_PAT is ignored in production");
    }

    let state = AppState {
        leptos_options: leptos_options(config),
        services,
        sign_in,
        automatic_user,
        oauth: config.github_oauth.clone().map(Arc::new),
        public_url: config.public_url.clone(),
        assets: Default::default(),
    };
    Ok((router(state.clone()), state))
}

/// The sandbox provider the configuration names. A local provider that cannot isolate
/// still starts, so the rest of the workspace works; it says why on every use.
async fn sandbox_provider(config: &Config) -> Arc<dyn Provider> {
    match &config.sandboxes {
        Sandboxes::Local { isolation } => {
            let tools = &config.agents.tools_dir;
            if let Err(e) = std::fs::create_dir_all(tools) {
                tracing::error!("cannot make AGENT_TOOLS_DIR {}: {e}", tools.display());
            }
            let local = LocalProvider::new(config.data_dir.join("sandboxes"), *isolation)
                .await
                .with_agent_tools(tools.clone());
            if let Some(why) = local.unavailable() {
                tracing::error!("sandboxes cannot run: {why}");
            } else if let Some(warning) = local.isolation_warning() {
                tracing::warn!("{warning}");
            }
            Arc::new(local)
        }
        Sandboxes::Daytona(settings) => Arc::new(DaytonaProvider::new(settings.clone())),
    }
}

fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("upstream")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .build()
}

/// The whole HTTP surface: pages, server functions under `/api`, sign-in routes under
/// `/auth`, and the built browser files.
pub fn router(state: AppState) -> Router {
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.services.clone());
            provide_context(state.sign_in.clone());
        }
    };
    let routes = generate_route_list(App);
    let pages = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    let server_fns = {
        let context = context.clone();
        move |request| handle_server_fns_with_context(context.clone(), request)
    };

    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.services.db.clone()))
        .with_name("upstream_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.public_url.scheme() == "https")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(30)));
    let auth =
        AuthManagerLayerBuilder::new(Backend::new(state.services.db.clone()), sessions).build();

    Router::new()
        .route("/api/{*name}", post(server_fns.clone()).get(server_fns))
        .route("/auth/github/login", get(oauth::login))
        .route("/auth/github/callback", get(oauth::callback))
        .route("/auth/logout", post(oauth::logout))
        .route("/streams/page", get(streams::page))
        .route("/streams/branches/{id}/events", get(streams::events))
        .route("/streams/commands/{id}", get(streams::command))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/pkg/{file}", get(assets::pkg))
        .leptos_routes_with_context(&state, routes, context, pages)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::sign_in_automatically))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check_origin))
        .layer(auth)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics`: counters for operators, in Prometheus's text format.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let runs = &state.services.runs;
    format!(
        "# HELP upstream_runs_active Agent runs this instance carries out now.\n\
         # TYPE upstream_runs_active gauge\n\
         upstream_runs_active {}\n\
         # HELP upstream_run_events_stored_total Run events this instance stored.\n\
         # TYPE upstream_run_events_stored_total counter\n\
         upstream_run_events_stored_total {}\n\
         # HELP upstream_run_event_batches_total Transactions that stored them.\n\
         # TYPE upstream_run_event_batches_total counter\n\
         upstream_run_event_batches_total {}\n",
        runs.active_count(),
        runs.stats.events.load(Relaxed),
        runs.stats.batches.load(Relaxed),
    )
}

/// Starts the server from the environment and serves until interrupted.
pub async fn start() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    tracing::info!(summary = %config.summary(), "starting");
    let (router, state) = build(&config).await?;
    workers::sweep_expired_sessions(DbSessionStore::new(state.services.db.clone()));
    workers::look_after_sandboxes(state.services.clone());
    workers::look_after_runs(state.services.clone());
    workers::relay_run_events(state.services.clone());
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    tracing::info!(address = %config.public_url, "listening");
    axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
