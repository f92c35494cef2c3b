//! What `/metrics` reports, in Prometheus text format (`metrics` + its Prometheus exporter).
//!
//! The recorder is process-wide: one is installed on first use and every router in the process
//! (tests build many) renders the same one.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const OPEN_STREAMS: &str = "belfry_open_streams";
const DELIVERIES: &str = "belfry_deliveries_total";
const REPLAYS: &str = "belfry_replayed_notifications_total";
const RESYNCS: &str = "belfry_resyncs_total";
const SLOW_CLOSES: &str = "belfry_slow_consumer_closes_total";
const DB_ERRORS: &str = "belfry_database_errors_total";
const SKIPPED: &str = "belfry_skipped_records_total";
const FEED_REQUESTS: &str = "belfry_feed_database_requests_total";
const FEED_ROWS: &str = "belfry_feed_rows_total";
const FEED_FOLLOWING: &str = "belfry_feed_following";
const FEED_INVALIDATIONS: &str = "belfry_feed_invalidations_total";
const PUSHER_EVENTS: &str = "belfry_pusher_events_total";
const SNOOZES_ENDED: &str = "belfry_snoozes_ended_total";

/// The metrics in Prometheus' text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)),
)]
pub async fn export() -> String {
    handle().render()
}

/// The process's recorder; installs it the first time.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours renders nothing,
            // which /metrics would show, rather than taking the server down.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will be empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_gauge!(OPEN_STREAMS, "open SSE streams");
    metrics::describe_counter!(DELIVERIES, "notifications queued to open streams");
    metrics::describe_counter!(REPLAYS, "missed notifications replayed on resume");
    metrics::describe_counter!(
        SNOOZES_ENDED,
        "snoozes this instance ended because their time came"
    );
    metrics::describe_counter!(
        RESYNCS,
        "resumes that could not replay and were told to resync"
    );
    metrics::describe_counter!(
        SLOW_CLOSES,
        "streams closed because their client stopped reading"
    );
    metrics::describe_counter!(DB_ERRORS, "failed database operations");
    metrics::describe_counter!(
        FEED_REQUESTS,
        "requests the feed made to the database (change-stream batches, stamps, counts, polls)"
    );
    metrics::describe_counter!(
        FEED_ROWS,
        "notifications the SQLite feed reported, by source: read back, or handed over by this process's commit"
    );
    metrics::describe_counter!(
        SKIPPED,
        "rows or documents other programs wrote that Belfry cannot serve (skipped), or fields of them it left out, by reason"
    );
    metrics::describe_gauge!(
        FEED_FOLLOWING,
        "1 while the feed follows the database, 0 while it cannot (see /healthz)"
    );
    metrics::describe_counter!(
        FEED_INVALIDATIONS,
        "change streams invalidated (collection dropped or renamed) and followed on after"
    );
    metrics::describe_counter!(
        PUSHER_EVENTS,
        "events received on the Pusher HTTP API, per channel, by outcome: stored, again (stored before), ignored (another event or channel), unreadable"
    );
    // Zeroes, so that every series exists before its first event.
    metrics::gauge!(OPEN_STREAMS).set(0.0);
    metrics::gauge!(FEED_FOLLOWING).set(1.0);
    for counter in [
        DELIVERIES,
        REPLAYS,
        RESYNCS,
        SLOW_CLOSES,
        DB_ERRORS,
        FEED_REQUESTS,
        FEED_INVALIDATIONS,
    ] {
        metrics::counter!(counter).absolute(0);
    }
    for source in ["read", "handed"] {
        metrics::counter!(FEED_ROWS, "source" => source).absolute(0);
    }
}

pub fn stream_opened() {
    metrics::gauge!(OPEN_STREAMS).increment(1.0);
}

pub fn stream_closed() {
    metrics::gauge!(OPEN_STREAMS).decrement(1.0);
}

pub fn delivered(count: u64) {
    metrics::counter!(DELIVERIES).increment(count);
}

pub fn replayed(count: u64) {
    metrics::counter!(REPLAYS).increment(count);
}

pub fn snoozes_ended(count: u64) {
    metrics::counter!(SNOOZES_ENDED).increment(count);
}

pub fn resynced() {
    metrics::counter!(RESYNCS).increment(1);
}

pub fn slow_consumer_closed() {
    metrics::counter!(SLOW_CLOSES).increment(1);
}

pub fn database_error() {
    metrics::counter!(DB_ERRORS).increment(1);
}

/// A row or document skipped, or a field of one left out, for `reason` (`id`, `user_id`,
/// `message`, `created_at`, `link`, `entry`, `row`, `stamp`, `snoozed_until`).
pub fn skipped(reason: &'static str) {
    metrics::counter!(SKIPPED, "reason" => reason).increment(1);
}

/// An event received on the Pusher HTTP API, for one channel, by `outcome` (`stored`, `again`,
/// `ignored`, `unreadable`).
pub fn pusher_event(outcome: &'static str) {
    metrics::counter!(PUSHER_EVENTS, "outcome" => outcome).increment(1);
}

/// Whether the feed follows its database (1) or cannot (0).
pub fn feed_following(following: bool) {
    metrics::gauge!(FEED_FOLLOWING).set(if following { 1.0 } else { 0.0 });
}

/// A change stream that was invalidated (its collection dropped or renamed, or its database
/// dropped) and followed on after.
pub fn feed_invalidated() {
    metrics::counter!(FEED_INVALIDATIONS).increment(1);
}

pub fn feed_requests(count: u64) {
    metrics::counter!(FEED_REQUESTS).increment(count);
}

/// Rows the SQLite feed reported; `handed`: without reading them back.
pub fn feed_rows(handed: bool, count: u64) {
    let source = if handed { "handed" } else { "read" };
    metrics::counter!(FEED_ROWS, "source" => source).increment(count);
}
