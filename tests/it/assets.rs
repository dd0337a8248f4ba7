//! Pre-compressed static files (`halite assets compress`) served through the real router: the
//! brotli sibling to a browser that accepts it, gzip to one that accepts only that, the file
//! itself to one that accepts neither; `no-cache` plus `Last-Modified` so a reload revalidates
//! to `304`.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn fetch(
    app: &TestApp,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut b = Request::get(path).header(header::HOST, "halite.test");
    for (k, v) in headers {
        b = b.header(k, *v);
    }
    let res = app
        .router
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn the_bundle_is_served_precompressed_and_revalidated() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let wasm: Vec<u8> = (0..20_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    std::fs::write(pkg.join("halite.wasm"), &wasm).unwrap();
    let done = halite::server::assets::compress_dir(site.path()).unwrap();
    assert_eq!(done.len(), 1);
    let br = std::fs::read(pkg.join("halite.wasm.br")).unwrap();
    let gz = std::fs::read(pkg.join("halite.wasm.gz")).unwrap();

    let app = TestApp::with_env(&[("LEPTOS_SITE_ROOT", site.path().to_str().unwrap())]).await;
    let path = "/pkg/halite.wasm";
    // What Chromium sends.
    let (status, h, body) = fetch(
        &app,
        path,
        &[(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_ENCODING], "br");
    assert_eq!(h[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    assert_eq!(body, br, "the brotli file, not compressed again");
    // What the browser keeps for revalidating its cached (brotli) copy.
    let br_modified = h[header::LAST_MODIFIED].to_str().unwrap().to_string();

    let (_, h, body) = fetch(&app, path, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert_eq!(body, gz);

    let (_, h, body) = fetch(&app, path, &[]).await;
    assert!(!h.contains_key(header::CONTENT_ENCODING));
    assert_eq!(body, wasm);

    // A reload asks again and is told nothing changed.
    let (status, _, body) = fetch(
        &app,
        path,
        &[
            (header::IF_MODIFIED_SINCE, br_modified.as_str()),
            (header::ACCEPT_ENCODING, "br"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    // A name the file system refuses is a missing file, not a server error.
    for bad in ["/pkg/%00.js", "/pkg/nope.wasm"] {
        let (status, _, _) = fetch(&app, bad, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    // Nothing outside the bundle's folder.
    let (status, _, _) = fetch(&app, "/pkg/%2e%2e/pkg/halite.wasm", &[]).await;
    assert_ne!(status, StatusCode::OK);
}
