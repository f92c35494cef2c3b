#!/usr/bin/env bash
# Publish-to-receipt latency and idle memory per stream, against a release `belfry serve` on
# the embedded SQLite store (or on MongoDB: bench/stream.sh mongodb://127.0.0.1:27017/bench).
#   bench/stream.sh [DATABASE_URL]
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release -p server -p belfry-bench
ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d)
database="${1:-sqlite://$dir/bench.db}"
secret=bench-secret
key=bench-key
log="$dir/server.log"
"$target_dir/release/belfry" serve --addr 127.0.0.1:0 --database "$database" \
  --jwt-secret "$secret" --service-key "$key" --max-streams-per-user 16 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  sleep 0.1
done
url=$(grep -o "listening on http://[0-9.:]*" "$log" | cut -d' ' -f3)
echo "belfry $(git rev-parse --short HEAD) on $database at $url; $(nproc) cores"

bench="$target_dir/release/belfry-bench"
"$bench" --server "$url" --jwt-secret "$secret" latency --service-key "$key" --count 1000 --rate 200
for n in 1000; do
  "$bench" --server "$url" --jwt-secret "$secret" idle --pid "$server" --streams "$n"
done
