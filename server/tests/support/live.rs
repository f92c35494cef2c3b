//! Real servers on port 0 and a real SSE client, for the stream tests.

use std::pin::Pin;
use std::time::Duration;

use app::Notification;
use belfry::config::{Cli, Command, ServeArgs};
use belfry::serve::{Secrets, Server};
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
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

    /// Waits until `check` holds for `GET path`, or fails the test.
    pub async fn wait_for(&self, path: &str, check: impl Fn(StatusCode, &str) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, body) = self.get(path).await;
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

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

/// One open `GET /notifications/stream`.
pub struct SseClient {
    events: EventStream,
}

pub struct StreamRequest<'a> {
    pub base: &'a str,
    pub token: String,
    pub last_event_id: Option<String>,
    pub in_query: bool,
}

impl SseClient {
    pub async fn open(base: &str, user: &str) -> Self {
        Self::try_open(StreamRequest {
            base,
            token: super::token(user),
            last_event_id: None,
            in_query: false,
        })
        .await
        .expect("the stream opens")
    }

    pub async fn resume(base: &str, user: &str, last_event_id: &str) -> Self {
        Self::try_open(StreamRequest {
            base,
            token: super::token(user),
            last_event_id: Some(last_event_id.to_owned()),
            in_query: false,
        })
        .await
        .expect("the stream opens")
    }

    /// Opens a stream; an error status comes back as `Err((status, body))`.
    pub async fn try_open(request: StreamRequest<'_>) -> Result<Self, (StatusCode, String)> {
        let mut url = format!(
            "{}/notifications/stream?token={}",
            request.base, request.token
        );
        let mut builder = reqwest::Client::new().get(&url);
        if let Some(id) = &request.last_event_id {
            if request.in_query {
                url.push_str(&format!("&last_event_id={id}"));
                builder = reqwest::Client::new().get(&url);
            } else {
                builder = builder.header("last-event-id", id);
            }
        }
        let response = builder.send().await.expect("stream request");
        if response.status() != StatusCode::OK {
            let status = response.status();
            return Err((status, response.text().await.unwrap_or_default()));
        }
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|event| event.map_err(|e| e.to_string()));
        Ok(Self {
            events: Box::pin(events),
        })
    }

    /// The next event, or `None` when the server ended the stream. Fails the test after PATIENCE.
    pub async fn next(&mut self) -> Option<Event> {
        match tokio::time::timeout(PATIENCE, self.events.next()).await {
            Ok(Some(Ok(event))) => Some(event),
            Ok(Some(Err(_))) | Ok(None) => None,
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// The next event, which must be a new notification.
    pub async fn next_notification(&mut self) -> Notification {
        let event = self.next().await.expect("the stream is open");
        assert_eq!(event.event, "new-notification", "{event:?}");
        let notification: Notification =
            serde_json::from_str(&event.data).expect("notification JSON");
        assert_eq!(
            event.id, notification.id,
            "the SSE id is the notification's _id"
        );
        notification
    }
}

/// `belfry serve` as a child process (for tests that kill it).
pub struct ServerProcess {
    pub url: String,
    pub child: std::process::Child,
}

impl ServerProcess {
    pub fn spawn(database: &str, addr: &str) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
            .args(["serve", "--addr", addr, "--database", database])
            .args(["--jwt-secret", JWT_SECRET, "--service-key", SERVICE_KEY])
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("belfry starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("belfry printed its address before exiting")
                .expect("readable stderr");
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { url, child }
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SecantusDB server of the test's own, on a free port, storing in `dir` (so it can be
/// stopped and started again with its data).
pub struct OwnMongo {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

fn secantusd() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("BELFRY_TEST_SECANTUSD") {
        return path.into();
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/secantusd-py");
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup.sh test, or set BELFRY_TEST_SECANTUSD",
        path.display()
    );
    path
}

impl OwnMongo {
    pub async fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut db = Self {
            port,
            dir: dir.to_owned(),
            child: None,
        };
        db.restart().await;
        db
    }

    pub fn uri(&self, database: &str) -> String {
        format!(
            "mongodb://127.0.0.1:{}/{database}?serverSelectionTimeoutMS=1000",
            self.port
        )
    }

    pub async fn restart(&mut self) {
        let child = std::process::Command::new(secantusd())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("secantusd-py starts");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "SecantusDB did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM, so it closes its storage cleanly.
            let _ = std::process::Command::new("kill")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnMongo {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl SseClient {
    /// The next event if one comes within `wait`: `Ok(None)` when the stream ended, `Err(())`
    /// when nothing came in time.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<Event>, ()> {
        match tokio::time::timeout(wait, self.events.next()).await {
            Ok(Some(Ok(event))) => Ok(Some(event)),
            Ok(Some(Err(_))) | Ok(None) => Ok(None),
            Err(_) => Err(()),
        }
    }
}

/// What each user should end up with; `None` while the writers are still writing.
pub type Expected = tokio::sync::watch::Receiver<Option<std::collections::HashMap<String, usize>>>;

/// Reads `client` until it holds as many new notifications as `expected` says `user` has
/// (known once the writers are done); returns the ids in arrival order.
pub async fn read_until_expected(
    mut client: SseClient,
    user: String,
    expected: Expected,
) -> (String, Vec<String>) {
    let mut received = Vec::new();
    loop {
        match client.next_within(Duration::from_millis(300)).await {
            Ok(Some(event)) => {
                assert_eq!(event.event, "new-notification", "{user}: {event:?}");
                received.push(event.id);
            }
            Ok(None) => panic!("{user}: the stream ended"),
            Err(()) => {
                let want = expected
                    .borrow()
                    .as_ref()
                    .map(|counts| counts.get(&user).copied().unwrap_or(0));
                if want.is_some_and(|n| received.len() >= n) {
                    return (user, received);
                }
            }
        }
    }
}

/// Tells the readers what each user has in the database, then checks that every reader got
/// exactly its user's notifications, each once.
pub async fn assert_each_stream_got_exactly(
    expected: tokio::sync::watch::Sender<Option<std::collections::HashMap<String, usize>>>,
    readers: Vec<tokio::task::JoinHandle<(String, Vec<String>)>>,
    in_db: &std::collections::HashMap<String, std::collections::HashSet<String>>,
) {
    expected
        .send(Some(
            in_db
                .iter()
                .map(|(u, ids)| (u.clone(), ids.len()))
                .collect(),
        ))
        .expect("readers are listening");
    for reader in readers {
        let (user, received) = tokio::time::timeout(PATIENCE * 8, reader)
            .await
            .expect("readers finish")
            .expect("a reader did not panic");
        let unique: std::collections::HashSet<String> = received.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            received.len(),
            "{user}: a notification arrived twice"
        );
        assert_eq!(
            &unique, &in_db[&user],
            "{user}: exactly its own notifications from the database"
        );
    }
}
