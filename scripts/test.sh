#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests (SQLite, and MongoDB against SecantusDB
# started here, or against BELFRY_TEST_MONGODB_URI if set), then the Playwright tests in
# Debian's Chromium against freshly started belfry servers.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test

echo "== build: the site (hydrate bundle, embed bundle), then the server"
scripts/build-site.sh
# The server as a plain `cargo build` at the root builds it (the workspace's default member,
# features not unified with the bundles'): the Playwright tests below run this binary.
cargo build
target_dir="${CARGO_TARGET_DIR:-target}"

# Starts a SecantusDB on a free port (extra flags pass through) and sets $port once it listens;
# its pid goes to the list stopped on exit.
pids=()
logs=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "${logs[@]}"' EXIT
start_secantus() {
  local log
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  logs+=("$log")
  .venv/bin/secantusd-py --host 127.0.0.1 --port "$port" --storage-path :memory: "$@" >"$log" 2>&1 &
  pids+=($!)
  # Wait (at most 30 s) for it to say it listens.
  for _ in $(seq 300); do
    grep -q "listening on" "$log" && return
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  echo "SecantusDB did not start" >&2
  exit 1
}

if [ -z "${BELFRY_TEST_MONGODB_URI:-}" ]; then
  start_secantus
  export BELFRY_TEST_MONGODB_URI="mongodb://127.0.0.1:$port"
fi
if [ -z "${BELFRY_TEST_MONGODB_STANDALONE_URI:-}" ]; then
  # Without the replica-set advertisement: no change streams, as a standalone mongod.
  start_secantus --standalone
  export BELFRY_TEST_MONGODB_STANDALONE_URI="mongodb://127.0.0.1:$port"
fi
export BELFRY_TEST_SECANTUSD="${BELFRY_TEST_SECANTUSD:-$PWD/.venv/bin/secantusd-py}"
echo "== MongoDB for tests: $BELFRY_TEST_MONGODB_URI (replica set), $BELFRY_TEST_MONGODB_STANDALONE_URI (standalone)"

echo "== Rust tests"
cargo test -p app -p server -p belfry-bench

echo "== Playwright tests"
(
  cd end2end
  CI=1 BELFRY_BIN="$(cd .. && realpath "$target_dir/debug/belfry")" LEPTOS_SITE_ROOT="$PWD/../target/site" \
    npx playwright test
)
