#!/usr/bin/env bash
# Installs what building and testing Belfry need, from the Rust, npm, PyPI and Debian registries
# only (no tool downloads at build time). Idempotent: what is already there, at the right
# version, is left alone.
#   scripts/setup.sh build   the build chain: wasm target, nightly's rust-src, wasm-bindgen, wasm-opt
#   scripts/setup.sh test    the build chain, plus Chromium, nginx, SecantusDB and the Playwright
#                            packages
#   scripts/setup.sh leptos  the build chain, plus cargo-leptos (for `cargo leptos watch`)
#   scripts/setup.sh bench   what `test` installs, nightly's rust-src, and the Nchan peer's
#                            nginx module (bench/run.sh)
set -euo pipefail

cd "$(dirname "$0")/.."
what="${1:-test}"

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs rustc >= 1.96
BINARYEN_VERSION=132.0.0      # never Debian's binaryen: its wasm-opt output fails to load
SECANTUS_VERSION=0.7.0b3
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# rust-toolchain.toml pins the toolchain the build is verified with, and rustup installs it on
# first use. A machine that cannot download toolchains, but whose stable toolchain is that very
# version, gets it under the pinned name too (rustup's `toolchain link` refuses version names, so
# a symlink in rustup's toolchain directory, which rustup then lists as installed). This must
# come before any cargo or rustup command in this directory.
pinned=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
toolchains="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
if ! (cd / && rustup toolchain list) | grep -q "^$pinned-"; then
  stable_sysroot=$(cd / && rustc +stable --print sysroot 2>/dev/null || true)
  stable_version=$(cd / && rustc +stable --version 2>/dev/null | cut -d' ' -f2 || true)
  if [ -n "$stable_sysroot" ] && [ "$stable_version" = "$pinned" ]; then
    say "the installed stable toolchain is $pinned, the pinned one: naming it so"
    ln -s "$stable_sysroot" "$toolchains/$pinned-$(basename "$stable_sysroot" | sed 's/^stable-//')"
  fi
fi

# (rust-toolchain.toml lists the target: rustup adds it with a toolchain it installs itself.)
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || {
  say "adding the wasm32-unknown-unknown target"
  (cd / && rustup target add --toolchain stable wasm32-unknown-unknown)
}

# Release bundles are built with nightly and its standard library's source (scripts/cargo-wasm.sh).
if [ "$what" != test ] && ! (cd / && rustup component list --toolchain nightly --installed 2>/dev/null) | grep -q '^rust-src'; then
  say "adding rust-src to the nightly toolchain (release bundles rebuild the standard library)"
  (cd / && rustup component add --toolchain nightly rust-src)
fi

# Only on request: the README's commands build the site without it (scripts/build-site.sh).
if [ "$what" = leptos ] && ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # --locked fails: a locked dependency is missing from the registry mirror.
  CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  say "installing wasm-opt (binaryen $BINARYEN_VERSION from npm)"
  npm install --global --no-audit --no-fund "binaryen@$BINARYEN_VERSION"
fi

case $what in test | bench) ;; *) exit 0 ;; esac

# Debian's packages: the browser, and what the deployment journey runs (nginx in front, a
# certificate made with openssl, the systemd unit checked with systemd-analyze).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The benchmark's Nchan peer (bench/peers/nchan).
if [ "$what" = bench ] && [ ! -e /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  missing+=(libnginx-mod-nchan)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian's ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! .venv/bin/pip show SecantusDB 2>/dev/null | grep -q "^Version: $SECANTUS_VERSION$"; then
  say "installing SecantusDB $SECANTUS_VERSION into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet "SecantusDB==$SECANTUS_VERSION"
fi

# The official Pusher server library, which the Pusher route's tests publish with (as the npm
# one in end2end/package.json).
PUSHER_PY_VERSION=3.3.3
if ! .venv/bin/pip show pusher 2>/dev/null | grep -q "^Version: $PUSHER_PY_VERSION$"; then
  say "installing the pusher client $PUSHER_PY_VERSION into .venv"
  .venv/bin/pip install --quiet "pusher==$PUSHER_PY_VERSION"
fi

if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules ]; then
  say "installing the Playwright packages (no browser download)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
