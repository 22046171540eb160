#!/usr/bin/env bash
# `make bench`: runs inside scripts/with-postgres.sh. SCALE multiplies dataset sizes (default 1).
# BENCH_SECTION=purge|steady|intake|backup|subject|worker|inspect|serve runs one section.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(swift build ${RELEASE_FLAGS:--c release} --show-bin-path)
SECTION=${BENCH_SECTION:-}
if [ "$SECTION" != steady ]; then
    "$BIN/LetheBench" $SECTION --scale "${SCALE:-1}" --lethe "$BIN/lethe"
fi
if [ -z "$SECTION" ] || [ "$SECTION" = steady ]; then
    # The daily purge as cron runs it, at 00:05 UTC: a second server whose clock libfaketime moves back to the
    # last 00:05 UTC (a relative offset, so its clock still runs). Lethe reads only the database clock.
    now=$(date -u +%s)
    offset=$(( now - now % 86400 + 300 - now ))
    [ "$offset" -gt 0 ] && offset=$(( offset - 86400 ))
    LETHE_TEST_PGPORT=$(( ${LETHE_TEST_PGPORT:-55432} + 1 )) LETHE_PG_FAKETIME="$offset" \
        scripts/with-postgres.sh "$BIN/LetheBench" steady --scale "${SCALE:-1}" --lethe "$BIN/lethe"
fi
