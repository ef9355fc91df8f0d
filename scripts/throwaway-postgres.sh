# Sourced by the benchmark scripts: a throwaway PostgreSQL 15 in a folder of their own.
#   start_postgres DIR   initdb into DIR once (reused by reruns), start it on a free
#                        port, create database `bench`, print its URL
#   stop_postgres DIR    stop it
# DIGICON_PG_BIN overrides where the binaries are (default /usr/lib/postgresql/15/bin).
PG_BIN=${DIGICON_PG_BIN:-/usr/lib/postgresql/15/bin}

# initdb and postgres refuse to run as root: run them as `postgres` then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_postgres() {
  local dir=$1 port
  port=$(free_port)
  if [ ! -d "$dir/data" ]; then
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; fi
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=512MB -c work_mem=64MB" \
    start >/dev/null
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 \
    || as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres bench
  echo "postgres://postgres@127.0.0.1:$port/bench"
}

stop_postgres() {
  as_pg "$PG_BIN/pg_ctl" -D "$1/data" -m fast stop >/dev/null 2>&1 || true
}
