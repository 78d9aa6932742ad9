#!/usr/bin/env bash
# The whole benchmark: builds in release, installs FastMCP 4.x and asyncpg into .bench/venv (when
# python3 is there), runs the interleaved comparison, the PostgreSQL comparison, cold start,
# memory and build time, then writes bench/results.json, bench/chart.svg and the results block of
# BENCHMARKS.md. The lineup: my-service (logs on and off), bare rmcp, the limit server (axum +
# serde_json, no MCP machinery) and FastMCP; on PostgreSQL, postgres-mcp and the seed's design
# (bench/seed_postgres_server.py: FastMCP + asyncpg) in a scratch database the run creates and drops.
#
#   bench/run.sh                       # the full run behind BENCHMARKS.md (~25 min on 2 cores)
#   ROUNDS=2 DURATION=2 bench/run.sh   # a quick check of the tooling
#
# Knobs (environment): ROUNDS (5), DURATION (5 s per run), WARMUP (1 s), SCENARIOS
# (http:1,http:8,http-stateless:8,http-2026:8,stdio:1,stdio:8; http-2026 speaks protocol 2026-07-28:
# no initialize, no session), COLD_RUNS (20), SESSIONS (1000),
# FUNCTIONS (200), BUILD_REPS (3), SKIP (space-separated parts to skip: compare cold-start memory
# build-time postgres), PG_ADMIN_DSN (postgresql://postgres@127.0.0.1:5432/postgres: a user that
# may create databases), PG_SCENARIOS (http:8), CARGO_TARGET_DIR (target).
# PATCH=bench/proposals/instrumentation-cost.patch also builds my-service from the committed tree
# with that patch applied (under .bench/candidate) and compares it as "cm-mcp + patch";
# CANDIDATE=/path/to/my-service compares a binary built elsewhere instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
SKIP=" ${SKIP:-} "

echo "== build (release)"
cargo build --release --quiet -p my-service -p cm-bench -p postgres-mcp
BENCH="$CARGO_TARGET_DIR/release/cm-bench"

CANDIDATE_ARGS=()
if [ -n "${PATCH:-}" ]; then
    echo "== build my-service with $PATCH"
    rm -rf .bench/candidate && mkdir -p .bench/candidate
    git archive HEAD | tar -x -C .bench/candidate
    (cd .bench/candidate && git apply "$OLDPWD/$PATCH")
    CANDIDATE_TARGET="$(realpath -m "$CARGO_TARGET_DIR")/candidate"
    (cd .bench/candidate && CARGO_TARGET_DIR="$CANDIDATE_TARGET" cargo build --release --quiet -p my-service)
    CANDIDATE="$CANDIDATE_TARGET/release/my-service"
fi
if [ -n "${CANDIDATE:-}" ]; then
    CANDIDATE_ARGS=(--candidate "$CANDIDATE")
fi

PYTHON=$(bash bench/setup-fastmcp.sh || true)
PY_ARGS=("${CANDIDATE_ARGS[@]}")
if [ -n "$PYTHON" ]; then
    PY_ARGS+=(--python "$PYTHON")
    echo "== FastMCP: $("$PYTHON" -c 'import fastmcp; print(fastmcp.__version__)') ($PYTHON)"
else
    echo "== FastMCP: skipped (no python3 with venv)"
fi

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core)' || true
free -m | head -2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "$SKIP" != *" compare "* ]]; then
    echo "== compare"
    "$BENCH" compare "${PY_ARGS[@]}" --rounds "${ROUNDS:-5}" --duration "${DURATION:-5}" \
        --warmup "${WARMUP:-1}" --scenario "${SCENARIOS:-http:1,http:8,http-stateless:8,http-2026:8,stdio:1,stdio:8}" \
        --expect-text "Processed: hello"
fi
if [[ "$SKIP" != *" postgres "* ]]; then
    echo "== postgres"
    if [ -z "$PYTHON" ]; then
        echo "   skipped: no python3 with venv for the seed's server (bench/setup-fastmcp.sh)"
    elif ! "$PYTHON" -c 'import asyncpg' >/dev/null 2>&1; then
        echo "   skipped: asyncpg is not installed in $PYTHON's venv (bench/setup-fastmcp.sh)"
    else
        # An unreachable PostgreSQL is reported and skipped, not an error of the whole run.
        "$BENCH" postgres --python "$PYTHON" --skip-unreachable \
            --dsn "${PG_ADMIN_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}" \
            --rounds "${ROUNDS:-5}" --duration "${DURATION:-5}" --warmup "${WARMUP:-1}" \
            --scenario "${PG_SCENARIOS:-http:8}"
    fi
fi
if [[ "$SKIP" != *" cold-start "* ]]; then
    echo "== cold start"
    "$BENCH" cold-start "${PY_ARGS[@]}" --runs "${COLD_RUNS:-20}"
fi
if [[ "$SKIP" != *" memory "* ]]; then
    echo "== memory"
    # cm-mcp's session cap (1000 by default) would refuse the last of the sessions opened here.
    MCP_MAX_SESSIONS=$(( ${SESSIONS:-1000} + 100 )) \
        "$BENCH" memory "${PY_ARGS[@]}" --sessions "${SESSIONS:-1000}" --expect-text "Processed: hello"
fi
if [[ "$SKIP" != *" build-time "* ]]; then
    echo "== build time"
    "$BENCH" build-time --functions "${FUNCTIONS:-200}" --repetitions "${BUILD_REPS:-3}"
fi

echo "== report"
"$BENCH" report --update BENCHMARKS.md
