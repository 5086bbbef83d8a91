#!/usr/bin/env bash
# Runs every fuzz target with cargo-fuzz (libFuzzer, nightly toolchain) for SECONDS each,
# starting from the kept corpus in fuzzing/corpus/<target>, then minimises what it grew back
# into that folder with --keep. A crash input is copied to fuzzing/crashes/<target>/ and the
# script fails. Without a nightly toolchain it says so and exits 0 (CI runs it "when nightly
# is present"); cargo-fuzz is installed if missing.
# Usage: scripts/ci/fuzz.sh [SECONDS] [--keep] [TARGET...]     (default: 10 s, every target)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_EACH=${1:-10}
shift || true
KEEP=0
if [ "${1:-}" = "--keep" ]; then KEEP=1; shift; fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain here; the kept corpora are still replayed by cargo test"
    exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/var/tmp/sigmirror-fuzz-target}
cd fuzzing
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(cargo +nightly fuzz list)
cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O
status=0
for t in "${TARGETS[@]}"; do
    work=$(mktemp -d /tmp/sigmirror-fuzz-$t.XXXXXX)
    cp -r "corpus/$t/." "$work/"
    # -rss_limit_mb bounds memory; -timeout flags a hang (any single input over 10 s).
    if cargo +nightly fuzz run -O "$t" "$work" -- -max_total_time="$SECONDS_EACH" \
        -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 >"$work.log" 2>&1; then
        printf 'fuzz %-16s ok   %s\n' "$t" "$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | awk '{print $2}') runs"
    else
        status=1
        printf 'fuzz %-16s FAIL (log: %s)\n' "$t" "$work.log"
        mkdir -p "crashes/$t"
        for f in fuzz/artifacts/"$t"/*; do [ -f "$f" ] && cp "$f" "crashes/$t/"; done
        tail -30 "$work.log"
    fi
    if [ "$KEEP" = 1 ]; then
        min=$(mktemp -d)
        cargo +nightly fuzz cmin -O "$t" "$work" >/dev/null 2>&1 || true
        cp "$work"/* "$min/" 2>/dev/null || true
        rm -rf "corpus/$t" && mkdir -p "corpus/$t" && cp "$min"/* "corpus/$t/"
        rm -rf "$min"
    fi
    rm -rf "$work"
done
cd "$ROOT"
exit $status
