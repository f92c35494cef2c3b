//! Belfry's load generator. It speaks only the public contract: it mints user tokens with the
//! shared secret, opens streams, publishes through the API with the service key, and measures.
//!
//! - `latency`: one stream; notifications published on a fixed schedule; the time from each
//!   *scheduled* publish instant to its receipt (so a stalled publisher cannot hide latency).
//! - `idle`: N idle streams of N users; the server's resident memory before and after.

mod report;
mod token;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use eventsource_stream::Eventsource;
use futures::StreamExt;

#[derive(Parser)]
#[command(about = "Load generator for Belfry's SSE contract")]
struct Cli {
    /// Base URL of the server, e.g. http://127.0.0.1:3000
    #[arg(long)]
    server: String,
    /// The server's HS256 secret, to mint user tokens.
    #[arg(long, env = "BELFRY_JWT_SECRET")]
    jwt_secret: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Publish-to-receipt latency on one stream.
    Latency {
        #[arg(long, env = "BELFRY_SERVICE_KEY")]
        service_key: String,
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// Notifications per second.
        #[arg(long, default_value_t = 200)]
        rate: u64,
    },
    /// Resident memory of the server per idle stream.
    Idle {
        /// The server's process id (its /proc/PID/status is read).
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 1000)]
        streams: usize,
    },
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.scenario {
        Scenario::Latency {
            ref service_key,
            count,
            rate,
        } => latency(&cli, service_key, count, rate).await,
        Scenario::Idle { pid, streams } => idle(&cli, pid, streams).await,
    }
}

async fn open_stream(
    cli: &Cli,
    user: &str,
) -> Result<impl futures::Stream<Item = eventsource_stream::Event>, String> {
    let token = token::mint(&cli.jwt_secret, user)?;
    let response = reqwest::Client::new()
        .get(format!("{}/notifications/stream?token={token}", cli.server))
        .send()
        .await
        .map_err(|e| format!("stream request: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("stream refused: {}", response.status()));
    }
    Ok(response
        .bytes_stream()
        .eventsource()
        .filter_map(|e| async { e.ok() }))
}

async fn latency(cli: &Cli, service_key: &str, count: u64, rate: u64) -> Result<(), String> {
    let user = "bench-latency";
    let mut events = Box::pin(open_stream(cli, user).await?);
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);

    let publisher = {
        let url = format!("{}/api/notifications", cli.server);
        let key = service_key.to_owned();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..count {
                let scheduled = interval * i as u32;
                tokio::time::sleep_until((start + scheduled).into()).await;
                // The message carries its scheduled instant, in µs since the start.
                let body = serde_json::json!({ "user_id": user, "message": format!("{}", scheduled.as_micros()) });
                let sent = client
                    .post(&url)
                    .bearer_auth(&key)
                    .body(body.to_string())
                    .send()
                    .await;
                if !matches!(&sent, Ok(r) if r.status().as_u16() == 201) {
                    eprintln!("publish {i} failed: {sent:?}");
                }
            }
        })
    };

    let mut histogram = report::histogram();
    let mut seen = HashSet::new();
    let (mut duplicates, mut out_of_order, mut last) = (0u64, 0u64, 0u128);
    let deadline = start + interval * count as u32 + Duration::from_secs(10);
    while (seen.len() as u64) < count {
        let Ok(Some(event)) = tokio::time::timeout_at(deadline.into(), events.next()).await else {
            break;
        };
        let received = start.elapsed().as_micros();
        let data: serde_json::Value =
            serde_json::from_str(&event.data).map_err(|e| e.to_string())?;
        let scheduled: u128 = data["message"]
            .as_str()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if !seen.insert(event.id) {
            duplicates += 1;
            continue;
        }
        if scheduled < last {
            out_of_order += 1;
        }
        last = scheduled;
        histogram
            .record(received.saturating_sub(scheduled) as u64)
            .map_err(|e| e.to_string())?;
    }
    publisher.await.map_err(|e| e.to_string())?;
    let lost = count - seen.len() as u64;
    println!(
        "{}",
        report::latency_line(count, rate, &histogram, lost, duplicates, out_of_order)
    );
    Ok(())
}

async fn idle(cli: &Cli, pid: u32, streams: usize) -> Result<(), String> {
    let before = report::rss_kib(pid)?;
    let mut open = Vec::with_capacity(streams);
    for i in 0..streams {
        open.push(open_stream(cli, &format!("bench-idle-{i}")).await?);
    }
    // Every response's headers have arrived: the server holds all the streams now.
    let after = report::rss_kib(pid)?;
    println!("{}", report::idle_line(streams, before, after));
    drop(open);
    Ok(())
}
