//! What each scenario reports: one JSON line per measurement, which `render` turns into
//! docs/BENCHMARKS.md.

use serde::{Deserialize, Serialize};

use crate::proc::Cpu;
use crate::stats::Latency;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "snake_case")]
pub enum Record {
    /// N streams opened from none; the server's memory and open files once all are held.
    Connect {
        target: String,
        streams: usize,
        secs: f64,
        failures: usize,
        connect: Latency,
        rss_kib_before: u64,
        rss_kib: u64,
        open_files: u64,
        cpu: Cpu,
    },
    /// Notifications to random users at a fixed rate for a while.
    Delivery {
        target: String,
        streams: usize,
        /// Notifications per second.
        rate: u64,
        /// Notifications per publish request.
        batch: usize,
        secs: f64,
        sent: u64,
        publish_errors: u64,
        latency: Latency,
        lost: u64,
        duplicated: u64,
        out_of_order: u64,
        misdelivered: u64,
        cpu: Cpu,
    },
    /// One notification to every stream's user, in bulk publishes of up to 1,000 recipients.
    Broadcast {
        target: String,
        streams: usize,
        requests: usize,
        /// When the last publish was acknowledged (stored, for Belfry).
        acknowledged_ms: f64,
        complete_ms: f64,
        latency: Latency,
        lost: u64,
        duplicated: u64,
        cpu: Cpu,
        /// Servers the streams were spread over (one before this field existed).
        #[serde(default = "one")]
        instances: usize,
        /// The feed's database requests per notification, per instance (`/metrics`), where
        /// the server reports them.
        #[serde(default)]
        feed_requests: Option<f64>,
    },
    /// What a browser downloads for a page (`bench/assets.mjs`): bytes transferred, headers
    /// and encoded bodies, on a cold load and a warm reload.
    Assets {
        target: String,
        /// `ssr` (the app's page with its hydrate bundle) or `embed` (examples/embed.html).
        page: String,
        cold_bytes: u64,
        cold_bundle_bytes: u64,
        warm_bytes: u64,
        warm_bundle_bytes: u64,
    },
    /// Streams opening and closing continuously beside a fleet of idle ones.
    Churn {
        target: String,
        base_streams: usize,
        secs: f64,
        opened: u64,
        failures: u64,
        rss_kib_before: u64,
        rss_kib_peak: u64,
        rss_kib_after: u64,
        open_files_before: u64,
        open_files_peak: u64,
        open_files_after: u64,
        cpu: Cpu,
    },
    /// Notifications for none of an instance's streams, read from the shared change stream
    /// (`discard`): the measured instance's CPU and the bytes it received from the database.
    Discard {
        target: String,
        events: u64,
        secs: f64,
        cpu: Cpu,
        database_bytes: Option<u64>,
    },
    /// `GET /notifications` as fast as a fixed number of clients can go.
    List {
        target: String,
        concurrency: usize,
        secs: f64,
        requests: u64,
        errors: u64,
        latency: Latency,
        cpu: Cpu,
    },
}

fn one() -> usize {
    1
}

impl Record {
    pub fn target(&self) -> &str {
        match self {
            Self::Connect { target, .. }
            | Self::Delivery { target, .. }
            | Self::Broadcast { target, .. }
            | Self::Assets { target, .. }
            | Self::Churn { target, .. }
            | Self::Discard { target, .. }
            | Self::List { target, .. } => target,
        }
    }

    /// Prints the record as one JSON line on stdout (the results file).
    pub fn emit(&self) -> Result<(), String> {
        let line = serde_json::to_string(self).map_err(|e| e.to_string())?;
        println!("{line}");
        Ok(())
    }
}
