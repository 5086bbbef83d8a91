#!/usr/bin/env bash
# Whole-repository mirroring, sigmirror and skopeo side by side in one run, against the Debian
# registry on loopback with its access log on, so that requests are counted, not timed:
#   (a) `sigmirror pull REPO` of a repository of N signed and attested tags into a fresh store
#       (requests per image; goal: at most 9, the manifest, config and layer of the image and
#       of its .sig and .att);
#   (b) a no-op re-pull (goal: at most 3 per image, a HEAD of the tag, .sig and .att, plus one
#       tags/list per repository);
#   (c) `sigmirror sync` of the repository (every tag, verified against the signing key, into a
#       fresh store: staging, verification, copy);
#   (d) `skopeo sync` of the same repository (every tag, .sig and .att tags included, as skopeo
#       sees them) into a fresh directory, timed against (a) and (c) (goal: at least 4x faster).
# Usage: scripts/bench/repository.sh [N]   (default 60; release build; needs docker-registry,
# skopeo, python3, curl). Times on a shared machine are noisy; the request counts are not.
set -euo pipefail
N=${1:-60}
cd "$(dirname "$0")/../.."
. scripts/lib/registry.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
cargo build --release -q -p sigmirror -p sigmirror-plugin-file
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigmirror-bench-repository.XXXXXX")
SM="$WORK/sigmirror"
cp "$CARGO_TARGET_DIR/release/sigmirror" "$CARGO_TARGET_DIR/release/libsigmirror_signer_file.so" "$WORK/"
trap 'stop_registries; rm -rf "$WORK"' EXIT
start_registry "$WORK/registry" log
cd "$WORK"
export COSIGN_PASSWORD=bench
"$SM" generate-key-pair >/dev/null 2>&1
echo '{"builder":"bench-repository"}' > predicate.json
echo "pushing, signing and attesting $N tags of $REG/bench/app ..." >&2
for i in $(seq "$N"); do
    printf 'image %s\n' "$i" > content.txt
    "$SM" upload blob -f content.txt "$REG/bench/app:v$i" >/dev/null 2>&1
done
tags() { for i in $(seq "$N"); do printf '%s ' "$REG/bench/app:v$i"; done; }
# shellcheck disable=SC2046
"$SM" sign --key cosign.key $(tags) >/dev/null 2>&1
# shellcheck disable=SC2046
"$SM" attest --key cosign.key --predicate predicate.json $(tags) >/dev/null 2>&1

LOG="$WORK/registry/access.log"
lines() { sleep 0.2; wc -l < "$LOG"; }
# Requests logged since line $1, without the `/v2/` version checks: "total tags/list HEAD GET".
count_since() {
    sleep 0.2
    tail -n +"$(( $1 + 1 ))" "$LOG" | awk -F'"' '{ split($2, r, " "); if (r[2] == "/v2/") next;
        n++; if (r[2] ~ /tags\/list/) t++; if (r[1] == "HEAD") h++; if (r[1] == "GET") g++ }
        END { printf "%d %d %d %d", n, t, h, g }'
}
now() { date +%s.%N; }
row() {
    local what=$1 seconds=$2 counts=$3
    read -r n t h g <<<"$counts"
    python3 -c "print(f'| $what | {float($seconds):.2f} s | $n ({$n/$N:.2f} per image) | $t | $h | $g |')"
}
echo
echo "| N=$N tags | time | requests | tags/list | HEAD | GET |"
echo "| --- | --- | --- | --- | --- | --- |"
l0=$(lines); t0=$(now)
"$SM" pull --store store --progress none "$REG/bench/app" >/dev/null 2>&1
t_pull=$(echo "$(now) - $t0" | bc); c_pull=$(count_since "$l0")
row "sigmirror pull REPO (first)" "$t_pull" "$c_pull"
l0=$(lines); t0=$(now)
"$SM" pull --store store --progress none "$REG/bench/app" >/dev/null 2>&1
t_again=$(echo "$(now) - $t0" | bc); c_again=$(count_since "$l0")
row "sigmirror pull REPO (no-op)" "$t_again" "$c_again"
cat > sync.yaml <<YAML
sources:
  - repository: $REG/bench/app
    policy:
      keys: {release: cosign.pub}
targets:
  - store: sync-store
YAML
l0=$(lines); t0=$(now)
"$SM" sync --progress none sync.yaml >/dev/null 2>&1
t_sync=$(echo "$(now) - $t0" | bc); c_sync=$(count_since "$l0")
row "sigmirror sync (verified, into a store)" "$t_sync" "$c_sync"
l0=$(lines); t0=$(now)
skopeo sync --scoped --src docker --dest dir --src-tls-verify=false "$REG/bench/app" skopeo-sync >/dev/null 2>&1
t_skopeo=$(echo "$(now) - $t0" | bc); c_skopeo=$(count_since "$l0")
row "skopeo sync (every tag)" "$t_skopeo" "$c_skopeo"
echo
python3 -c "print(f'sigmirror pull is {$t_skopeo/$t_pull:.1f}x, sigmirror sync {$t_skopeo/$t_sync:.1f}x as fast as skopeo sync')"
"$SM" verify --offline --store store --key cosign.pub "$REG/bench/app:v$N" >/dev/null 2>&1 \
    && echo "verify --offline of the last tag from the store: ok"
