#!/usr/bin/env bash
# Where the instrumentation's cost goes: instructions per tools/call (valgrind callgrind) of
# my-service with JSON logs on and off and of the bare rmcp server, over streamable HTTP with one
# client. Instruction counts do not depend on how busy the machine is, unlike times.
#
#   bench/profile.sh            # CALLS=2000 measured calls after 200 warm-up calls
#
# Output: .bench/callgrind/<server>.txt (callgrind_annotate, inclusive and self) and a summary of
# instructions per call on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/profiling}"
CALLS=${CALLS:-2000}
CARGO_PROFILE_RELEASE_DEBUG=1 cargo build --release --quiet -p my-service -p cm-bench
B="$CARGO_TARGET_DIR/release"
OUT=.bench/callgrind
mkdir -p "$OUT"
rm -f "$OUT"/*.out*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

profile() {
    local name=$1; shift
    local port; port=$(free_port)
    CONFIDENTIAL_MIND_LOCAL_CONFIG=true valgrind --tool=callgrind --quiet \
        --callgrind-out-file="$OUT/$name.out" "$@" --port "$port" 2>"$OUT/$name.stderr" &
    local pid=$!
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local url="http://127.0.0.1:$port/mcp"
    "$B/cm-bench" load --url "$url" -c 1 --calls 200 --json >/dev/null
    callgrind_control -z "$pid" >/dev/null
    "$B/cm-bench" load --url "$url" -c 1 --calls "$CALLS" --expect-text "Processed: hello" --json \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["errors"]==0, r["error_samples"]'
    callgrind_control -d "$pid" >/dev/null
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local dump; dump=$(ls "$OUT/$name.out".* | head -1)
    callgrind_annotate --inclusive=yes --threshold=99 "$dump" >"$OUT/$name.inclusive.txt"
    callgrind_annotate --inclusive=no --threshold=99 "$dump" >"$OUT/$name.self.txt"
    local total; total=$(grep -m1 -E '^[0-9,]+ .*PROGRAM TOTALS' "$OUT/$name.self.txt" | awk '{gsub(",","",$1); print $1}')
    printf '%-22s %10.0f instructions per call\n' "$name" "$(echo "$total / $CALLS" | bc -l)"
}

profile cm-mcp "$B/my-service" --host 127.0.0.1 --log-level info
profile cm-mcp-logs-off "$B/my-service" --host 127.0.0.1 --log-level error
profile bare-rmcp "$B/bare-rmcp" --host 127.0.0.1
