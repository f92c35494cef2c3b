//! `delivery`: notifications to random users at a fixed rate (the targeted figure), then a sweep
//! of doubling rates until p99 passes 50 ms or anything is lost; `broadcast`: one notification
//! to every user of the fleet at once.
//!
//! Latency runs from each notification's *scheduled* publish instant to its receipt, so a
//! publisher held up by a slow server cannot hide the delay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
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
/// The contract's largest bulk publish.
const MAX_RECIPIENTS: usize = 1000;

pub struct Sweep {
    pub rate: u64,
    pub secs: f64,
    pub step_secs: f64,
    pub max_rate: u64,
}

pub async fn run(bench: &Bench, streams: usize, sweep: &Sweep) -> Result<(), String> {
    let mut opened = Fleet::open(&bench.target, streams).await;
    if opened.failures > 0 {
        return Err(format!(
            "{} of {streams} streams failed to open",
            opened.failures
        ));
    }
    let fleet = &mut opened.fleet;
    let mut first_seq = 0;
    let mut rate = sweep.rate;
    let mut secs = sweep.secs;
    loop {
        let record = at_rate(bench, fleet, rate, secs, first_seq).await?;
        record.emit()?;
        let Record::Delivery {
            sent,
            latency,
            lost,
            publish_errors,
            ..
        } = record
        else {
            unreachable!("at_rate reports deliveries");
        };
        eprintln!(
            "{}: {streams} streams, {rate}/s for {secs} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; lost {lost}, publish errors {publish_errors}",
            bench.label, latency.p50_ms, latency.p99_ms, latency.max_ms
        );
        first_seq += sent;
        let failed = latency.p99_ms > SWEEP_P99_LIMIT_MS || lost > 0 || publish_errors > 0;
        if failed || rate * 2 > sweep.max_rate {
            break;
        }
        rate *= 2;
        secs = sweep.step_secs;
    }
    opened.fleet.close().await;
    Ok(())
}

async fn at_rate(
    bench: &Bench,
    fleet: &mut Fleet,
    rate: u64,
    secs: f64,
    first_seq: u64,
) -> Result<Record, String> {
    let count = (rate as f64 * secs).round() as usize;
    let users: Arc<Vec<usize>> = {
        let mut rng = rand::rng();
        Arc::new(
            (0..count)
                .map(|_| rng.random_range(0..fleet.size))
                .collect(),
        )
    };
    let scheduled = move |i: usize| Duration::from_secs_f64(i as f64 / rate as f64);
    let meter = bench.cpu_meter()?;
    let start = Instant::now() + Duration::from_millis(50);

    let mut publisher = {
        let target = Arc::clone(&bench.target);
        let users = Arc::clone(&users);
        tokio::spawn(async move {
            let mut in_flight = JoinSet::new();
            for (i, &user) in users.iter().enumerate() {
                tokio::time::sleep_until((start + scheduled(i)).into()).await;
                let target = Arc::clone(&target);
                in_flight.spawn(async move {
                    let sent = Instant::now();
                    let accepted = target
                        .publish(&[Target::user(user)], first_seq + i as u64)
                        .await;
                    (
                        i,
                        Publish {
                            sent,
                            acknowledged: accepted.then(Instant::now),
                        },
                    )
                });
            }
            let mut publishes = vec![None; users.len()];
            for (i, publish) in in_flight.join_all().await {
                publishes[i] = Some(publish);
            }
            publishes
        })
    };

    let mut received = vec![false; count];
    // Per stream, the notifications in the order they arrived.
    let mut arrivals: Vec<Vec<usize>> = vec![Vec::new(); fleet.size];
    let mut latency = stats::histogram();
    let (mut delivered, mut duplicated, mut misdelivered) = (0u64, 0u64, 0u64);
    let mut publishes: Option<Vec<Option<Publish>>> = None;
    let deadline = start + scheduled(count) + DRAIN;
    loop {
        if let Some(publishes) = &publishes {
            if delivered >= accepted(publishes) {
                break;
            }
        }
        let event = tokio::select! {
            done = &mut publisher, if publishes.is_none() => {
                publishes = Some(done.map_err(|e| e.to_string())?);
                continue;
            }
            event = tokio::time::timeout_at(deadline.into(), fleet.events.recv()) => event,
        };
        let Ok(Some(event)) = event else { break };
        let Some(i) = event.seq.checked_sub(first_seq).map(|i| i as usize) else {
            continue; // a straggler from an earlier step
        };
        if i >= count {
            continue;
        }
        if users[i] != event.stream {
            misdelivered += 1;
            continue;
        }
        if std::mem::replace(&mut received[i], true) {
            duplicated += 1;
            continue;
        }
        delivered += 1;
        arrivals[event.stream].push(i);
        let due = start + scheduled(i);
        stats::record(
            &mut latency,
            event.at.saturating_duration_since(due).as_micros() as u64,
        );
    }
    let publishes = match publishes {
        Some(publishes) => publishes,
        None => publisher.await.map_err(|e| e.to_string())?,
    };
    let accepted = accepted(&publishes);
    let cpu = meter.stop()?;
    Ok(Record::Delivery {
        target: bench.label.clone(),
        streams: fleet.size,
        rate,
        secs,
        sent: count as u64,
        publish_errors: count as u64 - accepted,
        latency: Latency::of(&latency),
        lost: accepted.saturating_sub(delivered),
        duplicated,
        out_of_order: out_of_order(&arrivals, &publishes),
        misdelivered,
        cpu,
    })
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
    let mut opened = Fleet::open(&bench.target, streams).await;
    if opened.failures > 0 {
        return Err(format!(
            "{} of {streams} streams failed to open",
            opened.failures
        ));
    }
    let fleet = &mut opened.fleet;
    for round in 0..rounds {
        let seq = u64::MAX - round;
        let users: Vec<String> = (0..streams).map(Target::user).collect();
        let meter = bench.cpu_meter()?;
        let start = Instant::now();
        let mut publishes = JoinSet::new();
        for chunk in users.chunks(MAX_RECIPIENTS) {
            let target = Arc::clone(&bench.target);
            let chunk = chunk.to_vec();
            publishes.spawn(async move { target.publish(&chunk, seq).await });
        }
        let requests = publishes.len();
        let mut received = vec![false; streams];
        let (mut delivered, mut duplicated) = (0u64, 0u64);
        let mut latency = stats::histogram();
        let mut last = Duration::ZERO;
        let deadline = start + Duration::from_secs(30);
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
        let failed = publishes.join_all().await.iter().filter(|ok| !**ok).count();
        let cpu = meter.stop()?;
        let record = Record::Broadcast {
            target: bench.label.clone(),
            streams,
            requests,
            complete_ms: last.as_secs_f64() * 1000.0,
            latency: Latency::of(&latency),
            lost: streams as u64 - delivered,
            duplicated,
            cpu,
        };
        eprintln!(
            "{}: broadcast to {streams} streams in {requests} publishes ({failed} refused): last one after {:.1} ms, {} lost",
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
}
