#!/bin/sh
# Installs static binaries from Debian packages of another suite onto Debian 12, without touching
# the system's apt configuration (the mirror is read from this machine's apt sources; one index
# download per suite). Go programs in Debian are static and run on Debian 12.
#   install-debian-binary.sh SUITE DEST_BIN_DIR PACKAGE:BINARY:NAME ...
# e.g. install-debian-binary.sh trixie /usr/local/bin cosign:cosign:cosign      cosign 2.5.x
#      install-debian-binary.sh sid /usr/local/bin cosign:cosign:cosign3 oras:oras:oras
# Binaries already installed under NAME are left alone, so a second run only checks.
set -eu
SUITE=$1; DEST=$2; shift 2
WANTED=""
for spec in "$@"; do
    name=${spec##*:}
    [ -x "$DEST/$name" ] || WANTED="$WANTED $spec"
done
[ -n "$WANTED" ] || exit 0
MIRROR=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb" && $2 ~ /\/debian$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || { echo "install-debian-binary: no Debian mirror found in the apt sources" >&2; exit 1; }
WORK=$(mktemp -d /tmp/debbin.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$DEST"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" > "$WORK/sources.list"
APT="-o Dir::Etc::sourcelist=$WORK/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$WORK/lists -o Dir::Cache=$WORK/cache -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get $APT update -qq
for spec in $WANTED; do
    pkg=${spec%%:*}; rest=${spec#*:}; bin=${rest%%:*}; name=${rest#*:}
    [ -f "$WORK/$pkg.deb" ] || ( cd "$WORK" && apt-get $APT download "$pkg" >/dev/null && mv "$pkg"_*.deb "$pkg.deb" )
    rm -rf "$WORK/x" && mkdir "$WORK/x"
    dpkg-deb -x "$WORK/$pkg.deb" "$WORK/x"
    install -m 0755 "$WORK/x/usr/bin/$bin" "$DEST/$name"
    echo "install-debian-binary: installed $name ($SUITE/$pkg)"
done
