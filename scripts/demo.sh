#!/usr/bin/env bash
# `make demo`: every lethe command that exists so far, on synthetic data, with readable output.
# Runs inside scripts/with-postgres.sh, which provides the throwaway server through PG* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
LETHE=${LETHE_BIN:-.build/debug/lethe}
export PGDATABASE=lethe_demo
psql -q -d postgres -c "CREATE DATABASE lethe_demo"

step() {
    printf '\n\033[1m$ lethe %s\033[0m\n' "$*"
    eval "\"\$LETHE\" $*"
}

step --version
step migrate
step migrate --status
step policy check
FROM=$(psql -tA -c "SELECT to_char(now() AT TIME ZONE 'UTC' - interval '12 months', 'YYYY-MM')")
step partitions ensure --from "$FROM" --months-ahead 2
printf '\n(loading synthetic data: 3 customers, 12 months of messages, contacts and delivery reports)\n'
psql -q -v ON_ERROR_STOP=1 -f scripts/demo-data.sql
step partitions list

step retention set --customer 1 --period P30D --reason "'contract 2026-114: 30 days'"
step retention set --customer 1 --period P7M --reason "'asked for longer'" || echo "(refused with exit $?: retention can only be shortened)"
step retention show
step hold add --customer 3 --reason "'court order 2026/1187'"
step hold list
step purge --dry-run
step purge
step purge
step audit verify
step audit list --limit 5
step exit-codes

printf '\n\033[1mSummary\033[0m\n'
psql -P footer=off -c "
SELECT t.name AS table, count(*) AS rows, min(t.at)::date AS oldest, max(t.at)::date AS newest
FROM (SELECT 'sms.messages' AS name, created_at AS at FROM sms.messages
      UNION ALL SELECT 'sms.delivery_reports', reported_at FROM sms.delivery_reports
      UNION ALL SELECT 'sms.contacts', created_at FROM sms.contacts) t
GROUP BY t.name ORDER BY t.name"
echo "demo finished: schema migrated, policy valid, partitions in place, retention purged (customer 1 at 30 days, customer 3 on hold)"
