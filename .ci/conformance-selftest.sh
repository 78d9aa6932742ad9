#!/usr/bin/env bash
# Checks .ci/conformance.sh itself: it must fail when a suite counts a failed check (whatever its exit
# status), when a suite's "Total: N passed, M failed" line is missing, or when fewer checks passed than
# the suite has, and pass when both suites pass. It runs the script against a stand-in for the suite
# (the same cache layout, a fake dist/index.js) whose output each case shapes; the server is the real
# `everything`.
#
# Needs the Node 22 that .ci/conformance.sh installs (run it first). Environment: CONFORMANCE_CACHE, as
# for .ci/conformance.sh; CONFORMANCE_SCRIPT, the script to check (default .ci/conformance.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
real_cache=${CONFORMANCE_CACHE:-$repo/target/conformance}
node=$real_cache/npm/node_modules/node/bin/node
[ -x "$node" ] || { echo "conformance-selftest: no Node at $node; run bash .ci/conformance.sh first" >&2; exit 1; }
script=${CONFORMANCE_SCRIPT:-.ci/conformance.sh}
version=$(sed -n "s/^SUITE_VERSION=//p" "$script")

fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
modules=$fake/npm/node_modules
mkdir -p "$modules/node/bin" "$modules/@modelcontextprotocol/conformance/dist"
ln -s "$node" "$modules/node/bin/node"
echo "{\"version\":\"$version\"}" >"$modules/@modelcontextprotocol/conformance/package.json"
# FAKE_SUITE names the suite FAKE_MODE shapes; the other one passes with its full count.
cat >"$modules/@modelcontextprotocol/conformance/dist/index.js" <<'JS'
const suite = process.argv[process.argv.indexOf("--suite") + 1];
const full = { active: 40, pending: 6 }[suite];
const mode = process.env.FAKE_SUITE === suite ? process.env.FAKE_MODE : "ok";
const summary = (passed, failed) =>
  console.log(`=== SUMMARY ===\n${failed ? "✗" : "✓"} scenario: ${passed} passed, ${failed} failed\n\nTotal: ${passed} passed, ${failed} failed`);
switch (mode) {
  case "failed-exit-1": summary(full - 1, 1); process.exit(1);
  case "failed-exit-0": summary(full - 1, 1); process.exit(0);
  case "no-total": console.log("the suite stopped before any scenario ran"); process.exit(0);
  case "too-few": summary(2, 0); process.exit(0);
  default: summary(full, 0);
}
JS

failures=0
check() { # suite, mode, expected exit status
    local status=0
    FAKE_SUITE=$1 FAKE_MODE=$2 CONFORMANCE_CACHE=$fake bash "$script" >"$fake/out.txt" 2>&1 || status=$?
    if [ "$status" -eq "$3" ]; then
        echo "ok: $1 $2 -> exit $status"
    else
        echo "FAILED: $1 $2 -> exit $status, expected $3; output:" >&2
        cat "$fake/out.txt" >&2
        failures=$((failures + 1))
    fi
}
check pending failed-exit-1 1
check pending failed-exit-0 1
check pending no-total 1
check pending too-few 1
check active failed-exit-0 1
check active no-total 1
check none ok 0
[ "$failures" -eq 0 ] || { echo "conformance-selftest: $failures cases failed" >&2; exit 1; }
echo "conformance-selftest: every case as expected"
