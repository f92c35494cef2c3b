//! A run's JSON lines as Markdown: a table per scenario, every server side by side, and the
//! ratios of Belfry's figures to each peer's.
//!
//! Over 400 lines as one file on purpose: it is the page, in the page's order (the targets, then
//! one short function per section), every section built from the same records with the same few
//! formatting helpers, and a fifth of it is the tests of those figures. Split, a reader would
//! jump between files to follow one page.

use std::fmt::Write;

use crate::proc::Cpu;
use crate::record::Record;
use crate::stats::{linear_fit, Latency};

/// The label of the figures the peers are compared with.
const BELFRY: &str = "belfry-sqlite";
/// A sweep step counts as sustained at or under this p99, with nothing lost.
const SUSTAINED_P99_MS: f64 = 50.0;

pub fn parse(text: &str) -> Result<Vec<Record>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| format!("results line {}: {e}", n + 1))
        })
        .collect()
}

/// The servers in the order the run measured them.
fn targets(records: &[Record]) -> Vec<&str> {
    let mut seen = Vec::new();
    for record in records {
        if !seen.contains(&record.target()) {
            seen.push(record.target());
        }
    }
    seen
}

/// Resident memory per idle stream, in bytes: the slope of RSS against the number of streams
/// held, over every connect measurement of `target`.
pub fn bytes_per_stream(records: &[Record], target: &str) -> Option<f64> {
    let points: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Connect {
                target: t,
                streams,
                rss_kib,
                failures: 0,
                ..
            } if t == target => Some((*streams as f64, *rss_kib as f64 * 1024.0)),
            _ => None,
        })
        .collect();
    linear_fit(&points).map(|(slope, _)| slope)
}

/// The highest rate `target` delivered, in publishes of `batch`, with p99 ≤ 50 ms and nothing
/// lost, refused or misdelivered.
pub fn sustained_rate(records: &[Record], target: &str, batch: usize) -> Option<u64> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Delivery {
                target: t,
                batch: b,
                rate,
                latency,
                lost: 0,
                publish_errors: 0,
                duplicated: 0,
                misdelivered: 0,
                ..
            } if t == target && *b == batch && latency.p99_ms <= SUSTAINED_P99_MS => Some(*rate),
            _ => None,
        })
        .max()
}

/// The server's CPU time per notification delivered, in µs, of one delivery measurement (each
/// notification goes to one user with one stream, so deliveries are what was sent less what
/// went missing).
fn micros_per_delivery(record: &Record) -> Option<f64> {
    match record {
        Record::Delivery {
            sent, lost, cpu, ..
        } if sent > lost => Some(cpu.server_secs? * 1e6 / (sent - lost) as f64),
        _ => None,
    }
}

/// The delivery measurement of `target` at `batch` and `rate`.
fn delivery_at<'a>(
    records: &'a [Record],
    target: &str,
    batch: usize,
    rate: u64,
) -> Option<&'a Record> {
    records.iter().find(|r| {
        matches!(r, Record::Delivery { target: t, batch: b, rate: r, .. }
            if t == target && *b == batch && *r == rate)
    })
}

/// The rate of `target`'s first step at `batch` (its sweep's start), if it swept that batch.
fn first_rate(records: &[Record], target: &str, batch: usize) -> Option<u64> {
    records.iter().find_map(|r| match r {
        Record::Delivery {
            target: t,
            batch: b,
            rate,
            ..
        } if t == target && *b == batch => Some(*rate),
        _ => None,
    })
}

/// Belfry's and `peer`'s server CPU per delivery at the same load: the highest rate both
/// sustained at `batch` (sweeps step through the same rates), or, when either sustained none,
/// the first step (the same rate for both); with that rate.
fn cpu_per_delivery_vs(records: &[Record], peer: &str, batch: usize) -> Option<(u64, f64, f64)> {
    let rate = match (
        sustained_rate(records, BELFRY, batch),
        sustained_rate(records, peer, batch),
    ) {
        (Some(ours), Some(theirs)) => ours.min(theirs),
        _ => first_rate(records, peer, batch)?,
    };
    let ours = micros_per_delivery(delivery_at(records, BELFRY, batch, rate)?)?;
    let theirs = micros_per_delivery(delivery_at(records, peer, batch, rate)?)?;
    Some((rate, ours, theirs))
}

/// The batch sizes the run swept, in the order it swept them.
fn batches(records: &[Record]) -> Vec<usize> {
    let mut seen = Vec::new();
    for record in records {
        if let Record::Delivery { batch, .. } = record {
            if !seen.contains(batch) {
                seen.push(*batch);
            }
        }
    }
    seen
}

fn cpu(cpu: &Cpu) -> String {
    match cpu.database_pct {
        Some(db) => format!(
            "{:.0} % + db {:.0} % / {:.0} %",
            cpu.server_pct, db, cpu.generator_pct
        ),
        None => format!("{:.0} % / {:.0} %", cpu.server_pct, cpu.generator_pct),
    }
}

fn quantiles(l: &Latency) -> String {
    format!(
        "{:.2} / {:.2} / {:.2} / {:.2}",
        l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "–".into(),
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

/// Belfry's targets (one instance, embedded store) against this run's figures.
fn targets_table(records: &[Record]) -> String {
    let mut out = String::from(
        "## Targets\n\nBelfry on its embedded store (`belfry-sqlite`) against the targets set for this machine.\n\n| target | measured | met |\n|---|---|---|\n",
    );
    let held = records.iter().find_map(|r| match r {
        Record::Connect {
            target,
            streams: 18_000,
            failures,
            ..
        } if target == BELFRY => Some(*failures),
        _ => None,
    });
    if let Some(failures) = held {
        let _ = writeln!(
            out,
            "| 18,000 concurrent streams in one process | 18,000 opened, {failures} failed | {} |",
            met(failures == 0)
        );
    }
    if let Some(slope) = bytes_per_stream(records, BELFRY) {
        let _ = writeln!(
            out,
            "| ≤ 4 KiB resident memory per idle stream | {:.1} KiB (slope over the connect runs) | {} |",
            slope / 1024.0,
            met(slope <= 4096.0)
        );
    }
    let targeted = records.iter().find_map(|r| match r {
        Record::Delivery {
            target,
            streams: 10_000,
            rate: 1000,
            batch: 1,
            latency,
            lost,
            ..
        } if target == BELFRY => Some((latency.p99_ms, *lost)),
        _ => None,
    });
    if let Some((p99, lost)) = targeted {
        let _ = writeln!(
            out,
            "| p99 ≤ 5 ms at 10,000 streams and 1,000 notifications/s, nothing lost | p99 {p99:.2} ms, {lost} lost | {} |",
            met(p99 <= 5.0 && lost == 0)
        );
    }
    let rounds: Vec<f64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Broadcast {
                target,
                streams: 18_000,
                complete_ms,
                lost: 0,
                ..
            } if target == BELFRY => Some(*complete_ms),
            _ => None,
        })
        .collect();
    if !rounds.is_empty() {
        let worst = rounds.iter().copied().fold(0.0, f64::max);
        let shown: Vec<String> = rounds.iter().map(|ms| format!("{ms:.0}")).collect();
        let _ = writeln!(
            out,
            "| broadcast to 18,000 streams complete in ≤ 150 ms (aim 100) | {} ms (rounds) | {} |",
            shown.join(", "),
            met(worst <= 150.0)
        );
    }
    let peers: Vec<&str> = targets(records)
        .into_iter()
        .filter(|t| !t.starts_with("belfry"))
        .collect();
    for batch in batches(records) {
        let Some(ours) = sustained_rate(records, BELFRY, batch) else {
            continue;
        };
        for peer in &peers {
            let Some(theirs) = sustained_rate(records, peer, batch) else {
                if let Some(first) = first_rate(records, peer, batch) {
                    let _ = writeln!(
                        out,
                        "| ≥ 5× {peer}'s sustained rate (batch {batch}) | {ours}/s vs none: its first step ({first}/s) already failed, so at least {:.1}× | {} |",
                        ours as f64 / first as f64,
                        if ours >= 5 * first { "yes" } else { "unknown" }
                    );
                }
                continue;
            };
            let ratio = ours as f64 / theirs as f64;
            let _ = writeln!(
                out,
                "| ≥ 5× {peer}'s sustained rate (batch {batch}) | {ours}/s vs {theirs}/s: {ratio:.1}× | {} |",
                met(ratio >= 5.0)
            );
        }
    }
    for peer in peers.iter().filter(|p| !p.ends_with("-sqlite")) {
        let Some((rate, ours, theirs)) = cpu_per_delivery_vs(records, peer, 100) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| server CPU per delivery (batch 100) ≤ {peer}'s | {ours:.1} µs vs {theirs:.1} µs at {rate}/s | {} |",
            met(ours <= theirs)
        );
    }
    for r in records {
        let Record::Assets {
            page,
            cold_bytes,
            warm_bundle_bytes,
            ..
        } = r
        else {
            continue;
        };
        let (what, goal) = match page.as_str() {
            "embed" => ("the embed (examples/embed.html)", 100.0),
            _ => ("the SSR page with its hydrate bundle", 200.0),
        };
        let cold = *cold_bytes as f64 / 1024.0;
        let _ = writeln!(
            out,
            "| {what}: ≤ {goal:.0} KiB transferred cold | {cold:.1} KiB | {} |",
            met(cold <= goal)
        );
        let _ = writeln!(
            out,
            "| {what}: no bundle bytes on a warm reload | {warm_bundle_bytes} bytes | {} |",
            met(*warm_bundle_bytes == 0)
        );
    }
    if let Some(ours) = bytes_per_stream(records, BELFRY) {
        for peer in &peers {
            if let Some(theirs) = bytes_per_stream(records, peer) {
                let _ = writeln!(
                    out,
                    "| no more memory per stream than {peer} | {:.1} KiB vs {:.1} KiB | {} |",
                    ours / 1024.0,
                    theirs / 1024.0,
                    met(ours <= theirs)
                );
            }
        }
    }
    out.push('\n');
    out
}

/// Under every table with CPU figures.
const CPU_NOTE: &str = "CPU: server / generator, each as a share of one core (the machine has 2); \
                        with MongoDB, the database's share too.";

pub fn markdown(records: &[Record]) -> String {
    let mut out = targets_table(records);
    let targets = targets(records);
    connect_section(records, &mut out);
    memory_section(records, &targets, &mut out);
    delivery_section(records, &targets, &mut out);
    cpu_section(records, &targets, &mut out);
    broadcast_section(records, &mut out);
    assets_section(records, &mut out);
    churn_section(records, &mut out);
    list_section(records, &mut out);
    out
}

fn connect_section(records: &[Record], out: &mut String) {
    out.push_str("## Connect\n\nStreams opened from none, 256 at a time; the server's resident memory and open files once it holds them all.\n\n");
    out.push_str("| server | streams | time (s) | failed | connect p50 / p99 (ms) | RSS (MiB) | open files | CPU |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in records {
        if let Record::Connect {
            target,
            streams,
            secs,
            failures,
            connect,
            rss_kib,
            open_files,
            cpu: c,
            ..
        } = r
        {
            let _ = writeln!(
                out,
                "| {target} | {streams} | {secs:.2} | {failures} | {:.1} / {:.1} | {} | {open_files} | {} |",
                connect.p50_ms,
                connect.p99_ms,
                mib(*rss_kib),
                cpu(c)
            );
        }
    }
    let _ = writeln!(out, "\n{CPU_NOTE}\n");
}

fn memory_section(records: &[Record], targets: &[&str], out: &mut String) {
    out.push_str("## Idle memory per stream\n\nThe slope of a least-squares line through the connect table's points (resident memory against streams held, runs without failures only).\n\n");
    out.push_str("| server | bytes per idle stream | KiB | 100,000 streams would need | vs Belfry |\n|---|---:|---:|---:|---:|\n");
    let ours = bytes_per_stream(records, BELFRY);
    for target in targets {
        let Some(slope) = bytes_per_stream(records, target) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {target} | {slope:.0} | {:.1} | {:.0} MiB | {} |",
            slope / 1024.0,
            slope * 100_000.0 / (1024.0 * 1024.0),
            ratio(Some(slope), ours)
        );
    }
}

fn delivery_section(records: &[Record], targets: &[&str], out: &mut String) {
    out.push_str("\n## Targeted delivery\n\nNotifications to random users at a fixed rate; latency from each one's *scheduled* publish instant to its receipt. Batch 1 publishes each notification in its own request (as a host application publishing one at a time does); batch 100 sends bulk publishes to 100 distinct random users, which measures delivery rather than request handling. Each row of a server after its first of a batch is a sweep step at √2 times the rate before; a sweep stops at the first step with p99 over 50 ms or anything missing.\n\n");
    out.push_str("| server | streams | batch | rate (/s) | secs | p50 / p99 / p99.9 / max (ms) | missing after 5 s | dup | out of order | wrong user | publish errors | CPU | server µs / delivery |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for r in records {
        if let Record::Delivery {
            target,
            streams,
            rate,
            batch,
            secs,
            latency,
            lost,
            duplicated,
            out_of_order,
            misdelivered,
            publish_errors,
            cpu: c,
            ..
        } = r
        {
            let _ = writeln!(
                out,
                "| {target} | {streams} | {batch} | {rate} | {secs:.0} | {} | {lost} | {duplicated} | {out_of_order} | {misdelivered} | {publish_errors} | {} | {} |",
                quantiles(latency),
                cpu(c),
                micros_per_delivery(r).map_or("–".to_owned(), |us| format!("{us:.1}"))
            );
        }
    }
    let _ = writeln!(out, "\n{CPU_NOTE}\n");
    out.push_str("Sustained rate: the highest step with p99 ≤ 50 ms and nothing missing or refused (steps grow by √2, so the true limit lies below 1.41 times it).\n\n| server | batch | sustained rate (/s) | Belfry's rate ÷ this |\n|---|---:|---:|---:|\n");
    for batch in batches(records) {
        let ours = sustained_rate(records, BELFRY, batch).map(|r| r as f64);
        for target in targets {
            if first_rate(records, target, batch).is_none() {
                continue;
            }
            let rate = sustained_rate(records, target, batch);
            let shown = rate.map_or("below the first step".to_owned(), |r| r.to_string());
            let _ = writeln!(
                out,
                "| {target} | {batch} | {shown} | {} |",
                ratio(ours, rate.map(|r| r as f64))
            );
        }
    }
}

/// Server CPU per delivery, every server at batch 1 and 100: at the first step (the same rate
/// for all), and at the highest step each sustained.
fn cpu_section(records: &[Record], targets: &[&str], out: &mut String) {
    out.push_str("\n### Server CPU per delivered notification\n\nThe server process's user + system CPU time (`/proc/<pid>/stat`, the server only, not the generator or the database) over a step, divided by the notifications delivered in it. At the first step every server carries the same load; at its highest sustained step each is as busy as it gets without falling behind. Idle costs (heartbeats of 10,000 streams) weigh more at low rates.\n\n| server | batch | µs at the first step (rate) | µs at the highest sustained step (rate) |\n|---|---:|---:|---:|\n");
    for batch in batches(records) {
        for target in targets {
            let Some(first) = first_rate(records, target, batch)
                .and_then(|rate| delivery_at(records, target, batch, rate))
            else {
                continue;
            };
            let at = |record: &Record| match (micros_per_delivery(record), record) {
                (Some(us), Record::Delivery { rate, .. }) => format!("{us:.1} ({rate}/s)"),
                _ => "–".to_owned(),
            };
            let best = sustained_rate(records, target, batch)
                .and_then(|rate| delivery_at(records, target, batch, rate))
                .map_or("–".to_owned(), at);
            let _ = writeln!(out, "| {target} | {batch} | {} | {best} |", at(first));
        }
    }
}

fn broadcast_section(records: &[Record], out: &mut String) {
    out.push_str("\n## Broadcast\n\nOne notification to every stream's user, sent as concurrent bulk publishes of 1,000 recipients (the contract's maximum); time from the first publish until the last stream has it.\n\n");
    out.push_str("| server | instances | streams | publishes | all acknowledged (ms) | last stream has it (ms) | p50 / p99 / p99.9 / max (ms) | missing after 90 s | dup | feed DB requests per notification, per instance | CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in records {
        if let Record::Broadcast {
            target,
            streams,
            requests,
            acknowledged_ms,
            complete_ms,
            latency,
            lost,
            duplicated,
            cpu: c,
            instances,
            feed_requests,
        } = r
        {
            let feed = feed_requests.map_or("—".to_owned(), |f| format!("{f:.4}"));
            let _ = writeln!(
                out,
                "| {target} | {instances} | {streams} | {requests} | {acknowledged_ms:.1} | {complete_ms:.1} | {} | {lost} | {duplicated} | {feed} | {} |",
                quantiles(latency),
                cpu(c)
            );
        }
    }
}

fn assets_section(records: &[Record], out: &mut String) {
    out.push_str("\n## What a browser downloads\n\nBytes transferred (headers and encoded bodies, as Chromium reports them; `bench/assets.mjs`) to load a page until the bell is up: cold (an empty cache), then a warm reload. Release build of the site (`scripts/build-site.sh --release`): brotli and gzip copies served by `Accept-Encoding`, content-hashed bundle names cached as `immutable`, pages and `embed.js` revalidated.\n\n");
    out.push_str("| page | cold: all (KiB) | cold: bundles (KiB) | warm: all (KiB) | warm: bundles (bytes) |\n|---|---:|---:|---:|---:|\n");
    for r in records {
        if let Record::Assets {
            page,
            cold_bytes,
            cold_bundle_bytes,
            warm_bytes,
            warm_bundle_bytes,
            ..
        } = r
        {
            let kib = |b: &u64| *b as f64 / 1024.0;
            let _ = writeln!(
                out,
                "| {page} | {:.1} | {:.1} | {:.1} | {warm_bundle_bytes} |",
                kib(cold_bytes),
                kib(cold_bundle_bytes),
                kib(warm_bytes)
            );
        }
    }
}

fn churn_section(records: &[Record], out: &mut String) {
    out.push_str("\n## Churn\n\nBeside idle streams, workers open a stream, hold it 0–200 ms and hang up, continuously. Memory and open files of the server before, at the peak, and once the churn stopped.\n\n");
    out.push_str("| server | idle streams | secs | opened+closed | failed | RSS before / peak / after (MiB) | open files before / peak / after | CPU |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in records {
        if let Record::Churn {
            target,
            base_streams,
            secs,
            opened,
            failures,
            rss_kib_before,
            rss_kib_peak,
            rss_kib_after,
            open_files_before,
            open_files_peak,
            open_files_after,
            cpu: c,
        } = r
        {
            let _ = writeln!(
                out,
                "| {target} | {base_streams} | {secs:.0} | {opened} | {failures} | {} / {} / {} | {open_files_before} / {open_files_peak} / {open_files_after} | {} |",
                mib(*rss_kib_before),
                mib(*rss_kib_peak),
                mib(*rss_kib_after),
                cpu(c)
            );
        }
    }
}

fn list_section(records: &[Record], out: &mut String) {
    out.push_str("\n## List throughput\n\n`GET /notifications` (a page of 20) for random users with 50 notifications each, from concurrent clients on keep-alive connections.\n\n");
    out.push_str("| server | clients | requests/s | errors | p50 / p99 / p99.9 / max (ms) | CPU |\n|---|---:|---:|---:|---:|---|\n");
    for r in records {
        if let Record::List {
            target,
            concurrency,
            secs,
            requests,
            errors,
            latency,
            cpu: c,
        } = r
        {
            let _ = writeln!(
                out,
                "| {target} | {concurrency} | {:.0} | {errors} | {} | {} |",
                *requests as f64 / secs,
                quantiles(latency),
                cpu(c)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(target: &str, streams: usize, rss_kib: u64) -> Record {
        Record::Connect {
            target: target.into(),
            streams,
            secs: 1.0,
            failures: 0,
            connect: Latency::default(),
            rss_kib_before: 10_000,
            rss_kib,
            open_files: streams as u64 + 10,
            cpu: Cpu::default(),
        }
    }

    fn delivery(target: &str, rate: u64, p99_ms: f64, lost: u64) -> Record {
        Record::Delivery {
            target: target.into(),
            streams: 10_000,
            rate,
            batch: 1,
            secs: 5.0,
            sent: rate * 5,
            publish_errors: 0,
            latency: Latency {
                p99_ms,
                ..Latency::default()
            },
            lost,
            duplicated: 0,
            out_of_order: 0,
            misdelivered: 0,
            cpu: Cpu::default(),
        }
    }

    #[test]
    fn parses_what_the_scenarios_emit() {
        let lines = [
            connect(BELFRY, 1000, 20_000),
            delivery(BELFRY, 1000, 3.0, 0),
        ]
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
        let parsed = parse(&format!("{lines}\n\n")).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0], connect(BELFRY, 1000, 20_000));
        let err = parse("{\"scenario\":\"nope\"}").unwrap_err();
        assert!(err.starts_with("results line 1"), "{err}");
    }

    #[test]
    fn memory_per_stream_is_the_slope_over_all_points() {
        // 5 KiB per stream on top of 10 MiB.
        let records = [1000, 5000, 10_000]
            .map(|n| connect(BELFRY, n, 10_240 + 5 * n as u64))
            .to_vec();
        let slope = bytes_per_stream(&records, BELFRY).unwrap();
        assert!((slope - 5120.0).abs() < 1e-6, "{slope}");
        assert_eq!(bytes_per_stream(&records, "other"), None);
    }

    #[test]
    fn a_run_with_failed_streams_is_left_out_of_the_fit() {
        let mut failed = connect(BELFRY, 18_000, 1);
        if let Record::Connect { failures, .. } = &mut failed {
            *failures = 3;
        }
        let records = vec![
            connect(BELFRY, 1000, 2000),
            connect(BELFRY, 2000, 3000),
            failed,
        ];
        assert!((bytes_per_stream(&records, BELFRY).unwrap() - 1024.0).abs() < 1e-6);
    }

    #[test]
    fn cpu_per_delivery_compares_at_the_rate_both_sustained() {
        let with_cpu = |target: &str, rate: u64, p99_ms: f64, server_secs: f64| {
            let mut record = delivery(target, rate, p99_ms, 0);
            if let Record::Delivery { batch, cpu, .. } = &mut record {
                *batch = 100;
                cpu.server_secs = Some(server_secs);
            }
            record
        };
        // 5 s at each rate: Belfry sustains 2000/s, the peer 1000/s.
        let records = vec![
            with_cpu(BELFRY, 1000, 3.0, 0.5),
            with_cpu(BELFRY, 2000, 4.0, 0.8),
            with_cpu("peer", 1000, 8.0, 2.0),
            with_cpu("peer", 2000, 90.0, 3.0),
        ];
        assert_eq!(micros_per_delivery(&records[0]), Some(100.0));
        assert_eq!(
            cpu_per_delivery_vs(&records, "peer", 100),
            Some((1000, 100.0, 400.0))
        );
        let text = markdown(&records);
        assert!(
            text.contains("| server CPU per delivery (batch 100) ≤ peer's | 100.0 µs vs 400.0 µs at 1000/s | yes |"),
            "{text}"
        );
        assert!(
            text.contains("| belfry-sqlite | 100 | 100.0 (1000/s) | 80.0 (2000/s) |"),
            "{text}"
        );
        // A peer that sustained no step is compared at the first.
        let records = vec![
            with_cpu(BELFRY, 1000, 3.0, 0.5),
            with_cpu("peer", 1000, 80.0, 2.0),
        ];
        assert_eq!(
            cpu_per_delivery_vs(&records, "peer", 100),
            Some((1000, 100.0, 400.0))
        );
    }

    #[test]
    fn sustained_rate_is_the_best_clean_step() {
        let records = vec![
            delivery(BELFRY, 1000, 3.0, 0),
            delivery(BELFRY, 2000, 4.0, 0),
            delivery(BELFRY, 4000, 60.0, 0),
            delivery("peer", 1000, 8.0, 0),
            delivery("peer", 2000, 9.0, 7),
        ];
        assert_eq!(sustained_rate(&records, BELFRY, 1), Some(2000));
        assert_eq!(sustained_rate(&records, "peer", 1), Some(1000));
        assert_eq!(sustained_rate(&records, BELFRY, 100), None);
        let text = markdown(&records);
        assert!(text.contains("| peer | 1 | 1000 | 2.0× |"), "{text}");
        assert!(
            text.contains(
                "| ≥ 5× peer's sustained rate (batch 1) | 2000/s vs 1000/s: 2.0× | **no** |"
            ),
            "{text}"
        );
    }
}
