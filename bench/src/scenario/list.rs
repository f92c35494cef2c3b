//! `list`: `GET /notifications` (a page of 20) from a fixed number of concurrent clients, as
//! fast as the server answers, over users who each have a history to page through.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinSet;

use crate::record::Record;
use crate::scenario::Bench;
use crate::stats::{self, Latency};

pub struct Load {
    pub users: usize,
    pub per_user: u64,
    pub concurrency: usize,
    pub secs: f64,
}

pub async fn run(bench: &Bench, load: &Load) -> Result<(), String> {
    let users: Vec<String> = (0..load.users).map(|i| format!("bench-list-{i}")).collect();
    for round in 0..load.per_user {
        if !bench.target.publish(&users, round).await {
            return Err("seeding the users' notifications failed".into());
        }
    }
    let tokens = Arc::new(
        users
            .iter()
            .map(|user| bench.target.token(user))
            .collect::<Result<Vec<_>, _>>()?,
    );

    let meter = bench.cpu_meter()?;
    let start = Instant::now();
    let stop_at = start + Duration::from_secs_f64(load.secs);
    let mut clients = JoinSet::new();
    for client in 0..load.concurrency {
        let target = Arc::clone(&bench.target);
        let tokens = Arc::clone(&tokens);
        clients.spawn(async move {
            let mut latency = stats::histogram();
            let (mut requests, mut errors) = (0u64, 0u64);
            while Instant::now() < stop_at {
                let token = &tokens[rand::rng().random_range(0..tokens.len())];
                let began = Instant::now();
                if target.list(client, token).await {
                    stats::record(&mut latency, began.elapsed().as_micros() as u64);
                    requests += 1;
                } else {
                    errors += 1;
                }
            }
            (latency, requests, errors)
        });
    }
    let mut latency = stats::histogram();
    let (mut requests, mut errors) = (0, 0);
    for (h, ok, failed) in clients.join_all().await {
        latency.add(&h).map_err(|e| e.to_string())?;
        requests += ok;
        errors += failed;
    }
    let secs = start.elapsed().as_secs_f64();
    let record = Record::List {
        target: bench.label.clone(),
        concurrency: load.concurrency,
        secs,
        requests,
        errors,
        latency: Latency::of(&latency),
        cpu: meter.stop()?,
    };
    eprintln!(
        "{}: list {:.0} requests/s from {} clients, p99 {:.2} ms, {errors} errors",
        bench.label,
        requests as f64 / secs,
        load.concurrency,
        Latency::of(&latency).p99_ms
    );
    record.emit()
}
