#!/usr/bin/env bash
# Runs the whole test suite: unit tests, end-to-end tests against the real peers (cosign,
# the Debian registry, SoftHSM, moto, FUSE, …), the replay of the kept fuzz corpora, and then,
# with a nightly toolchain, each fuzz target for SIGMIRROR_FUZZ_SECONDS (5) seconds. Installs
# the peers first if any is missing (needs root on Debian).
# Usage: scripts/ci/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v cosign >/dev/null || ! command -v docker-registry >/dev/null || ! command -v jq >/dev/null \
    || ! command -v ctr >/dev/null \
    || [ ! -x /opt/sigmirror-test-venv/bin/python ]; then
    sh scripts/ci/setup-test-deps.sh
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
# `cargo test` also builds the cdylib plugins the tests load (they are dev-dependencies).
LOG=$(mktemp /tmp/sigmirror-test.XXXXXX)
trap 'rm -f "$LOG"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$LOG" || status=$?
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$LOG"
[ "$status" = 0 ] || exit "$status"
# Each fuzz target for a few seconds when a nightly toolchain is present (docs/security.md);
# the kept corpora were already replayed above on the stable toolchain.
bash scripts/ci/fuzz.sh "${SIGMIRROR_FUZZ_SECONDS:-5}"
