#!/usr/bin/env bash
# FUSE view benchmark: `find` + `cat` through a `sigmirror mount` of a store holding N signed
# images, side by side with the same tree copied out of the mount onto local disk (`cp -r`).
#   - N small images pushed to a local registry (Debian docker-registry on loopback), signed in
#     one `sigmirror sign` call, pulled in one `sigmirror pull --no-layers` call, key trusted as ops
#   - two workloads: every payload (`find -name payload.json -exec cat`), every file (`find
#     -type f -exec cat`, including _blobs/)
#   - cold: fresh mount after `echo 3 > /proc/sys/vm/drop_caches` (the copy: caches dropped);
#     warm: the same again right after, same mount (the copy: page and dentry caches hot)
#   - medians of R runs (default 5); ratios mount/disk (goals: warm <= 1.5x, cold <= 3x)
# Usage: scripts/bench/fuse.sh [N] [R]   (default 2000 5; root: drop_caches; needs /dev/fuse)
set -euo pipefail
N=${1:-2000}
R=${2:-5}
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (drop_caches, FUSE mount)" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
cargo build --release -q -p sigmirror -p sigmirror-plugin-file
SM="$CARGO_TARGET_DIR/release/sigmirror"
# On local disk, not tmpfs: the copy must be a real on-disk tree.
WORK=$(mktemp -d /var/tmp/sigmirror-bench-fuse.XXXXXX)
MNT="$WORK/mnt"
DISK="$WORK/disk"
export SIGMIRROR_STORE="$WORK/store"
cleanup() {
    if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; fi
    stop_registries
    rm -rf "$WORK"
}
trap cleanup EXIT
start_registry "$WORK/registry"
cd "$WORK"
mkdir -p "$MNT"
export COSIGN_PASSWORD=bench
"$SM" generate-key-pair >/dev/null 2>&1

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

echo "pushing $N images to $REG ..."
t0=$(now)
for i in $(seq "$N"); do
    printf 'image %s\n' "$i" > content.txt
    "$SM" upload blob -f content.txt "$REG/bench/app-$i:v1" >/dev/null 2>&1
    echo "$REG/bench/app-$i:v1" >> images.txt
done
T_PUSH=$(since "$t0")
t0=$(now)
# shellcheck disable=SC2046
"$SM" sign --key cosign.key $(cat images.txt) >/dev/null 2>&1
T_SIGN=$(since "$t0")
t0=$(now)
"$SM" pull --no-layers --from-file images.txt >/dev/null 2>&1
T_PULL=$(since "$t0")
"$SM" trust add cosign.pub --name ops >/dev/null 2>&1
printf 'setup: push %.1f s, sign (one call) %.1f s, pull (one call) %.1f s\n' "$T_PUSH" "$T_SIGN" "$T_PULL"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
mount_view() { "$SM" mount "$MNT" >/dev/null 2>&1; }
unmount_view() {
    umount "$MNT"
    for _ in $(seq 100); do mountpoint -q "$MNT" || return 0; sleep 0.05; done
    echo "the mount did not go away" >&2; exit 1
}
payloads() { find "$1" -name payload.json -type f -exec cat {} + > /dev/null; }
everything() { find "$1" -type f -exec cat {} + > /dev/null; }
# Seconds for one run of workload $1 on tree $2.
run_once() { local t; t=$(now); "$1" "$2"; since "$t"; }
# Tree fingerprint: sorted paths and contents of every regular file, and the symlinks.
fingerprint() {
    (cd "$1" && { find . -type f -print0 | sort -z | xargs -0 cat; find . -type l -printf '%p -> %l\n' | sort; } | sha256sum | cut -c1-16)
}

mount_view
FILES=$(find "$MNT" -type f | wc -l)
PAYLOADS=$(find "$MNT" -name payload.json -type f | wc -l)
LINKS=$(find "$MNT" -type l | wc -l)
OUTSIDE_BLOBS=$(find "$MNT" -path "$MNT/_blobs" -prune -o -type f -print | wc -l)
cp -r "$MNT" "$DISK"
[ "$(find "$DISK" -type f | wc -l)" = "$FILES" ] || { echo "the copy differs in file count" >&2; exit 1; }
[ "$(fingerprint "$MNT")" = "$(fingerprint "$DISK")" ] || { echo "the copy differs in content" >&2; exit 1; }
printf 'tree: %s files (%s outside _blobs/), %s payloads, %s symlinks; copy identical\n' \
    "$FILES" "$OUTSIDE_BLOBS" "$PAYLOADS" "$LINKS"

declare -A T
for work in payloads everything; do
    cold=() warm=() dcold=() dwarm=()
    for _ in $(seq "$R"); do
        unmount_view; drop_caches; mount_view
        cold+=("$(run_once "$work" "$MNT")")
    done
    for _ in $(seq "$R"); do warm+=("$(run_once "$work" "$MNT")"); done
    for _ in $(seq "$R"); do drop_caches; dcold+=("$(run_once "$work" "$DISK")"); done
    "$work" "$DISK"
    for _ in $(seq "$R"); do dwarm+=("$(run_once "$work" "$DISK")"); done
    T[${work}_cold]=$(printf '%s\n' "${cold[@]}" | median)
    T[${work}_warm]=$(printf '%s\n' "${warm[@]}" | median)
    T[${work}_dcold]=$(printf '%s\n' "${dcold[@]}" | median)
    T[${work}_dwarm]=$(printf '%s\n' "${dwarm[@]}" | median)
done

ratio() { echo "scale=2; $1 / $2" | bc; }
printf '\nN=%s images, medians of %s runs, seconds\n' "$N" "$R"
printf '%-28s %9s %9s %7s   %9s %9s %7s\n' "find + cat" "mount" "disk" "ratio" "mount" "disk" "ratio"
printf '%-28s %9s %9s %7s   %9s %9s %7s\n' "" "cold" "cold" "(<=3)" "warm" "warm" "(<=1.5)"
row() {
    printf '%-28s %9.3f %9.3f %6.2fx   %9.3f %9.3f %6.2fx\n' "$1" \
        "${T[${2}_cold]}" "${T[${2}_dcold]}" "$(ratio "${T[${2}_cold]}" "${T[${2}_dcold]}")" \
        "${T[${2}_warm]}" "${T[${2}_dwarm]}" "$(ratio "${T[${2}_warm]}" "${T[${2}_dwarm]}")"
}
row "every payload ($PAYLOADS)" payloads
row "every file ($FILES)" everything
