//! `upstream`: the Upstream Agents server. Configuration comes from the environment; see the
//! README for every variable.

use tracing_subscriber::EnvFilter;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    if let Err(err) = upstream::start().await {
        tracing::error!("{err:#}");
        std::process::exit(1);
    }
}
