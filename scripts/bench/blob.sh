#!/usr/bin/env bash
# Times the release CLI's sign-blob and verify-blob on a large file against
# `openssl dgst -sha256` of the same file, and reports the peak RSS of sign-blob.
#
# Usage: scripts/bench/blob.sh [SIZE_MIB]     (default 1024, i.e. a 1 GiB file)
#
# Environment:
#   CARGO_TARGET_DIR  where cargo builds (default: ./target of the workspace)
#   BENCH_RUNS        timed runs per command (default 10 with hyperfine, 3 without)
#   BENCH_TMPDIR      folder for the temporary file and keys (default: $TMPDIR or /tmp)
#   BENCH_NO_BUILD=1  time the binaries already in $CARGO_TARGET_DIR/release, do not build
#
# Uses hyperfine when installed, else bash `time`. The file is read once before timing, so
# every command hashes from the page cache: the figures are CPU throughput, not disk speed.
set -euo pipefail

size_mib="${1:-1024}"
if ! [[ "$size_mib" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SIZE_MIB]  (a positive number of MiB, default 1024)" >&2
    exit 2
fi
size_bytes=$((size_mib * 1024 * 1024))

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/release/sigmirror"

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    echo "== building release binaries" >&2
    (cd "$root" && cargo build --release -p sigmirror -p sigmirror-plugin-file)
fi
if ! [[ -x "$bin" ]]; then
    echo "$bin is missing: build it, or unset BENCH_NO_BUILD" >&2
    exit 1
fi

work="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/sigmirror-bench.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

blob="$work/blob.bin"
empty="$work/empty.bin"
echo "== writing a ${size_mib} MiB file to $blob" >&2
# AES-CTR keystream under a fixed key: deterministic, incompressible and non-zero.
head -c "$size_bytes" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
        -iv 00000000000000000000000000000000 >"$blob"
: >"$empty"

export COSIGN_PASSWORD=bench
"$bin" generate-key-pair --output-key-prefix "$work/bench" >/dev/null 2>&1
key="$work/bench.key"
pub="$work/bench.pub"
sig="$work/blob.sig"
"$bin" sign-blob --key "$key" --output-signature "$sig" "$blob" 2>/dev/null
"$bin" verify-blob --key "$pub" --signature "$sig" "$blob" 2>/dev/null

# Warm the page cache.
cat "$blob" >/dev/null

q() { printf '%q' "$1"; }
names=(openssl sign-blob verify-blob sign-blob-empty verify-blob-empty)
cmds=(
    "openssl dgst -sha256 $(q "$blob")"
    "$(q "$bin") sign-blob --key $(q "$key") --output-signature $(q "$sig") $(q "$blob")"
    "$(q "$bin") verify-blob --key $(q "$pub") --signature $(q "$sig") $(q "$blob")"
    "$(q "$bin") sign-blob --key $(q "$key") --output-signature $(q "$work/empty.sig") $(q "$empty")"
    "$(q "$bin") verify-blob --key $(q "$pub") --signature $(q "$work/empty.sig") $(q "$empty")"
)
"$bin" sign-blob --key "$key" --output-signature "$work/empty.sig" "$empty" 2>/dev/null

declare -A mean
if command -v hyperfine >/dev/null 2>&1; then
    runs="${BENCH_RUNS:-10}"
    echo "== timing with hyperfine ($runs runs each)" >&2
    args=()
    for i in "${!names[@]}"; do
        args+=(-n "${names[$i]}" "${cmds[$i]}")
    done
    hyperfine --shell=none --warmup 1 --runs "$runs" --export-csv "$work/times.csv" "${args[@]}" >&2
    # command,mean,stddev,median,user,system,min,max
    while IFS=, read -r name m _; do
        [[ "$name" == command ]] && continue
        mean[$name]="$m"
    done <"$work/times.csv"
else
    runs="${BENCH_RUNS:-3}"
    echo "== timing with bash time ($runs runs each; install hyperfine for better figures)" >&2
    TIMEFORMAT=%R
    for i in "${!names[@]}"; do
        total=0
        for ((r = 0; r < runs; r++)); do
            t="$({ time bash -c "${cmds[$i]}" >/dev/null 2>&1; } 2>&1)"
            echo "  ${names[$i]} run $((r + 1)): ${t}s" >&2
            total="$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')"
        done
        mean[${names[$i]}]="$(awk -v a="$total" -v n="$runs" 'BEGIN { print a / n }')"
    done
fi

# Peak RSS, with GNU time.
if ! [[ -x /usr/bin/time ]] && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "== installing GNU time" >&2
    apt-get install -y time >/dev/null 2>&1 || true
fi
rss() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { print $2 }'
    else
        echo "n/a"
    fi
}
rss_openssl="$(rss openssl dgst -sha256 "$blob")"
rss_sign="$(rss "$bin" sign-blob --key "$key" --output-signature "$sig" "$blob")"
rss_verify="$(rss "$bin" verify-blob --key "$pub" --signature "$sig" "$blob")"

echo
echo "file: ${size_mib} MiB ($size_bytes bytes), page-cached; $(nproc) CPUs," \
    "$(lscpu | awk -F': *' '/Model name/ { print $2; exit }')"
awk -v size="$size_bytes" \
    -v o="${mean[openssl]}" -v s="${mean[sign-blob]}" -v v="${mean[verify-blob]}" \
    -v s0="${mean[sign-blob-empty]}" -v v0="${mean[verify-blob-empty]}" '
    function row(name, t, fixed) {
        net = t - fixed
        printf "%-28s %9.3f s %8.3f GB/s %8.1f%%", name, t, size / t / 1e9, 100 * o / t
        if (fixed > 0 && net > 0)
            printf "   (%.3f GB/s, %.1f%% without the %.0f ms fixed cost)", size / net / 1e9, 100 * o / net, fixed * 1000
        printf "\n"
    }
    BEGIN {
        printf "%-28s %11s %13s %9s\n", "command", "mean", "throughput", "of openssl"
        row("openssl dgst -sha256", o, 0)
        row("sigmirror sign-blob", s, s0)
        row("sigmirror verify-blob", v, v0)
        printf "%-28s %9.3f s\n", "sign-blob, empty file", s0
        printf "%-28s %9.3f s\n", "verify-blob, empty file", v0
        ok = (o / s >= 0.9 && o / v >= 0.9) ? "yes" : "no"
        printf "within 10%% of openssl: %s\n", ok
    }'
echo "peak RSS (KiB): openssl ${rss_openssl}, sign-blob ${rss_sign}, verify-blob ${rss_verify}"
