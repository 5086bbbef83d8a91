#!/bin/sh
# Installs the real cosign binary (the Debian 13 "trixie" package, cosign 2.5.x) on Debian 12,
# for the interop tests. Reads the Debian mirror from this machine's apt sources and leaves the
# system's apt configuration untouched. Usage: scripts/ci/install-cosign.sh [DEST_BIN_DIR]
set -eu
DEST=${1:-/usr/local/bin}
if [ -x "$DEST/cosign" ]; then
    exit 0
fi
MIRROR=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb" && $2 ~ /\/debian$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || { echo "install-cosign: no Debian mirror found in the apt sources" >&2; exit 1; }
WORK=$(mktemp -d /tmp/cosign-apt.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/x"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" > "$WORK/sources.list"
set -- -o Dir::Etc::sourcelist="$WORK/sources.list" -o Dir::Etc::sourceparts=- \
       -o Dir::State::Lists="$WORK/lists" -o Dir::Cache="$WORK/cache" -o APT::Sandbox::User=root
apt-get "$@" update -qq
( cd "$WORK" && apt-get "$@" download cosign >/dev/null )
dpkg-deb -x "$WORK"/cosign_*.deb "$WORK/x"
mkdir -p "$DEST"
install -m 0755 "$WORK/x/usr/bin/cosign" "$DEST/cosign"
echo "install-cosign: installed $("$DEST/cosign" version 2>/dev/null | sed -n 's/^GitVersion:[[:space:]]*//p')"
