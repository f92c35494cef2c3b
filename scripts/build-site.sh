#!/usr/bin/env bash
# Builds the site the server serves, into target/site: the app's hydrate bundle (the `frontend`
# crate to WASM by scripts/cargo-wasm.sh, wasm-bindgen for its JS glue, wasm-opt in release),
# the stylesheet, the public assets, and the embed bundle (scripts/build-embed.sh); then content-hashed names, a manifest
# and precompressed copies (scripts/finish-site.mjs). The same steps as `cargo leptos build`
# for the site (which still works: [[workspace.metadata.leptos]] in Cargo.toml), without
# installing cargo-leptos, whose build was most of a first run's time.
#   scripts/build-site.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

site=target/site
wasm=$(scripts/cargo-wasm.sh frontend "$@")
rm -rf "$site"
mkdir -p "$site/pkg"
# The names the server's pages load: /pkg/belfry.js, /pkg/belfry.wasm, /pkg/belfry.css.
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name belfry "$wasm"
mv "$site/pkg/belfry_bg.wasm" "$site/pkg/belfry.wasm"
if [ "${1:-}" = --release ]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$site/pkg/belfry.wasm" -o "$site/pkg/belfry.wasm"
fi
cp style/belfry.css "$site/pkg/belfry.css"
cp -r public/. "$site/"
echo "hydrate bundle: $(du -b "$site/pkg/belfry.wasm" | cut -f1) bytes of WASM in $site/pkg"
scripts/build-embed.sh "$@"
node scripts/finish-site.mjs "$site"
