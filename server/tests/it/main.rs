//! The server's integration tests: one binary, a module per concern, so a change to the
//! library links one test program rather than one per file. Every test starts what it needs on
//! port 0 (servers, stores on fresh databases) and shares nothing with the others but the
//! MongoDB-compatible test server (`support`).
//!
//! Run one concern with its module path: `cargo test -p server --test it store_contract::`.

#[macro_use]
mod support;

mod adversarial;
mod api;
mod api_bad_input;
mod assets;
mod cli;
mod docs;
mod host_data;
mod isolation;
mod laravel;
mod openapi;
mod pages;
mod read_sync;
mod resilience;
mod retention;
mod store_contract;
mod stream;
mod stream_transport;
