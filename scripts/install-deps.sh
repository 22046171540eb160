#!/usr/bin/env bash
# Installs the Debian packages Lethe builds and tests with, when any is missing.
set -euo pipefail
# faketime: the steady-state benchmark's server clock; prometheus: promtool checks the metrics files in tests;
# postgresql-15-partman: partitions made by pg_partman in the compatibility tests; libjemalloc-dev: lethe's allocator;
# prometheus-node-exporter: the scrape tests read the metrics file through it; cron, systemd (systemd-analyze) and
# lintian: the shipped cron file, units and Debian package are tried against them; pgbackrest: the physical restores
# that the ledger's reconcile is tried against.
packages=(pkg-config libpq-dev libssl-dev libphonenumber-dev libzstd-dev libjemalloc-dev postgresql-15 postgresql-client-15 openssl time faketime
          prometheus prometheus-node-exporter postgresql-15-partman cron systemd lintian pgbackrest)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The phone validation tests compare with current numbering-plan metadata: the Python port of libphonenumber.
# The reference implementation of the sealed formats (contrib/python) is checked against the vectors on `cryptography`.
if ! python3 -c "import cryptography" 2>/dev/null; then
    echo "installing: cryptography (PyPI)"
    python3 -m pip install -q --disable-pip-version-check "cryptography>=42" 2>&1 | grep -v "Running pip as the 'root' user" || true
fi
if ! python3 -c "import phonenumbers" 2>/dev/null; then
    echo "installing: phonenumbers 9.0.43 (PyPI)"
    python3 -m pip install -q --disable-pip-version-check phonenumbers==9.0.43 2>&1 | grep -v "Running pip as the 'root' user" || true
fi
