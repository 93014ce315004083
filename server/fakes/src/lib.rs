//! Fake remote services for tests and end-to-end runs. Each fake speaks the real service's
//! protocol (paths, headers, JSON shapes, error bodies) closely enough that our real
//! clients cannot tell the difference, and keeps its data in memory.

pub mod daytona;
pub mod git_http;
pub mod github;
pub mod models;

/// Serves `router` on `address` (port 0 picks a free one) in the background and returns
/// where it listens.
async fn serve(router: axum::Router, address: &str) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(local)
}
