//! `/openapi.json` and `docs/API.md` describe the router that runs: every documented operation
//! is routed (never a 404 or 405), a documented path answers no method the document leaves out,
//! every operation the document lists has its section in docs/API.md and the reverse, and the
//! document is OpenAPI 3.1 with the security schemes its operations name.

use crate::support;
use std::collections::BTreeSet;

use crate::support::live::TestServer;
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `(METHOD, path)` of every operation in the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            METHODS
                .iter()
                .filter(|m| item.contains_key(**m))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_are_the_same_routes() {
    let dir = tempfile::tempdir().unwrap();
    // (With a Pusher app, whose routes otherwise answer 404 as the publish route does without
    // a service key.)
    let pusher = [
        "--pusher-app-id",
        "1",
        "--pusher-key",
        "k",
        "--pusher-secret",
        "s",
    ];
    let args = support::live::serve_args(&support::sqlite_url(&dir), &pusher);
    let server = TestServer::start_with(args).await;
    let (status, text) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    let document: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let documented = operations(&document);
    assert!(documented.len() >= 9, "{documented:?}");

    let client = reqwest::Client::new();
    for (method, path) in &documented {
        let url = format!(
            "{}{}",
            server.url,
            path.replace("{id}", "6747f1f0a3b2c1d0e9f8a7b6")
                .replace("{app_id}", "1")
        );
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        // Without credentials: a routed operation answers (200, 401, 403, …), never 404/405.
        let status = client
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            status != 404 && status != 405,
            "{method} {path} is documented but not routed: {status}"
        );
        // A method the document does not list for this path is not routed either.
        let item = &document["paths"][path];
        for other in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let other = Method::from_bytes(other.to_uppercase().as_bytes()).unwrap();
            let status = client.request(other.clone(), &url).send().await.unwrap();
            assert_eq!(
                status.status(),
                405,
                "{other} {path} is routed but not documented"
            );
        }
    }

    // Every scheme an operation asks for is defined.
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for (_, item) in document["paths"].as_object().unwrap() {
        for (_, operation) in item.as_object().unwrap() {
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "undefined scheme {name}");
                }
            }
        }
    }

    // docs/API.md has a `### `METHOD path`` section for each operation, and no other.
    let api_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md"))
        .expect("docs/API.md");
    let in_words: BTreeSet<(String, String)> = api_md
        .lines()
        .filter_map(|line| line.strip_prefix("### `")?.strip_suffix('`'))
        .filter_map(|heading| {
            let (method, path) = heading.split_once(' ')?;
            Some((method.to_owned(), path.to_owned()))
        })
        .collect();
    assert_eq!(in_words, documented, "docs/API.md and /openapi.json differ");
}
