"""The benchmark's Python baseline: FastMCP 4.x serving the same tool as my-service.

my_tool sends one log message to the client (ctx.info) and returns "Processed: <input>", like
examples/my-service; my_tool_quiet returns the same without the log message. Usage:
    python fastmcp_server.py [--stdio] [--port 8080] [--stateless]
HTTP serves /mcp and GET /health on 127.0.0.1; uvicorn's access log is off (log level warning), so
the server writes nothing per call.
"""

import argparse

from fastmcp import Context, FastMCP
from starlette.requests import Request
from starlette.responses import JSONResponse

mcp = FastMCP("my-fastmcp-service")


@mcp.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
async def my_tool(input_param: str, ctx: Context) -> str:
    """Processes the input and returns the result."""
    await ctx.info(f"Processing input of {len(input_param)} characters")
    return f"Processed: {input_param}"


@mcp.tool(annotations={"readOnlyHint": True, "idempotentHint": True})
async def my_tool_quiet(input_param: str) -> str:
    """Processes the input and returns the result, without a log message."""
    return f"Processed: {input_param}"


@mcp.custom_route("/health", methods=["GET"])
async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "healthy", "service": "my-fastmcp-service"})


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
