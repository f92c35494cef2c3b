//! `delivery`: notifications to random users at a fixed rate (the targeted figure), then a sweep
//! of rates growing by √2 until a step fails twice in a row (p99 past 50 ms or anything lost); `broadcast`: one notification
//! to every user of the fleet at once.
//!
//! Latency runs from each notification's *scheduled* publish instant to its receipt, so a
//! publisher held up by a slow server cannot hide the delay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::Target;
use crate::fleet::Fleet;
use crate::record::Record;
use crate::scenario::Bench;
use crate::stats::{self, Latency};

/// How long after a step's last scheduled publish its notifications may still arrive; what
/// has not arrived by then counts as lost.
const DRAIN: Duration = Duration::from_secs(5);
/// A sweep step fails past this p99.
const SWEEP_P99_LIMIT_MS: f64 = 50.0;
/// How long a broadcast may take before what has not arrived counts as lost (MongoDB on
/// SecantusDB needs tens of seconds to store 18,000 documents).
const BROADCAST_PATIENCE: Duration = Duration::from_secs(90);
/// Publish requests in flight at once, at most: each is a connection of its own, and the
/// generator holds the fleet's streams too within its 20,000 open files.
const MAX_PUBLISHES_IN_FLIGHT: usize = 1024;
/// The contract's largest bulk publish.
const MAX_RECIPIENTS: usize = 1000;

pub struct Sweep {
    pub rate: u64,
    pub secs: f64,
    pub step_secs: f64,
    pub max_rate: u64,
    /// Notifications per publish request, one sweep each: 1 measures the publish path as a
    /// host application that publishes one at a time uses it; larger batches (bulk publishes
    /// to distinct random users) measure delivery itself.
    pub batches: Vec<usize>,
}

pub async fn run(bench: &Bench, streams: usize, sweep: &Sweep) -> Result<(), String> {
    let mut opened = Fleet::open_all(&bench.target, streams).await?;
    let fleet = &mut opened.fleet;
    let mut first_seq = 0;
    for &batch in &sweep.batches {
        let batch = batch.clamp(1, MAX_RECIPIENTS.min(streams));
        let mut secs = sweep.secs;
        let mut n = 0;
        let mut failed_before = false;
        loop {
            let rate = step_rate(sweep.rate, n);
            let step = Step { rate, secs, batch };
            let (record, publishes) = at_rate(bench, fleet, &step, first_seq).await?;
            record.emit()?;
            first_seq += publishes;
            let Record::Delivery {
                latency,
                lost,
                publish_errors,
                ..
            } = record
            else {
                unreachable!("at_rate reports deliveries");
            };
            eprintln!(
                "{}: {streams} streams, {rate}/s in publishes of {batch} for {secs} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; lost {lost}, publish errors {publish_errors}",
                bench.label, latency.p50_ms, latency.p99_ms, latency.max_ms
            );
            let failed = latency.p99_ms > SWEEP_P99_LIMIT_MS || lost > 0 || publish_errors > 0;
            // A step that fails is run once more: one stall (a checkpoint, a page fault
            // storm) does not end the sweep, a limit reached does.
            if failed && failed_before {
                break;
            }
            failed_before = failed;
            if failed {
                continue;
            }
            n += 1;
            if step_rate(sweep.rate, n) > sweep.max_rate {
                break;
            }
            secs = sweep.step_secs;
        }
    }
    opened.fleet.close().await;
    Ok(())
}

/// The rate of sweep step `n`: each step √2 times the one before, so every other step is a
/// doubling of the first, and a sustained rate is known to within a factor of 1.41.
fn step_rate(first: u64, n: u32) -> u64 {
    (first as f64 * 2f64.powf(f64::from(n) / 2.0)).round() as u64
}

struct Step {
    /// Notifications per second.
    rate: u64,
    secs: f64,
    /// Notifications per publish request, to distinct users.
    batch: usize,
}

/// Runs one step; returns its record and how many publish sequence numbers it used.
async fn at_rate(
    bench: &Bench,
    fleet: &mut Fleet,
    step: &Step,
    first_seq: u64,
) -> Result<(Record, u64), String> {
    let Step { rate, secs, batch } = *step;
    let publishes = ((rate as f64 * secs) / batch as f64).round().max(1.0) as usize;
    let count = publishes * batch;
    // Notification `i` goes to stream `users[i]` in publish `i / batch`.
    let users: Arc<Vec<usize>> = {
        let mut rng = rand::rng();
        let mut users = Vec::with_capacity(count);
        for _ in 0..publishes {
            users.extend(rand::seq::index::sample(&mut rng, fleet.size, batch).iter());
        }
        Arc::new(users)
    };
    let scheduled = move |k: usize| Duration::from_secs_f64((k * batch) as f64 / rate as f64);
    let meter = bench.cpu_meter()?;
    let start = Instant::now() + Duration::from_millis(50);

    let mut publisher = {
        let target = Arc::clone(&bench.target);
        let users = Arc::clone(&users);
        tokio::spawn(async move {
            let mut in_flight = JoinSet::new();
            let slots = Arc::new(Semaphore::new(MAX_PUBLISHES_IN_FLIGHT));
            for (k, recipients) in users.chunks(batch).enumerate() {
                tokio::time::sleep_until((start + scheduled(k)).into()).await;
                // A server that falls behind makes publishes wait here, late against their
                // schedule (which the latency counts), instead of opening ever more connections.
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let target = Arc::clone(&target);
                let recipients: Vec<String> = recipients.iter().map(|&u| Target::user(u)).collect();
                in_flight.spawn(async move {
                    let sent = Instant::now();
                    let accepted = target.publish(&recipients, first_seq + k as u64).await;
                    drop(slot);
                    (
                        k,
                        Publish {
                            sent,
                            acknowledged: accepted.then(Instant::now),
                        },
                    )
                });
            }
            let mut outcomes = vec![None; publishes];
            for (k, publish) in in_flight.join_all().await {
                outcomes[k] = Some(publish);
            }
            outcomes
        })
    };

    let mut received = vec![false; count];
    // Per stream, the publishes whose notifications arrived, in arrival order.
    let mut arrivals: Vec<Vec<usize>> = vec![Vec::new(); fleet.size];
    let mut latency = stats::histogram();
    let (mut delivered, mut duplicated, mut misdelivered) = (0u64, 0u64, 0u64);
    let mut outcomes: Option<Vec<Option<Publish>>> = None;
    let deadline = start + scheduled(publishes) + DRAIN;
    loop {
        if let Some(outcomes) = &outcomes {
            if delivered >= accepted(outcomes) * batch as u64 {
                break;
            }
        }
        let event = tokio::select! {
            done = &mut publisher, if outcomes.is_none() => {
                outcomes = Some(done.map_err(|e| e.to_string())?);
                continue;
            }
            event = tokio::time::timeout_at(deadline.into(), fleet.events.recv()) => event,
        };
        let Ok(Some(event)) = event else { break };
        let Some(k) = event.seq.checked_sub(first_seq).map(|k| k as usize) else {
            continue; // a straggler from an earlier step
        };
        if k >= publishes {
            continue;
        }
        let Some(i) = (k * batch..(k + 1) * batch).find(|&i| users[i] == event.stream) else {
            misdelivered += 1;
            continue;
        };
        if std::mem::replace(&mut received[i], true) {
            duplicated += 1;
            continue;
        }
        delivered += 1;
        arrivals[event.stream].push(k);
        let due = start + scheduled(k);
        stats::record(
            &mut latency,
            event.at.saturating_duration_since(due).as_micros() as u64,
        );
    }
    let outcomes = match outcomes {
        Some(outcomes) => outcomes,
        None => publisher.await.map_err(|e| e.to_string())?,
    };
    let accepted = accepted(&outcomes) * batch as u64;
    let cpu = meter.stop()?;
    let record = Record::Delivery {
        target: bench.label.clone(),
        streams: fleet.size,
        rate,
        batch,
        secs,
        sent: count as u64,
        publish_errors: count as u64 - accepted,
        latency: Latency::of(&latency),
        lost: accepted.saturating_sub(delivered),
        duplicated,
        out_of_order: out_of_order(&arrivals, &outcomes),
        misdelivered,
        cpu,
    };
    Ok((record, publishes as u64))
}

/// One publish of a step: when its request went out, and when the server accepted it.
#[derive(Clone, Copy, Debug)]
struct Publish {
    sent: Instant,
    acknowledged: Option<Instant>,
}

fn accepted(publishes: &[Option<Publish>]) -> u64 {
    publishes
        .iter()
        .filter(|p| p.is_some_and(|p| p.acknowledged.is_some()))
        .count() as u64
}

/// Publishes in flight at the same time may be committed in either order, so an inversion is
/// counted only where the server had accepted the later arrival before the earlier one was even
/// sent: then creation order, which the contract promises, was not kept.
fn out_of_order(arrivals: &[Vec<usize>], publishes: &[Option<Publish>]) -> u64 {
    let mut inversions = 0;
    for stream in arrivals {
        for pair in stream.windows(2) {
            let (Some(first), Some(second)) = (publishes[pair[0]], publishes[pair[1]]) else {
                continue;
            };
            if second.acknowledged.is_some_and(|acked| acked < first.sent) {
                inversions += 1;
            }
        }
    }
    inversions
}

/// One notification to every user of an `n`-stream fleet, `rounds` times.
pub async fn broadcast(bench: &Bench, streams: usize, rounds: u64) -> Result<(), String> {
    let mut opened = Fleet::open_all(&bench.target, streams).await?;
    let fleet = &mut opened.fleet;
    for round in 0..rounds {
        let seq = u64::MAX - round;
        let users: Vec<String> = (0..streams).map(Target::user).collect();
        let feed_before = bench.target.feed_requests().await;
        let meter = bench.cpu_meter()?;
        let start = Instant::now();
        let mut publishes = JoinSet::new();
        for chunk in users.chunks(MAX_RECIPIENTS) {
            let target = Arc::clone(&bench.target);
            let chunk = chunk.to_vec();
            publishes.spawn(async move { target.publish(&chunk, seq).await.then(Instant::now) });
        }
        let requests = publishes.len();
        let mut received = vec![false; streams];
        let (mut delivered, mut duplicated) = (0u64, 0u64);
        let mut latency = stats::histogram();
        let mut last = Duration::ZERO;
        let deadline = start + BROADCAST_PATIENCE;
        while delivered < streams as u64 {
            let Ok(Some(event)) =
                tokio::time::timeout_at(deadline.into(), fleet.events.recv()).await
            else {
                break;
            };
            if event.seq != seq {
                continue;
            }
            if std::mem::replace(&mut received[event.stream], true) {
                duplicated += 1;
                continue;
            }
            delivered += 1;
            let took = event.at.saturating_duration_since(start);
            last = last.max(took);
            stats::record(&mut latency, took.as_micros() as u64);
        }
        let acknowledged = publishes.join_all().await;
        let failed = acknowledged.iter().filter(|at| at.is_none()).count();
        let acknowledged_ms = acknowledged
            .iter()
            .flatten()
            .map(|at| at.saturating_duration_since(start).as_secs_f64() * 1000.0)
            .fold(0.0, f64::max);
        let cpu = meter.stop()?;
        let instances = bench.target.stream_servers.len();
        let feed_requests = feed_before
            .zip(bench.target.feed_requests().await)
            .map(|(before, after)| (after - before) / streams as f64 / instances as f64);
        let record = Record::Broadcast {
            target: bench.label.clone(),
            streams,
            requests,
            acknowledged_ms,
            complete_ms: last.as_secs_f64() * 1000.0,
            latency: Latency::of(&latency),
            lost: streams as u64 - delivered,
            duplicated,
            cpu,
            instances,
            feed_requests,
        };
        eprintln!(
            "{}: broadcast to {streams} streams on {instances} instance(s) in {requests} publishes ({failed} refused, the last acknowledged after {acknowledged_ms:.1} ms): last one received after {:.1} ms, {} lost, feed requests per notification per instance: {feed_requests:?}",
            bench.label,
            last.as_secs_f64() * 1000.0,
            streams as u64 - delivered
        );
        record.emit()?;
    }
    opened.fleet.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inversions_of_publishes_that_did_not_overlap_count() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let publishes = vec![
            // 0 and 1 overlap in flight: either order is fine.
            Some(Publish {
                sent: at(0),
                acknowledged: Some(at(10)),
            }),
            Some(Publish {
                sent: at(5),
                acknowledged: Some(at(12)),
            }),
            // 2 was accepted before 3 was sent: 3 arriving first is an inversion.
            Some(Publish {
                sent: at(20),
                acknowledged: Some(at(22)),
            }),
            Some(Publish {
                sent: at(30),
                acknowledged: Some(at(32)),
            }),
        ];
        assert_eq!(out_of_order(&[vec![1, 0]], &publishes), 0);
        assert_eq!(out_of_order(&[vec![2, 3]], &publishes), 0);
        assert_eq!(out_of_order(&[vec![3, 2]], &publishes), 1);
        assert_eq!(accepted(&publishes), 4);
    }

    #[test]
    fn sweep_steps_grow_by_the_square_root_of_two() {
        let rates: Vec<u64> = (0..5).map(|n| step_rate(1000, n)).collect();
        assert_eq!(rates, [1000, 1414, 2000, 2828, 4000]);
    }
}
