#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests (SQLite, and MongoDB against SecantusDB
# started here, or against BELFRY_TEST_MONGODB_URI if set), then the Playwright tests in
# Debian's Chromium against freshly started belfry servers.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test

echo "== build: SSR server and hydrate bundle"
cargo leptos build
target_dir="${CARGO_TARGET_DIR:-target}"

if [ -z "${BELFRY_TEST_MONGODB_URI:-}" ]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  .venv/bin/secantusd-py --host 127.0.0.1 --port "$port" --storage-path :memory: >"$log" 2>&1 &
  secantus_pid=$!
  trap 'kill "$secantus_pid" 2>/dev/null || true; rm -f "$log"' EXIT
  # Wait (at most 30 s) for the server to say it listens.
  for _ in $(seq 300); do
    grep -q "listening on" "$log" && break
    kill -0 "$secantus_pid" 2>/dev/null || { cat "$log"; echo "SecantusDB did not start" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "listening on" "$log" || { cat "$log"; echo "SecantusDB did not start in 30 s" >&2; exit 1; }
  export BELFRY_TEST_MONGODB_URI="mongodb://127.0.0.1:$port"
  echo "== SecantusDB on port $port"
fi

echo "== Rust tests"
cargo test -p app -p server

echo "== Playwright tests"
(
  cd end2end
  CI=1 BELFRY_BIN="$(cd .. && realpath "$target_dir/debug/belfry")" LEPTOS_SITE_ROOT="$PWD/../target/site" \
    npx playwright test
)
