#!/usr/bin/env bash
# Effects report benchmark (issue 20): how long the report page and its API take
# to render, over HTTP (demo data on SQLite; at scale on SQLite and/or PostgreSQL).
#   - demo data: `digicon serve --demo` (a small city, nine ledger entries);
#   - at scale: `digicon generate --consultations N` (default 1,000,000) plus S ledger
#     entries (default 3,000) with ten years of phase history, written by this script
#     (generate makes no ledger entries).
# Prints the median and 90th percentile of RUNS requests of each of:
#   GET /effects/report?fiscal_year=Y (the HTML page), GET /api/v1/effects/report.
#
# Usage: scripts/bench-effects.sh [N] [S]
#   WORK=dir   where the databases go (default target/bench-effects); a generated
#              database there is reused
#   RUNS=21    requests per route
#   SCALE=0    demo data only
#   BACKENDS="sqlite postgres"  at scale (default sqlite; postgres starts a throwaway
#              PostgreSQL 15 under WORK, see scripts/throwaway-postgres.sh)
#   DIGICON_BIN  the binary (default: builds target/release/digicon)
# Needs curl and python3. Figures are wall-clock times on whatever else the machine runs.
set -euo pipefail

N=${1:-1000000}
S=${2:-3000}
WORK=${WORK:-$PWD/target/bench-effects}
RUNS=${RUNS:-21}
BIN=${DIGICON_BIN:-$PWD/target/release/digicon}
[ -n "${DIGICON_BIN:-}" ] || cargo build --release --quiet
mkdir -p "$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stats() { sort -n | awk '{ v[NR] = $1 * 1000 } END { m = int((NR + 1) / 2); p = int(NR * 0.9 + 0.999); printf "median %.1f ms, p90 %.1f ms (n=%d)", v[m], v[p], NR }'; }

# shellcheck source=scripts/throwaway-postgres.sh
. "$(dirname "$0")/throwaway-postgres.sh"
SERVER_PID=""
PG_STARTED=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$PG_STARTED" ] && stop_postgres "$WORK/pg"
  return 0
}
trap cleanup EXIT

# serve DATA_DIR DATABASE_URL [--demo]: starts the server, sets BASE.
serve() {
  local port; port=$(free_port)
  DIGICON_DATA_DIR=$1 DATABASE_URL="$2" DIGICON_BIND="127.0.0.1:$port" RUST_LOG=warn \
    "$BIN" serve ${3:-} >"$1/serve.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start: $(cat "$1/serve.log")" >&2; exit 1
}

token() {
  curl -fs -H 'Content-Type: application/json' -d "{\"email\":\"$1\",\"password\":\"$2\"}" \
    "$BASE/api/v1/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

measure() { # label token year
  local path
  for path in "/effects/report?fiscal_year=$3" "/api/v1/effects/report?fiscal_year=$3"; do
    curl -fs -o /dev/null -H "Authorization: Bearer $2" "$BASE$path" # warm
    printf '%-10s %-42s ' "$1" "$path"
    for _ in $(seq 1 "$RUNS"); do
      curl -fs -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $2" "$BASE$path"
    done | stats
    echo
  done
}

echo "--- demo data"
rm -rf "$WORK/demo"; mkdir -p "$WORK/demo"
serve "$WORK/demo" "sqlite://$WORK/demo/digicon.db" --demo
T=$(token dx@demo.digicon.local demo-pass-2025)
YEAR=$(python3 -c 'import datetime as d; t=d.date.today(); print(t.year if t.month>=4 else t.year-1)')
measure demo "$T" "$YEAR"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

[ "${SCALE:-1}" = 0 ] && exit 0

# ledger_sql S DIVISION_IDS USER_IDS EXISTING: SQL inserting entries EXISTING+1..S with
# their phase histories (the same for both backends).
ledger_sql() {
  python3 - "$@" <<'PY'
import random, sys, datetime as dt
n, divisions, users, have = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4])
rnd = random.Random(1)
start = dt.datetime(2016, 4, 1)
fmt = lambda t: "'" + t.strftime("%Y-%m-%d %H:%M:%S") + "'"
out = ["BEGIN;"]
for i in range(have, n):
    t0 = start + dt.timedelta(days=rnd.randrange(0, 3500))
    t1 = t0 + dt.timedelta(days=rnd.randrange(20, 200))
    t2 = t1 + dt.timedelta(days=rnd.randrange(20, 200))
    phase = rnd.choices(["trial", "verification", "production", "retired"], [5, 5, 80, 10])[0]
    t3 = t2 + dt.timedelta(days=rnd.randrange(100, 1500))
    hours = rnd.randrange(10, 3000)
    effects = '[{"what":"残業時間","before":55,"after":40,"unit":"時間/月","note":null}]' if i % 50 == 0 else "[]"
    live = fmt(t2) if phase in ("production", "retired") else "NULL"
    out.append(
        "INSERT INTO systems (name, department_id, platform, phase, built_by, hours_saved_per_year,"
        " cost_saved_per_year, holds_personal_data, manual_location, owner_id, production_at, version,"
        " created_at, updated_at, verified, development_cost_avoided, other_effects) VALUES"
        f" ('業務システム{i:05d}', {rnd.choice(divisions)}, '{rnd.choice(['low_code_app', 'rpa', 'e_application'])}',"
        f" '{phase}', '{'in_house' if rnd.random() < 0.9 else 'vendor'}', {hours}, {hours * 2500}, FALSE,"
        f" '//fs/manual.pdf', {rnd.choice(users)}, {live}, 1, {fmt(t0)}, {fmt(t0)}, TRUE,"
        f" {rnd.randrange(0, 5_000_000)}, '{effects}');")
    steps = [("register", "NULL", "trial", t0), ("phase", "'trial'", "verification", t1)]
    if phase in ("production", "retired"):
        steps.append(("phase", "'verification'", "production", t2))
    if phase == "retired":
        steps.append(("phase", "'production'", "retired", t3))
    if phase == "trial":
        steps = steps[:1]
    for event, frm, to, at in steps:
        out.append("INSERT INTO system_events (system_id, event, actor_id, from_phase, to_phase, payload, created_at)"
                   f" VALUES ((SELECT max(id) FROM systems), '{event}', NULL, {frm}, '{to}', '{{}}', {fmt(at)});")
out.append("COMMIT;")
print("\n".join(out))
PY
}

for backend in ${BACKENDS:-sqlite}; do
  echo "--- $backend: $N consultations, $S ledger entries"
  mkdir -p "$WORK/$backend"
  if [ "$backend" = postgres ]; then
    URL=$(start_postgres "$WORK/pg"); PG_STARTED=1
    PGPORT=${URL##*:}; PGPORT=${PGPORT%%/*}
    q() { as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d bench -v ON_ERROR_STOP=1 -qAt "$@"; }
  else
    DB=$WORK/sqlite/digicon.db; URL="sqlite://$DB"
    q() { if [ "${1:-}" = -c ]; then python3 -c 'import sqlite3,sys; [print("|".join(map(str,r))) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' "$DB" "$2";
          else python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).executescript(sys.stdin.read())' "$DB"; fi; }
  fi
  if [ ! -f "$WORK/$backend/.generated-$N" ]; then
    DATABASE_URL="$URL" DIGICON_DATA_DIR="$WORK/$backend" RUST_LOG=warn "$BIN" generate --consultations "$N" --seed 1 --no-search-index
    touch "$WORK/$backend/.generated-$N"
  fi
  HAVE=$(q -c "SELECT count(*) FROM systems")
  if [ "$HAVE" -lt "$S" ]; then
    DIVISIONS=$(q -c "SELECT id FROM departments WHERE kind = 'division'" | tr '\n' ' ')
    USERS=$(q -c "SELECT id FROM users ORDER BY id LIMIT 2000" | tr '\n' ' ')
    ledger_sql "$S" "$DIVISIONS" "$USERS" "$HAVE" | q
  fi
  echo "ledger: $(q -c "SELECT count(*) FROM systems") entries, $(q -c "SELECT count(*) FROM system_events") history rows"
  DX_DEPT=$(q -c "SELECT code FROM departments WHERE kind = 'division' ORDER BY id LIMIT 1")
  echo 'bench-pass-2025' | DATABASE_URL="$URL" DIGICON_DATA_DIR="$WORK/$backend" RUST_LOG=warn \
    "$BIN" user add --email bench-dx@bench.local --name ベンチ --role dx_office --department "$DX_DEPT" >/dev/null 2>&1 || true
  serve "$WORK/$backend" "$URL"
  T=$(token bench-dx@bench.local bench-pass-2025)
  measure "$backend" "$T" "$YEAR"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done
