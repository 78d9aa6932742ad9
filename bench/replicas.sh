#!/usr/bin/env bash
# Several replicas: what the Redis backend costs a legacy-session call against in-memory sessions,
# and what nginx round-robin in front of one and three replicas costs (BENCHMARKS.md, "Several
# replicas: Redis and nginx"). One interleaved run: in each round every variant runs once, in
# reverse order every other round, with the same clients; medians over the rounds.
#
#   bench/replicas.sh                       # ~4 min on 2 cores (after the build)
#   ROUNDS=2 DURATION=2 bench/replicas.sh   # a quick check of the tooling
#
# Variants (each measured with cm-bench's default HTTP mode: protocol 2025-11-25, a session per
# client, i.e. legacy sessions):
#   memory    one my-service without MCP_REDIS_URL, direct
#   redis     one my-service with MCP_REDIS_URL, direct (replica r1)
#   nginx-1   nginx (deploy/nginx/mcp-replicas.conf) → r1
#   nginx-3   nginx → r1, r2, r3 (round-robin: a session's requests hop between replicas)
#
# Knobs (environment): ROUNDS (7), DURATION (5 s measured per run), WARMUP (1 s), CLIENTS (8),
# REDIS_URL (default: a private redis-server on a free port, no persistence, so that its CPU is
# this benchmark's alone; give e.g. redis://127.0.0.1:6379/0 to use a running one: the keys go
# under a prefix of their own and are deleted at the end), CARGO_TARGET_DIR (target).
# Writes .bench/replicas/ (logs, each run's JSON), copies the runs to bench/replicas-runs.jsonl (one
# `cm-bench load --json` result a line, with its variant and round) and prints the tables;
# BENCHMARKS.md is edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
ROUNDS=${ROUNDS:-7}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CLIENTS=${CLIENTS:-8}

echo "== build (release)"
cargo build --release --quiet -p my-service -p cm-bench
BENCH="$(realpath "$CARGO_TARGET_DIR/release/cm-bench")"
SERVICE="$(realpath "$CARGO_TARGET_DIR/release/my-service")"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found (apt-get install nginx)" >&2; exit 1; }

WORK="$(pwd)/.bench/replicas"
rm -rf "$WORK" && mkdir -p "$WORK/runs"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

STARTED=()
PREFIX="cm-bench-replicas-$$-$(date +%s):"
cleanup() {
    for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "${REDIS_URL_GIVEN:-}" ]; then
        redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
    fi
}
trap cleanup EXIT

wait_health() { # URL
    for _ in $(seq 200); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "no 200 from $1" >&2
    return 1
}

if [ -n "${REDIS_URL:-}" ]; then
    REDIS_URL_GIVEN=1
else
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --logfile "$WORK/redis.log" &
    STARTED+=($!)
    REDIS_URL="redis://127.0.0.1:$redis_port/0"
    for _ in $(seq 100); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.05; done
fi
REDIS_PID=$(redis-cli -u "$REDIS_URL" info server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
echo "== redis: $REDIS_URL (pid $REDIS_PID, $(redis-cli -u "$REDIS_URL" info server | tr -d '\r' | awk -F: '$1 == "redis_version" {print "version " $2}')), key prefix $PREFIX"

# Like cm-bench's suite: local mode, none of the platform's variables, stderr (the JSON log lines)
# to a file.
start_service() { # NAME PORT [VAR=VALUE...]
    local name=$1 port=$2
    shift 2
    (cd "$WORK" && exec env -u SERVICE_NAME -u RUST_LOG -u DEBUG -u LOG_LEVEL -u MCP_PORT -u MCP_HOST \
        -u MCP_STATELESS -u MCP_REDIS_URL -u MCP_STATE_KEY -u MCP_REDIS_PREFIX \
        CONFIDENTIAL_MIND_LOCAL_CONFIG=true "$@" \
        "$SERVICE" --host 127.0.0.1 --port "$port" 2>"$WORK/$name.log" >/dev/null) &
    STARTED+=($!)
    eval "PID_$name=$!"
    wait_health "http://127.0.0.1:$port/health"
}

STATE_KEY=$(openssl rand -hex 32)
SHARED=(MCP_REDIS_URL="$REDIS_URL" MCP_STATE_KEY="$STATE_KEY" MCP_REDIS_PREFIX="$PREFIX")
PORT_mem=$(free_port); start_service mem "$PORT_mem"
PORT_r1=$(free_port); start_service r1 "$PORT_r1" "${SHARED[@]}"
PORT_r2=$(free_port); start_service r2 "$PORT_r2" "${SHARED[@]}"
PORT_r3=$(free_port); start_service r3 "$PORT_r3" "${SHARED[@]}"
echo "== r1's /health: $(curl -s "http://127.0.0.1:$PORT_r1/health")"

# deploy/nginx/mcp-replicas.conf as it is, its two placeholders filled (as cm_test_support::Nginx
# does), in a prefix of its own; one process in the foreground.
start_nginx() { # NAME PORT UPSTREAM_PORT...
    local name=$1 port=$2
    shift 2
    local prefix="$WORK/$name"
    mkdir -p "$prefix/logs"
    awk -v listen="127.0.0.1:$port" -v upstreams="$*" '
        $1 == "#" && $2 == "@UPSTREAM_SERVERS@" { indent = $0; sub(/#.*/, "", indent)
            n = split(upstreams, ports, " "); for (i = 1; i <= n; i++) print indent "server 127.0.0.1:" ports[i] ";"; next }
        { gsub(/@LISTEN@/, listen); print }' deploy/nginx/mcp-replicas.conf >"$prefix/mcp-replicas.conf"
    "$NGINX" -p "$prefix" -c "$prefix/mcp-replicas.conf" -e logs/error.log &
    STARTED+=($!)
    eval "PID_$name=$!"
    wait_health "http://127.0.0.1:$port/health"
}
PORT_nginx1=$(free_port); start_nginx nginx1 "$PORT_nginx1" "$PORT_r1"
PORT_nginx3=$(free_port); start_nginx nginx3 "$PORT_nginx3" "$PORT_r1" "$PORT_r2" "$PORT_r3"
grep -h 'server 127' "$WORK/nginx3/mcp-replicas.conf" | sed 's/^ */== nginx-3 upstream: /'

# name | URL | the processes whose CPU counts as the server's
VARIANTS=(
    "memory|http://127.0.0.1:$PORT_mem/mcp|$PID_mem"
    "redis|http://127.0.0.1:$PORT_r1/mcp|$PID_r1,$REDIS_PID"
    "nginx-1|http://127.0.0.1:$PORT_nginx1/mcp|$PID_r1,$PID_nginx1,$REDIS_PID"
    "nginx-3|http://127.0.0.1:$PORT_nginx3/mcp|$PID_r1,$PID_r2,$PID_r3,$PID_nginx3,$REDIS_PID"
)

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\))' || true
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $LOAD_BEFORE"
uptime

echo "== $ROUNDS rounds, $CLIENTS clients, ${WARMUP} s warm-up + ${DURATION} s measured per run"
: >"$WORK/runs.jsonl"
for round in $(seq "$ROUNDS"); do
    order=("${VARIANTS[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=()
        for ((i = ${#VARIANTS[@]} - 1; i >= 0; i--)); do order+=("${VARIANTS[$i]}"); done
    fi
    for variant in "${order[@]}"; do
        IFS='|' read -r name url pids <<<"$variant"
        out="$WORK/runs/$round-$name.json"
        "$BENCH" load --url "$url" -c "$CLIENTS" -d "$DURATION" --warmup "$WARMUP" --json \
            --tool my_tool --args '{"input_param":"hello"}' --expect-text "Processed: hello" \
            --server-pid "$pids" >"$out"
        jq -c --arg variant "$name" --argjson round "$round" '. + {variant: $variant, round: $round}' \
            "$out" >>"$WORK/runs.jsonl"
        jq -r --arg v "$name" --argjson r "$round" \
            '"round \($r) \($v): \(.calls_per_s | floor) calls/s, p50 \(.latency.p50_ms) ms, p99 \(.latency.p99_ms) ms, server CPU \(.server_cpu_us_per_call // "?" | tostring | .[0:6]) µs/call, sessions \(.sessions), errors \(.errors) \(.error_samples)"' "$out"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after: $LOAD_AFTER"
uptime

echo "== what nginx saw"
for name in nginx1 nginx3; do
    log="$WORK/$name/logs/access.log"
    echo "$name: $(grep -c '"POST /mcp' "$log") POSTs; statuses: $(grep '"POST /mcp' "$log" | sed -E 's/.*" ([0-9]{3}) upstream.*/\1/' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
    echo "$name: per replica: $(grep '"POST /mcp' "$log" | sed -E 's/.*upstream=([^ ]*).*/\1/' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
    if [ -s "$WORK/$name/logs/error.log" ]; then
        echo "$name: error.log:"; tail -5 "$WORK/$name/logs/error.log"
    fi
done
echo "== the replicas' logs: warnings and errors, sessions restored from Redis"
for name in mem r1 r2 r3; do
    log="$WORK/$name.log"
    echo "$name: $(grep -c -i -E '"level":"(warn|error)"' "$log" || true) warnings and errors," \
        "$(grep -c '"event_type":"mcp.session.restored"' "$log" || true) sessions restored"
    grep -i -E '"level":"(warn|error)"' "$log" | head -3 || true
done

echo "== the commands Redis served (all variants together; under REDIS_URL, other clients' too)"
redis-cli -u "$REDIS_URL" info commandstats | tr -d '\r' | grep '^cmdstat' | sed -E 's/^cmdstat_([a-z|]+):calls=([0-9]+),usec=([0-9]+),usec_per_call=([0-9.]+).*/\1: \2 calls, \4 µs each/'

cp "$WORK/runs.jsonl" bench/replicas-runs.jsonl

echo "== summary"
python3 bench/replicas_summary.py bench/replicas-runs.jsonl --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
    --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" --clients "$CLIENTS"
