#!/usr/bin/env bash
# A session flood: 20,000 `initialize` POSTs (protocol 2025-06-18, so each opens a session) from one
# client, 8 at a time, against a freshly started server; prints the statuses and the server's RSS
# before and after (BENCHMARKS.md, "Memory per session").
#
#   bench/flood.sh target/release/my-service [PORT] [REQUESTS]
set -euo pipefail
binary=$1
port=${2:-18741}
requests=${3:-20000}
"$binary" --host 127.0.0.1 --port "$port" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
    sleep 0.05
done
before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
body='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}'
export port body
seq "$requests" | xargs -P 8 -n 250 sh -c 'for _ in "$@"; do
    curl -s -o /dev/null -w "%{http_code}\n" -X POST "http://127.0.0.1:$port/mcp" \
        -H "content-type: application/json" -H "accept: application/json, text/event-stream" -d "$body"
done' _ | sort | uniq -c | awk '{print "HTTP " $2 ": " $1}'
after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "RSS before: $((before / 1024)) MiB, after: $((after / 1024)) MiB"
