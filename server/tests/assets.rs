//! The browser files under `/pkg/`, compressed for browsers that accept gzip.

mod support;

use std::io::Read;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use support::{SignIn, TestApp};
use tower::ServiceExt;

async fn get(app: &TestApp, path: &str, gzip: bool) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut request = Request::get(path);
    if gzip {
        request = request.header(header::ACCEPT_ENCODING, "br, gzip, deflate");
    }
    let response = app.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let encoding =
        response.headers().get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, encoding, body)
}

#[tokio::test]
async fn browser_files_go_out_gzipped_to_browsers_that_accept_it_and_whole_to_others() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let wasm: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    std::fs::write(site.path().join("pkg/upstream.wasm"), &wasm).unwrap();
    std::fs::write(site.path().join("secret.txt"), "not for browsers").unwrap();
    let root = site.path().display().to_string();
    let app = TestApp::start_with(SignIn::Local, &[("LEPTOS_SITE_ROOT", root.as_str())]).await;

    let (status, encoding, body) = get(&app, "/pkg/upstream.wasm", true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(body.len() < wasm.len() / 4, "compressed: {} of {}", body.len(), wasm.len());
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, wasm);

    let (status, encoding, body) = get(&app, "/pkg/upstream.wasm", false).await;
    assert_eq!((status, encoding), (StatusCode::OK, None));
    assert_eq!(body, wasm);

    // A new build is noticed: the file's new contents go out, not the old compressed copy.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(site.path().join("pkg/upstream.wasm"), b"rebuilt").unwrap();
    let (_, _, body) = get(&app, "/pkg/upstream.wasm", true).await;
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut unpacked).unwrap();
    assert_eq!(unpacked, "rebuilt");

    for path in ["/pkg/..%2Fsecret.txt", "/pkg/missing.js", "/pkg/.hidden"] {
        assert_eq!(get(&app, path, true).await.0, StatusCode::NOT_FOUND, "{path}");
    }
}
