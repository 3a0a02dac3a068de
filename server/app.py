"""The MCP wiring: the tool table becomes tools/list, and tools/call runs a spec."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from server import __version__
from server.access import KEY_RECORD, KeyAccess, refusal
from server.calls import error, execute, prepare
from server.config import Settings
from server.confirm import confirm
from server.errors import PostHogError
from server.options import Options
from server.posthog import PostHog
from server.retries import RetryPolicy
from server.state import State
from tools import BY_NAME, TOOLS, ToolSpec
from tools.request import ApiRequest

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Tools for PostHog's integrations API. Project tools act in the project given by project_id, else the "
    "server's default, else the API key owner's current project; organization tools likewise with organization_id. "
    "Results are PostHog's JSON, with secrets in integration config redacted."
)
SCOPE_WAIT = 2.0
"""Seconds after start-up that tools/list waits for the key's scopes; a later answer updates the list."""


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


async def learn_key_access(state: State) -> None:
    """Ask PostHog what the key may do, in the background; on failure offer every tool (fail open)."""
    if state.options.scope_check and not state.settings.problems:
        try:
            state.key = KeyAccess.from_record(await state.posthog.send(ApiRequest("GET", KEY_RECORD, {}, None)))
        except (PostHogError, ValueError) as failure:
            logger.warning("Could not read the API key's scopes, so every tool stays listed: %s", failure)
    state.key_known.set()
    if state.key is not None and not all(state.offers(spec) for spec in TOOLS if spec.name in state.options.enabled):
        for session in state.listed_early:
            try:
                await session.send_tool_list_changed()
            except Exception:  # a client that went away, or an era without a back-channel
                logger.debug("could not send notifications/tools/list_changed", exc_info=True)


def build_server(
    settings: Settings,
    options: Options | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> Server[State]:
    """The server; `transport` replaces the network and `retry` the clock in tests, as httpx intends."""
    options = options or Options()
    tools = {spec.name: mcp_tool(spec) for spec in TOOLS}

    @asynccontextmanager
    async def lifespan(_: Server[State]) -> AsyncIterator[State]:
        posthog = PostHog(settings, retry or RetryPolicy(), transport)
        try:
            async with anyio.create_task_group() as background:
                state = State(settings, options, posthog, anyio.current_time())
                background.start_soon(learn_key_access, state)
                yield state
                background.cancel_scope.cancel()
        finally:
            await posthog.aclose()

    async def list_tools(
        ctx: ServerRequestContext[State], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        state = ctx.lifespan_context
        with anyio.move_on_after(state.started + SCOPE_WAIT - anyio.current_time()):
            await state.key_known.wait()
        if not state.key_known.is_set():
            state.listed_early.append(ctx.session)
        return types.ListToolsResult(tools=[tools[spec.name] for spec in TOOLS if state.offers(spec)])

    async def call(
        ctx: ServerRequestContext[State], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        spec = BY_NAME.get(params.name)
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool {params.name!r}; tools/list names the tools.")
        state = ctx.lifespan_context
        if reason := refusal(spec, state.options, state.key):
            return error(f"{spec.name} is not available here: {reason}. Nothing was sent to PostHog.")
        try:
            prepared = prepare(spec, params.arguments, state)
            if isinstance(prepared, types.CallToolResult):
                return prepared
            must_ask = spec.annotations.destructive and state.options.confirm != "never"
            if must_ask and (outcome := await confirm(ctx, params, prepared)) is not None:
                return outcome
            return await execute(prepared, state)
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
