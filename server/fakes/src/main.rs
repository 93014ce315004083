//! Runs the fake services for an end-to-end test run: `fake-services [address]`
//! (default 127.0.0.1:3100). GitHub's API and OAuth pages are both served at its root.

use std::sync::{Arc, Mutex};

use fakes::github::World;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3100".into());
    let world = Arc::new(Mutex::new(World::sample()));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("fake GitHub listening on http://{}", listener.local_addr()?);
    axum::serve(listener, fakes::github::router(world)).await?;
    Ok(())
}
