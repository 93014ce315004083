//! Runs the fake services for an end-to-end test run:
//! `fake-services [github-address] [models-address]` (defaults 127.0.0.1:3100 and
//! 127.0.0.1:3101). GitHub's API and OAuth pages are both served at the first address's
//! root; the model APIs (Anthropic Messages, OpenAI Responses and Chat Completions) at the
//! second's, accepting any API key.

use std::sync::{Arc, Mutex};

use fakes::github::World;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:3100".into());
    let models_address = args.next().unwrap_or_else(|| "127.0.0.1:3101".into());
    let world = Arc::new(Mutex::new(World::sample()));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("fake GitHub listening on http://{}", listener.local_addr()?);
    let models = fakes::models::spawn(fakes::models::World::shared(""), &models_address).await?;
    println!("fake models listening on http://{models}");
    axum::serve(listener, fakes::github::router(world)).await?;
    Ok(())
}
