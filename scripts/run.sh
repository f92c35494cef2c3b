#!/usr/bin/env bash
# Builds Belfry (release: SSR server, the app's WASM bundle, the embed bundle) and runs it in demo mode on the embedded
# SQLite store. Extra arguments go to `belfry serve`, e.g. scripts/run.sh --addr 0.0.0.0:3000
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
scripts/build-site.sh --release
cargo build --release
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/belfry" serve --dev --site-root target/site "$@"
