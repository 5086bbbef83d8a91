#!/usr/bin/env bash
# `serve` against the Debian registry serving the same content, side by side in one run on
# loopback (wrk, 2 threads, 16 connections, 5 s per endpoint): manifest GET by tag, a small
# blob GET, a 100 MiB blob GET (throughput), and the referrers API (serve only: the Debian
# registry has none). (No HEAD row: wrk waits for a body after a HEAD answer that announces a
# Content-Length, as both servers' do.) Then serve's peak memory, and one `verify --offline` process for
# one image (hyperfine median): what opening the store costs an admission hook.
# Usage: scripts/bench/serve.sh   (release build; installs wrk and hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/registry.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sigmirror-target}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --release -q -p sigmirror -p sigmirror-plugin-file
SM="$CARGO_TARGET_DIR/release/sigmirror"
WORK=$(mktemp -d /tmp/sigmirror-bench-serve.XXXXXX)
SERVE_PID=
trap 'stop_registries; [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
export COSIGN_PASSWORD=bench SIGMIRROR_STORE="$WORK/store"
"$SM" generate-key-pair >/dev/null 2>&1
start_registry "$WORK/registry"
printf 'a small image\n' > small.txt
head -c 100M /dev/urandom > big.bin
"$SM" upload blob -f small.txt "$REG/bench/small:v1" >/dev/null 2>&1
"$SM" upload blob -f big.bin --ct application/octet-stream "$REG/bench/big:v1" >/dev/null 2>&1
"$SM" sign --key cosign.key "$REG/bench/small:v1" >/dev/null 2>&1
"$SM" sign --key cosign.key --new-bundle-format "$REG/bench/small:v1" >/dev/null 2>&1
"$SM" pull --progress none "$REG/bench/small:v1" "$REG/bench/big:v1" >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SM" serve --quiet --addr "127.0.0.1:$PORT" 2>/dev/null &
SERVE_PID=$!
sleep 1
SRV=127.0.0.1:$PORT
NAME=${REG/:/-}
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
digest_of() { curl -fsI -H "$ACCEPT" "http://$REG/v2/bench/$1/manifests/v1" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'; }
layer_of() { curl -fs -H "$ACCEPT" "http://$REG/v2/bench/$1/manifests/v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'; }
SMALL_LAYER=$(layer_of small)
BIG_LAYER=$(layer_of big)
SMALL_DIGEST=$(digest_of small)
printf 'wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"\n' > get.lua

# requests/s and mean latency of one endpoint: "RPS LATENCY TRANSFER"
measure() {
    wrk -t2 -c16 -d5s -s "$1" "$2" 2>/dev/null | awk '
        /Requests\/sec/ {rps=$2}
        /Latency/ {lat=$2}
        /Transfer\/sec/ {tr=$2}
        END {printf "%s %s %s", rps, lat, tr}'
}
row() {
    local what=$1 script=$2 path_reg=$3 path_srv=$4
    read -r r1 l1 t1 <<<"$(measure "$script" "http://$REG$path_reg")"
    read -r r2 l2 t2 <<<"$(measure "$script" "http://$SRV$path_srv")"
    python3 -c "print(f'| {\"$what\"} | {float(\"$r1\"):,.0f} req/s, {\"$l1\"}, {\"$t1\"}/s | {float(\"$r2\"):,.0f} req/s, {\"$l2\"}, {\"$t2\"}/s | {float(\"$r2\")/max(float(\"$r1\"),1e-9):.1f}x |')"
}
echo
echo "| endpoint | Debian registry | sigmirror serve | serve / registry |"
echo "| --- | --- | --- | --- |"
row "manifest GET by tag" get.lua "/v2/bench/small/manifests/v1" "/v2/$NAME/bench/small/manifests/v1"
row "small blob GET" get.lua "/v2/bench/small/blobs/$SMALL_LAYER" "/v2/$NAME/bench/small/blobs/$SMALL_LAYER"
row "100 MiB blob GET" get.lua "/v2/bench/big/blobs/$BIG_LAYER" "/v2/$NAME/bench/big/blobs/$BIG_LAYER"
read -r r l _ <<<"$(measure get.lua "http://$SRV/v2/$NAME/bench/small/referrers/$SMALL_DIGEST")"
echo "| referrers | (no referrers API) | $r req/s, $l | |"
echo
echo "serve peak memory (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$SERVE_PID/status")"
kill "$SERVE_PID"
SERVE_PID=
stop_registries
hyperfine -N -w 5 -r 200 --export-json verify.json \
    "$SM verify --offline --key cosign.pub $REG/bench/small:v1" >/dev/null 2>&1
python3 -c "import json; r=json.load(open('verify.json'))['results'][0]; print(f'one verify --offline process (one image, key): median {r[\"median\"]*1000:.2f} ms')"
