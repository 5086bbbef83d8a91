#!/usr/bin/env bash
# Keyless verification benchmark, sigmirror and cosign 3 side by side in one run, offline:
#   - one `verify-blob --bundle` process on Sigstore's public-good happy-path-v0.3 bundle against
#     the production trusted root (the conformance vectors): median wall time, both tools;
#   - one offline keyless image `verify` from the store (a private Sigstore instance's .sig
#     image, pulled, then the registry stopped): median wall time;
#   - the library rate for 1,000 bundles in one call against `openssl speed` (cargo bench).
# Usage: scripts/bench/keyless.sh   (release build; needs cosign3, hyperfine, the test venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. scripts/lib/registry.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --release -q -p sigmirror
SM="$CARGO_TARGET_DIR/release/sigmirror"
PY=/opt/sigmirror-test-venv/bin/python
PS="$ROOT/tests/peers/private_sigstore.py"
WORK=$(mktemp -d /tmp/sigmirror-bench-keyless.XXXXXX)
trap 'stop_registries; rm -rf "$WORK"' EXIT
cd "$WORK"

V="$ROOT/cosign/tests/data"
CASE="$V/sigstore-conformance/bundle-verify/happy-path-v0.3"
BEACON=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
GHA=https://token.actions.githubusercontent.com
blob_args="verify-blob --bundle $CASE/bundle.sigstore.json --trusted-root $V/trusted-roots/production.json --certificate-identity $BEACON --certificate-oidc-issuer $GHA $V/sigstore-conformance/bundle-verify/a.txt"
# shellcheck disable=SC2086
"$SM" $blob_args 2>/dev/null
# shellcheck disable=SC2086
cosign3 $blob_args >/dev/null 2>&1
hyperfine -N -w 5 -r 50 --export-json blob.json "$SM $blob_args" "cosign3 $blob_args" >/dev/null 2>&1

# A keyless-signed image, pulled into a store; the registry is then stopped.
ID=https://github.com/sigmirror/ci/.github/workflows/release.yml@refs/heads/main
"$PY" "$PS" init inst >/dev/null
start_registry "$WORK/registry"
printf 'keyless bench image\n' > content.txt
"$SM" upload blob -f content.txt "$REG/bench/keyless:v1" >/dev/null 2>&1
DIGEST=$(curl -fsI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/bench/keyless/manifests/v1" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
"$PY" "$PS" simple-signing-payload --ref "$REG/bench/keyless" --digest "$DIGEST" --out payload.json >/dev/null
"$PY" "$PS" sign-image-layer inst payload.json --identity "$ID" --issuer "$GHA" --out-dir layer >/dev/null
"$SM" attach signature --payload payload.json --signature layer/signature.b64 --certificate layer/cert.pem \
    --certificate-chain layer/chain.pem --rekor-bundle layer/rekor_bundle.json "$REG/bench/keyless:v1" 2>/dev/null
export SIGMIRROR_STORE="$WORK/store"
"$SM" pull "$REG/bench/keyless:v1" >/dev/null 2>&1
"$SM" trust root add private inst/trusted_root.json 2>/dev/null
stop_registries
image_args="verify --offline --certificate-identity $ID --certificate-oidc-issuer $GHA $REG/bench/keyless:v1"
# shellcheck disable=SC2086
"$SM" $image_args >/dev/null 2>&1
hyperfine -N -w 5 -r 50 --export-json image.json "$SM $image_args" >/dev/null 2>&1

median() { python3 -c "import json; r=json.load(open('$1'))['results'][$2]; print(round(r['median']*1000,2))"; }
printf '\none keyless verify-blob --bundle process: sigmirror median %s ms, cosign3 median %s ms\n' \
    "$(median blob.json 0)" "$(median blob.json 1)"
printf 'one offline keyless image verify process (from the store): sigmirror median %s ms\n\n' \
    "$(median image.json 0)"
cd "$ROOT"
cargo bench -q -p sigmirror-cosign --bench keyless 2>/dev/null
