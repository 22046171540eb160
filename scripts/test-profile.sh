#!/usr/bin/env bash
# What each test costs, one test at a time on one throwaway server (run under scripts/with-postgres.sh, after
# `swift build --build-tests`): wall seconds, the server's CPU seconds (postmaster and the backends it reaped)
# and the test process's own CPU (with the lethe processes it spawned). Prints a TSV sorted by total CPU, then
# per-suite sums. `make test-profile` runs it; the figures are what issue 26's note quotes.
set -euo pipefail
: "${PGHOST:?run under scripts/with-postgres.sh}"
FILTER=${1:-.}
server_cpu() {
    local pid
    pid=$(head -1 "$LETHE_TEST_PGDATA/postmaster.pid")
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$pid/stat"
}
OUT=$(mktemp /tmp/lethe-profile.XXXXXX)
swift test list --skip-build 2>/dev/null | grep -v FaultInjection | grep -E -- "$FILTER" | while read -r id; do
    pattern="${id%%(*}"
    before=$(server_cpu)
    start=$(date +%s.%N)
    # time(1) adds a line "Command exited with non-zero status" before its figures when a test fails.
    if /usr/bin/time -f '%U %S' -o "$OUT.time" swift test --skip-build --filter "$pattern" >"$OUT.log" 2>&1; then status=ok; else status=FAILED; fi
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    server=$(echo "$(server_cpu) - $before" | bc)
    client=$(tail -1 "$OUT.time" | awk '{ print $1 + $2 }')
    printf '%.1f\t%.1f\t%.1f\t%s\t%s\n' "$wall" "$server" "$client" "$status" "$id"
done > "$OUT"
echo -e "wall_s\tserver_cpu_s\tclient_cpu_s\tstatus\ttest"
sort -t$'\t' -k2,2 -k3,3 -gr "$OUT" | awk -F'\t' '{ print $0 }' OFS='\t'
echo
echo -e "suite\ttests\twall_s\tserver_cpu_s\tclient_cpu_s"
awk -F'\t' '{ split($5, p, "/"); s = p[1]; n[s]++; w[s] += $1; c[s] += $2; k[s] += $3 }
    END { for (s in n) printf "%s\t%d\t%.1f\t%.1f\t%.1f\n", s, n[s], w[s], c[s], k[s] }' "$OUT" | sort -t$'\t' -k4,4 -gr
awk -F'\t' '{ w += $1; c += $2; k += $3 } END { printf "total\t%d\t%.1f\t%.1f\t%.1f\n", NR, w, c, k }' "$OUT"
rm -f "$OUT" "$OUT.time" "$OUT.log"
