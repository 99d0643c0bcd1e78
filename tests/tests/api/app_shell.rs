//! The server serves the PWA as a browser needs it: the shell at `/` and every `/app/...`
//! path, precompressed files for browsers that accept them, year-long caching for hashed
//! assets and a cheap revalidation (304) for everything else.

use reqwest::{StatusCode, header};
use taccuino_tests::{Backend, spawn_app};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

async fn get(url: &str, headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.send().await.expect("the server answers")
}

fn header_of(response: &reqwest::Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_app_shell_and_its_assets_are_served_compressed_and_cached_right() {
    let app = spawn_app(Backend::Sqlite).await;

    // The shell answers at the root and at every client-side route (links in emails).
    for path in [
        "/",
        "/app",
        "/app/today",
        "/app/service-records/0f8b7c7e-4c1e-4f51-9a63-0c4d2d5d2b11",
    ] {
        let shell = get(&format!("{}{path}", app.address), &[]).await;
        assert_eq!(shell.status(), StatusCode::OK, "{path}");
        assert!(header_of(&shell, header::CONTENT_TYPE).starts_with("text/html"));
        assert_eq!(header_of(&shell, header::CACHE_CONTROL), "no-cache");
        assert!(header_of(&shell, header::CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
        let html = shell.text().await.expect("the shell");
        assert!(html.contains("<div id=\"app\">") && html.contains("/manifest.webmanifest"));
    }

    // The shell names its hashed script; the service worker lists everything to precache.
    let html = get(&format!("{}/", app.address), &[])
        .await
        .text()
        .await
        .expect("html");
    let script = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("the shell loads a hashed script")
        .to_owned();
    let sw = get(&format!("{}/sw.js", app.address), &[]).await;
    assert_eq!(header_of(&sw, header::CACHE_CONTROL), "no-cache");
    let sw = sw.text().await.expect("sw.js");
    assert!(
        sw.contains(&format!("\"{script}\"")),
        "sw.js precaches {script}"
    );
    let wasm = sw
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".wasm"))
        .expect("sw.js precaches the automerge wasm")
        .to_owned();

    // Hashed assets: immutable for a year, brotli or gzip as accepted, never both confused.
    let url = format!("{}{wasm}", app.address);
    let plain = get(&url, &[]).await;
    assert_eq!(
        header_of(&plain, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header_of(&plain, header::CONTENT_TYPE), "application/wasm");
    assert_eq!(header_of(&plain, header::CONTENT_ENCODING), "");
    let plain_size = plain.bytes().await.expect("wasm").len();
    let brotli = get(&url, &[(header::ACCEPT_ENCODING, "gzip, deflate, br")]).await;
    assert_eq!(header_of(&brotli, header::CONTENT_ENCODING), "br");
    assert_eq!(header_of(&brotli, header::VARY), "Accept-Encoding");
    let brotli_size = brotli.bytes().await.expect("wasm").len();
    let gzip = get(&url, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(header_of(&gzip, header::CONTENT_ENCODING), "gzip");
    let gzip_size = gzip.bytes().await.expect("wasm").len();
    assert!(
        brotli_size < gzip_size && gzip_size < plain_size / 2,
        "{brotli_size} < {gzip_size} < {plain_size}/2"
    );

    // Revalidation: the same ETag answers 304 with no body; a new one would get the file.
    let first = get(&format!("{}/manifest.webmanifest", app.address), &[]).await;
    assert!(header_of(&first, header::CONTENT_TYPE).starts_with("application/manifest+json"));
    let etag = header_of(&first, header::ETAG).to_owned();
    assert!(etag.starts_with('"'));
    let again = get(
        &format!("{}/manifest.webmanifest", app.address),
        &[(header::IF_NONE_MATCH, etag.as_str())],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("304").is_empty());
    let changed = get(
        &format!("{}/manifest.webmanifest", app.address),
        &[(header::IF_NONE_MATCH, "\"0000\"")],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);

    // HEAD works; what the build did not produce is a problem document, never a shell.
    let head = client()
        .head(format!("{}/app/today", app.address))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    for path in [
        "/assets/nope.js",
        "/icons/nope.png",
        &format!("{script}.br"),
    ] {
        let missing = get(&format!("{}{path}", app.address), &[]).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(header_of(&missing, header::CONTENT_TYPE).starts_with("application/problem+json"));
    }
}
