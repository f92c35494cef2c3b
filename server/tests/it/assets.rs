//! The site as a browser gets it, from a real server on a site laid out as
//! `scripts/build-site.sh` lays it out: precompressed copies chosen by `Accept-Encoding`,
//! content-hashed names cached for good, `/embed.js` and the pages revalidated, the pages naming
//! the hashed bundle, API answers compressed on the fly, the event stream never.

use crate::support;
use std::path::Path;

use crate::support::live::{serve_args, TestServer};
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING};

const APP: &str = "belfry-0123456789abcdef";
const WASM: &[u8] = b"\0asm pretend bundle";

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A site as the build leaves it, with recognisable "compressed" copies.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "manifest.json",
        format!(r#"{{"app": "{APP}", "embed": "belfry-embed-fedcba9876543210"}}"#).as_bytes(),
    );
    write(dir.path(), &format!("pkg/{APP}.wasm"), WASM);
    write(dir.path(), &format!("pkg/{APP}.wasm.br"), b"brotli copy");
    write(dir.path(), &format!("pkg/{APP}.wasm.gz"), b"gzip copy");
    write(dir.path(), &format!("pkg/{APP}.js"), b"export default 1;");
    write(dir.path(), &format!("pkg/{APP}.css"), b".belfry-bell {}");
    write(dir.path(), "embed.js", b"// the loader");
    write(dir.path(), "embed.js.br", b"brotli loader");
    dir
}

async fn get(url: &str, encoding: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut request = client.get(url);
    if let Some(encoding) = encoding {
        request = request.header(ACCEPT_ENCODING, encoding);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_precompressed_hashed_and_cached_as_their_names_allow() {
    let site = site();
    let data = tempfile::tempdir().unwrap();
    let site_root = site.path().to_str().unwrap();
    let args = serve_args(&support::sqlite_url(&data), &["--site-root", site_root]);
    let server = TestServer::start_with(args).await;
    let wasm = format!("{}/pkg/{APP}.wasm", server.url);

    let br = get(&wasm, Some("gzip, deflate, br")).await;
    assert_eq!(br.status(), 200);
    assert_eq!(header(&br, CONTENT_ENCODING), "br");
    assert_eq!(
        header(&br, CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(br.bytes().await.unwrap().as_ref(), b"brotli copy");

    let gz = get(&wasm, Some("gzip")).await;
    assert_eq!(header(&gz, CONTENT_ENCODING), "gzip");
    assert_eq!(gz.bytes().await.unwrap().as_ref(), b"gzip copy");

    let plain = get(&wasm, None).await;
    assert_eq!(header(&plain, CONTENT_ENCODING), "");
    assert_eq!(plain.bytes().await.unwrap().as_ref(), WASM);

    // The loader keeps its name: asked again each time.
    let loader = get(&format!("{}/embed.js", server.url), Some("br")).await;
    assert_eq!(header(&loader, CONTENT_ENCODING), "br");
    assert_eq!(header(&loader, CACHE_CONTROL), "no-cache");
    assert!(!header(&loader, reqwest::header::LAST_MODIFIED).is_empty());

    // A page: revalidated, compressed on the fly, naming the hashed bundle.
    let page = get(&server.url, Some("gzip")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, CACHE_CONTROL), "no-cache");
    assert_eq!(header(&page, CONTENT_ENCODING), "gzip");
    let client = reqwest::Client::new();
    let html = client
        .get(&server.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("/pkg/{APP}.css")), "{html}");
    assert!(html.contains(&format!("{APP}.js")), "{html}");
    assert!(html.contains(&format!("{APP}.wasm")), "{html}");

    // An API answer is compressed; the event stream never is.
    let api = get(&format!("{}/openapi.json", server.url), Some("br")).await;
    assert_eq!(header(&api, CONTENT_ENCODING), "br");
    let stream = format!(
        "{}/notifications/stream?token={}",
        server.url,
        support::token("alice")
    );
    let stream = get(&stream, Some("gzip, deflate, br")).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(header(&stream, CONTENT_ENCODING), "");

    // A name the site does not have is a plain 404.
    assert_eq!(
        get(&format!("{}/pkg/nothing.js", server.url), None)
            .await
            .status(),
        404
    );
}
