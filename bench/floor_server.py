"""The floor: a bare low-level MCP server with one tool that makes one GET and returns PostHog's JSON as text.

No validation, no retries, no redaction: the least any MCP server over these endpoints must do. Runs under the
project's venv (mcp 2.x); the benchmark sets POSTHOG_HOST and POSTHOG_PERSONAL_API_KEY.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

TOOL = types.Tool(
    name="integrations-list",
    description="List the project's integrations.",
    input_schema={
        "type": "object",
        "properties": {"project_id": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
)


@asynccontextmanager
async def lifespan(_: Server[httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {os.environ['POSTHOG_PERSONAL_API_KEY']}"}
    async with httpx.AsyncClient(base_url=os.environ["POSTHOG_HOST"], headers=headers) as http:
        yield http


async def list_tools(
    ctx: ServerRequestContext[httpx.AsyncClient], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[TOOL])


async def call_tool(
    ctx: ServerRequestContext[httpx.AsyncClient], params: types.CallToolRequestParams
) -> types.CallToolResult:
    query = dict(params.arguments or {})
    project = query.pop("project_id", "@current")
    response = await ctx.lifespan_context.get(f"/api/projects/{project}/integrations/", params=query)
    return types.CallToolResult(content=[types.TextContent(text=response.text)], is_error=response.is_error)


async def serve() -> None:
    server = Server("floor", lifespan=lifespan, on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(serve)
