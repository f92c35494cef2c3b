//! The built site (`target/site`) as a browser wants it: precompressed copies chosen by
//! `Accept-Encoding` (brotli, then gzip), names that carry a content hash cached for good
//! (`immutable`), and what keeps its name (`/embed.js`, the HTML pages) revalidated every time
//! (`no-cache`, answered 304 when unchanged). `scripts/build-site.sh` writes the hashed names,
//! the copies and `manifest.json`; a site built without them (`cargo leptos build`) is served
//! as it is, revalidated.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};

use crate::AppState;

const FOREVER: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The bundle names `scripts/build-site.sh` gave, from `manifest.json` in the site root.
#[derive(Deserialize)]
struct Manifest {
    /// The app's bundle: `pkg/{app}.js`, `.wasm`, `.css`.
    app: String,
}

/// The app bundle's name in the site at `site_root`: the hashed one the manifest names, or
/// `belfry` for a site built without it.
pub fn app_bundle(site_root: &Path) -> String {
    let manifest = std::fs::read_to_string(site_root.join("manifest.json"));
    match manifest.map(|text| serde_json::from_str::<Manifest>(&text)) {
        Ok(Ok(manifest)) => manifest.app,
        Ok(Err(err)) => {
            tracing::warn!(%err, "site manifest.json unreadable; serving unhashed bundle names");
            "belfry".to_owned()
        }
        Err(_) => "belfry".to_owned(),
    }
}

/// `/pkg/…`, `/embed/…` and `/embed.js`, precompressed where a copy exists.
pub fn routes(site_root: &Path) -> Router<AppState> {
    let dir = |name: &str| {
        ServeDir::new(site_root.join(name))
            .precompressed_br()
            .precompressed_gzip()
    };
    let loader = ServeFile::new(site_root.join("embed.js"))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service("/pkg", dir("pkg"))
        .nest_service("/embed", dir("embed"))
        .route_service("/embed.js", loader)
        .layer(axum::middleware::from_fn(cache_assets))
}

/// A file whose name carries a content hash never changes: cached for good. Any other is asked
/// again each time (and answered 304 while unchanged).
async fn cache_assets(request: Request, next: Next) -> Response {
    let hashed = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .is_some_and(carries_hash);
    let mut response = next.run(request).await;
    if response.status().is_success() {
        let policy = if hashed { FOREVER } else { REVALIDATE };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Pages are rendered per request and per user: the browser asks again every time.
pub async fn revalidate_pages(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    }
    response
}

/// Whether a file name has a `-` followed by 16 hex digits (`belfry-0123456789abcdef.wasm`).
fn carries_hash(name: &str) -> bool {
    name.split(['-', '.', '_'])
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_names_are_immutable() {
        assert!(carries_hash("belfry-0123456789abcdef.wasm"));
        assert!(carries_hash("belfry-embed-0123456789abcdef_bg.wasm.br"));
        assert!(!carries_hash("belfry.wasm"));
        assert!(!carries_hash("embed.js"));
        assert!(!carries_hash("belfry-embed_bg.wasm"));
    }
}
