#!/usr/bin/env bash
# A private PostgreSQL cluster on 127.0.0.1 for tests and local runs, installed from Debian's
# packages when missing.   postgres.sh start|stop
# Env: PG_PORT (55432), PG_DATA_DIR (<repo>/run/postgres), PG_DATABASES (space separated;
#      default: one per service), role ensemble/ensemble.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="${PG_PORT:-55432}"
data_dir="${PG_DATA_DIR:-$repo/run/postgres}"
databases="${PG_DATABASES-hospital_feed scoring referral scheduling}"

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return 0; }
  done
  return 1
}

install_postgres() {
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
}

bin="$(find_bin || { install_postgres >&2; find_bin; })"

# PostgreSQL refuses to run as root: run it as the `postgres` user the package created.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

prepare_dir() {
  mkdir -p "$data_dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$data_dir"
    # The server user must be able to reach the directory; a private home may forbid it.
    if ! runuser -u postgres -- test -w "$data_dir"; then
      data_dir="/tmp/ensemble-pg-$port"
      mkdir -p "$data_dir" && chown postgres:postgres "$data_dir"
      echo "postgres.sh: using $data_dir (the postgres user cannot reach the default)" >&2
    fi
  fi
  chmod 700 "$data_dir"
}

psql_admin() {
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

start() {
  prepare_dir
  if [[ ! -f "$data_dir/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$data_dir" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! as_owner "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$data_dir" -l "$data_dir/server.log" -w -t 60 start \
      -o "-h 127.0.0.1 -p $port -k $data_dir -c fsync=on -c max_connections=200" >/dev/null
  fi
  for _ in $(seq 1 120); do
    "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q && break
    sleep 0.25
  done
  psql_admin -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='ensemble')
    THEN CREATE ROLE ensemble LOGIN CREATEDB PASSWORD 'ensemble'; END IF; END\$\$;"
  for db in $databases; do
    if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]]; then
      psql_admin -c "CREATE DATABASE $db OWNER ensemble"
    fi
  done
  echo "postgresql+psycopg://ensemble:ensemble@127.0.0.1:$port/<database>"
}

stop() {
  [[ -f "$data_dir/PG_VERSION" ]] || data_dir="/tmp/ensemble-pg-$port"
  [[ -f "$data_dir/PG_VERSION" ]] || return 0
  as_owner "$bin/pg_ctl" -D "$data_dir" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
