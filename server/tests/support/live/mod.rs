//! Real servers on port 0 and a real SSE client, for the stream tests.
//!
//! - here: `belfry serve` in this process (`TestServer`), its arguments, publishing;
//! - `sse.rs`: the SSE client and what the load tests check of what it received;
//! - `process.rs`: `belfry serve` and SecantusDB as child processes, for tests that kill them.

mod process;
mod sse;

#[allow(unused_imports)]
pub use process::{OwnMongo, ServerProcess};
#[allow(unused_imports)]
pub use sse::*;

use std::time::Duration;

use app::Notification;
use belfry::config::{Cli, Command, ServeArgs};
use belfry::serve::{Secrets, Server};
use reqwest::StatusCode;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{JWT_SECRET, SERVICE_KEY};

/// How long a test waits for something that should happen (an event, a state) before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub fn serve_args(database: &str, extra: &[&str]) -> ServeArgs {
    let mut argv = vec![
        "belfry",
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
    match clap::Parser::try_parse_from(argv).map(|cli: Cli| cli.command) {
        Ok(Command::Serve(args)) => args,
        other => panic!("test serve arguments do not parse: {other:?}"),
    }
}

/// Publishes through `base`'s API with the service key; the request must be accepted (201).
pub async fn publish(base: &str, body: serde_json::Value) -> Vec<Notification> {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/notifications"))
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("publish request");
    assert_eq!(response.status(), StatusCode::CREATED);
    serde_json::from_slice(&response.bytes().await.expect("publish body")).expect("publish JSON")
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
    shutdown: CancellationToken,
    handle: Option<JoinHandle<Result<(), String>>>,
}

impl TestServer {
    pub async fn start(database: &str) -> Self {
        Self::start_with(serve_args(database, &[])).await
    }

    pub async fn start_with(args: ServeArgs) -> Self {
        let secrets = Secrets::resolve(&args).expect("test secrets");
        let server = Server::start(&args, &secrets)
            .await
            .expect("the server starts");
        let url = format!("http://{}", server.local_addr().expect("a bound address"));
        let shutdown = server.shutdown_token();
        let handle = tokio::spawn(server.run());
        Self {
            url,
            shutdown,
            handle: Some(handle),
        }
    }

    /// Shuts down as on SIGTERM and waits for the server to finish.
    pub async fn stop(mut self) -> Result<(), String> {
        self.shutdown.cancel();
        let handle = self.handle.take().expect("not stopped yet");
        tokio::time::timeout(PATIENCE, handle)
            .await
            .expect("the server stops in time")
            .expect("the server task did not panic")
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
    fn drop(&mut self) {
        self.shutdown.cancel();
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
