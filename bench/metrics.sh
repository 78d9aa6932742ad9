#!/usr/bin/env bash
# The cost of metrics (`/metrics`, on by default; `MCP_METRICS=false` records none): my-service
# (release) with metrics on and off (BENCHMARKS.md, "The cost of metrics").
#
#   bench/metrics.sh                               # ~3 min on 2 cores (after the build)
#   RUNS=1 ROUNDS=2 DURATION=2 bench/metrics.sh    # a quick check of the tooling
#
# 1. Instructions per call (valgrind callgrind), as bench/profile.sh counts them: one HTTP client,
#    200 warm-up calls, then CALLS (2,000) measured calls; RUNS (2) runs of each, alternating on, off.
#    Instruction counts do not depend on how busy the machine is. Then the metrics' own functions
#    per call (bench/callgrind_summary.py --grep) from the first run of each.
# 2. Throughput: both servers run side by side, idle but for the run measuring one of them; ROUNDS
#    (9) rounds, in each `cm-bench load` (CLIENTS (8) clients, WARMUP (1) s + DURATION (5) s) on
#    each server, in reverse order every other round; medians and each round's ratio off/on.
#    At the end the metrics-on server's /metrics is read: its call count must be the calls it served.
#
# Knobs (environment): RUNS, CALLS, ROUNDS, DURATION, WARMUP, CLIENTS, CARGO_TARGET_DIR (target).
# Writes .bench/metrics/ (callgrind dumps, logs, summary.txt) and bench/metrics-runs.jsonl (one
# `cm-bench load --json` result a line, with its variant and round); BENCHMARKS.md is edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
RUNS=${RUNS:-2}
CALLS=${CALLS:-2000}
ROUNDS=${ROUNDS:-9}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CLIENTS=${CLIENTS:-8}

echo "== build (release)"
cargo build --release --quiet -p my-service -p cm-bench
OUT="$(pwd)/.bench/metrics"
rm -rf "$OUT" && mkdir -p "$OUT/tmp" "$OUT/bin"
# Copies, so that a build in a shared target directory during the run cannot swap them.
cp "$CARGO_TARGET_DIR/release/cm-bench" "$CARGO_TARGET_DIR/release/my-service" "$OUT/bin/"
BENCH="$OUT/bin/cm-bench"
SERVICE="$OUT/bin/my-service"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_health() { # PORT
    for _ in $(seq 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/health" && return 0
        sleep 0.1
    done
    echo "no 200 from port $1" >&2
    return 1
}

STARTED=()
cleanup() {
    for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Local mode, none of the platform's variables but MCP_METRICS, default log level (JSON lines to a
# file).
service_env() { # on|off
    local metrics=true
    [ "$1" = off ] && metrics=false
    echo env -u SERVICE_NAME -u RUST_LOG -u DEBUG -u LOG_LEVEL -u MCP_PORT -u MCP_HOST -u MCP_STATELESS \
        -u MCP_REDIS_URL -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
        CONFIDENTIAL_MIND_LOCAL_CONFIG=true MCP_METRICS=$metrics
}

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\))' || true
echo "my-service: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- mcp-runtime mcp-macros examples || echo ' (modified)')"
uptime

if [ "$RUNS" -gt 0 ]; then
    echo "== callgrind: $RUNS runs each, 200 warm-up + $CALLS measured calls, one client"
    for run in $(seq "$RUNS"); do
        for variant in on off; do
            name="$variant-$run"
            port=$(free_port)
            # shellcheck disable=SC2046
            $(service_env "$variant") valgrind --tool=callgrind --quiet \
                --callgrind-out-file="$OUT/tmp/$name.out" "$SERVICE" --host 127.0.0.1 --port "$port" \
                2>"$OUT/$name.stderr" &
            pid=$!
            wait_health "$port"
            url="http://127.0.0.1:$port/mcp"
            "$BENCH" load --url "$url" -c 1 --calls 200 --json >/dev/null
            callgrind_control -z "$pid" >/dev/null 2>&1
            "$BENCH" load --url "$url" -c 1 --calls "$CALLS" --expect-text "Processed: hello" --json \
                | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["errors"]==0, r["error_samples"]'
            # What /metrics answers (404 when off), read after the measured calls and outside them.
            callgrind_control -d "$pid" >/dev/null 2>&1
            echo "$name: /metrics $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")"
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            mv "$OUT/tmp/$name.out.1" "$OUT/$name.out"
            rm -f "$OUT/tmp/$name.out"*
            echo "$name: $(grep -E '^(summary|totals):' "$OUT/$name.out" | head -1 | awk -v c="$CALLS" '{printf "%.0f instructions per call", $2 / c}')"
        done
    done
    python3 bench/callgrind_summary.py "$CALLS" on="$OUT/on-1.out" off="$OUT/off-1.out" --top 40 \
        >"$OUT/summary.txt"
    python3 bench/callgrind_summary.py "$CALLS" on="$OUT/on-1.out" off="$OUT/off-1.out" --top 40 \
        --grep 'metrics|prometheus_client|Histogram|Family|hash|Hash|RwLock|rwlock|Instant|clock_gettime|protocol_label' \
        >"$OUT/summary-metrics.txt"
    echo "(per-function comparison: $OUT/summary.txt, the metrics' functions: $OUT/summary-metrics.txt)"
    cat "$OUT/summary-metrics.txt"
fi

echo "== throughput: $ROUNDS rounds, $CLIENTS clients, ${WARMUP} s warm-up + ${DURATION} s measured per run"
declare -A PORT PID
for variant in on off; do
    PORT[$variant]=$(free_port)
    # shellcheck disable=SC2046
    $(service_env "$variant") "$SERVICE" --host 127.0.0.1 --port "${PORT[$variant]}" \
        2>"$OUT/$variant.log" >/dev/null &
    PID[$variant]=$!
    STARTED+=($!)
    wait_health "${PORT[$variant]}"
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
uptime
: >"$OUT/runs.jsonl"
for round in $(seq "$ROUNDS"); do
    order=(on off)
    [ $((round % 2)) -eq 0 ] && order=(off on)
    for variant in "${order[@]}"; do
        out="$OUT/$round-$variant.json"
        "$BENCH" load --url "http://127.0.0.1:${PORT[$variant]}/mcp" -c "$CLIENTS" -d "$DURATION" \
            --warmup "$WARMUP" --json --tool my_tool --args '{"input_param":"hello"}' \
            --expect-text "Processed: hello" --server-pid "${PID[$variant]}" >"$out"
        jq -c --arg variant "$variant" --argjson round "$round" '. + {variant: $variant, round: $round}' \
            "$out" >>"$OUT/runs.jsonl"
        jq -r --arg v "$variant" --argjson r "$round" \
            '"round \($r) metrics \($v): \(.calls_per_s | floor) calls/s, p50 \(.latency.p50_ms) ms, p99 \(.latency.p99_ms) ms, server CPU \(.server_cpu_us_per_call // "?" | tostring | .[0:6]) µs/call, client CPU \(.client_cpu_us_per_call | tostring | .[0:6]) µs/call, RSS \(.server_rss_kib) KiB, errors \(.errors) \(.error_samples)"' "$out"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
uptime
cp "$OUT/runs.jsonl" bench/metrics-runs.jsonl

echo "== the servers' own view"
served=$(jq -s 'map(select(.variant == "on") | .calls) | add' "$OUT/runs.jsonl")
echo "metrics on: /metrics counts $(curl -s "http://127.0.0.1:${PORT[on]}/metrics" \
    | awk '/^mcp_server_operation_duration_seconds_count/ {s += $2} END {print s}') tools/call" \
    "(measured calls: $served, plus the warm-ups)"
echo "metrics off: /metrics answers $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[off]}/metrics")"
for variant in on off; do
    echo "metrics $variant: $(grep -c -i -E '"level":"(warn|error)"' "$OUT/$variant.log" || true) warnings and errors in its log"
done

echo "== summary (load average before $LOAD_BEFORE, after $LOAD_AFTER)"
python3 - "$OUT/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
by = {v: sorted((r for r in runs if r["variant"] == v), key=lambda r: r["round"]) for v in ("on", "off")}
med = lambda xs: statistics.median(xs)
print("| metrics | calls/s (median) | (min–max) | vs off | per round on/off (median, min–max) | p50 ms | p99 ms | server CPU µs/call | client CPU µs/call | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
off_cps = med([r["calls_per_s"] for r in by["off"]])
ratios = [a["calls_per_s"] / b["calls_per_s"] for a, b in zip(by["on"], by["off"])]
for v in ("off", "on"):
    rs = by[v]
    cps = [r["calls_per_s"] for r in rs]
    per_round = f"{med(ratios):.3f}× ({min(ratios):.3f}–{max(ratios):.3f})" if v == "on" else "–"
    print(f"| {v} | {med(cps):.0f} | {min(cps):.0f}–{max(cps):.0f} | {med(cps) / off_cps:.3f}× | {per_round} "
          f"| {med(r['latency']['p50_ms'] for r in rs):.3f} | {med(r['latency']['p99_ms'] for r in rs):.3f} "
          f"| {med(r['server_cpu_us_per_call'] for r in rs):.1f} | {med(r['client_cpu_us_per_call'] for r in rs):.1f} "
          f"| {sum(r['errors'] for r in rs)} of {sum(r['calls'] for r in rs):,} |")
print("per-round ratios on/off: " + " ".join(f"{x:.3f}" for x in ratios))
print("per-round server CPU on/off: " + " ".join(
    f"{a['server_cpu_us_per_call'] / b['server_cpu_us_per_call']:.3f}" for a, b in zip(by["on"], by["off"])))
PY
