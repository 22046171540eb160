#!/usr/bin/env bash
# The Debian package tried as an operator uses it, on this machine (root, a fresh CI clone): build it, lintian,
# `apt-get install ./lethe_*.deb`, then with only /etc/lethe edited: `lethe migrate` and `lethe worker --once` as
# the lethe user, the exact line of /etc/cron.d/lethe under cron's own environment, and Debian's node_exporter
# (its default textfile directory) scraped by Debian's Prometheus: the purge and the backup show up successful,
# and a purge made to fail fires its alert. Run inside scripts/with-postgres.sh (make test-deb); removes the
# package at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test-deb installs a package: run it as root (CI does)" >&2; exit 77; }
fail() { echo "test-deb: FAILED: $*" >&2; exit 1; }
step() { echo "test-deb: $*" >&2; }
# Never on a host where Lethe is really installed: the test installs, edits /etc/lethe and purges.
if dpkg-query -W -f='${Status}' lethe 2>/dev/null | grep -q "install ok installed"; then
    echo "test-deb: lethe is installed on this host; refusing to replace and purge it" >&2; exit 73
fi
# Left by an interrupted earlier run of this test (the package was purged, its backups and keyring stay).
rm -rf /var/backups/lethe /etc/lethe/keyring
WORK=$(mktemp -d /tmp/lethe-test-deb.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -z "${KEEP_LETHE_PACKAGE:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq lethe >/dev/null 2>&1 || true
        # The keyring is the test's own (a purge leaves an operator's keyring in place, as it should).
        rm -f /etc/lethe/keyring; rmdir /etc/lethe 2>/dev/null || true
        rm -rf /var/backups/lethe
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step "building the package"
DEB=$(scripts/make-deb.sh "$WORK" | tail -1)
step "lintian $(basename "$DEB")"
lintian --fail-on error --no-tag-display-limit "$DEB" > "$WORK/lintian.txt" 2>&1 || { cat "$WORK/lintian.txt" >&2; fail "lintian reports errors"; }
grep -E '^E: ' "$WORK/lintian.txt" && fail "lintian reports errors"
step "apt-get install $DEB"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" > "$WORK/apt.txt" 2>&1 || { cat "$WORK/apt.txt" >&2; fail "apt-get install"; }

# What the package promised to install.
getent passwd lethe >/dev/null || fail "no lethe user"
[ "$(stat -c %a:%U /var/backups/lethe)" = "700:lethe" ] || fail "/var/backups/lethe is $(stat -c %a:%U /var/backups/lethe)"
for f in /usr/bin/lethe /etc/lethe/policy.yaml /etc/lethe/lethe.env /etc/cron.d/lethe /lib/systemd/system/lethe-worker.service \
         /lib/systemd/system/lethe-once.service /lib/systemd/system/lethe-once.timer /usr/share/bash-completion/completions/lethe \
         /usr/share/zsh/vendor-completions/_lethe /usr/share/fish/vendor_completions.d/lethe.fish /usr/share/man/man1/lethe-purge.1.gz; do
    [ -e "$f" ] || fail "$f not installed"
done
dpkg-query -W -f='${Conffiles}\n' lethe | grep -q /etc/lethe/policy.yaml || fail "the policy is not a conffile"
! ldd /usr/bin/lethe | grep -q libswift || fail "the binary needs the Swift runtime"
runuser -u lethe -- /usr/bin/lethe --help | grep -q "worker" || fail "lethe --help"

# The operator's edits, all under /etc/lethe: where the database is, and a keyring (backups sealed with it).
DB=lethe_deb_$$
createdb "$DB"
URL="postgresql://${PGUSER:-postgres}@127.0.0.1:${PGPORT}/$DB"
lethe keys init --keyring /etc/lethe/keyring >/dev/null
chown lethe:lethe /etc/lethe/keyring && chmod 0600 /etc/lethe/keyring
sed -i -e "s|^LETHE_DATABASE_URL=.*|LETHE_DATABASE_URL=$URL|" -e 's|^LETHE_BACKUP_RECIPIENT=|#LETHE_BACKUP_RECIPIENT=|' \
       -e 's|^# LETHE_KEYRING=.*|LETHE_KEYRING=/etc/lethe/keyring|' -e 's|^LETHE_CRON=no|LETHE_CRON=yes|' /etc/lethe/lethe.env
as_lethe() { runuser -u lethe -- /bin/sh -c "set -a; . /etc/lethe/lethe.env; set +a; $*"; }

step "lethe migrate as lethe"
as_lethe /usr/bin/lethe migrate > "$WORK/migrate.txt" 2>&1 || { cat "$WORK/migrate.txt" >&2; fail "lethe migrate"; }
as_postgres_psql() { psql -X -q -d "$DB" -c "$1"; }

step "the exact line of /etc/cron.d/lethe under cron's environment"
line=$(grep -E '^[*0-9]' /etc/cron.d/lethe | head -1 | awk '{ for (i = 7; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : "") }')
[ -n "$line" ] || fail "no job line in /etc/cron.d/lethe"
runuser -u lethe -- env -i HOME=/var/lib/lethe LOGNAME=lethe SHELL=/bin/sh PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "$line" \
    > "$WORK/cron-mail.txt" 2>&1 || { cat "$WORK/cron-mail.txt" /var/log/lethe/lethe.log >&2; fail "the cron line"; }
[ ! -s "$WORK/cron-mail.txt" ] || fail "the cron line wrote to cron mail: $(cat "$WORK/cron-mail.txt")"
for job in purge backup; do
    grep "\"event.action\":\"$job\"" /var/log/lethe/lethe.log | grep -q '"event.outcome":"success"' \
        || { cat /var/log/lethe/lethe.log >&2; fail "the cron line's $job success did not reach /var/log/lethe/lethe.log"; }
done
python3 -c 'import json, sys; [json.loads(l) for l in open("/var/log/lethe/lethe.log")]' || fail "a log line is not JSON"

step "lethe worker --once as lethe: the cron run did what was due, nothing is run twice"
as_lethe /usr/bin/lethe worker --once --log-format json --metrics-file /var/lib/lethe/metrics/lethe.prom 2> "$WORK/worker.txt" \
    || { tail -5 "$WORK/worker.txt" >&2; fail "lethe worker --once"; }
ls /var/backups/lethe | grep -q . || fail "no backup written"
[ "$(psql -X -At -d "$DB" -c "SELECT count(*) FROM lethe.job_runs WHERE job = 'purge'")" = 1 ] || fail "a slot ran twice"

step "node_exporter (Debian's default textfile directory) scraped by Prometheus"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
NE_PORT=$(free_port); PROM_PORT=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_PORT" --collector.disable-defaults --collector.textfile > "$WORK/ne.log" 2>&1 &
PIDS+=($!)
cat > "$WORK/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ["/usr/share/doc/lethe/lethe-alerts.yml"]
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ["127.0.0.1:$NE_PORT"] }]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn > "$WORK/prom.log" 2>&1 &
PIDS+=($!)
query() { curl -s --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(len(r))' 2>/dev/null || echo 0; }
firing() { curl -s "http://127.0.0.1:$PROM_PORT/api/v1/alerts" | python3 -c 'import json, sys; print(" ".join(sorted(a["labels"]["alertname"] + ":" + a["labels"].get("jobname", "") for a in json.load(sys.stdin)["data"]["alerts"] if a["state"] == "firing")))' 2>/dev/null || true; }
await() { for _ in $(seq 1 300); do if eval "$1"; then return 0; fi; sleep 0.1; done; return 1; }
for job in purge backup; do
    await "[ \"\$(query 'time() - lethe_job_last_success_timestamp_seconds{jobname=\"$job\", job=\"node\"} < 3600')\" = 1 ]" \
        || { tail -n 3 "$WORK/ne.log" "$WORK/prom.log" >&2; curl -s "127.0.0.1:$NE_PORT/metrics" | grep -E "textfile|lethe_job_last_success" >&2
             fail "Prometheus does not see a recent $job success"; }
done
[ "$(query 'lethe_job_last_run_failed == 1')" = 0 ] || fail "a job's last run failed: $(firing)"

step "a purge made to fail fires LetheJobFailed"
as_postgres_psql "CREATE FUNCTION public.refuse_purge() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'refused by the test'; END \$\$;
                  CREATE TRIGGER refuse_purge BEFORE INSERT ON lethe.purge_runs FOR EACH ROW EXECUTE FUNCTION public.refuse_purge()"
if as_lethe /usr/bin/lethe purge --log-format json --metrics-file /var/lib/lethe/metrics/lethe.prom 2> "$WORK/purge.txt"; then fail "the purge did not fail"; fi
await '[[ " $(firing) " == *" LetheJobFailed:purge "* ]]' || fail "LetheJobFailed did not fire: $(firing)"
dropdb "$DB"
step "passed"
