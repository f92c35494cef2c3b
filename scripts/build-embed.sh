#!/usr/bin/env bash
# Builds the embeddable bell's bundle into target/site/embed/: the `embed` crate to WASM
# (scripts/cargo-wasm.sh), wasm-bindgen for the JS glue, and in release wasm-opt for size. scripts/build-site.sh runs it;
# after `cargo leptos build`, which empties target/site, run it yourself.
#   scripts/build-embed.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/site/embed
wasm=$(scripts/cargo-wasm.sh embed "$@")
rm -rf "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name belfry-embed "$wasm"
if [ "${1:-}" = --release ]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$out/belfry-embed_bg.wasm" -o "$out/belfry-embed_bg.wasm"
fi
echo "embed bundle: $(du -b "$out"/belfry-embed_bg.wasm | cut -f1) bytes of WASM in $out"
