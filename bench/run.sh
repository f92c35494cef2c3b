#!/usr/bin/env bash
# The benchmark suite: Belfry on its embedded SQLite store (and, for the disk's share, the same
# store on tmpfs) and on MongoDB (SecantusDB started here), and the peer servers of bench/peers/ (Node.js better-sse, Python sse-starlette; each in
# memory and, as *-sqlite, storing to SQLite as Belfry does; Nchan in nginx), each driven by the same generator
# (the belfry-bench crate) through the same scenarios; writes the
# raw results to bench/results.jsonl and the tables to docs/BENCHMARKS.md.
#   bench/run.sh            the full suite, then the headline scenarios (connect, delivery, the
#                           assets; not on MongoDB) twice more: the page's targets are medians
#                           of 3 runs (about an hour on 2 cores)
#   BENCH_RUNS=1 bench/run.sh   the full suite once (about 40 minutes)
#   BENCH_QUICK=1 bench/run.sh   a small version of every scenario, to check the harness
#   bench/run.sh --render   rewrites docs/BENCHMARKS.md from the last run's results, no load
#   bench/run.sh belfry-mongodb …   runs only the named servers, replacing their results
# Load only ever targets 127.0.0.0/8 on this machine, with bounded counts and durations.
set -euo pipefail
cd "$(dirname "$0")/.."

SECANTUS_VERSION=0.7.0b3
target_dir="${CARGO_TARGET_DIR:-target}"
say() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }

# A process may hold as many files as the hard limit allows (20,000 here): raise the soft one.
ulimit -n "$(ulimit -Hn)"

# The server under test runs on the first core, the generator (and SecantusDB) on the other, so
# neither starves the other of CPU.
server_cpus=0
generator_cpus=1
[ "$(nproc)" -ge 2 ] || { server_cpus=0; generator_cpus=0; }

# docs/BENCHMARKS.md: the fixed text, this run's machine and versions, the tables.
render() {
  {
    cat bench/preamble.md
    echo
    echo "## This run"
    echo
    cat bench/run-info.md
    echo "- Command: \`bench/run.sh\`; raw results: \`bench/results.jsonl\`, rendered with \`belfry-bench render bench/results.jsonl\`"
    echo
    "$target_dir/release/belfry-bench" render bench/results.jsonl
  } >docs/BENCHMARKS.md
}
if [ "${1:-}" = --render ]; then
  cargo build --release -p belfry-bench
  render
  exit 0
fi

if [ -n "${BENCH_QUICK:-}" ]; then
  connect=200,500,1000; streams=1000; rate=200; secs=3; step_secs=2; max_rate=800
  broadcast=2000; rounds=1; churn_base=200; churn_workers=8; churn_secs=5; list_secs=2; discard=500
else
  connect=1000,5000,10000,18000; streams=10000; rate=1000; secs=10; step_secs=5; max_rate=64000
  broadcast=18000; rounds=3; churn_base=1000; churn_workers=64; churn_secs=60; list_secs=10; discard=5000
fi

say "installing: release builds (site, server, generator), the peers' packages, SecantusDB"
scripts/setup.sh bench
scripts/build-site.sh --release
cargo build --release -p server -p belfry-bench
# npm ci starts from nothing, compiling better-sqlite3 (minutes): only when the lock file changed.
[ bench/peers/node/node_modules/.package-lock.json -nt bench/peers/node/package-lock.json ] ||
  (cd bench/peers/node && npm ci --no-audit --no-fund --silent)
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet "SecantusDB==$SECANTUS_VERSION" -r bench/peers/python/requirements.txt

work=$(mktemp -d)
# belfry-sqlite-shm's database: the same store in memory-backed files (tmpfs).
shm=$(mktemp -d -p /dev/shm belfry-bench.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work" "$shm"' EXIT
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export BELFRY_JWT_SECRET="$secret" BELFRY_SERVICE_KEY="$key"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts a server (the command line after the log path) and waits until it prints
# "listening on http://…"; sets $url and $pid.
start() {
  local log=$1
  shift
  taskset -c "$server_cpus" "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do
    url=$(grep -o "listening on http://[0-9.:]*" "$log" | head -1 | cut -d' ' -f3) || true
    [ -n "$url" ] && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  say "server did not start: $*"
  exit 1
}
# Stops the server started last: its process, or nginx's master process for the Nchan peer.
stop() {
  local process=${master:-$pid}
  kill "$process" 2>/dev/null || true
  wait "$process" 2>/dev/null || true
  master=
}
master=

secantus_port=$(free_port)
taskset -c "$generator_cpus" .venv/bin/secantusd-py --host 127.0.0.1 --port "$secantus_port" --storage-path :memory: \
  >"$work/secantus.log" 2>&1 &
secantus_pid=$!
pids+=("$secantus_pid")
for _ in $(seq 300); do
  grep -q "listening on" "$work/secantus.log" && break
  sleep 0.1
done

# Starts the Nchan peer: nginx with bench/peers/nchan/nginx.conf on a free port, its one
# worker on the server's core; sets $url, $pid (the worker, which holds the streams) and
# $master (what stop stops).
start_nchan() {
  local dir="$work/nchan" port
  port=$(free_port)
  rm -rf "$dir"
  mkdir -p "$dir"
  sed -e "s|@PORT@|$port|; s|@DIR@|$dir|g" bench/peers/nchan/nginx.conf >"$dir/nginx.conf"
  taskset -c "$server_cpus" /usr/sbin/nginx -p "$dir" -c nginx.conf >"$work/nchan.log" 2>&1 &
  master=$!
  pids+=("$master")
  url="http://127.0.0.1:$port"
  for _ in $(seq 300); do
    pid=$(pgrep -P "$master" | head -1) || true
    [ -n "$pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return
    kill -0 "$master" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/nchan.log" "$dir/error.log" >&2 || true
  say "nchan did not start"
  exit 1
}

# Starts the named server afresh: each scenario measures a new process.
run_server() {
  case $1 in
    belfry-sqlite)
      rm -f "$work"/bench.db*
      start "$work/$1.log" "$target_dir/release/belfry" serve --addr 127.0.0.1:0 \
        --database "sqlite://$work/bench.db" --jwt-secret "$secret" --service-key "$key" \
        --publish-rate 1000000 ;;
    belfry-sqlite-shm)
      rm -f "$shm"/bench.db*
      start "$work/$1.log" "$target_dir/release/belfry" serve --addr 127.0.0.1:0 \
        --database "sqlite://$shm/bench.db" --jwt-secret "$secret" --service-key "$key" \
        --publish-rate 1000000 ;;
    belfry-mongodb)
      start "$work/$1.log" "$target_dir/release/belfry" serve --addr 127.0.0.1:0 \
        --database "mongodb://127.0.0.1:$secantus_port/bench$RANDOM$RANDOM" \
        --jwt-secret "$secret" --service-key "$key" --publish-rate 1000000 ;;
    node-better-sse)
      start "$work/$1.log" env JWT_SECRET="$secret" SERVICE_KEY="$key" node bench/peers/node/server.js ;;
    python-sse-starlette)
      start "$work/$1.log" env JWT_SECRET="$secret" SERVICE_KEY="$key" .venv/bin/python bench/peers/python/server.py ;;
    node-better-sse-sqlite)
      rm -f "$work"/peer.db*
      start "$work/$1.log" env JWT_SECRET="$secret" SERVICE_KEY="$key" SQLITE_PATH="$work/peer.db" \
        node bench/peers/node/server.js ;;
    nchan) start_nchan ;;
    python-sse-starlette-sqlite)
      rm -f "$work"/peer.db*
      start "$work/$1.log" env JWT_SECRET="$secret" SERVICE_KEY="$key" SQLITE_PATH="$work/peer.db" \
        .venv/bin/python bench/peers/python/server.py ;;
  esac
}

# Two instances on one MongoDB (SecantusDB), the streams spread over both, the publishes to the
# first: each instance's feed sees every notification, so this measures what a second instance
# costs the database (the feed's requests per notification); then what an instance pays for
# the events that are for none of its streams (`discard`).
two_instances() {
  local database="mongodb://127.0.0.1:$secantus_port/bench$RANDOM$RANDOM" urls=() server_pids=()
  for n in 1 2; do
    start "$work/belfry-mongodb-2x.$n.log" "$target_dir/release/belfry" serve --addr 127.0.0.1:0 \
      --database "$database" --jwt-secret "$secret" --service-key "$key" --publish-rate 1000000
    urls+=("$url")
    server_pids+=("$pid")
  done
  say "belfry-mongodb-2x: broadcast"
  if ! taskset -c "$generator_cpus" "$bench" broadcast --server "${urls[0]}" --also "${urls[1]}" --pid "${server_pids[0]}" \
    --database-pid "$secantus_pid" --label belfry-mongodb-2x --streams "$broadcast" --rounds 1 \
    2>"$work/scenario.err" | tag >>"$results"; then
    failed+=("belfry-mongodb-2x broadcast: $(tail -1 "$work/scenario.err")")
  fi
  tail -5 "$work/scenario.err" >&2
  # What the second instance pays for the events that are for none of its streams.
  say "belfry-mongodb-2x: discard"
  if ! taskset -c "$generator_cpus" "$bench" discard --server "${urls[0]}" --streams-on "${urls[1]}" \
    --pid "${server_pids[1]}" --label belfry-mongodb-2x --count "$discard" --database-port "$secantus_port" \
    2>"$work/scenario.err" | tag >>"$results"; then
    failed+=("belfry-mongodb-2x discard: $(tail -1 "$work/scenario.err")")
  fi
  tail -3 "$work/scenario.err" >&2
  for pid in "${server_pids[@]}"; do stop; done # (stop stops $pid)
}

# What a browser downloads (bench/assets.mjs in Chromium): the SSR page and the embed on
# another origin (examples/ served by Python's http.server), the release site.
browser_assets() {
  local host_port
  host_port=$(free_port)
  python3 -m http.server "$host_port" --bind 127.0.0.1 --directory examples >/dev/null 2>&1 &
  pids+=($!)
  local host_pid=$!
  rm -f "$work"/assets.db*
  start "$work/belfry-assets.log" "$target_dir/release/belfry" serve --addr 127.0.0.1:0 \
    --database "sqlite://$work/assets.db" --jwt-secret "$secret" --service-key "$key" \
    --site-root target/site --allowed-origins "http://127.0.0.1:$host_port"
  say "belfry: what a browser downloads"
  local token
  token=$("$target_dir/release/belfry" token --user 1 --jwt-secret "$secret")
  if ! node bench/assets.mjs --server "$url" --host "http://127.0.0.1:$host_port" --token "$token" \
    --label belfry-assets 2>"$work/scenario.err" | tag >>"$results"; then
    failed+=("belfry-assets: $(tail -1 "$work/scenario.err")")
  fi
  stop
  kill "$host_pid" 2>/dev/null || true
}

servers=(belfry-sqlite belfry-sqlite-shm belfry-assets belfry-mongodb belfry-mongodb-2x node-better-sse python-sse-starlette
  node-better-sse-sqlite python-sse-starlette-sqlite nchan)
results=bench/results.jsonl
rerun=
if [ $# -gt 0 ]; then
  servers=("$@")
  rerun="$*"
  # Keep the other servers' results of the last run.
  for server in "${servers[@]}"; do
    grep -v "\"target\":\"$server\"" "$results" >"$work/kept" || true
    mv "$work/kept" "$results"
  done
else
  : >"$results"
fi
bench="$target_dir/release/belfry-bench"
runs=${BENCH_RUNS:-3}
run=1
# Each result line names its run: {"run":N,...}.
tag() { sed "s/^{/{\"run\":$run,/"; }
scenario() {
  local server=$1 name=$2
  shift 2
  local extra=()
  [ "$server" = belfry-mongodb ] && extra=(--database-pid "$secantus_pid")
  [ "$server" = nchan ] && extra=(--protocol nchan)
  run_server "$server"
  say "$server: $name"
  # A scenario that fails is named on the page; the others still run.
  if ! taskset -c "$generator_cpus" "$bench" "$name" --server "$url" --pid "$pid" "${extra[@]}" --label "$server" "$@" \
    2>"$work/scenario.err" | tag >>"$results"; then
    failed+=("$server $name: $(tail -1 "$work/scenario.err")")
  fi
  grep -v "^publish " "$work/scenario.err" | tail -20 >&2 || true
  stop
}
failed=()

# Run 1 measures every scenario; the runs after it repeat those behind the headline figures
# (connect, delivery, the assets; not on MongoDB), whose medians and ranges the targets table
# shows.
for run in $(seq "$runs"); do
  [ "$run" = 1 ] || say "run $run of $runs: the headline scenarios"
  for server in "${servers[@]}"; do
    # MongoDB on SecantusDB (a Python server) is measured once: its sweeps are slow, and no
    # headline figure is its.
    case $server in belfry-mongodb*) [ "$run" = 1 ] || continue ;; esac
    if [ "$server" = belfry-mongodb-2x ]; then
      two_instances
      continue
    fi
    # The disk's share of Belfry's figures (set beside Nchan's, which writes nothing to disk):
    # the same store on tmpfs, where an fsync costs nothing; its delivery sweeps only.
    if [ "$server" = belfry-sqlite-shm ]; then
      scenario "$server" delivery --streams "$streams" --rate "$rate" --secs "$secs" \
        --step-secs "$step_secs" --max-rate "$max_rate"
      continue
    fi
    if [ "$server" = belfry-assets ]; then
      browser_assets
      continue
    fi
    # The storing peers differ from the in-memory ones in their publishes only: their streams
    # (connect, churn) are the same code.
    case $server in node-*-sqlite | python-*-sqlite) durable=1 ;; *) durable= ;; esac
    [ -n "$durable" ] || scenario "$server" connect --streams "$connect"
    # SecantusDB (a Python server) stores notifications far slower than 1,000/s: its sweeps
    # start at a rate it can take, so they show where it stops rather than one overload.
    first_rate=$rate
    if [ "$server" = belfry-mongodb ] || [ -n "$durable" ]; then first_rate=$((rate / 10)); fi
    scenario "$server" delivery --streams "$streams" --rate "$first_rate" --secs "$secs" \
      --step-secs "$step_secs" --max-rate "$max_rate"
    [ "$run" = 1 ] || continue
    # One round on SecantusDB: storing 18,000 documents takes it tens of seconds.
    scenario "$server" broadcast --streams "$broadcast" \
      --rounds "$([ "$server" = belfry-mongodb ] && echo 1 || echo "$rounds")"
    [ -n "$durable" ] || scenario "$server" churn --base "$churn_base" --workers "$churn_workers" --secs "$churn_secs"
    case $server in belfry-*) scenario "$server" list --secs "$list_secs" ;; esac
  done
done

say "writing docs/BENCHMARKS.md"
cp bench/run-info.md "$work/run-info.before"
peer_version() { node -p "require('./bench/peers/node/node_modules/$1/package.json').version"; }
pip_version() { .venv/bin/pip show "$1" | awk '/^Version:/ { print $2 }'; }
{
  echo "- Belfry $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- server bench/src bench/peers bench/run.sh || echo ' (with uncommitted changes)'), release build; $runs run(s) (run 1 every scenario, the others connect, delivery and the assets), ending $(date -u '+%Y-%m-%d %H:%M UTC')${BENCH_QUICK:+ — QUICK MODE, small sizes: not the reference figures}${rerun:+; this run measured only $rerun, the other rows are kept from the run before}"
  echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r); open files per process: $(ulimit -Hn)"
  echo "- Pinned: each server under test on CPU $server_cpus, the generator and SecantusDB on CPU $generator_cpus (\`taskset\`)"
  echo "- $(rustc --version); Node.js $(node --version) with express $(peer_version express), better-sse $(peer_version better-sse), jsonwebtoken $(peer_version jsonwebtoken), better-sqlite3 $(peer_version better-sqlite3) (SQLite $(node -p "require('./bench/peers/node/node_modules/better-sqlite3')(':memory:').prepare('select sqlite_version() v').get().v")); $(.venv/bin/python --version) (sqlite3: SQLite $(.venv/bin/python -c 'import sqlite3; print(sqlite3.sqlite_version)')) with uvicorn $(pip_version uvicorn), starlette $(pip_version starlette), sse-starlette $(pip_version sse-starlette), PyJWT $(pip_version PyJWT); SecantusDB $(pip_version SecantusDB) (in memory) for MongoDB"
  for failure in "${failed[@]}"; do
    echo "- **Scenario failed**: $failure"
  done
  # The runs the kept rows come from: the run before, and the runs it kept rows from in turn,
  # less a partial run whose servers this run measured again (none of its rows is left).
  if [ -n "$rerun" ]; then
    { sed -n '1s/^- /- Kept rows: /p' "$work/run-info.before"
      grep '^- Kept rows: ' "$work/run-info.before" || true
    } | while IFS= read -r line; do
      measured=$(sed -n 's/.*this run measured only \(.*\), the other rows.*/\1/p' <<<"$line")
      superseded=${measured:+yes}
      for server in $measured; do
        [[ " $rerun " == *" $server "* ]] || superseded=
      done
      [ -n "$superseded" ] || echo "$line"
    done
  fi
} >bench/run-info.md
render
say "done: docs/BENCHMARKS.md"
