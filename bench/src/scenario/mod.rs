//! The load scenarios. Each prints its records as JSON lines on stdout and a summary on stderr.

pub mod churn;
pub mod connect;
pub mod delivery;
pub mod discard;
pub mod list;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Target;
use crate::proc::{CpuMeter, Process};

/// The server under test and how to watch it.
pub struct Bench {
    pub target: Arc<Target>,
    /// Names the server in the results (`belfry-sqlite`, `node-better-sse`, …).
    pub label: String,
    pub server: Process,
    pub database: Option<Process>,
}

impl Bench {
    pub fn cpu_meter(&self) -> Result<CpuMeter, String> {
        CpuMeter::start(self.server, self.database)
    }

    /// Waits until the server's open files are back to at most `files` (a closed stream's
    /// socket is released when the server notices the hang-up), or `limit` passes.
    pub async fn settle_open_files(&self, files: u64, limit: Duration) -> Result<u64, String> {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.server.sample()?.open_files;
            if now <= files || Instant::now() >= deadline {
                return Ok(now);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
