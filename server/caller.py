"""Who a call acts for: a PostHog key (or OAuth access token) and its defaults.

Over stdio that is the process's configuration. Over HTTP it is each request's own `Authorization` and
`X-PostHog-*` headers, so nothing of one caller is kept where another could reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from server.config import Settings

ACCESS_TOKEN = "pha_"
"""The prefix of PostHog's OAuth access tokens, which its REST API accepts as it does personal keys (`phx_`)."""


def is_access_token(value: str) -> bool:
    return value.startswith(ACCESS_TOKEN)


@dataclass(frozen=True)
class Caller:
    key: SecretStr | None
    project_id: str | None
    organization_id: str | None
    problems: tuple[str, ...] = ()
    """What keeps this caller's calls from working, each saying what to fix."""
    read_only: bool = False
    """Asked for by the caller (X-PostHog-Read-Only): it can only narrow what the server allows."""


def process_caller(settings: Settings) -> Caller:
    return Caller(settings.api_key, settings.project_id, settings.organization_id, settings.problems)
