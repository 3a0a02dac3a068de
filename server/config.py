"""Configuration from the environment.

Problems never stop the server: it still lists its tools, and every call answers with what to fix, so the
user sees the message in their assistant rather than a server that silently failed to start.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from tools import SCOPES
from tools.digits import ascii_decimal, ascii_int, ascii_uuid

DEFAULT_HOST = "https://us.posthog.com"
SHORTHANDS = {"us": "https://us.posthog.com", "eu": "https://eu.posthog.com"}
CAPTURE_HOSTS = {"us.i.posthog.com": "us.posthog.com", "eu.i.posthog.com": "eu.posthog.com"}
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RESULT_TOKENS = 20_000
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Settings:
    host: str
    api_key: SecretStr | None
    project_id: str | None
    organization_id: str | None
    timeout: float
    max_result_tokens: int
    """Results longer than this many tokens (at 4 characters each) lose trailing list items."""
    problems: tuple[str, ...]
    """What keeps calls from working, each sentence saying what to fix; empty when all is well."""
    notices: tuple[str, ...]
    """What start-up reports once on stderr (a host that was corrected)."""
    key_problems: tuple[str, ...] = ()
    """The problems that are about the process's key: over HTTP each request brings its own key instead."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        problems: list[str] = []
        notices: list[str] = []
        host = _host(environ.get("POSTHOG_HOST", ""), problems, notices)
        key_problems: list[str] = []
        api_key = _api_key(environ, host, key_problems)
        problems += key_problems
        return cls(
            host=host,
            api_key=api_key,
            project_id=_project_id(environ.get("POSTHOG_PROJECT_ID", ""), problems),
            organization_id=_organization_id(environ.get("POSTHOG_ORGANIZATION_ID", ""), problems),
            timeout=_timeout(environ.get("POSTHOG_MCP_TIMEOUT", ""), problems),
            max_result_tokens=_max_result_tokens(environ.get("POSTHOG_MCP_MAX_RESULT_TOKENS", ""), problems),
            problems=tuple(problems),
            notices=tuple(notices),
            key_problems=tuple(key_problems),
        )


def _host(raw: str, problems: list[str], notices: list[str]) -> str:
    value = raw.strip().rstrip("/")
    if not value:
        return DEFAULT_HOST
    if value.lower() in SHORTHANDS:
        return SHORTHANDS[value.lower()]
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    hostname = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not hostname:
        problems.append(f"POSTHOG_HOST {raw!r} is not a URL: use us, eu, or your PostHog's https:// address.")
        return value
    if hostname in CAPTURE_HOSTS:
        app_host = f"https://{CAPTURE_HOSTS[hostname]}"
        notices.append(
            f"POSTHOG_HOST {raw} is PostHog's event capture host, which does not serve this API: using {app_host}."
        )
        return app_host
    if parts.scheme == "http" and not is_loopback(hostname):
        problems.append(
            f"POSTHOG_HOST {value} uses plain http://, which would send your API key in clear text: use https:// "
            "(plain http:// is accepted only for 127.0.0.1, ::1 and localhost)."
        )
    return value


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _api_key(environ: Mapping[str, str], host: str, problems: list[str]) -> SecretStr | None:
    raw = (environ.get("POSTHOG_PERSONAL_API_KEY") or environ.get("POSTHOG_API_KEY") or "").strip()
    create = f"Create a personal API key at {host}/settings/user-api-keys"
    if not raw:
        problems.append(
            f"No PostHog API key: set POSTHOG_PERSONAL_API_KEY in this server's environment (the env block of your "
            f"MCP client's configuration) and restart it. {create} with the scopes {', '.join(SCOPES)} "
            "(the read scopes alone are enough for the read-only tools)."
        )
        return None
    if raw.startswith(("phc_", "phs_")):
        kind = "a project token (phc_…), which only sends events" if raw.startswith("phc_") else "a project secret key"
        problems.append(
            f"POSTHOG_PERSONAL_API_KEY holds {kind}, not a personal API key (phx_…), and PostHog refuses it on "
            f"these endpoints. {create} and put it there instead."
        )
        return None
    return SecretStr(raw)


def _project_id(raw: str, problems: list[str]) -> str | None:
    if not raw.strip():
        return None
    number = ascii_int(raw)
    if not number:
        problems.append(
            f"POSTHOG_PROJECT_ID {raw!r} is not a project id: set it to a number such as 12345, or unset it."
        )
        return None
    return str(number)


def _organization_id(raw: str, problems: list[str]) -> str | None:
    if not raw.strip():
        return None
    if (uuid := ascii_uuid(raw)) is None:
        problems.append(f"POSTHOG_ORGANIZATION_ID {raw!r} is not an organization id: set it to its UUID, or unset it.")
    return uuid


def _timeout(raw: str, problems: list[str]) -> float:
    if not raw.strip():
        return DEFAULT_TIMEOUT
    seconds = ascii_decimal(raw)
    if seconds is None or not 0 < seconds <= 600:
        problems.append(f"POSTHOG_MCP_TIMEOUT {raw!r} is not a number of seconds between 0 and 600.")
        return DEFAULT_TIMEOUT
    return seconds


def _max_result_tokens(raw: str, problems: list[str]) -> int:
    if not raw.strip():
        return DEFAULT_MAX_RESULT_TOKENS
    tokens = ascii_int(raw)
    if tokens is None or tokens < 500:
        problems.append(f"POSTHOG_MCP_MAX_RESULT_TOKENS {raw!r} is not a number of tokens of at least 500.")
        return DEFAULT_MAX_RESULT_TOKENS
    return tokens
