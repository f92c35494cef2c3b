//! Laravel, unchanged: its own database notifications read in place (`--schema laravel`), its
//! broadcasts received on the Pusher routes, and publishes that are safe to retry. Documents are
//! written here as laravel-mongodb writes them, broadcasts sent with the official Pusher
//! clients (PyPI's and npm's `pusher`).
//! - `documents.rs`: shapes A, B and C and another notifiable's, on both MongoDBs;
//! - `retries.rs`: a publish with its own id, again, after a 408, on every store;
//! - `pusher.rs`: the Pusher routes driven by the official clients.

mod documents;
mod pusher;
mod retries;

use crate::host_data::{list_of, next_event, post_as, unread_count};
use crate::support::live::{serve_args, SseClient, TestServer};

/// The user channel Laravel broadcasts a user's notifications on.
const USER_CHANNEL: &str = "private-App.Models.User.";
/// The event Laravel broadcasts a notification as.
const BROADCAST: &str = "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated";

/// A server on `database` reading Laravel's documents, its text dates in Paris time.
async fn laravel_server(database: &str, extra: &[&str]) -> TestServer {
    let mut args = vec!["--schema", "laravel", "--time-zone", "Europe/Paris"];
    args.extend_from_slice(extra);
    TestServer::start_with(serve_args(database, &args)).await
}

/// A counter's value in `server`'s `/metrics`, for the series that starts with `series`.
async fn metric(server: &TestServer, series: &str) -> f64 {
    let (_, text) = server.get("/metrics").await;
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}
