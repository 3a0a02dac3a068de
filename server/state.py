"""What every call of one server process shares: configuration, the PostHog client, what each key may do.

Nothing here belongs to one caller: over HTTP many callers share the process, so a key is only ever a hash here.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
from mcp.server.session import ServerSession
from pydantic import SecretStr

from server.access import KEY_RECORD, KeyAccess, refusal
from server.caller import Caller
from server.config import Settings
from server.errors import PostHogError
from server.options import Options
from server.posthog import PostHog
from tools import ToolSpec
from tools.request import ApiRequest

logger = logging.getLogger(__name__)

REMEMBERED = 60.0
"""Seconds a key's scopes are remembered."""


@dataclass
class State:
    settings: Settings
    options: Options
    posthog: PostHog
    background: anyio.abc.TaskGroup
    """Where a question to PostHog can outlive the request that asked it."""
    started: float
    stateless: bool = False
    """Over HTTP no request can reach the client during a call: a 2025-11-25 client cannot be asked anything."""
    known: dict[str, tuple[KeyAccess | None, float]] = field(default_factory=dict)
    """What each key may do, under a hash of the key, with the time it was learned; None when PostHog would not say
    (every tool stays offered, and PostHog is not asked again until the answer is stale)."""
    asking: dict[str, anyio.Event] = field(default_factory=dict)
    listed_early: list[ServerSession] = field(default_factory=list)
    """Stdio sessions that listed tools before the key's scopes were known: told when the list changes."""

    def access(self, caller: Caller) -> KeyAccess | None:
        """What the caller's key may do, if PostHog said so lately; None (unknown) offers every tool allowed."""
        remembered = self._remembered(caller)
        return remembered[0] if remembered else None

    def _remembered(self, caller: Caller) -> tuple[KeyAccess | None, float] | None:
        if caller.key is None or not self.options.scope_check:
            return None
        remembered = self.known.get(_digest(caller.key))
        return remembered if remembered and anyio.current_time() - remembered[1] < REMEMBERED else None

    def refusal(self, spec: ToolSpec[Any], caller: Caller) -> str | None:
        return refusal(spec, self.options, self.access(caller), caller.read_only)

    async def learn(self, caller: Caller, until: float) -> None:
        """Ask PostHog what the caller's key may do, unless known or being asked; wait for the answer until `until`."""
        if caller.key is None or caller.problems or not self.options.scope_check or self._remembered(caller):
            return
        digest = _digest(caller.key)
        if digest not in self.asking:
            self.asking[digest] = anyio.Event()
            self.background.start_soon(self._ask, caller.key, digest)
        with anyio.move_on_after(until - anyio.current_time()):
            await self.asking[digest].wait()

    async def _ask(self, key: SecretStr, digest: str) -> None:
        access = None
        try:
            access = KeyAccess.from_record(await self.posthog.send(ApiRequest("GET", KEY_RECORD, {}, None), key))
        except (PostHogError, ValueError) as failure:
            logger.warning("Could not read the API key's scopes, so every tool stays listed: %s", failure)
        finally:
            now = anyio.current_time()
            self.known = {seen: entry for seen, entry in self.known.items() if now - entry[1] < REMEMBERED}
            self.known[digest] = (access, now)
            self.asking.pop(digest).set()


def _digest(key: SecretStr) -> str:
    return hashlib.sha256(key.get_secret_value().encode()).hexdigest()
