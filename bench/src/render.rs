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

pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let at = |e: serde_json::Error| format!("results line {}: {e}", n + 1);
            let mut value: serde_json::Value = serde_json::from_str(line).map_err(at)?;
            let run = value
                .as_object_mut()
                .and_then(|o| o.remove("run"))
                .and_then(|r| r.as_u64())
                .map_or(1, |r| r as u32);
            let record = serde_json::from_value(value).map_err(at)?;
            Ok(Line { run, record })
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

/// Whether a delivery step passed: p99 ≤ 50 ms and nothing lost, refused or misdelivered.
fn passed(record: &Record) -> bool {
    matches!(record, Record::Delivery {
        latency,
        lost: 0,
        publish_errors: 0,
        duplicated: 0,
        misdelivered: 0,
        ..
    } if latency.p99_ms <= SUSTAINED_P99_MS)
}

/// The highest rate `target` delivered, in publishes of `batch`, in a step that passed (a step
/// that failed once and passed when run again counts: the sweep stops at two failures in a
/// row).
pub fn sustained_rate(records: &[Record], target: &str, batch: usize) -> Option<u64> {
    records
        .iter()
        .filter(|r| passed(r))
        .filter_map(|r| match r {
            Record::Delivery {
                target: t,
                batch: b,
                rate,
                ..
            } if t == target && *b == batch => Some(*rate),
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

/// Bytes the server wrote to storage per notification delivered in one delivery measurement.
fn written_per_delivery(record: &Record) -> Option<f64> {
    match record {
        Record::Delivery {
            sent, lost, cpu, ..
        } if sent > lost => Some(cpu.server_written_bytes? as f64 / (sent - lost) as f64),
        _ => None,
    }
}

/// The delivery measurement of `target` at `batch` and `rate`: the one that passed, where the
/// step was run twice.
fn delivery_at<'a>(
    records: &'a [Record],
    target: &str,
    batch: usize,
    rate: u64,
) -> Option<&'a Record> {
    let mut at = records.iter().filter(|r| {
        matches!(r, Record::Delivery { target: t, batch: b, rate: r, .. }
            if t == target && *b == batch && *r == rate)
    });
    let first = at.next()?;
    Some(at.chain([first]).find(|r| passed(r)).unwrap_or(first))
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

/// Why a sustained rate `goal` is out of reach, when Belfry's CPU says so: at the server CPU
/// per delivery Belfry spent at its own sustained rate (median over the runs), one core
/// delivers at most 10^6 ÷ that many notifications per second. Empty when that ceiling is
/// above `goal` (then the limit is elsewhere: latency, the disk).
fn one_core_ceiling(runs: &[Vec<Record>], batch: usize, goal: f64) -> String {
    let micros = per_run(runs, |records| {
        let rate = sustained_rate(records, BELFRY, batch)?;
        micros_per_delivery(delivery_at(records, BELFRY, batch, rate)?)
    });
    if micros.is_empty() {
        return String::new();
    }
    let micros = median(&micros);
    let ceiling = 1e6 / micros;
    if ceiling >= goal {
        return String::new();
    }
    format!(
        "; 5× is {goal:.0}/s, and at Belfry's {micros:.1} µs of server CPU per delivery one core carries at most {ceiling:.0}/s"
    )
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

/// One line of the results file: a record and the run of the suite it belongs to
/// (`bench/run.sh` repeats the headline scenarios; a line without `run` is run 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub run: u32,
    pub record: Record,
}

/// The records of each run, in run order.
fn runs(lines: &[Line]) -> Vec<Vec<Record>> {
    let mut numbers: Vec<u32> = lines.iter().map(|l| l.run).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .into_iter()
        .map(|n| {
            lines
                .iter()
                .filter(|l| l.run == n)
                .map(|l| l.record.clone())
                .collect()
        })
        .collect()
}

/// `f` of each run that measured it.
fn per_run(runs: &[Vec<Record>], f: impl Fn(&[Record]) -> Option<f64>) -> Vec<f64> {
    runs.iter().filter_map(|records| f(records)).collect()
}

/// `f`'s pair (Belfry's figure, a peer's) in each run that measured both, as two lists.
fn per_run_pair(
    runs: &[Vec<Record>],
    f: impl Fn(&[Record]) -> Option<(f64, f64)>,
) -> (Vec<f64>, Vec<f64>) {
    runs.iter().filter_map(|records| f(records)).unzip()
}

/// The median of `values` (not empty): the middle one, or the mean of the two middle ones.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// A figure over runs: the value of a single run, or the median with its range.
fn spread(values: &[f64], show: impl Fn(f64) -> String) -> String {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match values.len() {
        1 => show(values[0]),
        n => format!(
            "{} (median of {n} runs; range {} – {})",
            show(median(values)),
            show(low),
            show(high)
        ),
    }
}

/// Belfry's targets (one instance, embedded store) against the figures of every run: each the
/// median over the runs that measured it, with its range, met when the median is (the p99
/// and the 18,000 streams: in every run).
fn targets_table(runs: &[Vec<Record>]) -> String {
    let mut out = String::from(
        "## Targets\n\nBelfry on its embedded store (`belfry-sqlite`) against the targets set for this machine. Each figure is the median over the runs that measured it, with its range (the sections below show run 1).\n\n| target | measured | met |\n|---|---|---|\n",
    );
    let Some(first) = runs.first() else {
        return out;
    };
    let failures = per_run(runs, |records| {
        records.iter().find_map(|r| match r {
            Record::Connect {
                target,
                streams: 18_000,
                failures,
                ..
            } if target == BELFRY => Some(*failures as f64),
            _ => None,
        })
    });
    if !failures.is_empty() {
        let shown: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
        let _ = writeln!(
            out,
            "| 18,000 concurrent streams in one process, in every run | failed: {} | {} |",
            shown.join(", "),
            met(failures.iter().all(|f| *f == 0.0))
        );
    }
    let memory = per_run(runs, |records| bytes_per_stream(records, BELFRY));
    if !memory.is_empty() {
        let _ = writeln!(
            out,
            "| ≤ 3.3 KiB resident memory per idle stream (the slope over the connect steps) | {} | {} |",
            spread(&memory, |b| format!("{:.2} KiB", b / 1024.0)),
            met(median(&memory) <= 3.3 * 1024.0)
        );
    }
    // Every attempt at the step in a run: a step that failed is run once more, and the sweep
    // counts the second attempt (a step fails only when it fails twice in a row), so the run's
    // figure is its last attempt; an earlier one is shown beside it, and what any attempt lost
    // counts.
    let attempts = |records: &[Record]| -> Vec<(f64, u64)> {
        records
            .iter()
            .filter_map(|r| match r {
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
            })
            .collect()
    };
    let measured: Vec<Vec<(f64, u64)>> = runs
        .iter()
        .map(|records| attempts(records))
        .filter(|a| !a.is_empty())
        .collect();
    if !measured.is_empty() {
        let p99: Vec<f64> = measured.iter().map(|a| a[a.len() - 1].0).collect();
        let lost: u64 = measured.iter().flatten().map(|a| a.1).sum();
        let shown: Vec<String> = measured
            .iter()
            .map(|a| {
                let (last, earlier) = a.split_last().expect("not empty");
                let last = format!("{:.2}", last.0);
                if earlier.is_empty() {
                    last
                } else {
                    let earlier: Vec<String> =
                        earlier.iter().map(|(ms, _)| format!("{ms:.2}")).collect();
                    format!("{last} (run again after {})", earlier.join(", "))
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "| p99 ≤ 5 ms at 10,000 streams and 1,000 notifications/s, nothing lost, in every run | p99 {} ms (runs), {lost} lost | {} |",
            shown.join(", "),
            met(lost == 0 && p99.iter().all(|ms| *ms <= 5.0))
        );
    }
    let rounds: Vec<f64> = first
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
            "| broadcast to 18,000 streams complete in ≤ 150 ms (aim 100) | {} ms (rounds of run 1) | {} |",
            shown.join(", "),
            met(worst <= 150.0)
        );
    }
    let peers: Vec<&str> = targets(first)
        .into_iter()
        .filter(|t| !t.starts_with("belfry"))
        .collect();
    for batch in batches(first) {
        for peer in &peers {
            let ratios = per_run(runs, |records| {
                let ours = sustained_rate(records, BELFRY, batch)? as f64;
                sustained_rate(records, peer, batch).map(|theirs| ours / theirs as f64)
            });
            let rates = |target: &str| {
                per_run(runs, |records| {
                    sustained_rate(records, target, batch).map(|r| r as f64)
                })
            };
            let (ours, theirs) = (rates(BELFRY), rates(peer));
            if ours.is_empty() {
                continue;
            }
            if ratios.is_empty() {
                if let Some(first_step) = first_rate(first, peer, batch) {
                    let _ = writeln!(
                        out,
                        "| ≥ 5× {peer}'s sustained rate (batch {batch}) | {:.0}/s vs none: its first step ({first_step}/s) already failed, so at least {:.1}× | {} |",
                        median(&ours),
                        median(&ours) / first_step as f64,
                        if median(&ours) >= 5.0 * first_step as f64 { "yes" } else { "unknown" }
                    );
                }
                continue;
            }
            let reached = median(&ratios) >= 5.0;
            let _ = writeln!(
                out,
                "| ≥ 5× {peer}'s sustained rate (batch {batch}) | {}: {:.0}/s vs {:.0}/s (medians){} | {} |",
                spread(&ratios, |r| format!("{r:.1}×")),
                median(&ours),
                median(&theirs),
                if reached {
                    String::new()
                } else {
                    one_core_ceiling(runs, batch, 5.0 * median(&theirs))
                },
                met(reached)
            );
        }
    }
    for peer in peers.iter().filter(|p| !p.ends_with("-sqlite")) {
        let (ours, theirs) = per_run_pair(runs, |records| {
            cpu_per_delivery_vs(records, peer, 100).map(|(_, ours, theirs)| (ours, theirs))
        });
        if ours.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "| server CPU per delivery (batch 100) ≤ {peer}'s | {} vs {} (each at the highest rate both sustained in that run) | {} |",
            spread(&ours, |us| format!("{us:.1} µs")),
            spread(&theirs, |us| format!("{us:.1} µs")),
            met(median(&ours) <= median(&theirs))
        );
    }
    for (page, what, goal) in [
        ("ssr", "the SSR page with its hydrate bundle", 200.0),
        ("embed", "the embed (examples/embed.html)", 100.0),
    ] {
        let assets = |records: &[Record], warm: bool| {
            records.iter().find_map(|r| match r {
                Record::Assets {
                    page: p,
                    cold_bytes,
                    warm_bundle_bytes,
                    ..
                } if p == page => Some(if warm {
                    *warm_bundle_bytes
                } else {
                    *cold_bytes
                } as f64),
                _ => None,
            })
        };
        let cold = per_run(runs, |records| assets(records, false));
        if cold.is_empty() {
            continue;
        }
        let warm = per_run(runs, |records| assets(records, true));
        let _ = writeln!(
            out,
            "| {what}: ≤ {goal:.0} KiB transferred cold | {} | {} |",
            spread(&cold, |b| format!("{:.1} KiB", b / 1024.0)),
            met(median(&cold) / 1024.0 <= goal)
        );
        let _ = writeln!(
            out,
            "| {what}: no bundle bytes on a warm reload | {} | {} |",
            spread(&warm, |b| format!("{b:.0} bytes")),
            met(warm.iter().all(|b| *b == 0.0))
        );
    }
    for peer in &peers {
        let (ours, theirs) = per_run_pair(runs, |records| {
            Some((
                bytes_per_stream(records, BELFRY)?,
                bytes_per_stream(records, peer)?,
            ))
        });
        if ours.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "| no more memory per stream than {peer} | {} vs {} | {} |",
            spread(&ours, |b| format!("{:.1} KiB", b / 1024.0)),
            spread(&theirs, |b| format!("{:.1} KiB", b / 1024.0)),
            met(median(&ours) <= median(&theirs))
        );
    }
    out.push('\n');
    out
}

/// Under every table with CPU figures.
const CPU_NOTE: &str = "CPU: server / generator, each as a share of one core (the machine has 2); \
                        with MongoDB, the database's share too.";

pub fn markdown(lines: &[Line]) -> String {
    let runs = runs(lines);
    let mut out = targets_table(&runs);
    let Some(records) = runs.first() else {
        return out;
    };
    let records = records.as_slice();
    let targets = targets(records);
    connect_section(records, &mut out);
    memory_section(records, &targets, &mut out);
    delivery_section(records, &targets, &mut out);
    cpu_section(records, &targets, &mut out);
    broadcast_section(records, &mut out);
    assets_section(records, &mut out);
    churn_section(records, &mut out);
    discard_section(records, &mut out);
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
    out.push_str("\n## Targeted delivery\n\nNotifications to random users at a fixed rate; latency from each one's *scheduled* publish instant to its receipt. Batch 1 publishes each notification in its own request (as a host application publishing one at a time does); batch 100 sends bulk publishes to 100 distinct random users, which measures delivery rather than request handling. Each row of a server after its first of a batch is a sweep step at √2 times the rate before, or the same step run again after it failed (p99 over 50 ms or anything missing); a sweep stops when a step fails twice in a row. Nchan publishes a batch as one request per channel (see above).\n\n");
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
    out.push_str("Sustained rate: the highest step with p99 ≤ 50 ms and nothing missing or refused (steps grow by √2, so the true limit lies below 1.41 times it). A step that fails is run once more (the table above shows both runs); the sweep stops when a step fails twice in a row.\n\n| server | batch | sustained rate (/s) | Belfry's rate ÷ this |\n|---|---:|---:|---:|\n");
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
    out.push_str("\n### Server CPU per delivered notification\n\nThe server process's user + system CPU time (`/proc/<pid>/stat`, the server only, not the generator or the database) over a step, divided by the notifications delivered in it. At the first step every server carries the same load; at its highest sustained step each is as busy as it gets without falling behind. Idle costs (heartbeats of 10,000 streams) weigh more at low rates. Written to storage: the server's `write_bytes` (`/proc/<pid>/io`, a file page counted when first dirtied) over that step, per notification: what a stored notification costs the disk.\n\n| server | batch | µs at the first step (rate) | µs at the highest sustained step (rate) | KiB written to storage per delivery, there |\n|---|---:|---:|---:|---:|\n");
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
                .and_then(|rate| delivery_at(records, target, batch, rate));
            let written = best
                .and_then(written_per_delivery)
                .map_or("–".to_owned(), |b| format!("{:.1}", b / 1024.0));
            let best = best.map_or("–".to_owned(), at);
            let _ = writeln!(
                out,
                "| {target} | {batch} | {} | {best} | {written} |",
                at(first)
            );
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

/// What an instance pays for change-stream events that are for none of its streams.
fn discard_section(records: &[Record], out: &mut String) {
    let rows: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            Record::Discard {
                target,
                events,
                secs,
                cpu,
                database_bytes,
            } => {
                let micros = cpu.server_secs? * 1e6 / *events as f64;
                let bytes = database_bytes.map_or("–".to_owned(), |b| format!("{}", b / events));
                Some(format!(
                    "| {target} | {events} | {secs:.1} | {micros:.1} | {:.0} | {bytes} |",
                    1e6 / micros
                ))
            }
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("\n## Events for other instances\n\nTwo instances on one MongoDB (SecantusDB): notifications published through the first to users with no stream anywhere, then one to the only stream, held by the second. When it arrives, the second has read every event before it from its change stream. Its CPU time (user + system) and the bytes it received from the database (`bytes_received` of its connections to it, `ss -tinp`) over that window, per event: what an instance pays for the share of a shared change stream that is not for it (docs/SCALING.md). The window includes the database's own pace, so events per second here are SecantusDB's, not the instance's limit; the instance's is the last but one column.\n\n| instance | events | secs | CPU µs per event | events per second one core can discard | bytes from the database per event |\n|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&row);
        out.push('\n');
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

    /// `records` as the lines of one run.
    fn one_run(records: &[Record]) -> Vec<Line> {
        records
            .iter()
            .map(|record| Line {
                run: 1,
                record: record.clone(),
            })
            .collect()
    }

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
        assert_eq!(parsed[0].record, connect(BELFRY, 1000, 20_000));
        assert_eq!(parsed[0].run, 1, "a line without a run is run 1");
        let line = serde_json::to_string(&connect(BELFRY, 1000, 1)).unwrap();
        let parsed = parse(&line.replacen('{', "{\"run\":3,", 1)).unwrap();
        assert_eq!(parsed[0].run, 3);
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
        let text = markdown(&one_run(&records));
        assert!(
            text.contains("| server CPU per delivery (batch 100) ≤ peer's | 100.0 µs vs 400.0 µs (each at the highest rate both sustained in that run) | yes |"),
            "{text}"
        );
        assert!(
            text.contains("| belfry-sqlite | 100 | 100.0 (1000/s) | 80.0 (2000/s) | – |"),
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
        let text = markdown(&one_run(&records));
        assert!(text.contains("| peer | 1 | 1000 | 2.0× |"), "{text}");
        assert!(
            text.contains(
                "| ≥ 5× peer's sustained rate (batch 1) | 2.0×: 2000/s vs 1000/s (medians) | **no** |"
            ),
            "{text}"
        );
    }

    /// A missed ≥ 5× says so when Belfry's own CPU per delivery puts 5× past one core.
    #[test]
    fn a_missed_ratio_names_the_one_core_ceiling_when_cpu_is_the_limit() {
        let busy = |secs: f64| {
            let mut record = delivery(BELFRY, 2000, 4.0, 0);
            if let Record::Delivery { cpu, .. } = &mut record {
                cpu.server_secs = Some(secs);
            }
            record
        };
        // 10,000 delivered with 5 s of CPU: 500 µs each, at most 2,000/s on one core.
        let records = vec![busy(5.0), delivery("peer", 1000, 8.0, 0)];
        let text = markdown(&one_run(&records));
        assert!(
            text.contains("2.0×: 2000/s vs 1000/s (medians); 5× is 5000/s, and at Belfry's 500.0 µs of server CPU per delivery one core carries at most 2000/s | **no** |"),
            "{text}"
        );
        // With 0.5 s, one core could carry 20,000/s: the limit is not the CPU, so no ceiling.
        let records = vec![busy(0.5), delivery("peer", 1000, 8.0, 0)];
        let text = markdown(&one_run(&records));
        assert!(
            text.contains("2.0×: 2000/s vs 1000/s (medians) | **no** |"),
            "{text}"
        );
    }

    #[test]
    fn a_step_that_passes_when_run_again_is_sustained() {
        let records = vec![
            delivery(BELFRY, 1000, 3.0, 0),
            delivery(BELFRY, 2000, 70.0, 0),
            delivery(BELFRY, 2000, 4.0, 0),
            delivery(BELFRY, 4000, 60.0, 0),
            delivery(BELFRY, 4000, 61.0, 0),
        ];
        assert_eq!(sustained_rate(&records, BELFRY, 1), Some(2000));
        let Some(Record::Delivery { latency, .. }) = delivery_at(&records, BELFRY, 1, 2000) else {
            panic!("no step at 2000/s");
        };
        assert_eq!(latency.p99_ms, 4.0, "the passing run of the step");
    }

    #[test]
    fn figures_over_runs_are_medians_with_their_range() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
        let mut lines = Vec::new();
        for (run, p99, peer_rate) in [(1, 4.0, 1000), (2, 6.0, 500), (3, 4.5, 400)] {
            for record in [
                delivery(BELFRY, 1000, p99, 0),
                delivery(BELFRY, 2000, 5.0, 0),
                delivery("peer", peer_rate, 5.0, 0),
            ] {
                lines.push(Line { run, record });
            }
        }
        let text = markdown(&lines);
        assert!(
            text.contains("| 4.0× (median of 3 runs; range 2.0× – 5.0×): 2000/s vs 500/s (medians) | **no** |"),
            "{text}"
        );
        assert!(
            text.contains("p99 4.00, 6.00, 4.50 ms (runs), 0 lost | **no** |"),
            "one run past 5 ms fails the target: {text}"
        );
    }

    #[test]
    fn a_target_step_run_again_counts_its_second_attempt_and_shows_the_first() {
        let lines: Vec<Line> = [(1, 4.0), (2, 73.9), (2, 3.2), (3, 2.6)]
            .into_iter()
            .map(|(run, p99)| Line {
                run,
                record: delivery(BELFRY, 1000, p99, 0),
            })
            .collect();
        let text = markdown(&lines);
        assert!(
            text.contains("p99 4.00, 3.20 (run again after 73.90), 2.60 ms (runs), 0 lost | yes |"),
            "{text}"
        );
        let mut twice_failed = lines;
        twice_failed[2].record = delivery(BELFRY, 1000, 60.0, 0);
        assert!(
            markdown(&twice_failed)
                .contains("60.00 (run again after 73.90), 2.60 ms (runs), 0 lost | **no** |"),
            "a step that failed twice fails the target"
        );
    }
}
