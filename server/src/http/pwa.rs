//! The PWA (`pwa/`), built by `build.rs` and embedded in the binary: the app shell at `/` and
//! every `/app/...` path (client-side routes, the links in emails), its hashed assets, the
//! service worker, the manifest and the icons.
//!
//! Files are sent precompressed (brotli or gzip, made at build time) when the browser accepts
//! it. Hashed assets (`/assets/`) never change under a name, so browsers may keep them for a
//! year; everything else is revalidated with its ETag, which is how a new release is noticed.

use std::borrow::Cow;

use actix_web::{
    HttpRequest, HttpResponse, guard,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    web,
};
use rust_embed::RustEmbed;

use crate::http::problems;

#[derive(RustEmbed)]
#[folder = "$OUT_DIR/pwa"]
struct Built;

/// Cache lifetime of content-hashed files: they are immutable.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else: keep, but ask the server (a 304 when unchanged) before each use.
const REVALIDATE: &str = "no-cache";
/// The shell's policy: our own scripts and the automerge wasm, our API and sync socket, nothing
/// else (no CDN, no inline script, no framing).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Registers the app's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // HEAD too: link checkers and caches ask before they fetch.
    let read = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    for path in ["/", "/app", "/app/{route:.*}"] {
        cfg.route(path, read().to(shell));
    }
    for path in [
        "/sw.js",
        "/manifest.webmanifest",
        "/icons/{name}",
        "/assets/{name}",
    ] {
        cfg.route(path, read().to(file));
    }
}

async fn shell(request: HttpRequest) -> HttpResponse {
    let mut response = send(&request, "index.html", REVALIDATE);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn file(request: HttpRequest) -> HttpResponse {
    let path = request.path().trim_start_matches('/');
    let cache = if path.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    send(&request, path, cache)
}

/// Content codings we have precompressed copies for, best first.
const CODINGS: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

fn send(request: &HttpRequest, path: &str, cache_control: &'static str) -> HttpResponse {
    // Precompressed copies are an implementation detail, not files of their own.
    if path.ends_with(".br") || path.ends_with(".gz") {
        return problems::generic(StatusCode::NOT_FOUND);
    }
    let Some(original) = Built::get(path) else {
        return problems::generic(StatusCode::NOT_FOUND);
    };
    let accepted = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (coding, body) = CODINGS
        .iter()
        .filter(|(coding, _)| accepts(accepted, coding))
        .find_map(|(coding, suffix)| {
            Built::get(&format!("{path}{suffix}")).map(|file| (Some(*coding), file.data))
        })
        .unwrap_or((None, original.data));
    let hash = original.metadata.sha256_hash();
    let etag = format!(
        "\"{}{}\"",
        hash[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        coding.map(|c| format!("-{c}")).unwrap_or_default()
    );

    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, etag))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if not_modified {
        return response.finish();
    }
    if let Some(coding) = coding {
        response.insert_header((header::CONTENT_ENCODING, coding));
    }
    let body = match body {
        Cow::Borrowed(bytes) => web::Bytes::from_static(bytes),
        Cow::Owned(bytes) => web::Bytes::from(bytes),
    };
    let mime = original.metadata.mimetype();
    let textual =
        mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("json");
    response
        .content_type(if textual {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_owned()
        })
        .body(body)
}

/// Whether an `Accept-Encoding` value accepts `coding` (present, and not with `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=0.5", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(!accepts("identity", "br"));
        assert!(!accepts("", "gzip"));
    }
}
