#!/usr/bin/env bash
# Effects report benchmark (issue 20): how long the report page and its API take
# to render, over HTTP, on SQLite.
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

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

# serve DATA_DIR DB [--demo]: starts the server, sets BASE.
serve() {
  local port; port=$(free_port)
  DIGICON_DATA_DIR=$1 DATABASE_URL="sqlite://$2" DIGICON_BIND="127.0.0.1:$port" RUST_LOG=warn \
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
serve "$WORK/demo" "$WORK/demo/digicon.db" --demo
T=$(token dx@demo.digicon.local demo-pass-2025)
YEAR=$(python3 -c 'import datetime as d; t=d.date.today(); print(t.year if t.month>=4 else t.year-1)')
measure demo "$T" "$YEAR"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

[ "${SCALE:-1}" = 0 ] && exit 0
echo "--- $N consultations, $S ledger entries"
DB=$WORK/scale/digicon.db
mkdir -p "$WORK/scale"
if [ ! -f "$WORK/scale/.generated-$N" ]; then
  rm -f "$DB"*
  DATABASE_URL="sqlite://$DB" DIGICON_DATA_DIR="$WORK/scale" RUST_LOG=warn "$BIN" generate --consultations "$N" --seed 1 --no-search-index
  touch "$WORK/scale/.generated-$N"
fi
python3 - "$DB" "$S" <<'PY'
import random, sqlite3, sys, datetime as dt
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
have = c.execute("select count(*) from systems").fetchone()[0]
if have >= n:
    sys.exit(0)
rnd = random.Random(1)
divisions = [r[0] for r in c.execute("select id from departments where kind='division'")]
users = [r[0] for r in c.execute("select id from users limit 2000")]
start = dt.datetime(2016, 4, 1)
fmt = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
for i in range(have, n):
    t0 = start + dt.timedelta(days=rnd.randrange(0, 3500))
    t1 = t0 + dt.timedelta(days=rnd.randrange(20, 200))
    t2 = t1 + dt.timedelta(days=rnd.randrange(20, 200))
    phase = rnd.choices(["trial", "verification", "production", "retired"], [5, 5, 80, 10])[0]
    t3 = t2 + dt.timedelta(days=rnd.randrange(100, 1500))
    hours = rnd.randrange(10, 3000)
    effects = '[{"what":"残業時間","before":55,"after":40,"unit":"時間/月","note":null}]' if i % 50 == 0 else "[]"
    cur = c.execute(
        "insert into systems (name, department_id, platform, phase, built_by, hours_saved_per_year, cost_saved_per_year,"
        " holds_personal_data, manual_location, owner_id, production_at, version, created_at, updated_at, verified,"
        " development_cost_avoided, other_effects) values (?,?,?,?,?,?,?,0,'//fs/manual.pdf',?,?,1,?,?,1,?,?)",
        (f"業務システム{i:05d}", rnd.choice(divisions), rnd.choice(["low_code_app", "rpa", "e_application"]), phase,
         "in_house" if rnd.random() < 0.9 else "vendor", hours, hours * 2500, rnd.choice(users),
         fmt(t2) if phase in ("production", "retired") else None, fmt(t0), fmt(t0),
         rnd.randrange(0, 5_000_000), effects))
    sid = cur.lastrowid
    steps = [("register", None, "trial", t0), ("phase", "trial", "verification", t1)]
    if phase in ("production", "retired"):
        steps.append(("phase", "verification", "production", t2))
    if phase == "retired":
        steps.append(("phase", "production", "retired", t3))
    if phase == "trial":
        steps = steps[:1]
    for event, frm, to, at in steps:
        c.execute("insert into system_events (system_id, event, actor_id, from_phase, to_phase, payload, created_at)"
                  " values (?,?,NULL,?,?,'{}',?)", (sid, event, frm, to, fmt(at)))
c.commit()
print(f"ledger: {n} entries, {c.execute('select count(*) from system_events').fetchone()[0]} history rows")
PY
DX_DEPT=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select code from departments where kind='division' order by id limit 1\").fetchone()[0])" "$DB")
echo 'bench-pass-2025' | DATABASE_URL="sqlite://$DB" DIGICON_DATA_DIR="$WORK/scale" RUST_LOG=warn \
  "$BIN" user add --email bench-dx@bench.local --name ベンチ --role dx_office --department "$DX_DEPT" >/dev/null 2>&1 || true
serve "$WORK/scale" "$DB"
T=$(token bench-dx@bench.local bench-pass-2025)
measure scale "$T" "$YEAR"
