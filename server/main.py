"""Entry point: `posthog-integrations-mcp` (or `python -m server`): MCP over stdio or HTTP, or `doctor`."""

from __future__ import annotations

import logging
import os
import sys

import anyio

from server.config import Settings
from server.logs import configure_logging
from server.options import Options, parse_options
from server.stdio import serve

logger = logging.getLogger("server")


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
    try:
        status = anyio.run(serve, settings, options)
    except KeyboardInterrupt:  # Ctrl-C in the moment before `serve` watches for it
        status = 130
    sys.exit(status)


def serve_http(settings: Settings, options: Options) -> None:
    import uvicorn  # only remote mode needs it: stdio starts without the import

    from server.http import RemoteModeRefused, build_http_app

    try:
        app = build_http_app(settings, options)
    except RemoteModeRefused as refused:
        sys.exit(str(refused))
    uvicorn.run(app, host=options.host, port=options.port, log_config=None)
