#!/usr/bin/env bash
# Compiles one crate of the workspace to WASM and prints the path of its .wasm file.
#   scripts/cargo-wasm.sh CRATE [--release]
# Debug: the pinned toolchain, as every other build. Release (the bundles a browser downloads):
# nightly, rebuilding the standard library (`-Z build-std`) with `-C panic=immediate-abort`, so
# that a panic traps at once and the bundle carries no panic messages, source locations or the
# formatting they need. Measured with `scripts/build-site.sh --release` at 02b74b5 and after:
# the embed 516,056 -> 433,514 bytes (brotli 165,362 -> 146,507), the hydrate bundle
# 813,204 -> 734,479 (brotli 247,910 -> 228,608). A panic in a release bundle then stops the
# bell without a console message; debug builds keep the message. scripts/setup.sh adds nightly's rust-src, which `-Z build-std` compiles.
#
# The hydrate bundle keeps `--cfg erase_components` (.cargo/config.toml), which RUSTFLAGS would
# otherwise replace: Leptos reads it at compile time, and the server is built with it. The
# embed renders on the client only and is smaller without it.
set -euo pipefail
cd "$(dirname "$0")/.."

crate=$1
target_dir="${CARGO_TARGET_DIR:-target}"
if [ "${2:-}" = --release ]; then
  flags="-Zunstable-options -Cpanic=immediate-abort"
  [ "$crate" = embed ] || flags="$flags --cfg erase_components"
  RUSTFLAGS="$flags" cargo +nightly build -p "$crate" --lib --target wasm32-unknown-unknown \
    --profile wasm-release -Z build-std=std,panic_abort >&2
  echo "$target_dir/wasm32-unknown-unknown/wasm-release/$crate.wasm"
else
  cargo build -p "$crate" --lib --target wasm32-unknown-unknown >&2
  echo "$target_dir/wasm32-unknown-unknown/debug/$crate.wasm"
fi
