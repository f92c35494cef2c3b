//! A fleet of open streams, one user each, and the events they receive.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::{read_events, Received, Target};
use crate::stats;

/// Stream opens in flight at once: enough to keep the server busy, few enough to stay well
/// inside its accept backlog.
const CONNECT_CONCURRENCY: usize = 256;

pub struct Fleet {
    pub size: usize,
    readers: JoinSet<()>,
    pub events: mpsc::UnboundedReceiver<Received>,
}

/// How opening a fleet went.
pub struct Opened {
    pub fleet: Fleet,
    pub secs: f64,
    pub failures: usize,
    pub connect: Histogram<u64>,
}

impl Fleet {
    /// Opens streams `0..n`; a stream that fails is counted, not retried.
    pub async fn open(target: &Target, n: usize) -> Opened {
        let start = Instant::now();
        let opened: Vec<_> = stream::iter(0..n)
            .map(|i| async move {
                let began = Instant::now();
                let response = target.open_stream(i).await;
                (i, response, began.elapsed())
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect()
            .await;
        let secs = start.elapsed().as_secs_f64();

        let (sender, events) = mpsc::unbounded_channel();
        let mut readers = JoinSet::new();
        let mut connect = stats::histogram();
        let mut failures = 0;
        for (i, response, took) in opened {
            match response {
                Ok(response) => {
                    stats::record(&mut connect, took.as_micros() as u64);
                    readers.spawn(read_events(i, response, sender.clone()));
                }
                Err(err) => {
                    failures += 1;
                    if failures <= 5 {
                        eprintln!("stream {i}: {err}");
                    }
                }
            }
        }
        Opened {
            fleet: Fleet {
                size: n,
                readers,
                events,
            },
            secs,
            failures,
            connect,
        }
    }

    /// Opens streams `0..n`, all of which must open: a scenario measuring them needs them all.
    pub async fn open_all(target: &Target, n: usize) -> Result<Opened, String> {
        let opened = Self::open(target, n).await;
        if opened.failures > 0 {
            return Err(format!("{} of {n} streams failed to open", opened.failures));
        }
        Ok(opened)
    }

    /// Closes every stream: aborting a reader drops its response, which closes its socket.
    pub async fn close(mut self) {
        self.readers.shutdown().await;
    }
}
