"""Entry point: `posthog-integrations-mcp` (or `python -m server`): MCP over stdio or HTTP, or `doctor`."""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.config import Settings
    from server.options import Options


def main() -> None:
    """Start-up runs with the cyclic garbage collector off, so it is turned off before anything else is imported:
    stdio's `serve` turns it back on once the SDK is imported (see `server.stdio.load_sdk`), the other commands at
    once. Ctrl-C before serving watches for it (during the imports, say) ends the process as a stop does, with 130
    and no traceback."""
    gc.disable()
    try:
        status = start()
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)


def start() -> int:
    """The command the options name, run to its end: its exit status."""
    import logging
    import os

    import anyio

    from server.config import Settings
    from server.logs import configure_logging
    from server.options import parse_options
    from server.stdio import serve

    options = parse_options(sys.argv[1:])
    settings = Settings.from_env()
    configure_logging(os.environ.get("POSTHOG_MCP_LOG_LEVEL", ""), settings.api_key)
    for message in settings.notices + settings.problems:
        logging.getLogger("server").warning(message)
    if options.command == "doctor":
        gc.enable()
        from server.doctor import doctor  # only this command needs it: serving starts without the import

        return anyio.run(doctor, settings, options)
    if options.transport == "http":
        gc.enable()
        serve_http(settings, options)
        return 0
    return anyio.run(serve, settings, options)


def serve_http(settings: Settings, options: Options) -> None:
    import uvicorn  # only remote mode needs it: stdio starts without the import

    from server.http import RemoteModeRefused, build_http_app

    try:
        app = build_http_app(settings, options)
    except RemoteModeRefused as refused:
        sys.exit(str(refused))
    uvicorn.run(app, host=options.host, port=options.port, log_config=None)
