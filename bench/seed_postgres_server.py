"""The benchmark's baseline for postgres-mcp: the platform's Postgres MCP server design (the seed's) on
FastMCP 4.x + asyncpg, as /work/shared/confidentialmind.md section 8 describes it.

- Tool `execute_sql(sql_query: str) -> list[dict]`: the read-only check by regex (must start with
  SELECT/WITH/EXPLAIN; INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, TRUNCATE, GRANT, REVOKE, COMMENT and
  SET are refused anywhere, string literals included), then a pooled connection runs
  `SET statement_timeout = 5000` and the query (two round trips per call), and the rows come back as
  dicts, values JSON can't hold (numeric, timestamps, uuids, ...) as str().
- The pool: asyncpg, min 1 / max 5, command timeout 60 s, server settings statement_timeout 10000,
  idle_in_transaction_session_timeout 10000, lock_timeout 2000; opened at start from `PG_DSN` (else
  `PG_HOST`/`PG_PORT`/`PG_USER`/`PG_PASSWORD`/`PG_DATABASE`).
- Per call, the seed's two JSON log lines on stderr (`postgres.query.start` and
  `postgres.query.complete` with `duration_ms`, `success` and `data.row_count`), in the key order of the
  platform's structlog pipeline (written here with json.dumps: structlog would cost the seed more).
- `GET /health` (always 200) with `database_connected` and `database_error`.

Usage (the CLI of fastmcp_server.py):
    PG_DSN=postgresql://postgres@127.0.0.1:5432/db python seed_postgres_server.py [--stdio] [--port 8080] [--stateless]
"""

import argparse
import contextlib
import datetime
import json
import os
import re
import sys
import time

import asyncpg
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import JSONResponse

NOT_AVAILABLE = "Database connection is not available yet. Please try again later."

# The seed checks the whole text, string literals included, so `SELECT 'set'` is refused too.
READ_ONLY_START = re.compile(r"^\s*(SELECT|WITH|EXPLAIN)\b", re.IGNORECASE)
FORBIDDEN = re.compile(
    r"\b(INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|GRANT|REVOKE|COMMENT|SET)\b",
    re.IGNORECASE,
)

state: dict = {"pool": None, "error": None}


def log(level: str, event_type: str, event: str, **fields) -> None:
    """One JSON line on stderr in the platform's key order: event_type, the fields, event, level, timestamp."""
    record = {"event_type": event_type, **fields, "event": event, "level": level}
    record["timestamp"] = (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    print(json.dumps(record, separators=(",", ":"), default=str), file=sys.stderr)


def dsn() -> str:
    if os.environ.get("PG_DSN", "").strip():
        return os.environ["PG_DSN"].strip()
    user = os.environ.get("PG_USER", "postgres")
    password = os.environ.get("PG_PASSWORD", "")
    host = os.environ.get("PG_HOST", "localhost")
    port = os.environ.get("PG_PORT", "5432")
    database = os.environ.get("PG_DATABASE", "postgres")
    auth = f"{user}:{password}" if password else user
    return f"postgresql://{auth}@{host}:{port}/{database}"


@contextlib.asynccontextmanager
async def lifespan(_server):
    started = time.perf_counter()
    try:
        state["pool"] = await asyncpg.create_pool(
            dsn(),
            min_size=1,
            max_size=5,
            command_timeout=60,
            server_settings={
                "statement_timeout": "10000",
                "idle_in_transaction_session_timeout": "10000",
                "lock_timeout": "2000",
            },
        )
        log(
            "info",
            "service.connection.established",
            "Database connection pool created",
            duration_ms=(time.perf_counter() - started) * 1000,
            success=True,
        )
    except Exception as error:  # the seed serves without a database and says so per call
        state["error"] = str(error)
        log(
            "error",
            "service.connection.deferred",
            "Database connection failed",
            success=False,
            error=str(error),
            error_type=type(error).__name__,
        )
    try:
        yield {}
    finally:
        if state["pool"] is not None:
            await state["pool"].close()


mcp = FastMCP(
    "Postgres Reader MCP",
    instructions="Provides read-only access to a PostgreSQL database.",
    lifespan=lifespan,
)


def jsonable(value):
    """Values JSON holds as they are; lists element by element; anything else (Decimal, datetime,
    UUID, ...) as str()."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


@mcp.tool(annotations={"readOnlyHint": True})
async def execute_sql(sql_query: str) -> list[dict]:
    """Execute a read-only SQL query (SELECT, WITH or EXPLAIN) and return its rows."""
    if not READ_ONLY_START.match(sql_query) or FORBIDDEN.search(sql_query):
        log(
            "warning",
            "tool.validation.error",
            "Rejected a query that is not read-only",
            success=False,
            data={"query_preview": sql_query[:100]},
        )
        raise ToolError("Only read-only queries (SELECT, WITH, EXPLAIN) are allowed.")
    pool = state["pool"]
    if pool is None:
        raise ToolError(NOT_AVAILABLE)
    log(
        "info",
        "postgres.query.start",
        "Executing SQL query",
        data={"query_preview": sql_query[:100]},
    )
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = 5000")
            records = await conn.fetch(sql_query)
    except Exception as error:
        log(
            "error",
            "postgres.query.error",
            "SQL query failed",
            duration_ms=(time.perf_counter() - started) * 1000,
            success=False,
            error=str(error),
            error_type=type(error).__name__,
        )
        raise ToolError(f"Query failed: {error}") from error
    rows = [{key: jsonable(value) for key, value in record.items()} for record in records]
    log(
        "info",
        "postgres.query.complete",
        "SQL query completed successfully",
        duration_ms=(time.perf_counter() - started) * 1000,
        success=True,
        data={"row_count": len(rows)},
    )
    return rows


@mcp.custom_route("/health", methods=["GET"])
async def health(_request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "status": "healthy",
            "service": "postgres-mcp-seed",
            "database_connected": state["pool"] is not None,
            "database_error": state["error"],
            "server_mode": "local",
            "server_time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--stateless", action="store_true")
    args = parser.parse_args()
    if args.stdio:
        mcp.run(transport="stdio", show_banner=False)
    else:
        mcp.run(
            transport="http",
            host=args.host,
            port=args.port,
            show_banner=False,
            log_level="warning",
            stateless_http=args.stateless,
            json_response=args.stateless,
        )


if __name__ == "__main__":
    main()
