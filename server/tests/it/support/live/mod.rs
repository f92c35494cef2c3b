//! Real servers on port 0 and a real SSE client, for the stream tests.
//!
//! - here: `belfry serve` as a child process (`TestServer`), its arguments, publishing. A
//!   process of its own, because what a test reads of `/metrics` must be that server's alone
//!   (the metrics are the process's), and so the tests run the binary users run;
//! - `sse.rs`: the SSE client and what the load tests check of what it received;
//! - `process.rs`: `belfry serve` and SecantusDB as child processes, for tests that kill them.

mod process;
mod sse;

#[allow(unused_imports)]
pub use process::{OwnMongo, ServerProcess};
#[allow(unused_imports)]
pub use sse::*;

use std::time::Duration;

use std::sync::{Arc, Mutex};

use app::Notification;
use belfry::config::{Cli, Command};
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use super::{JWT_SECRET, SERVICE_KEY};

/// How long a test waits for something that should happen (an event, a state) before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The arguments of `belfry serve`, checked by its own parser when made.
#[derive(Clone, Debug)]
pub struct ServeArgs(Vec<String>);

pub fn serve_args(database: &str, extra: &[&str]) -> ServeArgs {
    let mut argv = vec![
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database",
        database,
        "--jwt-secret",
        JWT_SECRET,
        "--service-key",
        SERVICE_KEY,
    ];
    argv.extend_from_slice(extra);
    let parsed =
        clap::Parser::try_parse_from(std::iter::once("belfry").chain(argv.iter().copied()));
    match parsed.map(|cli: Cli| cli.command) {
        Ok(Command::Serve(_)) => ServeArgs(argv.into_iter().map(str::to_owned).collect()),
        other => panic!("test serve arguments do not parse: {other:?}"),
    }
}

/// Publishes through `base`'s API with the service key; the request must be accepted (201).
pub async fn publish(base: &str, body: serde_json::Value) -> Vec<Notification> {
    let (status, created) = try_publish(base, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    serde_json::from_value(created).expect("publish JSON")
}

/// Publishes `body` through `base`'s API with the service key: the status and the JSON answer.
pub async fn try_publish(base: &str, body: &serde_json::Value) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/notifications"))
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("publish request");
    let status = response.status();
    let answer = response.bytes().await.expect("publish body");
    (
        status,
        serde_json::from_slice(&answer).expect("a JSON answer"),
    )
}

/// Publishes one notification to one user through `base`'s API.
pub async fn publish_to(base: &str, user: &str, message: &str) -> Notification {
    let mut created = publish(
        base,
        serde_json::json!({"user_id": user, "message": message}),
    )
    .await;
    created.remove(0)
}

/// An in-process `belfry serve` on a free port.
pub struct TestServer {
    pub url: String,
    child: Child,
    /// What the server has written to stderr (its log), for a failure's message.
    log: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub async fn start(database: &str) -> Self {
        Self::start_with(serve_args(database, &[])).await
    }

    /// Starts `belfry serve` and waits until it listens (it does once its feed has started).
    pub async fn start_with(args: ServeArgs) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
            .args(&args.0)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("belfry starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let url = tokio::time::timeout(PATIENCE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let at = line.find("listening on ");
                log.lock().unwrap().push(line.clone());
                if let Some(at) = at {
                    return line[at + "listening on ".len()..].trim().to_owned();
                }
            }
            panic!("belfry exited before listening: {:?}", log.lock().unwrap());
        })
        .await
        .expect("belfry listens in time");
        // Keep reading its log, so it never blocks on a full pipe.
        let kept = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        Self { url, child, log }
    }

    /// Shuts down as on SIGTERM and waits for the server to finish: `Err` with its log unless
    /// it exits cleanly.
    pub async fn stop(mut self) -> Result<(), String> {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server stops in time")
            .expect("the server is reaped");
        match status.success() {
            true => Ok(()),
            false => Err(format!("{status}: {:?}", self.log.lock().unwrap())),
        }
    }

    pub async fn publish(&self, body: serde_json::Value) -> Vec<Notification> {
        publish(&self.url, body).await
    }

    pub async fn publish_to(&self, user: &str, message: &str) -> Notification {
        publish_to(&self.url, user, message).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = reqwest::get(format!("{}{path}", self.url))
            .await
            .expect("GET");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// `GET path` as `user` (a bearer token).
    pub async fn get_as(&self, user: &str, path: &str) -> (StatusCode, String) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(super::token(user))
            .send()
            .await
            .expect("GET");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// Waits until `check` holds for `GET path`, or fails the test.
    pub async fn wait_for(&self, path: &str, check: impl Fn(StatusCode, &str) -> bool) {
        self.wait(None, path, check).await
    }

    /// Waits until `check` holds for `GET path` as `user`, or fails the test.
    pub async fn wait_for_as(
        &self,
        user: &str,
        path: &str,
        check: impl Fn(StatusCode, &str) -> bool,
    ) {
        self.wait(Some(user), path, check).await
    }

    async fn wait(&self, user: Option<&str>, path: &str, check: impl Fn(StatusCode, &str) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, body) = match user {
                Some(user) => self.get_as(user, path).await,
                None => self.get(path).await,
            };
            if check(status, &body) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never got there: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    /// A failing test shows the end of its server's log.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            let tail = log.len().saturating_sub(40);
            eprintln!("the server's log, last lines:\n{}", log[tail..].join("\n"));
        }
    }
}

/// Everything the server sends until it closes the connection (which it must within PATIENCE).
pub async fn closed_by_server(mut socket: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection in time")
        .ok();
    answer
}
