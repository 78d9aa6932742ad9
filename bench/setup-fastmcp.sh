#!/usr/bin/env bash
# Installs Python FastMCP 4.x and asyncpg into .bench/venv (git-ignored; BENCH_VENV names another
# directory) for the comparisons: asyncpg is for the seed's Postgres server
# (bench/seed_postgres_server.py). Prints the venv's python once FastMCP imports; asyncpg failing to
# install only says so on stderr (bench/run.sh then skips the PostgreSQL part).
# Skips quietly (exit 0, prints nothing) when python3 or its venv module is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BENCH_VENV:-.bench/venv}
command -v python3 >/dev/null 2>&1 || exit 0
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || exit 0
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import fastmcp, sys; sys.exit(0 if fastmcp.__version__.startswith("4.") else 1)' >/dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'fastmcp>=4,<5' >&2
fi
if ! "$VENV/bin/python" -c 'import asyncpg' >/dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'asyncpg>=0.29,<1' >&2 ||
        echo "asyncpg could not be installed: the PostgreSQL comparison will be skipped" >&2
fi
echo "$(realpath "$VENV")/bin/python"
