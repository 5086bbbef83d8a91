#!/usr/bin/env bash
# Local mirror benchmark, sigmirror and cosign side by side in one run, against two local
# registries (Debian docker-registry on loopback): SRC holds N small signed and attested
# images, DST receives the copies.
#   (a) pull all N into a fresh store (one sigmirror call) vs a loop of `cosign save`
#       (one directory per image, as cosign works)
#   (b) copy all N from SRC to DST: a loop of `sigmirror copy` (one process per image: the
#       command takes one SRC and one DST) vs a loop of `cosign copy`, both into fresh
#       repositories with the same path layout (DST/<tool>/bench/img-I:v1), so neither needs -f;
#       for reference, `sigmirror push --to DST/push` of the pulled store (one call)
#   (c) a no-op re-pull of all N into the same store vs the first pull (goal: <= 5%)
#   (d) `sigmirror verify --offline` of all N in one call vs a loop of
#       `cosign verify --insecure-ignore-tlog` against SRC
#   (e) peak RSS of `sigmirror pull` of an image with one 1 GiB layer (goal: < 100 MiB)
# Usage: scripts/bench/mirror.sh [N]   (default 200; release build; needs cosign,
# docker-registry, /usr/bin/time, bc, python3, curl; about 2 GiB free in $TMPDIR for (e))
# BENCH_NO_BUILD=1 times the binary already in $CARGO_TARGET_DIR/release without building.
# The binary and the file-key plugin are copied into the work folder first, so that a
# concurrent build cannot replace them mid-run.
# Wall times on a shared machine are noisy: rerun when a figure looks off.
set -euo pipefail
N=${1:-200}
cd "$(dirname "$0")/../.."
. scripts/lib/registry.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p sigmirror -p sigmirror-plugin-file
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigmirror-bench-mirror.XXXXXX")
SM="$WORK/sigmirror"
cp "$CARGO_TARGET_DIR/release/sigmirror" "$CARGO_TARGET_DIR/release/libsigmirror_signer_file.so" "$WORK/"
cleanup() { stop_registries; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'echo "failed; last lines of the log:" >&2; tail -n 20 "$WORK/log" >&2' ERR

start_registry "$WORK/src"; SRC=$REG
start_registry "$WORK/dst"; DST=$REG
cd "$WORK"
export COSIGN_PASSWORD=bench
"$SM" generate-key-pair >/dev/null 2>&1
echo '{"builder":"bench-mirror"}' > predicate.json
LOG="$WORK/log"

echo "pushing, signing and attesting $N images in $SRC ..."
for i in $(seq "$N"); do
    printf 'image %s\n' "$i" > content.txt
    "$SM" upload blob -f content.txt "$SRC/bench/img-$i:v1" >/dev/null 2>>"$LOG"
done
images() { for i in $(seq "$N"); do printf '%s ' "$SRC/bench/img-$i:v1"; done; }
# shellcheck disable=SC2046
"$SM" sign --key cosign.key $(images) >/dev/null 2>>"$LOG"
# shellcheck disable=SC2046
"$SM" attest --key cosign.key --predicate predicate.json $(images) >/dev/null 2>>"$LOG"

now() { date +%s.%N; }
declare -A T
SUMMARY=()
echo "timing ..."
# CPU seconds used so far by the SRC registry, and by the children of this script (the
# clients), to show where the time of (a) and (c) goes on a machine the two share.
SRC_PID=${REG_PIDS[0]}
TICK=$(getconf CLK_TCK)
registry_cpu() { awk -v t="$TICK" '{print ($14 + $15) / t}' "/proc/$SRC_PID/stat"; }
# (`times` must run in this shell, not in a $(...) subshell, which has no children yet.)
clients_cpu() {
    times > "$WORK/times.txt"
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] } print t }' "$WORK/times.txt"
}
declare -A RCPU CCPU
measure_start() { r0=$(registry_cpu); clients_cpu > "$WORK/c0.txt"; t0=$(now); }
measure_end() {
    T[$1]=$(echo "$(now) - $t0" | bc)
    RCPU[$1]=$(echo "$(registry_cpu) - $r0" | bc)
    clients_cpu > "$WORK/c1.txt"
    CCPU[$1]=$(echo "$(cat "$WORK/c1.txt") - $(cat "$WORK/c0.txt")" | bc)
}
# (a) pull vs cosign save
measure_start; for i in $(seq "$N"); do cosign save --dir "cosign-save/$i" "$SRC/bench/img-$i:v1" >/dev/null 2>>"$LOG"; done; measure_end cosign_save
# shellcheck disable=SC2046
measure_start; "$SM" pull --store store $(images) >/dev/null 2>pull1.txt; measure_end sm_pull
SUMMARY+=("first pull:  $(tail -n 1 pull1.txt)")
# (c) no-op re-pull
# shellcheck disable=SC2046
measure_start; "$SM" pull --store store $(images) >/dev/null 2>pull2.txt; measure_end sm_repull
SUMMARY+=("re-pull:     $(tail -n 1 pull2.txt)")
# (b) copy vs cosign copy (fresh destination repositories, same layout)
t0=$(now); for i in $(seq "$N"); do cosign copy "$SRC/bench/img-$i:v1" "$DST/cosign/bench/img-$i:v1" >/dev/null 2>>"$LOG"; done; T[cosign_copy]=$(echo "$(now) - $t0" | bc)
t0=$(now); for i in $(seq "$N"); do "$SM" copy "$SRC/bench/img-$i:v1" "$DST/sigmirror/bench/img-$i:v1" >/dev/null 2>>"$LOG"; done; T[sm_copy]=$(echo "$(now) - $t0" | bc)
t0=$(now); "$SM" push --store store --to "$DST/push" >/dev/null 2>push.txt; T[sm_push]=$(echo "$(now) - $t0" | bc)
SUMMARY+=("push --to:   $(tail -n 1 push.txt)")
# Sanity: the real cosign accepts what each tool copied.
for prefix in cosign sigmirror push; do
    cosign verify --key cosign.pub --insecure-ignore-tlog "$DST/$prefix/bench/img-$N:v1" >/dev/null 2>>"$LOG"
done
# (d) offline verify vs cosign verify against the registry
t0=$(now); for i in $(seq "$N"); do cosign verify --key cosign.pub --insecure-ignore-tlog "$SRC/bench/img-$i:v1" >/dev/null 2>>"$LOG"; done; T[cosign_verify]=$(echo "$(now) - $t0" | bc)
# shellcheck disable=SC2046
t0=$(now); "$SM" verify --offline --store store --key cosign.pub $(images) >/dev/null 2>>"$LOG"; T[sm_verify]=$(echo "$(now) - $t0" | bc)

# (e) peak RSS of a pull of one 1 GiB layer (the random file is removed once uploaded)
echo "uploading a 1 GiB layer ..."
head -c 1G /dev/urandom > big.bin
"$SM" upload blob -f big.bin "$SRC/bench/big:v1" >/dev/null 2>>"$LOG"
rm -f big.bin
/usr/bin/time -o big.time -f '%M %e' "$SM" pull --store store-big "$SRC/bench/big:v1" >/dev/null 2>>"$LOG"
read -r BIG_KIB BIG_S < big.time
BIG_MIB=$(printf '%.1f' "$(echo "scale=3; $BIG_KIB / 1024" | bc)")

ratio() { printf '%.1f' "$(echo "scale=3; $1 / $2" | bc)"; }
PULL_X=$(ratio "${T[cosign_save]}" "${T[sm_pull]}")
NOOP_PCT=$(printf '%.1f' "$(echo "scale=3; 100 * ${T[sm_repull]} / ${T[sm_pull]}" | bc)")
met() { if [ "$(echo "$1" | bc)" = 1 ]; then echo met; else echo "NOT met"; fi; }
printf '\n%-58s %9s %9s\n' "N=$N images (signed and attested)" "seconds" "ratio"
printf '%-58s %9.2f %9s\n' "(a) cosign save, loop (one dir per image)" "${T[cosign_save]}" "1.0"
printf '%-58s %9.2f %8sx\n' "(a) sigmirror pull, one call (fresh store)" "${T[sm_pull]}" "$PULL_X"
printf '%-58s %9.2f %9s\n' "(b) cosign copy, loop" "${T[cosign_copy]}" "1.0"
printf '%-58s %9.2f %8sx\n' "(b) sigmirror copy, loop (one process per image)" "${T[sm_copy]}" "$(ratio "${T[cosign_copy]}" "${T[sm_copy]}")"
printf '%-58s %9.2f %8sx\n' "(b) sigmirror push --to, one call (store -> registry)" "${T[sm_push]}" "$(ratio "${T[cosign_copy]}" "${T[sm_push]}")"
printf '%-58s %9.2f %9s\n' "(c) sigmirror pull, first" "${T[sm_pull]}" "100%"
printf '%-58s %9.2f %8s%%\n' "(c) sigmirror pull, no-op re-run" "${T[sm_repull]}" "$NOOP_PCT"
printf '%-58s %9.2f %9s\n' "(d) cosign verify, loop (registry)" "${T[cosign_verify]}" "1.0"
printf '%-58s %9.2f %8sx\n' "(d) sigmirror verify --offline, one call" "${T[sm_verify]}" "$(ratio "${T[cosign_verify]}" "${T[sm_verify]}")"
printf '%-58s %9.2f %9s\n' "(e) sigmirror pull, one 1 GiB layer (peak RSS ${BIG_MIB} MiB)" "$BIG_S" ""
printf '\ngoals\n'
printf '%-58s %9s %9s\n' "pull >= 5x faster than the cosign save loop" "${PULL_X}x" "$(met "$PULL_X >= 5")"
printf '%-58s %9s %9s\n' "no-op re-pull <= 5% of the first pull" "${NOOP_PCT}%" "$(met "$NOOP_PCT <= 5")"
printf '%-58s %9s %9s\n' "1 GiB pull peak RSS < 100 MiB" "${BIG_MIB}MiB" "$(met "$BIG_MIB < 100")"
printf '\nCPU seconds (2 cores shared by registry and client)    registry    client      wall\n'
for k in cosign_save sm_pull sm_repull; do
    printf '%-52s %9.2f %9.2f %9.2f\n' "$k" "${RCPU[$k]}" "${CCPU[$k]}" "${T[$k]}"
done
printf '\nsigmirror summary lines\n'
printf '  %s\n' "${SUMMARY[@]}"
