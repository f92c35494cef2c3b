//! `discard`: what one instance pays for the events of a shared change stream that are for none
//! of its streams (docs/SCALING.md builds on it). Publishes go to instance A; instance B, the
//! one measured, holds a single stream, of a sentinel user. After `count` notifications to
//! users with no stream anywhere comes one to the sentinel: when it arrives, B has read every
//! event before it, as a change stream is in commit order. B's CPU time and the bytes it
//! received from the database over that window, per event.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::client::Target;
use crate::fleet::Fleet;
use crate::proc::tcp_received;
use crate::record::Record;
use crate::scenario::Bench;

/// The sentinel's sequence number: apart from the discarded ones (0..count).
const SENTINEL: u64 = u64::MAX;
/// Publish requests in flight at once.
const IN_FLIGHT: usize = 4;
/// How long B may take to reach the sentinel (SecantusDB stores about 1,000 documents a
/// second).
const PATIENCE: Duration = Duration::from_secs(300);

/// `database_port`: where B's database listens on this machine, to count what B received.
pub async fn run(
    bench: &Bench,
    count: u64,
    batch: usize,
    database_port: Option<u16>,
) -> Result<(), String> {
    let mut opened = Fleet::open_all(&bench.target, 1).await?;
    let pid = bench.server.pid();
    let received = || database_port.and_then(|port| tcp_received(pid?, port));
    let before = received();
    let meter = bench.cpu_meter()?;
    let start = Instant::now();
    let mut publishes = JoinSet::new();
    let mut refused = 0;
    let mut next = 0;
    while next < count {
        while publishes.len() >= IN_FLIGHT {
            if let Some(done) = publishes.join_next().await {
                refused += u64::from(!done.unwrap_or(false));
            }
        }
        let end = (next + batch as u64).min(count);
        let users: Vec<String> = (next..end).map(|i| format!("discard-{i}")).collect();
        let target = std::sync::Arc::clone(&bench.target);
        publishes.spawn(async move { target.publish(&users, next).await });
        next = end;
    }
    for ok in publishes.join_all().await {
        refused += u64::from(!ok);
    }
    if refused > 0 || !bench.target.publish(&[Target::user(0)], SENTINEL).await {
        return Err(format!("{refused} publishes refused"));
    }
    let deadline = start + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline.into(), opened.fleet.events.recv()).await {
            Ok(Some(event)) if event.seq == SENTINEL => break,
            Ok(Some(_)) => {}
            _ => return Err("the sentinel did not arrive".to_owned()),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = meter.stop()?;
    let database_bytes = received()
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before));
    let record = Record::Discard {
        target: bench.label.clone(),
        events: count + 1,
        secs,
        cpu,
        database_bytes,
    };
    eprintln!(
        "{}: {} events for other users in {secs:.1} s: {:.1} µs of CPU and {:?} bytes from the database per event",
        bench.label,
        count + 1,
        cpu.server_secs.unwrap_or(0.0) * 1e6 / (count + 1) as f64,
        database_bytes.map(|b| b / (count + 1)),
    );
    record.emit()?;
    opened.fleet.close().await;
    Ok(())
}
