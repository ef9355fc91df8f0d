#!/usr/bin/env bash
# Search benchmark: generates N consultations (default 1,000,000) with the search
# index on SQLite and on a throwaway PostgreSQL 15, then runs benches/search.rs on
# each: 2- and 4-character Japanese queries through the list query (whole city and
# one division), the plain alternatives (FTS5 trigram, pg_trgm, LIKE), and filing
# with the index in place.
#
# Usage: scripts/bench-search.sh [N]
#   WORK=dir    where the databases go (default target/bench-search); a database
#               generated there before is reused, so reruns skip the generation
#   BACKENDS="sqlite postgres"   PARTS=queries,baselines,filing   RUNS=21
#   FILERS=1    connections filing at once in the filing part
#   KEEP=1      keep the databases afterwards (default: delete them)
# Figures are wall-clock times on whatever else the machine runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/throwaway-postgres.sh

N=${1:-1000000}
WORK=${WORK:-$PWD/target/bench-search}
BACKENDS=${BACKENDS:-sqlite postgres}
BIN=$PWD/target/release/digicon
mkdir -p "$WORK"
cleanup() {
  stop_postgres "$WORK/pg"
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

cargo build --release --quiet
cargo bench --quiet --bench search --no-run

bench() {
  local backend=$1 url=$2 data=$WORK/$1
  mkdir -p "$data"
  if [ ! -e "$data/generated.txt" ]; then
    echo "== $backend: generating $N consultations with the search index"
    DATABASE_URL=$url DIGICON_DATA_DIR=$data "$BIN" generate --consultations "$N" --seed 1 > "$data/generate.tmp"
    mv "$data/generate.tmp" "$data/generated.txt"
    grep -E "consultations/s" "$data/generated.txt"
  fi
  echo "== $backend"
  DATABASE_URL=$url cargo bench --quiet --bench search
}

for backend in $BACKENDS; do
  case $backend in
    sqlite) bench sqlite "sqlite://$WORK/sqlite/bench.db" ;;
    postgres) bench postgres "$(start_postgres "$WORK/pg")" ;;
  esac
done
