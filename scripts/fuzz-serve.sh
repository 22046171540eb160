#!/usr/bin/env bash
# `make fuzz`, the service part: schemathesis (PyPI) generates requests from docs/openapi.yaml against a running
# `lethe serve` on a throwaway database, through a TCP-to-Unix-socket proxy; no 5xx and no response that violates
# the schema may come back. Runs inside scripts/with-postgres.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
LETHE=${LETHE_BIN:-.build/debug/lethe}
WORK=$(mktemp -d)
trap 'kill $SERVE $PROXY 2>/dev/null || true; rm -rf "$WORK"' EXIT
export PGDATABASE=lethe_fuzz_serve LETHE_KEYRING=$WORK/keyring LETHE_POLICY=$WORK/serve.yaml
psql -q -d postgres -c "CREATE DATABASE lethe_fuzz_serve"
{ cat Policies/default.yaml; printf '\nserve:\n  clients:\n    - name: fuzz\n      uid: %s\n      may: [intake, seal, lookup, open]\n' "$(id -u)"; } > "$LETHE_POLICY"
"$LETHE" migrate >/dev/null
"$LETHE" partitions ensure >/dev/null
psql -q -c "INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')"
"$LETHE" keys init >/dev/null
"$LETHE" serve --socket "$WORK/lethe.sock" >"$WORK/serve.log" 2>&1 &
SERVE=$!
for _ in $(seq 100); do [ -S "$WORK/lethe.sock" ] && break; sleep 0.1; done
PORT=$((20000 + RANDOM % 20000))
python3 scripts/unix-proxy.py "$PORT" "$WORK/lethe.sock" &
PROXY=$!
sleep 0.5
status=0
schemathesis run docs/openapi.yaml --url "http://127.0.0.1:$PORT" --checks not_a_server_error,response_schema_conformance,status_code_conformance \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" || status=$?
if grep -q "ERROR" "$WORK/serve.log"; then echo "the service logged errors:"; grep "ERROR" "$WORK/serve.log" | head -5; fi
exit $status
