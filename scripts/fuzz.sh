#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer driver (address sanitizer on) and runs every target for FUZZ_SECONDS
# (default 60) from its committed seed corpus. Prints executions per second and coverage per target;
# exits 1 if any target breaks its contract, leaving the reproducer in .build/fuzz/findings/TARGET/.
# A reproducer worth keeping goes into Fuzz/findings/TARGET/ once fixed: `make test` replays it for ever.
#   FUZZ_SECONDS=300 make fuzz          longer runs
#   FUZZ_TARGETS="csv policy" make fuzz only some targets
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-csv jsonl policy backup backup-tamper envelope legacy-cbc}"
work=.build/fuzz
LETHE_FUZZ=1 "${SWIFT:-swift}" build --scratch-path "$work" --product lethe-fuzz 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | tail -3
binary="$work/debug/lethe-fuzz"
failed=0
summary=()
for target in $targets; do
    corpus="$work/corpus/$target" findings="$work/findings/$target"
    mkdir -p "$corpus" "$findings"
    log="$work/$target.log"
    echo "== $target: ${seconds}s"
    status=0
    LETHE_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "Fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    features=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    units=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    if [[ $status -ne 0 ]]; then
        failed=1
        echo "   FINDING (exit $status): see $log and $findings/"
        grep -E 'contract broken|ERROR: |SUMMARY' "$log" | head -5 | sed 's/^/   /'
    fi
    summary+=("$(printf '%-14s %10s runs %8s exec/s  cov %6s  features %6s  corpus %5s  %s' "$target" "$runs" "$rate" "$cov" "$features" "$units" \
        "$([[ $status -eq 0 ]] && echo ok || echo FINDING)")")
done
echo
echo "fuzz summary (${seconds}s per target; cov = instrumented edges reached, features = libFuzzer's finer coverage signal)"
printf '%s\n' "${summary[@]}"
# The phone shim's shortcut against libphonenumber's own verdict on far more random numbers than `make test` tries
# (2,000 per region instead of 120): no database needed.
echo "== phone validity shortcut: 2000 random numbers per region"
"${SWIFT:-swift}" build --build-tests 2>&1 | grep -E "error|Build complete" | tail -1 || true
LETHE_PHONE_SAMPLES=2000 "${SWIFT:-swift}" test --skip-build --filter PhoneValidityShortcutTests 2>&1 | tail -2 || failed=1
# The service against its own OpenAPI document (schemathesis, from PyPI): no 5xx, no schema violation.
echo "== lethe serve against docs/openapi.yaml (schemathesis)"
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check schemathesis 2>&1 | grep -v "Running pip as" || true
LETHE_BIN="$("${SWIFT:-swift}" build --show-bin-path)/lethe" scripts/with-postgres.sh scripts/fuzz-serve.sh || failed=1
exit $failed
