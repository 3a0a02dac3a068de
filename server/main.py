"""Entry point: `posthog-integrations-mcp` (or `python -m server`) serves MCP over stdio."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import anyio
from mcp.server.stdio import stdio_server

from server.app import build_server
from server.config import Settings

logger = logging.getLogger("server")


def configure_logging(level_name: str) -> None:
    """Everything to stderr: stdout carries the protocol. httpx stays at WARNING (it logs every URL)."""
    level = logging.getLevelNamesMapping().get(level_name.strip().upper() or "WARNING")
    logging.basicConfig(
        stream=sys.stderr, level=level or logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level or logging.WARNING))
    if level is None:
        logger.warning("POSTHOG_MCP_LOG_LEVEL %r is not a log level; using WARNING.", level_name)


async def serve(settings: Settings) -> None:
    server = build_server(settings)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    configure_logging(os.environ.get("POSTHOG_MCP_LOG_LEVEL", ""))
    settings = Settings.from_env()
    for message in settings.notices + settings.problems:
        logger.warning(message)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve, settings)
