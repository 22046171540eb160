#!/usr/bin/env bash
# Builds lethe_<version>_amd64.deb with dpkg-deb: the release binary with the Swift runtime linked in (it runs on a
# host without Swift), /etc/lethe's policy and environment as conffiles, the systemd units, the cron file, man
# pages and shell completions generated from the command tree, and the maintainer scripts (contrib/debian).
# Usage: scripts/make-deb.sh [OUTPUT_DIR]   (default: the package root). Then: lintian lethe_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
OUT=$(realpath "${1:-.}")
"$SWIFT" build -c release --static-swift-stdlib --product lethe
BIN="$("$SWIFT" build -c release --static-swift-stdlib --show-bin-path)/lethe"
VERSION=$("$BIN" --version)
STAGE=$(mktemp -d /tmp/lethe-deb.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/lethe_${VERSION}_amd64"
umask 022

install -D -m 0755 "$BIN" "$ROOT/usr/bin/lethe"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$ROOT/usr/bin/lethe"
# Shipped 0644 (they hold no secret as shipped); postinst makes them root:lethe 0640 before anyone edits them.
install -D -m 0644 Policies/default.yaml "$ROOT/etc/lethe/policy.yaml"
install -D -m 0644 contrib/systemd/lethe.env.example "$ROOT/etc/lethe/lethe.env"
install -D -m 0644 contrib/cron/lethe "$ROOT/etc/cron.d/lethe"
install -D -m 0644 contrib/debian/logrotate "$ROOT/etc/logrotate.d/lethe"
for unit in lethe-worker.service lethe-once.service lethe-once.timer; do
    install -D -m 0644 "contrib/systemd/$unit" "$ROOT/lib/systemd/system/$unit"
done
# Debian's node_exporter reads /var/lib/prometheus/node-exporter, which only root may write: lethe writes its
# own directory and this link shows the file there.
install -d "$ROOT/var/lib/prometheus/node-exporter"
ln -s ../../lethe/metrics/lethe.prom "$ROOT/var/lib/prometheus/node-exporter/lethe.prom"

# Man pages (one per command, from the command tree) and completions.
install -d "$ROOT/usr/share/man/man1"
python3 scripts/man-pages.py "$BIN" "$ROOT/usr/share/man/man1"
gzip -9n "$ROOT"/usr/share/man/man1/*.1
install -d "$ROOT/usr/share/bash-completion/completions" "$ROOT/usr/share/zsh/vendor-completions" "$ROOT/usr/share/fish/vendor_completions.d"
"$BIN" --generate-completion-script bash | sed '1{/^#!/d}' > "$ROOT/usr/share/bash-completion/completions/lethe"
"$BIN" --generate-completion-script zsh > "$ROOT/usr/share/zsh/vendor-completions/_lethe"
"$BIN" --generate-completion-script fish > "$ROOT/usr/share/fish/vendor_completions.d/lethe.fish"

# Documentation Debian asks for.
install -D -m 0644 contrib/debian/copyright "$ROOT/usr/share/doc/lethe/copyright"
install -m 0644 README.md "$ROOT/usr/share/doc/lethe/README.md"
gzip -9n "$ROOT/usr/share/doc/lethe/README.md"
# The docs by reader (operations, the DPO's workflow, policy, security, formats), as the README links them.
install -d "$ROOT/usr/share/doc/lethe/docs"
for page in docs/*.md; do install -m 0644 "$page" "$ROOT/usr/share/doc/lethe/docs/"; gzip -9n "$ROOT/usr/share/doc/lethe/$page"; done
install -m 0644 contrib/prometheus/lethe-alerts.yml contrib/prometheus/lethe-alerts.test.yml "$ROOT/usr/share/doc/lethe/"
printf 'lethe (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- Lethe maintainers <lethe@example.org>  %s\n' \
    "$VERSION" "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n > "$ROOT/usr/share/doc/lethe/changelog.gz"
install -D -m 0644 contrib/debian/lintian-overrides "$ROOT/usr/share/lintian/overrides/lethe"

# Package metadata: run-time libraries from the binary's own links, and pg_dump/pg_restore's client package.
install -d "$ROOT/DEBIAN"
# Only the libraries the binary itself links (NEEDED), each by the package that ships it.
needed=$(objdump -p "$ROOT/usr/bin/lethe" | awk '/NEEDED/ { print $2 }')
depends=$(for soname in $needed; do
    path=$(ldd "$ROOT/usr/bin/lethe" | awk -v so="$soname" '$1 == so { print $3 }')
    if [ -n "$path" ]; then dpkg -S "$path" 2>/dev/null || dpkg -S "$(realpath "$path")" 2>/dev/null || true; fi
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
depends="$depends, postgresql-client-15 | postgresql-client, adduser"
size=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" contrib/debian/control.in > "$ROOT/DEBIAN/control"
printf '/etc/lethe/policy.yaml\n/etc/lethe/lethe.env\n/etc/cron.d/lethe\n/etc/logrotate.d/lethe\n' > "$ROOT/DEBIAN/conffiles"
install -m 0755 contrib/debian/postinst contrib/debian/postrm "$ROOT/DEBIAN/"
(cd "$ROOT" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$ROOT/DEBIAN/md5sums"
dpkg-deb --root-owner-group --build "$ROOT" "$OUT/lethe_${VERSION}_amd64.deb"
echo "$OUT/lethe_${VERSION}_amd64.deb"
