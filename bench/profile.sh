#!/usr/bin/env bash
# Where the instrumentation's cost goes: instructions per tools/call (valgrind callgrind) of
# my-service with JSON logs on and off and of the bare rmcp server, over streamable HTTP with one
# client. Instruction counts do not depend on how busy the machine is, unlike times.
#
#   bench/profile.sh            # CALLS=2000 measured calls after 200 warm-up calls
#   PERF_ONLY=1 bench/profile.sh  # only the perf stat part
#   EXTRA=--stateless bench/profile.sh  # the same servers stateless (arguments added to each)
#
# Then, since instruction counts leave out the kernel, the same servers run natively under
# `perf stat` for PERF_CALLS calls from 8 clients: CPU time, context switches and system calls per
# call (the log writer's write(2) and futex wake-ups show up here).
#
# Output: .bench/callgrind/<server>.out.1 (callgrind dumps), a per-function comparison
# (.bench/callgrind/summary.txt, by bench/callgrind_summary.py) and .bench/callgrind/<server>.perf.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/profiling}"
CALLS=${CALLS:-2000}
[ -n "${NO_BUILD:-}" ] || CARGO_PROFILE_RELEASE_DEBUG=1 cargo build --release --quiet -p my-service -p cm-bench
B="$CARGO_TARGET_DIR/release"
OUT=.bench/callgrind
mkdir -p "$OUT"
mkdir -p "$OUT/tmp"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

profile() {
    local name=$1; shift
    local port; port=$(free_port)
    CONFIDENTIAL_MIND_LOCAL_CONFIG=true valgrind --tool=callgrind --quiet \
        --callgrind-out-file="$OUT/tmp/$name.out" "$@" --port "$port" 2>"$OUT/$name.stderr" &
    local pid=$!
    wait_health "$port"
    local url="http://127.0.0.1:$port/mcp"
    "$B/cm-bench" load --url "$url" -c 1 --calls 200 --json >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    "$B/cm-bench" load --url "$url" -c 1 --calls "$CALLS" --expect-text "Processed: hello" --json \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["errors"]==0, r["error_samples"]'
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    mv "$OUT/tmp/$name.out.1" "$OUT/$name.out.1"
    rm -f "$OUT/tmp/$name.out"*
}

wait_health() {
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

PERF_CALLS=${PERF_CALLS:-40000}
EVENTS=task-clock,context-switches,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto

perf_stat() {
    local name=$1; shift
    local port; port=$(free_port)
    CONFIDENTIAL_MIND_LOCAL_CONFIG=true "$@" --port "$port" 2>"$OUT/$name.stderr" &
    local pid=$!
    wait_health "$port"
    local url="http://127.0.0.1:$port/mcp"
    "$B/cm-bench" load --url "$url" -c 8 --calls 100 --json >/dev/null
    perf stat -x, -o "$OUT/$name.perf" -e "$EVENTS" -p "$pid" &
    local perf=$!
    sleep 0.5
    "$B/cm-bench" load --url "$url" -c 8 --calls $((PERF_CALLS / 8)) --json >/dev/null
    kill -INT "$perf"; wait "$perf" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$OUT/$name.perf" "$PERF_CALLS" "$name" <<'PY'
import sys
path, calls, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(path):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[0] and parts[0][0].isdigit():
        rows[parts[2].replace("syscalls:sys_enter_", "")] = float(parts[0])
cells = [f"CPU {rows.get('task-clock', 0) * 1000 / calls:6.1f} us"]
cells += [f"{k} {v / calls:5.2f}" for k, v in rows.items() if k != "task-clock"]
print(f"{name:<18} per call: " + "  ".join(cells))
PY
}

# PATCHED=/path/to/my-service adds a variant built from a patched runtime (same flags as cm-mcp);
# ONLY="cm-mcp bare-rmcp" limits the runs.
RUNS="cm-mcp cm-mcp-logs-off bare-rmcp${PATCHED:+ cm-mcp-patched}"
command_for() {
    case $1 in
        cm-mcp) echo "$B/my-service --host 127.0.0.1 --log-level info ${EXTRA:-}" ;;
        cm-mcp-logs-off) echo "$B/my-service --host 127.0.0.1 --log-level error ${EXTRA:-}" ;;
        bare-rmcp) echo "$B/bare-rmcp --host 127.0.0.1 ${EXTRA:-}" ;;
        cm-mcp-patched) echo "$PATCHED --host 127.0.0.1 --log-level info ${EXTRA:-}" ;;
    esac
}

if [ -z "${PERF_ONLY:-}" ]; then
    for run in ${ONLY:-$RUNS}; do
        # shellcheck disable=SC2046
        profile "$run" $(command_for "$run")
    done
    dumps=()
    for run in cm-mcp cm-mcp-patched cm-mcp-logs-off bare-rmcp; do
        [ -f "$OUT/$run.out.1" ] && dumps+=("$run=$OUT/$run.out.1")
    done
    python3 bench/callgrind_summary.py "$CALLS" "${dumps[@]}" --top 60 >"$OUT/summary.txt"
    python3 bench/callgrind_summary.py "$CALLS" "${dumps[@]}" --top 60 \
        --grep 'mcp_runtime|tracing_subscriber::registry|tracing_core::dispatcher|tracing_appender|uuid|Event::dispatch|format_escaped_str|time::formatting|http::header' \
        >"$OUT/summary-runtime.txt"
    head -5 "$OUT/summary.txt"
fi

for run in ${ONLY:-$RUNS}; do
    # shellcheck disable=SC2046
    perf_stat "$run" $(command_for "$run")
done
