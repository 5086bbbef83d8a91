#!/usr/bin/env bash
# The main job, on a fresh Debian machine, with the embedded default store: install the peers,
# build, make a key pair, sign a blob, then the air-gapped journey: sign and attest an image in
# a local registry, pull it with everything attached into the local mirror, stop the registry,
# verify offline, and let the real cosign verify what sigmirror signed.
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/ci/setup-test-deps.sh
. scripts/lib/registry.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
cargo build --release -p sigmirror -p sigmirror-plugin-file
BIN="$CARGO_TARGET_DIR/release/sigmirror"
# Man pages and bash completion, from the command definitions.
"$BIN" man --dir /usr/local/share/man/man1 2>/dev/null
mkdir -p /etc/bash_completion.d && "$BIN" completion bash > /etc/bash_completion.d/sigmirror
WORK=$(mktemp -d /tmp/sigmirror-demo.XXXXXX)
trap 'stop_registries; rm -rf "$WORK"' EXIT
start_registry "$WORK/registry"
REG_PID=${REG_PIDS[0]}
cd "$WORK"
export COSIGN_PASSWORD=demo-password
export SIGMIRROR_STORE="$WORK/store"   # the embedded store; the default is ~/.local/share/sigmirror/store

echo "== keys and blobs"
"$BIN" generate-key-pair
head -c 16M /dev/urandom > artifact.bin
"$BIN" sign-blob --key cosign.key --output-signature artifact.sig --bundle artifact.bundle artifact.bin
"$BIN" verify-blob --key cosign.pub --bundle artifact.bundle artifact.bin
cosign verify-blob --key cosign.pub --insecure-ignore-tlog --bundle artifact.bundle artifact.bin

echo "== sign and attest an image in a registry"
echo "hello from the demo" > app.txt
"$BIN" upload blob -f app.txt "$REG/team/app:v1"
"$BIN" sign --key cosign.key -a env=prod "$REG/team/app:v1"
echo '{"buildType":"demo"}' > provenance.json
"$BIN" attest --key cosign.key --predicate provenance.json --type slsaprovenance "$REG/team/app:v1"
cosign verify --key cosign.pub --insecure-ignore-tlog "$REG/team/app:v1" >/dev/null

echo "== mirror it, stop the registry, verify offline"
"$BIN" pull "$REG/team/app:v1"
"$BIN" store info "$REG/team/app:v1" >/dev/null
kill $REG_PID
"$BIN" verify --offline --key cosign.pub -a env=prod "$REG/team/app:v1"
"$BIN" verify-attestation --offline --key cosign.pub --type slsaprovenance "$REG/team/app:v1" >/dev/null
"$BIN" store fsck
echo "demo: blob and image signatures verified by sigmirror (offline) and by cosign"
