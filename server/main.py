"""Entry point: `posthog-integrations-mcp` (or `python -m server`) serves MCP over stdio."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys

import anyio
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.stdio import stdio_server
from pydantic import SecretStr

from server.app import build_server
from server.config import Settings
from server.options import Options, parse_options

logger = logging.getLogger("server")


POSTHOG_TOKEN = re.compile(r"\bph[xcs]_[A-Za-z0-9_-]{8,}")
"""Anything shaped like a PostHog key or token: over HTTP, callers bring keys the process never saw."""


class KeyScrubbingFormatter(logging.Formatter):
    """The last line of defence: should a key ever reach a log line (a library's message, an exception's
    text), it is replaced before the line is written."""

    def __init__(self, key: SecretStr | None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._key = key.get_secret_value() if key is not None else None

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if self._key:
            line = line.replace(self._key, "[redacted]")
        return POSTHOG_TOKEN.sub("[redacted]", line)


def configure_logging(level_name: str, key: SecretStr | None) -> None:
    """Everything to stderr: stdout carries the protocol. httpx and httpcore stay at WARNING (they log URLs)."""
    level = logging.getLevelNamesMapping().get(level_name.strip().upper() or "WARNING")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyScrubbingFormatter(key))
    logging.basicConfig(level=level or logging.WARNING, handlers=[handler])
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, level or logging.WARNING))
    if level is None:
        logger.warning("POSTHOG_MCP_LOG_LEVEL %r is not a log level; using WARNING.", level_name)


async def serve(settings: Settings, options: Options) -> None:
    server = build_server(settings, options)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options(NotificationOptions(tools_changed=True)))


def main() -> None:
    options = parse_options(sys.argv[1:])
    settings = Settings.from_env()
    configure_logging(os.environ.get("POSTHOG_MCP_LOG_LEVEL", ""), settings.api_key)
    for message in settings.notices + settings.problems:
        logger.warning(message)
    if options.command == "doctor":
        from server.doctor import doctor  # only this command needs it: serving starts without the import

        sys.exit(anyio.run(doctor, settings, options))
    if options.transport == "http":
        serve_http(settings, options)
        return
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve, settings, options)


def serve_http(settings: Settings, options: Options) -> None:
    import uvicorn  # only remote mode needs it: stdio starts without the import

    from server.http import RemoteModeRefused, build_http_app

    try:
        app = build_http_app(settings, options)
    except RemoteModeRefused as refused:
        sys.exit(str(refused))
    uvicorn.run(app, host=options.host, port=options.port, log_config=None)
