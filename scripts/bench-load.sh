#!/usr/bin/env bash
# Load benchmark: generate N consultations on SQLite and on a throwaway PostgreSQL 15,
# serve them with release builds, and drive benches/load.rs at fixed concurrency for
# a fixed time: SQLite, PostgreSQL with one instance, PostgreSQL with two. Prints
# per route requests/s, p50/p99 and errors, and each server's peak memory (VmHWM).
#
#   scripts/bench-load.sh [N=100000]
#   env: CONCURRENCY (32), DURATION_SECS (30), WORK (a temporary folder), KEEP=1
#        to keep the databases, ONLY=sqlite|postgres to run one backend.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
export CONCURRENCY="${CONCURRENCY:-32}" DURATION_SECS="${DURATION_SECS:-30}"
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
pg_bin=/usr/lib/postgresql/15/bin
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -d "$work/pg" ] && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
    [ "${KEEP:-}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin digicon
cargo bench --quiet --bench load --no-run
bin=target/release/digicon
export JWT_SECRET=load-benchmark-secret-of-32-bytes-or-more DIGICON_DATA_DIR="$work/data" RUST_LOG=warn
# Mail goes to files; the worker runs as in production.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server PORT: starts `digicon serve` on DATABASE_URL and waits until ready.
start_server() {
    DIGICON_BIND="127.0.0.1:$1" "$bin" serve >>"$work/server-$1.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0
        sleep 0.2
    done
    echo "server on port $1 did not become ready" >&2
    cat "$work/server-$1.log" >&2
    exit 1
}

# stop_servers: SIGTERM every server and print its peak resident memory first.
stop_servers() {
    for pid in "${pids[@]}"; do
        echo "server $pid peak memory: $(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$pid/status")"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

# run LABEL URL...: one load run against the given servers.
run() {
    local label="$1"
    shift
    echo
    echo "=== $label, $n consultations"
    BASE_URLS="$(IFS=,; echo "$*")" cargo bench --quiet --bench load
}

generate() {
    local start=$SECONDS
    "$bin" generate --consultations "$n" --seed 1 --no-search-index >/dev/null
    echo "generated $n consultations in $((SECONDS - start)) s"
}

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

if want sqlite; then
    export DATABASE_URL="sqlite://$work/sqlite.db"
    generate
    p=$(free_port)
    start_server "$p"
    run "SQLite, one instance" "http://127.0.0.1:$p"
    stop_servers
    rm -f "$work"/sqlite.db*
fi

if want postgres; then
    [ -n "${as_pg[*]}" ] && chown postgres "$work"
    "${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    pg_port=$(free_port)
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start \
        -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=256MB" >/dev/null
    "${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres digicon
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/digicon"
    generate
    p1=$(free_port)
    start_server "$p1"
    run "PostgreSQL, one instance" "http://127.0.0.1:$p1"
    stop_servers
    start_server "$p1"
    p2=$(free_port)
    start_server "$p2"
    run "PostgreSQL, two instances" "http://127.0.0.1:$p1" "http://127.0.0.1:$p2"
    stop_servers
fi
