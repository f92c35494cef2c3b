//! The `belfry` binary as a user runs it: bad flags and an unreachable database give one clear
//! line and a non-zero exit; `token` and `send` work against the same database as the server.

use std::process::{Command, Output};

use crate::support::*;
use belfry::store::{Notifications, Page};

fn belfry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args(args)
        .env_remove("BELFRY_JWT_SECRET")
        .env_remove("BELFRY_DATABASE")
        .env("RUST_LOG", "error")
        .output()
        .expect("the belfry binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_without_a_secret_explains_itself() {
    let out = belfry(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database",
        "sqlite::memory:",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("unsupported database") || err.contains("--jwt-secret"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_flags_are_refused_without_a_panic() {
    for args in [
        &["serve", "--addr", "not-an-address"][..],
        &["serve", "--database", "postgres://x"],
        &["serve", "--heartbeat-secs", "0"],
        &["serve", "--max-streams-per-user", "zero"],
        &["token"],
        &["token", "--user", "bad id", "--jwt-secret", "s"],
        &[
            "send",
            "--user",
            "u",
            "--message",
            " ",
            "--database",
            "sqlite:///nonexistent/x.db",
        ],
    ] {
        let out = belfry(args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            !err.trim().is_empty() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn serve_with_an_unreachable_mongodb_exits_with_one_line() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let uri = format!("mongodb://127.0.0.1:{port}/x?serverSelectionTimeoutMS=500");
    let out = belfry(&[
        "serve",
        "--dev",
        "--addr",
        "127.0.0.1:0",
        "--database",
        &uri,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.starts_with("belfry: cannot open the database"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn token_prints_a_token_the_server_accepts() {
    let out = belfry(&[
        "token",
        "--user",
        "42",
        "--ttl-secs",
        "60",
        "--jwt-secret",
        JWT_SECRET,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap();
    let keys = belfry::auth::TokenKeys::new(JWT_SECRET.as_bytes());
    assert_eq!(keys.verify(token.trim()).unwrap(), user("42"));
}

#[tokio::test]
async fn send_writes_into_sqlite() {
    let db = sqlite().await;
    let url = format!("sqlite://{}", db.store.path().display());
    let out = belfry(&[
        "send",
        "--database",
        &url,
        "--user",
        "7",
        "--message",
        "Hi",
        "--link",
        "/x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = db
        .store
        .list(
            &user("7"),
            Page {
                status: Default::default(),
                category: None,
                limit: 10,
                before: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].message, "Hi");
    let printed: app::Notification = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, listed[0]);
}

#[tokio::test]
async fn send_writes_into_mongodb() {
    let uri = fresh_mongo_uri();
    let out = belfry(&["send", "--database", &uri, "--user", "7", "--message", "Hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = belfry::store::mongo::MongoStore::connect(&uri, "notifications")
        .await
        .unwrap();
    let listed = store
        .list(
            &user("7"),
            Page {
                status: Default::default(),
                category: None,
                limit: 10,
                before: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].link, None);
}
