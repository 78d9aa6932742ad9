#!/usr/bin/env bash
# Checks .ci/conformance.sh itself: it must fail when a suite counts a failed check (whatever its exit
# status, and also in a scenario the suite does not score), when a suite's "Total: N passed, M failed"
# line is missing, or when fewer checks passed than the suite has, and pass when every run passes. It runs the script against a stand-in for the suite
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
next_version=$(sed -n "s/^NEXT_SUITE_VERSION=//p" "$script")

fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
# The same stand-in in both releases' places; it tells them apart by its package.json.
for dir in npm npm-next; do
    release=$version
    [ "$dir" = npm-next ] && release=$next_version
    modules=$fake/$dir/node_modules
    mkdir -p "$modules/@modelcontextprotocol/conformance/dist"
    echo "{\"version\":\"$release\"}" >"$modules/@modelcontextprotocol/conformance/package.json"
    cat >"$modules/@modelcontextprotocol/conformance/dist/index.js" <<'JS'
// FAKE_SUITE names the run FAKE_MODE shapes ("active", "pending", "next-active", "2026"); the
// others pass with their full count.
const version = require(__dirname + "/../package.json").version;
const next = !version.startsWith("0.1.");
const flag = process.argv.includes("--requirements") ? "2026"
  : process.argv[process.argv.indexOf("--suite") + 1];
const run = next && flag === "active" ? "next-active" : flag;
// The full count of each run is the script's own EXPECTED_* (exported below), so that the two agree.
const full = JSON.parse(process.env.FAKE_FULL)[run];
const mode = process.env.FAKE_SUITE === run ? process.env.FAKE_MODE : "ok";
const summary = (passed, failed, unscored) => {
  let text = `=== SUMMARY ===\n${failed ? "✗" : "✓"} scenario: ${passed} passed, ${failed} failed\n`;
  if (unscored) text += "✗ tasks-lifecycle: 1 passed, 8 failed\n";
  text += `\nTotal: ${passed} passed, ${failed + (unscored ? 8 : 0)} failed\n`;
  if (unscored) text += "\nNot scored for 2026-07-28: 1 scenario(s) run, 1 failing.\n  ✗ tasks-lifecycle (extension)\n";
  console.log(text);
};
switch (mode) {
  case "failed-exit-1": summary(full - 1, 1); process.exit(1);
  case "failed-exit-0": summary(full - 1, 1); process.exit(0);
  case "no-total": console.log("the suite stopped before any scenario ran"); process.exit(0);
  case "too-few": summary(2, 0); process.exit(0);
  case "scored-and-unscored-failed": summary(full - 1, 1, true); process.exit(0);
  case "unscored-failed": summary(full, 0, true); process.exit(0);
  default: summary(full, 0);
}
JS
done
mkdir -p "$fake/npm/node_modules/node/bin"
ln -s "$node" "$fake/npm/node_modules/node/bin/node"

expected() { sed -n "s/^$1=//p" "$script"; }
export FAKE_FULL="{\"active\": $(expected EXPECTED_ACTIVE_CHECKS), \"pending\": $(expected EXPECTED_PENDING_CHECKS), \"next-active\": $(expected EXPECTED_NEXT_ACTIVE_CHECKS), \"2026\": $(expected EXPECTED_NEXT_2026_CHECKS)}"

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
check next-active failed-exit-0 1
check 2026 failed-exit-0 1
check 2026 too-few 1
check 2026 scored-and-unscored-failed 1
check 2026 unscored-failed 1
check none ok 0
[ "$failures" -eq 0 ] || { echo "conformance-selftest: $failures cases failed" >&2; exit 1; }
echo "conformance-selftest: every case as expected"
