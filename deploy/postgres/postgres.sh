#!/usr/bin/env bash
# A private PostgreSQL cluster on 127.0.0.1 for tests and local runs (no Docker), installed
# from Debian's packages when missing.
#   postgres.sh start|stop|status|createdb-all
# Env: PG_PORT (25432), PG_DATA_DIR (<repo>/run/postgres),
#      PG_DATABASES (space separated; default: one per service; "" for none).
# Role ensemble/ensemble (CREATEDB) owns the databases; local connections use trust auth.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="${PG_PORT:-25432}"
data_dir="${PG_DATA_DIR:-$repo/run/postgres}"
[[ "$data_dir" = /* ]] || data_dir="$PWD/$data_dir"
fallback_dir="/tmp/ensemble-pg-$port"
databases="${PG_DATABASES-hospital_feed scoring referral scheduling}"

say() { echo "postgres.sh: $*" >&2; }

# The server binaries: from PATH, else Debian's versioned directories (not on PATH by default).
find_bin() {
  local found dir
  if found="$(command -v initdb)" && [[ -x "$(dirname "$(readlink -f "$found")")/pg_ctl" ]]; then
    dirname "$(readlink -f "$found")"; return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
  done
  return 1
}

install_postgres() {
  say "PostgreSQL not found; installing it from Debian's packages"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "not root and no sudo: install postgresql yourself"; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# PostgreSQL refuses to run as root: as root, run it as the `postgres` user the package created.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The server user must be able to reach the data dir; a private home (e.g. /root, mode 700)
# forbids it, so fall back to /tmp then.
prepare_dir() {
  mkdir -p "$data_dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$data_dir"
    if ! runuser -u postgres -- test -w "$data_dir"; then
      say "the postgres user cannot reach $data_dir; using $fallback_dir"
      data_dir="$fallback_dir"
      mkdir -p "$data_dir" && chown postgres:postgres "$data_dir"
    fi
  fi
  chmod 700 "$data_dir"  # initdb and the server insist on a private directory
}

# Where an earlier `start` put the cluster (stop/status/createdb-all must find the fallback too).
locate_cluster() {
  [[ -f "$data_dir/PG_VERSION" ]] || [[ ! -f "$fallback_dir/PG_VERSION" ]] || data_dir="$fallback_dir"
  [[ -f "$data_dir/PG_VERSION" ]]
}

pg_running() { as_owner "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; }

psql_admin() {
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

createdb_all() {
  psql_admin -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='ensemble')
    THEN CREATE ROLE ensemble LOGIN CREATEDB PASSWORD 'ensemble'; END IF; END\$\$;"
  local db
  for db in $databases; do
    if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]]; then
      psql_admin -c "CREATE DATABASE \"$db\" OWNER ensemble"
    fi
  done
}

start() {
  bin="$(find_bin || { install_postgres; find_bin; })" || { say "no initdb/pg_ctl found"; exit 1; }
  prepare_dir
  if [[ ! -f "$data_dir/PG_VERSION" ]]; then  # once: a restart keeps the databases
    as_owner "$bin/initdb" -D "$data_dir" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  # The unix socket lives in the data dir (no clash with a system cluster), unless the path is
  # too long for a socket name (107 bytes).
  local socket_dir="$data_dir"
  ((${#data_dir} < 90)) || socket_dir="/tmp"
  if ! pg_running; then
    if ! as_owner "$bin/pg_ctl" -D "$data_dir" -l "$data_dir/server.log" -w -t 60 start \
      -o "-h 127.0.0.1 -p $port -k '$socket_dir' -c fsync=on -c max_connections=200" >/dev/null; then
      say "the server did not start; last lines of $data_dir/server.log:"
      tail -n 20 "$data_dir/server.log" >&2; exit 1
    fi
  fi
  local deadline=$((SECONDS + 60))
  until "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q; do
    ((SECONDS < deadline)) || { say "running in $data_dir, but nothing answers on port $port"; exit 1; }
    sleep 0.25
  done
  createdb_all
  say "running: data $data_dir, port $port"
  echo "postgresql+psycopg://ensemble:ensemble@127.0.0.1:$port/<db>"
}

stop() {
  bin="$(find_bin)" || return 0  # not installed: nothing runs
  locate_cluster || return 0
  pg_running || return 0
  as_owner "$bin/pg_ctl" -D "$data_dir" -m fast -w -t 60 stop >/dev/null
}

status() {
  if bin="$(find_bin)" && locate_cluster && pg_running; then
    echo "running: data $data_dir, port $port"
  else
    echo "not running"; exit 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  createdb-all)
    bin="$(find_bin)" && locate_cluster && pg_running || { say "not running; use start"; exit 1; }
    createdb_all ;;
  *) echo "usage: $0 start|stop|status|createdb-all" >&2; exit 2 ;;
esac
