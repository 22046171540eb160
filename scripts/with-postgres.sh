#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 cluster in a temp dir, then stops and removes it.
# The command sees PGHOST/PGPORT/PGUSER/PGDATABASE, so libpq (lethe, psql, pg_dump) finds the server.
# Usage: [LETHE_PG_OPTS='-c name=value ...'] scripts/with-postgres.sh COMMAND [ARGS...]
# Tests run without fsync; LETHE_PG_OPTS (appended, so it wins) restores production settings for benchmarks.
# LETHE_PG_FAKETIME (a libfaketime relative offset such as -3300) sets the server's clock, and only the server's:
# the benchmark of the daily purge runs it at 00:05 UTC without Lethe having any clock override.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${LETHE_TEST_PGPORT:-55432}

# LETHE_PG_DIR: where the cluster lives. The test targets put it on tmpfs (/dev/shm): a suite creates and drops
# thousands of relation files, and ext4's inode allocation for them was a quarter of the server's CPU.
PARENT=${LETHE_PG_DIR:-/tmp}
[ -d "$PARENT" ] && [ -w "$PARENT" ] || PARENT=/tmp
D=$(mktemp -d "$PARENT/lethe-pg.XXXXXX")
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$D"
# The server's own CPU (postmaster and every backend it reaped), for LETHE_PG_REPORT_CPU=1: a test suite is
# measured by what it asks of PostgreSQL, not only by its wall time.
server_cpu_seconds() {
    local pid
    pid=$(head -1 "$D/data/postmaster.pid" 2>/dev/null) || return 0
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15 + $16 + $17) / hz }' "/proc/$pid/stat" 2>/dev/null || true
}
cleanup() {
    if [ -n "${LETHE_PG_REPORT_CPU:-}" ]; then echo "throwaway PostgreSQL 15: server CPU $(server_cpu_seconds) s" >&2; fi
    as_postgres "$PGBIN/pg_ctl" -D "$D/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$D"
}
trap cleanup EXIT INT TERM
as_postgres "$PGBIN/initdb" -D "$D/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
# One role logs in with a password (SCRAM), for the tests of credentials: a wrong one exits 77, and pg_dump
# gets the right one without a command line showing it. Everyone else is trusted, as in a throwaway cluster.
{ echo "local all lethe_password_login scram-sha-256"; cat "$D/data/pg_hba.conf"; } > "$D/pg_hba.conf"
as_postgres cp "$D/pg_hba.conf" "$D/data/pg_hba.conf"
SERVER_ENV=()
if [ -n "${LETHE_PG_FAKETIME:-}" ]; then
    FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 'libfaketime.so.1$' || true)
    [ -n "$FAKETIME_LIB" ] || { echo "LETHE_PG_FAKETIME needs libfaketime (apt-get install faketime)" >&2; exit 69; }
    SERVER_ENV=(env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$LETHE_PG_FAKETIME" FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1)
fi
as_postgres "${SERVER_ENV[@]}" "$PGBIN/pg_ctl" -D "$D/data" -w -l "$D/log" \
    -o "-k $D -p $PORT -c listen_addresses='' -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off ${LETHE_PG_OPTS:-}" start >/dev/null
# LETHE_TEST_PGDATA: the fault-injection tests restart the server (pg_ctl -m immediate) under a running job.
export PGHOST=$D PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres LETHE_TEST_PGDATA=$D/data
echo "throwaway PostgreSQL 15 at PGHOST=$PGHOST PGPORT=$PGPORT"
"$@"
