//! Child processes: `belfry serve` (for tests that kill it) and a SecantusDB of a test's own
//! (for tests that stop and restart the database).

use std::time::Duration;

use super::PATIENCE;
use crate::support::{JWT_SECRET, SERVICE_KEY};

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
