//! `connect`: open N streams from none, for each N in turn; how long it takes, what fails, and
//! the server's memory and open files once it holds them all (the points of the idle-memory
//! fit that `render` draws).

use std::time::Duration;

use crate::fleet::Fleet;
use crate::record::Record;
use crate::scenario::Bench;
use crate::stats::Latency;

pub async fn run(bench: &Bench, counts: &[usize]) -> Result<(), String> {
    let idle = bench.server.sample()?;
    for &n in counts {
        let before = bench.server.sample()?;
        let meter = bench.cpu_meter()?;
        let opened = Fleet::open(&bench.target, n).await;
        let cpu = meter.stop()?;
        // Every response's headers have arrived: the server holds all the streams now.
        let held = bench.server.sample()?;
        let record = Record::Connect {
            target: bench.label.clone(),
            streams: n,
            secs: opened.secs,
            failures: opened.failures,
            connect: Latency::of(&opened.connect),
            rss_kib_before: before.rss_kib,
            rss_kib: held.rss_kib,
            open_files: held.open_files,
            cpu,
        };
        eprintln!(
            "{}: {n} streams in {:.2} s, {} failed; RSS {} -> {} KiB; {} open files",
            bench.label,
            opened.secs,
            opened.failures,
            before.rss_kib,
            held.rss_kib,
            held.open_files
        );
        record.emit()?;
        opened.fleet.close().await;
        bench
            .settle_open_files(idle.open_files + 8, Duration::from_secs(30))
            .await?;
    }
    Ok(())
}
