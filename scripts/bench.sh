#!/usr/bin/env bash
# `make bench`: runs inside scripts/with-postgres.sh. SCALE multiplies dataset sizes (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(swift build ${RELEASE_FLAGS:--c release} --show-bin-path)
"$BIN/LetheBench" ${BENCH_SECTION:-} --scale "${SCALE:-1}" --lethe "$BIN/lethe"
