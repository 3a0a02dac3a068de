"""The MCP wiring: the tool table becomes tools/list, and tools/call runs a spec."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from server import __version__
from server.calls import call_tool, error
from server.config import Settings
from server.posthog import PostHog, http_client
from server.retries import RetryPolicy
from tools import BY_NAME, TOOLS, ToolSpec

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Tools for PostHog's integrations API. Project tools act in the project given by project_id, else the "
    "server's default, else the API key owner's current project; organization tools likewise with organization_id. "
    "Results are PostHog's JSON, with secrets in integration config redacted."
)


@dataclass(frozen=True)
class State:
    settings: Settings
    posthog: PostHog


def mcp_tool(spec: ToolSpec[Any]) -> types.Tool:
    hints = spec.annotations
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


def build_server(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None, retry: RetryPolicy | None = None
) -> Server[State]:
    """The server; `transport` replaces the network and `retry` the clock in tests, as httpx intends."""
    listing = types.ListToolsResult(tools=[mcp_tool(spec) for spec in TOOLS])

    @asynccontextmanager
    async def lifespan(_: Server[State]) -> AsyncIterator[State]:
        async with http_client(settings, transport) as http:
            yield State(settings, PostHog(http, settings, retry or RetryPolicy()))

    async def list_tools(
        ctx: ServerRequestContext[State], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call(ctx: ServerRequestContext[State], params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = BY_NAME.get(params.name)
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool {params.name!r}; tools/list names the tools.")
        state = ctx.lifespan_context
        try:
            return await call_tool(spec, params.arguments, state.settings, state.posthog)
        except Exception:
            logger.exception("%s failed", spec.name)
            return error(f"{spec.name} failed inside this server; its log (stderr) has the details.")

    return Server(
        "posthog-integrations-mcp",
        version=__version__,
        title="PostHog integrations",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call,
    )
