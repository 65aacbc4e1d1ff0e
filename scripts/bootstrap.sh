#!/usr/bin/env bash
# Makes this machine ready to run the fleet and its tests: dependencies installed from the lockfile, and Redis
# and PostgreSQL reachable at REDIS_URL / DATABASE_URL. A service already answering is used as it is; on
# loopback, a missing one is started with its data under .data/ (and installed from Debian's packages on a bare
# Debian machine, as root). Anywhere else it says in one line what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
data="$root/.data"

say() { printf 'bootstrap: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

# --- dependencies --------------------------------------------------------------------------------------------
if [ "${1:-}" != "--services-only" ]; then
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund >&2
  fi
fi

# --- where the services should be ----------------------------------------------------------------------------
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dossier_sync}
host_of() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; echo "${rest%%:*}"; }
port_of() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; case $rest in *:*) echo "${rest##*:}" ;; *) echo "$2" ;; esac; }
reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
is_loopback() { case $1 in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_install() {
  say "installing $* from Debian's packages"
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}
wait_for() { for _ in $(seq 1 60); do reachable "$1" "$2" && return 0; sleep 0.5; done; return 1; }

# --- Redis ---------------------------------------------------------------------------------------------------
redis_host=$(host_of "$redis_url"); redis_port=$(port_of "$redis_url" 6379)
if ! reachable "$redis_host" "$redis_port"; then
  is_loopback "$redis_host" || fail "Redis is not reachable at $redis_host:$redis_port (REDIS_URL); start it or point REDIS_URL at a running Redis"
  if ! command -v redis-server >/dev/null; then
    can_apt || fail "Redis is not reachable at $redis_host:$redis_port and redis-server is not installed; install Redis 7 (e.g. apt-get install redis-server)"
    apt_install redis-server
  fi
  mkdir -p "$data/redis"
  say "starting Redis on $redis_host:$redis_port (data in .data/redis)"
  # noeviction: an evicted job is lost work (DESIGN.md). AOF: queued batches survive a Redis restart.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --dir "$data/redis" \
    --appendonly yes --maxmemory-policy noeviction --logfile "$data/redis/redis.log" >&2
  wait_for "$redis_host" "$redis_port" || fail "Redis did not start; see .data/redis/redis.log"
fi

# --- PostgreSQL ----------------------------------------------------------------------------------------------
pg_host=$(host_of "$database_url"); pg_port=$(port_of "$database_url" 5432)
if ! reachable "$pg_host" "$pg_port"; then
  is_loopback "$pg_host" || fail "PostgreSQL is not reachable at $pg_host:$pg_port (DATABASE_URL); start it or point DATABASE_URL at a running server"
  pg_bin=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)")
  if [ ! -x "$pg_bin/initdb" ]; then
    can_apt || fail "PostgreSQL is not reachable at $pg_host:$pg_port and is not installed; install PostgreSQL 15 (e.g. apt-get install postgresql)"
    apt_install postgresql
    pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  fi
  # initdb refuses to run as root: run the server as the postgres system user when we are root.
  as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --home-dir "$data" postgres; fi
  mkdir -p "$data"
  if [ ! -f "$data/postgres/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in .data/postgres (user postgres, trust auth on loopback)"
    mkdir -p "$data/postgres"
    [ "$(id -u)" = 0 ] && chown postgres "$data/postgres"
    as_owner "$pg_bin/initdb" -D "$data/postgres" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  say "starting PostgreSQL on $pg_host:$pg_port (data in .data/postgres)"
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  as_owner "$pg_bin/pg_ctl" -D "$data/postgres" -l "$data/postgres/server.log" -w \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
  wait_for "$pg_host" "$pg_port" || fail "PostgreSQL did not start; see .data/postgres/server.log"
fi
