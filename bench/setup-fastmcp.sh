#!/usr/bin/env bash
# Installs Python FastMCP 4.x and asyncpg into .bench/venv (git-ignored) for the comparison (asyncpg for
# the seed's Postgres server, bench/seed_postgres_server.py); prints the venv's python.
# Skips quietly (exit 0, prints nothing) when python3 or its venv module is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.bench/venv
command -v python3 >/dev/null 2>&1 || exit 0
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || exit 0
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p .bench
    python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import asyncpg, fastmcp, sys; sys.exit(0 if fastmcp.__version__.startswith("4.") else 1)' >/dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'fastmcp>=4,<5' 'asyncpg>=0.29,<1' >&2
fi
echo "$PWD/$VENV/bin/python"
