//! Belfry's server: the API and the server-rendered app on one axum router.
//!
//! `main.rs` only parses the command line; everything here is a library so that the
//! integration tests in `tests/` drive [`app`] without a socket, or a real server on port 0.

// Leptos's nested view types need more than the default when built without
// `--cfg erase_components` (as `cargo fuzz` builds, with its own RUSTFLAGS).
#![recursion_limit = "256"]

pub mod api;
pub mod assets;
pub mod auth;
pub mod commands;
pub mod config;
pub mod delivery;
mod dev;
pub mod error;
pub mod hub;
pub mod laravel;
pub mod metrics;
pub mod model;
pub mod openapi;
mod pages;
pub mod pusher;
pub mod rate;
pub mod retention;
pub mod serve;
pub mod snooze;
pub mod store;
pub mod stream;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::Request;
use axum::{Extension, Router};
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ServiceKey, TokenKeys};
use crate::hub::Hub;
use crate::store::Store;

/// What every handler may need. Cheap to clone: all shared parts are behind `Arc`s.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenKeys>,
    pub service_key: ServiceKey,
    pub leptos_options: LeptosOptions,
    pub hub: Arc<Hub>,
    /// Interval of the SSE keep-alive comments.
    pub heartbeat: Duration,
    /// Cancelled on shutdown: open streams end, so clients reconnect elsewhere.
    pub shutdown: CancellationToken,
    /// `--dev`: the demo sign-in and send routes exist.
    pub dev: bool,
    pub publish_limit: Arc<rate::PublishLimit>,
    /// Whether the store's feed follows the database (`/healthz`).
    pub feed: store::FeedStatus,
    /// How long a request (but the stream) may take before it is answered 408.
    pub request_timeout: Duration,
    /// The Pusher app whose broadcasts Belfry receives (`--pusher-app-id`), if any.
    pub pusher: Option<Arc<pusher::PusherApp>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Arc<TokenKeys> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.tokens)
    }
}

impl FromRef<AppState> for ServiceKey {
    fn from_ref(state: &AppState) -> Self {
        state.service_key.clone()
    }
}

/// Answers 408, with the contract's JSON, a request (but the stream) not answered within
/// `timeout`. The handler is dropped, but a write it handed to the database may still commit:
/// a publisher retries with the same `id`, which stores nothing twice.
async fn deadline(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(error::AppError::Timeout(
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        )),
    }
}

/// A panic in a handler answers 500 (the contract's JSON, nothing internal) and is logged; the
/// process and every other connection carry on.
pub fn catch_panics(
) -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response> {
    fn answer(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %what, "a handler panicked");
        axum::response::IntoResponse::into_response(error::AppError::Internal)
    }
    CatchPanicLayer::custom(answer as fn(_) -> _)
}

/// The whole HTTP surface: API routes, then the Leptos pages, then static files.
pub fn app(state: AppState) -> Router {
    metrics::handle();
    let leptos_options = state.leptos_options.clone();
    let state_timeout = state.request_timeout;
    let pages = generate_route_list(app::App);
    let page_source = pages::page_source(state.clone(), state.dev);
    let dev_routes = if state.dev {
        dev::routes()
    } else {
        Router::new()
    };
    // Everything but the stream (which is meant to stay open) gets a deadline.
    let (stream, stream_doc) = OpenApiRouter::new()
        .routes(routes!(stream::stream))
        .split_for_parts();
    let (api, mut document) = api::routes().split_for_parts();
    document.merge(stream_doc);
    // Every API route and the stream read their query strings by one strict rule.
    let api = api.layer(axum::middleware::from_fn(api::query::strict));
    let stream = stream.layer(axum::middleware::from_fn(api::query::strict));
    let api = match openapi::Document::of(&document) {
        Ok(document) => api.layer(Extension(document)),
        Err(err) => {
            tracing::error!(%err, "cannot serialise the OpenAPI document; /openapi.json fails");
            api
        }
    };
    let site_root = std::path::PathBuf::from(leptos_options.site_root.as_ref());
    Router::new()
        .merge(api)
        .merge(dev_routes)
        .merge(assets::routes(&site_root))
        .leptos_routes_with_context(
            &state,
            pages,
            move || leptos::prelude::provide_context(page_source.clone()),
            {
                let options = leptos_options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state_timeout,
            deadline,
        ))
        .layer(axum::middleware::from_fn(assets::revalidate_pages))
        // Compressed on the fly: pages and API answers (the assets have copies; an event
        // stream is never compressed, so each event leaves at once).
        .layer(CompressionLayer::new())
        .merge(stream)
        .layer(axum::middleware::from_fn(error::log_causes))
        .layer(catch_panics())
        .layer(DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        // The span names the path only: a query string may carry a token, which must never
        // reach a log line. A stream's span is at debug level: it would live as long as the
        // stream, a few hundred bytes each, for log lines the stream hardly ever writes.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let (method, path) = (req.method(), req.uri().path());
                if path == stream::PATH {
                    tracing::debug_span!("request", %method, path)
                } else {
                    tracing::info_span!("request", %method, path)
                }
            }),
        )
        .with_state(state)
}
