#!/usr/bin/env bash
# Installs the Debian packages Lethe builds and tests with, when any is missing.
set -euo pipefail
# faketime: the steady-state benchmark's server clock; prometheus: promtool checks the metrics files in tests;
# postgresql-15-partman: partitions made by pg_partman in the compatibility tests.
packages=(pkg-config libpq-dev libssl-dev libphonenumber-dev libzstd-dev postgresql-15 postgresql-client-15 openssl time faketime prometheus postgresql-15-partman)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
