#!/usr/bin/env bash
# Dashboard benchmark: generates N consultations (default 1,000,000) on SQLite and on
# a throwaway PostgreSQL 15, starts `digicon serve` (release build) on each, and
# measures over HTTP:
#   - GET /api/v1/dashboard for the whole city (a DX office login) and one fiscal
#     year (the last complete one): median and 90th percentile of RUNS requests;
#   - the consultation list with filters (one page);
#   - a CSV export of the whole list and an XLSX export of one fiscal year: time,
#     size, and the server's peak resident memory before and after (constant memory
#     means the peak barely moves while a million rows go out).
#
# Usage: scripts/bench-dashboard.sh [N]
#   WORK=dir        where the databases go (default target/bench-dashboard); a database
#                   generated there before is reused, so reruns skip the generation
#   RUNS=21         dashboard requests per backend
#   BACKENDS="sqlite postgres"
#   KEEP=1          keep the databases afterwards (default: delete them)
#   EXPORTS=0       skip the exports (they take minutes at 1M)
#   DIGICON_PG_BIN  PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   DIGICON_BIN     measure this binary instead of building target/release/digicon
#                   (e.g. a copy of an earlier build, for before/after on one database)
# Needs curl and python3. Figures are wall-clock times on whatever else the machine runs.
set -euo pipefail

N=${1:-1000000}
WORK=${WORK:-$PWD/target/bench-dashboard}
RUNS=${RUNS:-21}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_BIN=${DIGICON_PG_BIN:-/usr/lib/postgresql/15/bin}
BIN=${DIGICON_BIN:-$PWD/target/release/digicon}

[ -n "${DIGICON_BIN:-}" ] || cargo build --release --quiet
mkdir -p "$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Median and p90 (nearest rank) of numbers on stdin, in milliseconds.
stats() { sort -n | awk '{ v[NR] = $1 * 1000 } END { m = int((NR + 1) / 2); p = int(NR * 0.9 + 0.999); printf "median %.1f ms, p90 %.1f ms (n=%d)", v[m], v[p], NR }'; }
peak_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

PG_PID_FILE=""
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  if [ -n "$PG_PID_FILE" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_postgres() {
  local dir=$WORK/pg port
  port=$(free_port)
  if [ ! -d "$dir/data" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c work_mem=64MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  PG_PID_FILE=$dir/data/postmaster.pid
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 \
    || as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres bench
  PG_URL="postgres://postgres@127.0.0.1:$port/bench"
}

bench() {
  local backend=$1 url=$2 data=$WORK/$1
  mkdir -p "$data"
  if [ ! -e "$data/generated.txt" ]; then
    echo "== $backend: generating $N consultations"
    DATABASE_URL=$url DIGICON_DATA_DIR=$data "$BIN" generate --consultations "$N" --seed 1 --no-search-index > "$data/generate.tmp"
    mv "$data/generate.tmp" "$data/generated.txt"
    grep -E "consultations/s|generated" "$data/generated.txt" | head -3
  fi
  local password port base token year
  password=$(sed -n "s/^every generated user's password: //p" "$data/generated.txt")
  port=$(free_port)
  base=http://127.0.0.1:$port
  DATABASE_URL=$url DIGICON_DATA_DIR=$data DIGICON_BIND=127.0.0.1:$port DIGICON_WORKER=off RUST_LOG=warn \
    "$BIN" serve > "$data/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.5; done
  token=$(curl -sf "$base/api/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"email\":\"gen-dx@gen.digicon.local\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  year=$(( $(TZ=Asia/Tokyo date +%Y) - ( $(TZ=Asia/Tokyo date +%-m) < 4 ? 2 : 1 ) ))
  local auth="Authorization: Bearer $token"
  echo "== $backend: GET /api/v1/dashboard?fiscal_year=$year (whole city)"
  curl -sf -H "$auth" "$base/api/v1/dashboard?fiscal_year=$year" | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print("   %s %s: filed %d, resolved %d, open %d; %s %d -> %d" % (d["label"], d["era_label"], d["filed"], d["resolved"], d["open"], "year over year", d["previous_year"]["filed"], d["filed"]))'
  for _ in 1 2 3; do curl -sf -o /dev/null -H "$auth" "$base/api/v1/dashboard?fiscal_year=$year"; done
  echo "   $(for _ in $(seq 1 "$RUNS"); do curl -sf -o /dev/null -w '%{time_total}\n' -H "$auth" "$base/api/v1/dashboard?fiscal_year=$year"; done | stats)"
  echo "== $backend: GET /api/v1/consultations?fiscal_year=$year&state=closed&category=rpa&sort=created&limit=50"
  echo "   $(for _ in $(seq 1 "$RUNS"); do curl -sf -o /dev/null -w '%{time_total}\n' -H "$auth" "$base/api/v1/consultations?fiscal_year=$year&state=closed&category=rpa&sort=created&limit=50"; done | stats)"
  local before after
  if [ "${EXPORTS:-1}" = 1 ]; then
  before=$(peak_kib "$SERVER_PID")
  echo "== $backend: exports (server peak RSS before: $((before / 1024)) MiB)"
  curl -sf -o "$data/all.csv" -w '   CSV, whole list: %{size_download} bytes in %{time_total} s (first byte after %{time_starttransfer} s)\n' -H "$auth" "$base/api/v1/export/consultations.csv"
  echo "   rows: $(( $(wc -l < "$data/all.csv") - 1 ))"
  curl -sf -o "$data/year.xlsx" -w "   XLSX, FY$year: %{size_download} bytes in %{time_total} s\n" -H "$auth" "$base/api/v1/export/consultations.xlsx?fiscal_year=$year"
  after=$(peak_kib "$SERVER_PID")
  echo "   server peak RSS after the exports: $((after / 1024)) MiB"
  rm -f "$data/all.csv" "$data/year.xlsx"
  fi
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

for backend in $BACKENDS; do
  case $backend in
    sqlite) bench sqlite "sqlite://$WORK/sqlite/bench.db" ;;
    # Not in $(...): the cleanup must see PG_PID_FILE to stop the server.
    postgres) start_postgres; bench postgres "$PG_URL" ;;
  esac
done
