#!/usr/bin/env bash
# `load` of layouts with many entries (issue "Hostile input", item 5: it was quadratic).
# For each size: wall time and peak memory of one `sigmirror store load` into a fresh store on the
# work disk, and into a fresh store on tmpfs (/dev/shm), where fsync costs nothing: the gap is
# the price of syncing each manifest file and its folder. Also counts, for the smallest size,
# the fsync calls per image (strace), a figure that does not vary with the machine's load.
# Usage: scripts/bench/load.sh [N ...]        (default: 1000 4000 16000 100000)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
cargo build --release -q -p sigmirror
SM="$CARGO_TARGET_DIR/release/sigmirror"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 4000 16000 100000)
WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/sigmirror-bench-load.XXXXXX")
SHM=$(mktemp -d /dev/shm/sigmirror-bench-load.XXXXXX)
trap 'rm -rf "$WORK" "$SHM"' EXIT

printf '%-8s %-10s %12s %12s %14s\n' entries store seconds 'peak MiB' 'ms per image'
for n in "${SIZES[@]}"; do
    python3 "$ROOT/scripts/bench/make_layout.py" "$WORK/layout-$n" "$n"
    for where in disk tmpfs; do
        dir="$WORK/store-$n"; [ "$where" = tmpfs ] && dir="$SHM/store-$n"
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$SM" store load --store "$dir" --dir "$WORK/layout-$n" \
            >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
        read -r secs kib < "$WORK/time"
        awk -v n="$n" -v w="$where" -v s="$secs" -v k="$kib" \
            'BEGIN { printf "%-8s %-10s %12.2f %12.0f %14.3f\n", n, w, s, k/1024, s*1000/n }'
        rm -rf "$dir"
    done
    [ "$n" = "${SIZES[0]}" ] || rm -rf "$WORK/layout-$n"
done

if command -v strace >/dev/null; then
    n=${SIZES[0]}
    strace -f -c -o "$WORK/strace" "$SM" store load --store "$WORK/store-count" --dir "$WORK/layout-$n" \
        >/dev/null 2>&1
    awk -v n="$n" '$NF=="fsync" || $NF=="fdatasync" || $NF=="sync_file_range" {
        printf "%s calls: %d (%.2f per image of %d)\n", $NF, $4, $4/n, n }' "$WORK/strace"
fi
