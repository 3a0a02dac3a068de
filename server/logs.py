"""Logging: everything to stderr (stdout carries the protocol), and never a key."""

from __future__ import annotations

import logging
import re
import sys

from pydantic import SecretStr

logger = logging.getLogger("server")

POSTHOG_TOKEN = re.compile(r"\bph[xcsar]_[A-Za-z0-9_-]{8,}")
"""Anything shaped like a PostHog key or token (personal key, project token or secret, OAuth access or refresh
token): over HTTP, callers bring credentials the process never saw."""


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
