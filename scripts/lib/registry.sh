# Sourced by the demo and the benchmarks: starts the Debian `docker-registry` (CNCF
# distribution) on a free loopback port, the way the tests do.
#
#   start_registry DIR [log]  serves DIR/data; sets REG (host:port) and appends to REG_PIDS;
#                             with `log`, writes an access log (a line per request) to
#                             DIR/access.log
#   stop_registries           kills every registry started here
#
# Call start_registry directly, not in $(...): a subshell would lose REG and the pid.

REG_PIDS=()

start_registry() {
    local dir=$1 port log_disabled=true out=/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$dir"
    if [ "${2:-}" = log ]; then log_disabled=false; out=$dir/access.log; fi
    cat > "$dir/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: $log_disabled}}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: 127.0.0.1:$port}
YML
    docker-registry serve "$dir/registry.yml" >"$out" 2>/dev/null &
    REG_PIDS+=($!)
    REG=127.0.0.1:$port
    local _
    for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && return 0; sleep 0.05; done
    echo "the registry on $REG did not start" >&2
    return 1
}

stop_registries() {
    local pid
    for pid in "${REG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
