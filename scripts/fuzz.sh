#!/usr/bin/env bash
# Fuzzes the token verifier, the resume cursor / list parameters, the publish payload and the lean
# transport's request-head parser, each for a bounded time (default 60 s; the closing notes'
# runs used 600).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
for target in token cursor publish head; do
  echo "== fuzz $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -O -- -max_total_time="$seconds" -max_len=4096 2>&1 | tail -n 3
done
