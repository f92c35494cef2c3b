//! `churn`: beside a fleet of idle streams, workers open a stream, hold it for a moment and hang
//! up, over and over, for a while; the server's memory and open files before, at their peak,
//! and once the churn has stopped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinSet;

use crate::fleet::Fleet;
use crate::record::Record;
use crate::scenario::Bench;

/// A churned stream is held open for a random time up to this long.
const MAX_HOLD: Duration = Duration::from_millis(200);

pub async fn run(bench: &Bench, base: usize, workers: usize, secs: f64) -> Result<(), String> {
    let opened = Fleet::open_all(&bench.target, base).await?;
    let before = bench.server.sample()?;
    let meter = bench.cpu_meter()?;
    let start = Instant::now();
    let stop_at = start + Duration::from_secs_f64(secs);
    // Churned streams have users of their own, numbered after the idle fleet's.
    let next_user = Arc::new(AtomicUsize::new(base));

    let mut churners = JoinSet::new();
    for _ in 0..workers {
        let target = Arc::clone(&bench.target);
        let next_user = Arc::clone(&next_user);
        churners.spawn(async move {
            let (mut opened, mut failures) = (0u64, 0u64);
            while Instant::now() < stop_at {
                let user = next_user.fetch_add(1, Ordering::Relaxed);
                match target.open_stream(user).await {
                    Ok(stream) => {
                        opened += 1;
                        let hold = rand::rng().random_range(Duration::ZERO..MAX_HOLD);
                        tokio::time::sleep(hold).await;
                        drop(stream);
                    }
                    Err(_) => failures += 1,
                }
            }
            (opened, failures)
        });
    }

    let mut peak = before;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while Instant::now() < stop_at {
        tick.tick().await;
        let now = bench.server.sample()?;
        peak.rss_kib = peak.rss_kib.max(now.rss_kib);
        peak.open_files = peak.open_files.max(now.open_files);
    }
    let (opened_total, failures) = churners
        .join_all()
        .await
        .into_iter()
        .fold((0, 0), |(o, f), (opened, failed)| (o + opened, f + failed));
    let secs = start.elapsed().as_secs_f64();
    let cpu = meter.stop()?;
    let open_files_after = bench
        .settle_open_files(before.open_files, Duration::from_secs(30))
        .await?;
    let after = bench.server.sample()?;
    let record = Record::Churn {
        target: bench.label.clone(),
        base_streams: base,
        secs,
        opened: opened_total,
        failures,
        rss_kib_before: before.rss_kib,
        rss_kib_peak: peak.rss_kib,
        rss_kib_after: after.rss_kib,
        open_files_before: before.open_files,
        open_files_peak: peak.open_files,
        open_files_after,
        cpu,
    };
    eprintln!(
        "{}: churn {secs:.0} s, {opened_total} streams opened and closed ({failures} failed); RSS {} / peak {} / after {} KiB; open files {} / {} / {}",
        bench.label, before.rss_kib, peak.rss_kib, after.rss_kib, before.open_files, peak.open_files, open_files_after
    );
    record.emit()?;
    opened.fleet.close().await;
    Ok(())
}
