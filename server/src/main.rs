//! `upstream`: the Upstream Agents server. Configuration comes from the environment; see the
//! README for every variable.

use tracing_subscriber::EnvFilter;

/// Rendering a page walks deeply nested view types; unoptimised (debug) builds need more
/// than the default 2 MiB of stack for that. Only touched pages count towards memory.
const WORKER_STACK: usize = 8 * 1024 * 1024;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(WORKER_STACK)
        .enable_all()
        .build()
        .expect("the async runtime starts");
    if let Err(err) = runtime.block_on(upstream::start()) {
        tracing::error!("{err:#}");
        std::process::exit(1);
    }
}
