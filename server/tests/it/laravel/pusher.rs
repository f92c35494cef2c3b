//! The Pusher routes, driven by the official server libraries (PyPI's `pusher`, npm's `pusher`)
//! as a Laravel application's broadcaster drives them: a notification broadcast is stored and
//! pushed once under its own id, anything else is answered and counted, a wrong secret changes
//! nothing.

use std::io::Write;
use std::process::{Command, Stdio};

use mongodb::bson::{doc, Bson};
use serde_json::{json, Value};

use super::*;
use crate::support::{self, direct};

const APP_ID: &str = "4242";
const KEY: &str = "app-key";
const SECRET: &str = "app-secret";

/// The server's flags for the Pusher app above.
const PUSHER: [&str; 6] = [
    "--pusher-app-id",
    APP_ID,
    "--pusher-key",
    KEY,
    "--pusher-secret",
    SECRET,
];

/// A client of the official library `which` (`python` or `node`), signing with `secret`, makes
/// `calls` (each `{"channels", "name", "data"}` or `{"batch": […]}`) against `server`; `Err`
/// with what it printed when one fails.
fn official_client(
    which: &str,
    server: &TestServer,
    secret: &str,
    calls: &Value,
) -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (host, port) = server
        .url
        .trim_start_matches("http://")
        .rsplit_once(':')
        .expect("host:port");
    let mut command = match which {
        "python" => {
            let mut command = Command::new(root.join(".venv/bin/python"));
            command.args(["-c", PYTHON]);
            command
        }
        _ => {
            let mut command = Command::new("node");
            command
                .args(["-e", NODE])
                .env("NODE_PATH", root.join("end2end/node_modules"));
            command
        }
    };
    let mut child = command
        .env("PUSHER_APP_ID", APP_ID)
        .env("PUSHER_KEY", KEY)
        .env("PUSHER_SECRET", secret)
        .env("PUSHER_HOST", host)
        .env("PUSHER_PORT", port)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{which} runs (scripts/setup.sh test installs it): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(calls.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    match output.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

const PYTHON: &str = r#"
import json, os, sys
import pusher
client = pusher.Pusher(app_id=os.environ["PUSHER_APP_ID"], key=os.environ["PUSHER_KEY"],
                       secret=os.environ["PUSHER_SECRET"], host=os.environ["PUSHER_HOST"],
                       port=int(os.environ["PUSHER_PORT"]), ssl=False)
for call in json.load(sys.stdin):
    if "batch" in call:
        client.trigger_batch(call["batch"])
    else:
        client.trigger(call["channels"], call["name"], call["data"])
"#;

const NODE: &str = r#"
const Pusher = require("pusher");
const env = process.env;
const client = new Pusher({ appId: env.PUSHER_APP_ID, key: env.PUSHER_KEY, secret: env.PUSHER_SECRET,
                            host: env.PUSHER_HOST, port: Number(env.PUSHER_PORT), useTLS: false });
const calls = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  for (const call of calls) {
    if (call.batch) await client.triggerBatch(call.batch);
    else await client.trigger(call.channels, call.name, call.data);
  }
})().catch((e) => { console.error(e.status, e.body || e.message); process.exit(1); });
"#;

/// Laravel's broadcast of notification `id` for `user`.
fn broadcast(user: &str, id: &str, message: &str) -> Value {
    json!({
        "channels": [format!("{USER_CHANNEL}{user}")],
        "name": BROADCAST,
        "data": {"message": message, "url": "/invoices/7", "amount": 5, "id": id,
                 "type": "App\\Notifications\\InvoicePaid", "socket": null},
    })
}

/// Both official clients: a trigger and a batch become notifications; another event and
/// another channel are counted only; a wrong secret is refused with nothing stored; a repeated
/// id stores and pushes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_clients_publish_laravel_broadcasts() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&support::sqlite_url(&dir), &PUSHER);
    let server = TestServer::start_with(args).await;
    let mut tab_42 = SseClient::open(&server.url, "42").await;
    let mut tab_43 = SseClient::open(&server.url, "43").await;
    let uuid_1 = "6a2e8b3d-7c9d-4ebf-8a51-6c7d8e9fa0b1";
    let uuid_2 = "7b3f9c4e-8dae-4fc0-9b62-7d8e9fa0b1c2";
    let uuid_3 = "8c4a0d5f-9ebf-4ad1-8c73-8e9fa0b1c2d3";

    official_client(
        "python",
        &server,
        SECRET,
        &json!([broadcast("42", uuid_1, "Invoice paid")]),
    )
    .expect("the Python client's trigger");
    let pushed = tab_42.next_notification().await;
    assert_eq!(
        (
            pushed.id.as_str(),
            pushed.message.as_str(),
            pushed.link.as_deref()
        ),
        (uuid_1, "Invoice paid", Some("/invoices/7"))
    );
    assert_eq!(
        pushed.kind.as_deref(),
        Some("App\\Notifications\\InvoicePaid")
    );
    assert_eq!(
        pushed.data,
        Some(json!({"message": "Invoice paid", "url": "/invoices/7", "amount": 5}))
    );

    let batch = json!([{"batch": [
        {"channel": format!("{USER_CHANNEL}43"), "name": BROADCAST,
         "data": {"title": "Welcome", "id": uuid_2, "type": "App\\Notifications\\Welcome"}},
        {"channel": format!("{USER_CHANNEL}43"), "name": "App\\Events\\OrderShipped", "data": {"id": 1}},
        {"channel": "presence-chat", "name": BROADCAST, "data": {"message": "not a user's", "id": uuid_3}},
    ]}]);
    official_client("python", &server, SECRET, &batch).expect("the Python client's batch");
    assert_eq!(tab_43.next_notification().await.id, uuid_2);
    assert_eq!(
        metric(&server, "belfry_pusher_events_total{outcome=\"ignored\"}").await,
        2.0
    );

    let refused = official_client(
        "python",
        &server,
        "wrong-secret",
        &json!([broadcast("42", uuid_3, "forged")]),
    );
    assert!(
        refused.is_err_and(|e| e.contains("401") || e.contains("BadAuth")),
        "a wrong secret"
    );
    official_client(
        "node",
        &server,
        "wrong-secret",
        &json!([broadcast("42", uuid_3, "forged")]),
    )
    .expect_err("the Node client is refused too");

    // Again, by the other client: stored before, so nothing new.
    official_client(
        "node",
        &server,
        SECRET,
        &json!([broadcast("42", uuid_1, "Invoice paid")]),
    )
    .expect("the Node client's trigger");
    let node_batch = json!([{"batch": [{"channel": format!("{USER_CHANNEL}42"), "name": BROADCAST,
        "data": {"body": "From Node", "id": uuid_3}}]}]);
    official_client("node", &server, SECRET, &node_batch).expect("the Node client's batch");
    assert_eq!(
        tab_42.next_notification().await.id,
        uuid_3,
        "no forged one, no repeat before it"
    );
    assert_eq!(
        metric(&server, "belfry_pusher_events_total{outcome=\"again\"}").await,
        1.0
    );
    let listed: Vec<String> = list_of(&server, "42")
        .await
        .into_iter()
        .map(|n| n.message)
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(!listed.contains(&"forged".to_owned()));
}

/// A Laravel application that stores a notification (database channel) and broadcasts it gets
/// one notification: the broadcast finds the document by its UUID.
async fn the_broadcast_of_a_stored_notification_adds_nothing(database: String) {
    let uri = crate::host_data::mongo_uri(&database);
    let (_client, collection) = direct::mongo(&uri).await;
    let server = laravel_server(&database, &PUSHER).await;
    let mut tab = SseClient::open(&server.url, "42").await;
    let uuid = "9d5b1e6a-0fc0-4be2-9d84-9fa0b1c2d3e4";
    let at = chrono::Utc::now() + chrono::Duration::seconds(1);
    let text = at
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    collection
        .insert_one(doc! {
            "_id": uuid, "type": "App\\Notifications\\InvoicePaid",
            "notifiable_type": "App\\Models\\User", "notifiable_id": 42,
            "data": r#"{"message":"Invoice paid","url":"/invoices/7"}"#,
            "read_at": Bson::Null, "created_at": &text, "updated_at": &text,
        })
        .await
        .unwrap();
    assert_eq!(tab.next_notification().await.id, uuid);
    official_client(
        "python",
        &server,
        SECRET,
        &json!([broadcast("42", uuid, "Invoice paid")]),
    )
    .expect("the broadcast is accepted");
    let marker = server.publish_to("42", "marker").await;
    assert_eq!(
        tab.next_notification().await,
        marker,
        "one notification, not two"
    );
    assert_eq!(collection.count_documents(doc! {}).await.unwrap(), 2);
    assert_eq!(
        metric(&server, "belfry_pusher_events_total{outcome=\"again\"}").await,
        1.0
    );
}

on_stores!(database: [mongo, mongo_standalone] [the_broadcast_of_a_stored_notification_adds_nothing]);

/// A request that would store part of itself stores nothing: one id broadcast to two users is
/// 409; the same notification twice for its user is stored once; a body over the limit gets
/// the contract's JSON 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_is_stored_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(serve_args(&support::sqlite_url(&dir), &PUSHER)).await;
    let uuid = "ab5c1e6a-0fc0-4be2-9d84-9fa0b1c2d3e5";
    let mut two_users = broadcast("42", uuid, "For two");
    two_users["channels"] = json!([format!("{USER_CHANNEL}42"), format!("{USER_CHANNEL}43")]);
    let refused = official_client("python", &server, SECRET, &json!([two_users]));
    assert!(
        refused.is_err_and(|e| e.contains("409")),
        "one id for two users"
    );
    assert!(list_of(&server, "42").await.is_empty());
    assert!(list_of(&server, "43").await.is_empty());

    let twice = json!([{"batch": [
        {"channel": format!("{USER_CHANNEL}42"), "name": BROADCAST, "data": {"message": "Once", "id": uuid}},
        {"channel": format!("{USER_CHANNEL}42"), "name": BROADCAST, "data": {"message": "Once", "id": uuid}},
    ]}]);
    official_client("node", &server, SECRET, &twice).expect("the batch is accepted");
    assert_eq!(list_of(&server, "42").await.len(), 1);

    let response = reqwest::Client::new()
        .post(format!("{}/apps/{APP_ID}/events", server.url))
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let error: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(error["error"], "payload_too_large");
}
