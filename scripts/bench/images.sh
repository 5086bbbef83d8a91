#!/usr/bin/env bash
# Image signing benchmark, sigmirror and cosign side by side in one run, against one local
# registry (Debian docker-registry on loopback):
#   - sign N images: a cosign loop, a sigmirror loop (one process per image), one sigmirror call
#   - verify the same: cosign loop, sigmirror loop, one sigmirror call
#   - one verify process: median wall time and peak RSS, sigmirror and cosign
# Usage: scripts/bench/images.sh [N]   (default 200; release build; needs cosign, hyperfine, time)
set -euo pipefail
N=${1:-200}
cd "$(dirname "$0")/../.."
. scripts/lib/registry.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --release -q -p sigmirror -p sigmirror-plugin-file
SM="$CARGO_TARGET_DIR/release/sigmirror"
WORK=$(mktemp -d /tmp/sigmirror-bench-images.XXXXXX)
trap 'stop_registries; rm -rf "$WORK"' EXIT
start_registry "$WORK/registry"
cd "$WORK"
export COSIGN_PASSWORD=bench
"$SM" generate-key-pair >/dev/null 2>&1

echo "pushing $((3 * N)) images to $REG ..."
for set in a b c; do
    for i in $(seq "$N"); do
        printf 'image %s %s\n' "$set" "$i" > content.txt
        "$SM" upload blob -f content.txt "$REG/bench/$set-$i:v1" >/dev/null 2>&1
    done
done
images() { for i in $(seq "$N"); do printf '%s ' "$REG/bench/$1-$i:v1"; done; }

now() { date +%s.%N; }
declare -A T
t0=$(now); for i in $(seq "$N"); do cosign sign --key cosign.key --tlog-upload=false -y "$REG/bench/a-$i:v1" >/dev/null 2>&1; done; T[cosign_sign]=$(echo "$(now) - $t0" | bc)
t0=$(now); for i in $(seq "$N"); do "$SM" sign --key cosign.key "$REG/bench/b-$i:v1" 2>/dev/null; done; T[sm_sign_loop]=$(echo "$(now) - $t0" | bc)
# shellcheck disable=SC2046
t0=$(now); "$SM" sign --key cosign.key $(images c) 2>/dev/null; T[sm_sign_one]=$(echo "$(now) - $t0" | bc)
t0=$(now); for i in $(seq "$N"); do cosign verify --key cosign.pub --insecure-ignore-tlog "$REG/bench/a-$i:v1" >/dev/null 2>&1; done; T[cosign_verify]=$(echo "$(now) - $t0" | bc)
t0=$(now); for i in $(seq "$N"); do "$SM" verify --key cosign.pub "$REG/bench/b-$i:v1" >/dev/null 2>&1; done; T[sm_verify_loop]=$(echo "$(now) - $t0" | bc)
# shellcheck disable=SC2046
t0=$(now); "$SM" verify --key cosign.pub $(images c) >/dev/null 2>&1; T[sm_verify_one]=$(echo "$(now) - $t0" | bc)

# One verify process: sigmirror and cosign, each verifying images they can (both verify all).
hyperfine -N -w 3 -r 30 --export-json single.json \
    "$SM verify --key cosign.pub $REG/bench/b-1:v1" \
    "cosign verify --key cosign.pub --insecure-ignore-tlog $REG/bench/b-1:v1" >/dev/null 2>&1
median() { python3 -c "import json,sys; r=json.load(open('single.json'))['results'][$1]; print(round(r['median']*1000,1))"; }
rss() { for _ in 1 2 3 4 5; do /usr/bin/time -o rss1.txt -f %M "$@" >/dev/null 2>&1 || true; cat rss1.txt >> rss.txt; done; sort -n rss.txt | sed -n 3p; rm -f rss.txt rss1.txt; }
SM_RSS=$(rss "$SM" verify --key cosign.pub "$REG/bench/b-1:v1")
CO_RSS=$(rss cosign verify --key cosign.pub --insecure-ignore-tlog "$REG/bench/b-1:v1")

ratio() { echo "scale=1; $1 / $2" | bc; }
printf '\n%-44s %10s %8s\n' "N=$N images" "seconds" "vs cosign"
printf '%-44s %10.2f %8s\n' "cosign sign, loop" "${T[cosign_sign]}" "1.0"
printf '%-44s %10.2f %7sx\n' "sigmirror sign, loop (one process per image)" "${T[sm_sign_loop]}" "$(ratio "${T[cosign_sign]}" "${T[sm_sign_loop]}")"
printf '%-44s %10.2f %7sx\n' "sigmirror sign, one call" "${T[sm_sign_one]}" "$(ratio "${T[cosign_sign]}" "${T[sm_sign_one]}")"
printf '%-44s %10.2f %8s\n' "cosign verify, loop" "${T[cosign_verify]}" "1.0"
printf '%-44s %10.2f %7sx\n' "sigmirror verify, loop" "${T[sm_verify_loop]}" "$(ratio "${T[cosign_verify]}" "${T[sm_verify_loop]}")"
printf '%-44s %10.2f %7sx\n' "sigmirror verify, one call" "${T[sm_verify_one]}" "$(ratio "${T[cosign_verify]}" "${T[sm_verify_one]}")"
printf '\none verify process: sigmirror median %s ms, peak %s KiB; cosign median %s ms, peak %s KiB\n' \
    "$(median 0)" "$SM_RSS" "$(median 1)" "$CO_RSS"
