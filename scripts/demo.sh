#!/usr/bin/env bash
# `make demo`: every lethe command that exists so far, on synthetic data, with readable output.
# Runs inside scripts/with-postgres.sh, which provides the throwaway server through PG* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
LETHE=${LETHE_BIN:-.build/debug/lethe}
export PGDATABASE=lethe_demo
psql -q -d postgres -c "CREATE DATABASE lethe_demo"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export LETHE_KEYRING=$WORK/keyring

step() {
    printf '\n\033[1m$ lethe %s\033[0m\n' "$*"
    eval "\"\$LETHE\" $*"
}
note() { printf '\n\033[2m# %s\033[0m\n' "$*"; }

step --version
step migrate
step migrate --status
step policy check
FROM=$(psql -tA -c "SELECT to_char(now() AT TIME ZONE 'UTC' - interval '12 months', 'YYYY-MM')")
note "daily partitions (the default policy's layout) for the year of history and 30 days ahead"
step partitions ensure --from "$FROM" --json '| grep -c "\"partition\""'
step partitions list '| tail -n 3'

note "the platform's history before Lethe: 3 customers, 12 months, personal columns in plaintext"
psql -q -v ON_ERROR_STOP=1 -f scripts/demo-data.sql

note "application-level encryption: a keyring, then seal the plaintext columns in place"
step keys init
for column in "sms.messages recipient" "sms.messages body" "sms.contacts phone" "sms.contacts name"; do
    set -- $column
    step encrypt migrate --table "$1" --column "$2" --from plaintext
done
step encrypt verify

note "the ledger outside the database: erasures, shreds, retention changes and hold releases that no physical restore can undo"
step ledger init --ledger "$WORK/ledger" --ledger-key "$WORK/ledger.key"
export LETHE_LEDGER=$WORK/ledger LETHE_LEDGER_KEY=$WORK/ledger.key

note "intake: only phone and message are accepted; an extra field refuses the whole file"
printf 'phone,message,email\n06 12 34 56 78,Bonjour,someone@example.com\n' > "$WORK/extra.csv"
step import messages "$WORK/extra.csv" --customer 1 || echo "(refused with exit $?: nothing written, no value printed)"
{
    echo "phone,message,sent_at"
    for i in $(seq 1 40); do printf '06 12 %02d %02d %02d,Votre commande %d est prête,\n' $((i % 90 + 10)) $((i * 3 % 90 + 10)) $((i * 7 % 90 + 10)) "$i"; done
    echo "12,numéro trop court,"
    echo "+33 6 12 00 00 01,Envoyé il y a deux jours €,$(date -u -d '2 days ago' +%Y-%m-%dT%H:%M:%SZ)"
} > "$WORK/orders.csv"
step validate messages "$WORK/orders.csv" || echo "(line 42 is invalid: exit $?)"
step import messages "$WORK/orders.csv" --customer 1 --skip-invalid
note "Camille (+33 6 12 00 00 01, messaged above by customer 1) is also in customer 2's address book and got a message from it"
printf 'phone,name\n+33 6 12 00 00 01,Camille Demo\n' > "$WORK/camille-contact.csv"
step import contacts "$WORK/camille-contact.csv" --customer 2
printf 'phone,message\n06 12 00 00 01,Votre rendez-vous est confirmé\n06 12 00 00 02,Votre véhicule est prêt\n' > "$WORK/clinic.csv"
step import messages "$WORK/clinic.csv" --customer 2
printf 'phone,message\n06 12 00 00 02,Votre véhicule est prêt\n' > "$WORK/garage.csv"
step import messages "$WORK/garage.csv" --customer 3
psql -q -c "INSERT INTO sms.delivery_reports (message_id, customer_id, status, reported_at)
            SELECT id, customer_id, 'delivered', created_at + interval '4 seconds' FROM sms.messages m
            WHERE created_at > now() - interval '3 days' AND NOT EXISTS (SELECT 1 FROM sms.delivery_reports d WHERE d.message_id = m.id)"
note "key rotation, in two steps: add a key-encryption key (copy the keyring offline), then re-wrap the data keys"
step keys rotate
step keys rotate --rewrap
step keys status

note "retention: a customer may shorten it, never lengthen it; a legal hold keeps everything"
step retention set --customer 1 --period P30D --reason "'contract 2026-114: 30 days'"
step retention set --customer 1 --period P7M --reason "'asked for longer'" || echo "(refused with exit $?: retention can only be shortened)"
step retention show
step hold add --customer 3 --reason "'court order 2026/1187'"
step hold list
step purge --dry-run
step purge
step purge
step encrypt verify

note "encrypted backups: take one, verify it, restore it into another database"
export LETHE_BACKUP_REPO=$WORK/repo
step backup
step backup list
step backup verify --all
psql -q -d postgres -c "CREATE DATABASE lethe_demo_restore"
BACKUP_ID=$(ls "$LETHE_BACKUP_REPO" | sed -n 's/\.lethe-backup$//p' | head -1)
step restore "$BACKUP_ID" --target-database dbname=lethe_demo_restore
step backup expire --dry-run
note "the DPO's register: a request received 32 days ago is overdue, and the cron check says so"
step requests open --kind erasure --reference DPO-2026-0114 --received "$(date -u -d '32 days ago' +%Y-%m-%d)"
step requests check || echo "(exit $?: a request is past its due date)"
step requests extend 1 --reason "'many requests this month'"
step requests list

note "a subject access request: everything about Camille, decrypted, with a cover sheet; only counts are printed"
step requests open --kind access --reference DPO-2026-0131
echo "(the number is read from stdin, so it stays out of the process list)"
echo "+33612000001" | "$LETHE" subject export --phone - --out "$WORK/dpo" --request 2
ls -l "$WORK/dpo"
sed -n '1,/^## Why/p' "$WORK/dpo/subject-2.md" | head -20
step customer export --customer 2 --out "$WORK/portability"

note "erasure: refused while a legal hold covers the person's data (customer 3 is on hold), done for Camille"
step subject erase --phone "'06 12 00 00 02'" || echo "(refused with exit $?: nothing was erased)"
step requests open --kind erasure --reference DPO-2026-0132
step subject erase --phone "'06 12 00 00 01'" --request 3 --dry-run
step subject erase --phone "'06 12 00 00 01'" --request 3 --out "$WORK/dpo"
step subject export --phone "'06 12 00 00 01'" --out "$WORK/dpo-after"
note "the erasure is in the ledger too: after a pgBackRest or snapshot restore, the worker re-applies it (lethe reconcile)"
step ledger verify
note "the backup taken before the erasure, restored: Camille's rows are erased again"
psql -q -d postgres -c "CREATE DATABASE lethe_demo_restore2"
step restore "$BACKUP_ID" --target-database dbname=lethe_demo_restore2
step audit verify
step audit list --limit 6

note "least privilege: duty roles; a worker login that owns no table and holds no key; backups sealed to the operators' public key"
step roles apply
psql -q -c "CREATE ROLE lethe_demo_worker LOGIN" -c "GRANT lethe_worker TO lethe_demo_worker"
as_worker() {
    printf '\n\033[1m$ lethe %s   (as lethe_demo_worker, LETHE_KEYRING unset)\033[0m\n' "$*"
    env -u LETHE_KEYRING "$LETHE" "$@" --database-url "dbname=lethe_demo user=lethe_demo_worker"
}
step keys backup-key init --out "$WORK/backup-key"
as_worker roles check
as_worker backup --recipient "$WORK/backup-key.pub" --repo "$WORK/sealed-repo" | tee "$WORK/sealed.txt"
SEALED_ID=$(sed -n 's/^backup \([^:]*\):.*/\1/p' "$WORK/sealed.txt")
echo "+33612000002" | as_worker subject export --phone - --out "$WORK/not-the-worker" || echo "(exit $?: exports are the DPO's duty)"
step backup verify "$SEALED_ID" --backup-key "$WORK/backup-key" --repo "$WORK/sealed-repo"
note "the audit chain's head leaves the database on every job's final log line; a head kept there anchors the chain"
HEAD=$("$LETHE" audit verify --json | sed -n 's/.*"lastId" : \([0-9]*\).*/\1/p'):$("$LETHE" audit verify --json | sed -n 's/.*"lastHash" : "\([0-9a-f]*\)".*/\1/p')
step audit verify --head "$HEAD"

note "the scheduled worker: a policy whose schedule runs in seconds, for a few seconds; then its status and metrics"
sed -e 's/^  partitions: .*/  partitions: "3 seconds"/' -e 's/^  purge: .*/  purge: "2 seconds"/' \
    -e 's/^  requests_check: .*/  requests_check: "3 seconds"/' -e 's/^  backup: .*/  backup: "5 seconds"/' \
    -e 's/^  backup_expire: .*/  backup_expire: off/' Policies/default.yaml > "$WORK/worker-policy.yaml"
printf '\n\033[1m$ lethe worker --log-format json --metrics-file lethe.prom   (SIGTERM after 6 s)\033[0m\n'
"$LETHE" worker --policy "$WORK/worker-policy.yaml" --log-format json --metrics-file "$WORK/lethe.prom" \
    2> "$WORK/worker.log" &
WORKER=$!
sleep 6
kill -TERM "$WORKER"
wait "$WORKER" && echo "(worker exited 0 after SIGTERM)"
grep -m 3 '"job finished"' "$WORK/worker.log"
step status --policy "$WORK/worker-policy.yaml" || true
grep -E '^lethe_(job_last_success|purge_rows_deleted_total|backup_size_bytes|requests_overdue)' "$WORK/lethe.prom"

note "minimal collection, checked where the data lives: the demo database inspects clean, then a developer adds a column"
step inspect
psql -q -c "ALTER TABLE sms.contacts ADD COLUMN email text"
step inspect || echo "(exit $?: the drift is caught, and named)"
psql -q -c "ALTER TABLE sms.contacts DROP COLUMN email"
step exit-codes

printf '\n\033[1mSummary\033[0m\n'
psql -P footer=off -c "
SELECT t.name AS table, count(*) AS rows, min(t.at)::date AS oldest, max(t.at)::date AS newest
FROM (SELECT 'sms.messages' AS name, created_at AS at FROM sms.messages
      UNION ALL SELECT 'sms.delivery_reports', reported_at FROM sms.delivery_reports
      UNION ALL SELECT 'sms.contacts', created_at FROM sms.contacts) t
GROUP BY t.name ORDER BY t.name"
echo "demo finished: schema migrated, history sealed, intake checked, keys rotated, retention purged (customer 1 at 30 days, customer 3 on hold), backup verified and restored, a subject exported and erased (and kept erased through a restore), a keyless worker login sealing a backup to the operators' public key, audit intact and anchored"
