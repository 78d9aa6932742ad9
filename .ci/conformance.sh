#!/usr/bin/env bash
# The official MCP conformance suite (npm @modelcontextprotocol/conformance) against the `everything`
# example server.
#
# Installs Node 22 and the suite with npm into a cache directory (once; later runs reuse it), builds
# and starts `everything` on a free loopback port, waits for /health, then runs the active suite and
# the pending scenarios (json-schema-2020-12, server-sse-polling). Both must pass, as the README says:
# the script fails when a suite exits non-zero, when its "Total: N passed, M failed" line is missing
# or counts a failed check, or when fewer checks passed than the suite has (scenarios that did not run).
#
# Needs: cargo, and npm (any version) with access to the npm registry on the first run.
# Environment: CONFORMANCE_CACHE (default <repo>/target/conformance), CONFORMANCE_OUT (results,
# default $CONFORMANCE_CACHE/results).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

SUITE_VERSION=0.1.16
NODE_VERSION=22
# Checks of each suite in 0.1.16; fewer passing means scenarios did not run.
EXPECTED_ACTIVE_CHECKS=40
EXPECTED_PENDING_CHECKS=6

cache=${CONFORMANCE_CACHE:-$repo/target/conformance}
out=${CONFORMANCE_OUT:-$cache/results}
tools=$cache/npm

fail() {
    echo "conformance: $*" >&2
    exit 1
}

# --- Node 22 and the suite, cached ------------------------------------------------------------
node_bin=$tools/node_modules/node/bin/node
suite_js=$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js
installed_version() {
    [ -x "$node_bin" ] && [ -f "$suite_js" ] || return 1
    "$node_bin" -p "require('$tools/node_modules/@modelcontextprotocol/conformance/package.json').version" 2>/dev/null
}
if [ "$(installed_version || true)" != "$SUITE_VERSION" ]; then
    command -v npm >/dev/null || fail "npm is needed to install Node $NODE_VERSION and the suite; install Node.js (any version) first"
    echo "== installing node@$NODE_VERSION and @modelcontextprotocol/conformance@$SUITE_VERSION into $tools"
    mkdir -p "$tools"
    [ -f "$tools/package.json" ] || echo '{"private": true}' >"$tools/package.json"
    npm install --prefix "$tools" --no-audit --no-fund --save-exact \
        "node@$NODE_VERSION" "@modelcontextprotocol/conformance@$SUITE_VERSION" \
        || fail "npm install failed (is the npm registry reachable?)"
    [ "$(installed_version || true)" = "$SUITE_VERSION" ] \
        || fail "after npm install, $node_bin or the suite $SUITE_VERSION is still missing"
fi
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 22 ] || fail "the suite needs Node >= 22; $node_bin is $("$node_bin" --version)"
# The suite's own scripts run `node`: make it the cached Node 22.
export PATH="$(dirname "$node_bin"):$PATH"
conformance() { "$node_bin" "$suite_js" "$@"; }

# --- the server ---------------------------------------------------------------------------------
echo "== cargo build -p everything"
cargo build --quiet -p everything --bin everything
target_dir=$(cargo metadata --format-version 1 --no-deps \
    | "$node_bin" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
server_bin=$target_dir/debug/everything
[ -x "$server_bin" ] || fail "cargo build did not produce $server_bin"

rm -rf "$out"
mkdir -p "$out"
server_log=$out/everything.log
# Port 0: the OS picks a free port, which the server logs in its service.ready event.
"$server_bin" --host 127.0.0.1 --port 0 2>"$server_log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT

address=
for _ in $(seq 1 300); do
    address=$(grep -o '"address":"[^"]*"' "$server_log" | head -n1 | cut -d'"' -f4 || true)
    [ -n "$address" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$server_log" >&2; fail "everything exited before serving"; }
    sleep 0.1
done
[ -n "$address" ] || { cat "$server_log" >&2; fail "everything did not report its address within 30 s"; }
base=http://$address
"$node_bin" -e '
const url = process.argv[1] + "/health";
const deadline = Date.now() + 30000;
(async () => {
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch {}
    if (Date.now() > deadline) { console.error(url + " never answered 200"); process.exit(1); }
    await new Promise(r => setTimeout(r, 100));
  }
})();' "$base" || { cat "$server_log" >&2; fail "everything is not healthy"; }
echo "== everything is serving $base/mcp"

# --- the suites ---------------------------------------------------------------------------------
# Runs suite $1 and checks it: exit status 0, its summary's "Total: N passed, M failed" present with
# M = 0, and N at least $2. The counts come from the output, so a suite that exits 0 with failed
# checks (or without running them) fails too.
check_suite() { # suite, expected passed checks
    local suite=$1 expected=$2 log=$out/$1.txt status=0 totals passed failed
    echo "== $suite suite"
    conformance server --url "$base/mcp" --suite "$suite" -o "$out/$suite" >"$log" 2>&1 || status=$?
    sed -n '/=== SUMMARY ===/,$p' "$log"
    totals=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    passed=$(sed -E 's/^Total: ([0-9]+) passed.*/\1/' <<<"$totals")
    failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$totals")
    local problem=
    if [ -z "$totals" ]; then
        problem="its output has no \"Total: N passed, M failed\" line (exit $status)"
    elif [ "$failed" -ne 0 ]; then
        problem="$failed checks failed (exit $status)"
    elif [ "$status" -ne 0 ]; then
        problem="it exited $status"
    elif [ "$passed" -lt "$expected" ]; then
        problem="only $passed checks passed, expected $expected: did every scenario run?"
    fi
    if [ -n "$problem" ]; then
        echo "--- suite output:" >&2
        cat "$log" >&2
        echo "--- server log (last 50 lines):" >&2
        tail -n 50 "$server_log" >&2
        fail "the $suite suite failed: $problem; checks.json per scenario in $out/$suite"
    fi
    echo "conformance: $suite suite passed ($passed checks, 0 failed)"
}

check_suite active "$EXPECTED_ACTIVE_CHECKS"
check_suite pending "$EXPECTED_PENDING_CHECKS"
