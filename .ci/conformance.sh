#!/usr/bin/env bash
# The official MCP conformance suite (npm @modelcontextprotocol/conformance) against the `everything`
# example server, in two releases:
# - 0.1.16 (protocol 2025-11-25): the active suite and the pending scenarios (json-schema-2020-12,
#   server-sse-polling);
# - 0.2.0-alpha.12 (protocol 2026-07-28 too): the active suite, and `--requirements 2026-07-28`, every
#   requirement of that revision.
# Each run fails when the suite exits non-zero, when its "Total: N passed, M failed" line is missing,
# when fewer checks passed than it has (scenarios that did not run), or when any check failed: also in
# a scenario the suite itself does not score (a requirements run lists the revision's extensions and
# pending proposals so, as "not affecting conformance"), since every one of them passes here, the tasks
# extension's included, and a regression there is a regression all the same.
#
# Installs Node 22 and each suite with npm into a cache directory (once; later runs reuse it), builds
# and starts `everything` on a free loopback port, waits for /health, then runs the suites.
#
# Needs: cargo, and npm (any version) with access to the npm registry on the first run.
# Environment: CONFORMANCE_CACHE (default <repo>/target/conformance), CONFORMANCE_OUT (results,
# default $CONFORMANCE_CACHE/results).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

SUITE_VERSION=0.1.16
NEXT_SUITE_VERSION=0.2.0-alpha.12
NODE_VERSION=22
# Checks of each run; fewer passing means scenarios did not run.
EXPECTED_ACTIVE_CHECKS=40
EXPECTED_PENDING_CHECKS=6
EXPECTED_NEXT_ACTIVE_CHECKS=73
EXPECTED_NEXT_2026_CHECKS=195

cache=${CONFORMANCE_CACHE:-$repo/target/conformance}
out=${CONFORMANCE_OUT:-$cache/results}

fail() {
    echo "conformance: $*" >&2
    exit 1
}

# --- Node 22 and the suites, cached -------------------------------------------------------------
# install DIR VERSION [node]: the suite VERSION (and Node) into DIR/node_modules, unless already there.
installed_version() { # dir
    local suite=$1/node_modules/@modelcontextprotocol/conformance
    [ -f "$suite/dist/index.js" ] || return 1
    "$node_bin" -p "require('$suite/package.json').version" 2>/dev/null
}
install() { # dir, version, extra packages
    local dir=$1 version=$2
    shift 2
    if [ -x "$node_bin" ] && [ "$(installed_version "$dir" || true)" = "$version" ]; then
        return
    fi
    command -v npm >/dev/null || fail "npm is needed to install Node $NODE_VERSION and the suite; install Node.js (any version) first"
    echo "== installing $* @modelcontextprotocol/conformance@$version into $dir"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --save-exact "$@" \
        "@modelcontextprotocol/conformance@$version" \
        || fail "npm install failed (is the npm registry reachable?)"
    [ -x "$node_bin" ] && [ "$(installed_version "$dir" || true)" = "$version" ] \
        || fail "after npm install, $node_bin or the suite $version in $dir is still missing"
}
node_bin=$cache/npm/node_modules/node/bin/node
install "$cache/npm" "$SUITE_VERSION" "node@$NODE_VERSION"
install "$cache/npm-next" "$NEXT_SUITE_VERSION"
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 22 ] || fail "the suite needs Node >= 22; $node_bin is $("$node_bin" --version)"
# The suite's own scripts run `node`: make it the cached Node 22.
export PATH="$(dirname "$node_bin"):$PATH"

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
# check_suite NAME NPM_DIR EXPECTED ARGS...: runs the suite in NPM_DIR with ARGS and checks it: exit
# status 0, its summary's "Total: N passed, M failed" present with M = 0, and N at least EXPECTED. The
# counts come from the output, so a suite that exits 0 with failed checks (or without running them),
# as it does when only scenarios it does not score fail, fails here; the failed scenarios are named,
# scored or not.
check_suite() {
    local name=$1 dir=$2 expected=$3
    shift 3
    local slug=${name// /-}
    local log=$out/$slug.txt status=0 totals passed failed failing unscored scored
    echo "== $name"
    "$node_bin" "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
        server --url "$base/mcp" "$@" -o "$out/$slug" >"$log" 2>&1 || status=$?
    sed -n '/=== SUMMARY ===/,$p' "$log"
    totals=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    passed=$(sed -E 's/^Total: ([0-9]+) passed.*/\1/' <<<"$totals")
    failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$totals")
    # Failed scenarios ("✗ name: ..."), and those listed after "Not scored" ("  ✗ name (why)").
    failing=$(sed -n '/=== SUMMARY ===/,/^Total:/p' "$log" | sed -nE 's/^✗ ([^:]+):.*/\1/p' | sort -u)
    unscored=$(sed -n '/^Not scored/,$p' "$log" | sed -nE 's/^ +✗ ([^ ]+) .*/\1/p' | sort -u)
    scored=$(comm -23 <(echo "$failing") <(echo "$unscored") | grep . || true)
    local problem=
    if [ -z "$totals" ]; then
        problem="its output has no \"Total: N passed, M failed\" line (exit $status)"
    elif [ "$failed" -ne 0 ]; then
        problem="$failed checks failed in: $(echo $scored) (scored) $(echo $unscored) (not scored by the suite) (exit $status)"
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
        fail "$name failed: $problem; checks.json per scenario in $out/$slug"
    fi
    echo "conformance: $name passed ($passed checks, 0 failed)"
}

check_suite "$SUITE_VERSION active" "$cache/npm" "$EXPECTED_ACTIVE_CHECKS" --suite active
check_suite "$SUITE_VERSION pending" "$cache/npm" "$EXPECTED_PENDING_CHECKS" --suite pending
check_suite "$NEXT_SUITE_VERSION active" "$cache/npm-next" "$EXPECTED_NEXT_ACTIVE_CHECKS" --suite active
check_suite "$NEXT_SUITE_VERSION requirements 2026-07-28" "$cache/npm-next" "$EXPECTED_NEXT_2026_CHECKS" \
    --requirements 2026-07-28
