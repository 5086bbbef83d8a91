#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and end-to-end tests against the real peers (cosign,
# openssl, and later the registry, SoftHSM, moto, FUSE). Installs the peers first if any is
# missing (needs root on Debian). Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cosign >/dev/null || ! command -v docker-registry >/dev/null \
    || [ ! -x /opt/sigmirror-test-venv/bin/python ]; then
    sh scripts/setup-test-deps.sh
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
# `cargo test` also builds the cdylib plugins the tests load (they are dev-dependencies).
cargo test --workspace "$@"
