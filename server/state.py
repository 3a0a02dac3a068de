"""What every call of one server process shares: configuration, the PostHog client, what the key may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.session import ServerSession

from server.access import KeyAccess, refusal
from server.config import Settings
from server.options import Options
from server.posthog import PostHog
from tools import ToolSpec


@dataclass
class State:
    settings: Settings
    options: Options
    posthog: PostHog
    started: float
    key: KeyAccess | None = None
    """What the key may do, once PostHog said; None (unknown) offers every tool the operator allows."""
    key_known: anyio.Event = field(default_factory=anyio.Event)
    listed_early: list[ServerSession] = field(default_factory=list)
    """Sessions that listed tools before the key's scopes were known: told when the list changes."""

    def offers(self, spec: ToolSpec[Any]) -> bool:
        return refusal(spec, self.options, self.key) is None
