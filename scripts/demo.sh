#!/usr/bin/env bash
# The main job on its embedded default, from a fresh Debian machine: install the peers, build,
# make a key pair, sign a blob, verify it with sigmirror and with the real cosign.
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/setup-test-deps.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
cargo build --release -p sigmirror -p sigmirror-plugin-file
BIN="$CARGO_TARGET_DIR/release/sigmirror"
WORK=$(mktemp -d /tmp/sigmirror-demo.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export COSIGN_PASSWORD=demo-password
"$BIN" generate-key-pair
head -c 16M /dev/urandom > artifact.bin
"$BIN" sign-blob --key cosign.key --output-signature artifact.sig --bundle artifact.bundle artifact.bin
"$BIN" verify-blob --key cosign.pub --signature artifact.sig artifact.bin
"$BIN" verify-blob --key cosign.pub --bundle artifact.bundle artifact.bin
cosign verify-blob --key cosign.pub --insecure-ignore-tlog --bundle artifact.bundle artifact.bin
"$BIN" plugins
echo "demo: key pair, signature and bundle verified by sigmirror and by cosign"
