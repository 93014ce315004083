//! The built browser files under `/pkg/`: sent gzip-compressed at the highest level to
//! browsers that accept it, compressed once per file and build and then kept in memory.
//! The WASM file shrinks to about a third; the other static files are served as Leptos
//! serves them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Each file's compressed body, with the modification time of the file it came from.
#[derive(Clone, Default)]
pub struct Compressed(Arc<Mutex<HashMap<String, (SystemTime, Bytes)>>>);

/// `GET /pkg/{file}`.
pub async fn pkg(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Plain file names only: nothing may reach outside the folder.
    if file.is_empty() || file.starts_with('.') || file.contains(['/', '\\']) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = std::path::Path::new(&*state.leptos_options.site_root).join("pkg").join(&file);
    let Ok(modified) = tokio::fs::metadata(&path).await.and_then(|m| m.modified()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));

    let (body, encoding) = if accepts_gzip {
        let cached = state.assets.0.lock().expect("assets lock").get(&file).cloned();
        let body = match cached {
            Some((at, body)) if at == modified => body,
            _ => {
                let Ok(body) = compress(path).await else {
                    return StatusCode::NOT_FOUND.into_response();
                };
                state.assets.0.lock().expect("assets lock").insert(file, (modified, body.clone()));
                body
            }
        };
        (body, Some("gzip"))
    } else {
        match tokio::fs::read(&path).await {
            Ok(bytes) => (Bytes::from(bytes), None),
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

async fn compress(path: std::path::PathBuf) -> std::io::Result<Bytes> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let raw = std::fs::read(path)?;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&raw)?;
        Ok(Bytes::from(encoder.finish()?))
    })
    .await
    .map_err(std::io::Error::other)?
}
