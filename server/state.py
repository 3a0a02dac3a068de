"""What every call of one server process shares: configuration, the PostHog client, what each key may do.

Nothing here belongs to one caller: over HTTP many callers share the process, so a key is only ever a hash here.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import httpx
from pydantic import SecretStr

from server.access import KEY_RECORD, KeyAccess, refusal
from server.caller import Caller, process_caller
from server.config import Settings
from server.errors import ApiError, AuthenticationFailed, PermissionDenied, PostHogError
from server.options import Options
from server.posthog import PostHog
from server.retries import RetryPolicy
from tools import TOOLS, ToolSpec
from tools.request import ApiRequest

if TYPE_CHECKING:  # importing mcp takes ~0.6 s: stdio asks PostHog for the key's record before it is imported
    from mcp.server.session import ServerSession
    from mcp.server.subscriptions import SubscriptionBus

logger = logging.getLogger(__name__)

REMEMBERED = 60.0
"""Seconds an HTTP server remembers what PostHog said of a key, and any server a key's unreadable record."""


@dataclass(frozen=True)
class Learned:
    """What PostHog said of a key when its record was asked for, and when."""

    access: KeyAccess | None
    """None when PostHog would not say, or rejected the key: every tool the operator allows stays offered."""
    rejected: bool
    """PostHog answered 401: the key is wrong or revoked, or belongs to the other region."""
    at: float


class Keys:
    """The one memory of keys in a process: what PostHog said of each (its scopes, or that it rejects the key, or
    nothing readable), under a hash of the key, never the key.

    The process owns it, and how long an entry lives depends on the mode:
    - stdio (`build_server` makes it): one key, the process's, whose scopes are learned once and kept for the life
      of the process, so the tools it cannot use stay hidden however long the session lasts.
    - HTTP, shared or single-user (`build_http_app` makes it, for MCP and for the gate in front of MCP): any number
      of keys, each kept 60 s, so a shared server holds only the last minute's keys and sees changed scopes.
    An entry without scopes lives 60 s in both: the next tools/list after it asks again. In every mode, PostHog
    contradicting an entry replaces it (`State.heard`).
    """

    def __init__(self, stdio: bool, now: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = math.inf if stdio else REMEMBERED
        self.now = now
        """The clock that ages entries; tests move it."""
        self._entries: dict[str, Learned] = {}

    def get(self, key: SecretStr) -> Learned | None:
        """What PostHog said of the key within an entry's lifetime, or None."""
        entry = self._entries.get(digest(key))
        return entry if entry is not None and self._fresh(entry, self.now()) else None

    def remember(self, key: SecretStr, access: KeyAccess | None, rejected: bool) -> None:
        now = self.now()
        self._entries = {seen: entry for seen, entry in self._entries.items() if self._fresh(entry, now)}
        self._entries[digest(key)] = Learned(access, rejected, now)

    def _fresh(self, entry: Learned, now: float) -> bool:
        return now - entry.at < (self.lifetime if entry.access is not None else REMEMBERED)


@dataclass
class State:
    settings: Settings
    options: Options
    posthog: PostHog
    background: anyio.abc.TaskGroup
    """Where a question to PostHog can outlive the request that asked it."""
    started: float
    keys: Keys
    stateless: bool = False
    """Over HTTP no request can reach the client during a call: a 2025-11-25 client cannot be asked anything."""
    asking: dict[str, anyio.Event] = field(default_factory=dict)
    """Keys (by hash) whose record PostHog is being asked for."""
    lister: ServerSession | None = None
    """Over stdio, the session of the latest tools/list (the SDK makes one per request): through it a 2025-11-25
    client is told whenever what PostHog says of the key changes the list. None until the client lists tools."""
    listeners: SubscriptionBus | None = None
    """Over stdio, where 2026-07-28 clients that listen for tool list changes (subscriptions/listen) hear of them."""

    def access(self, caller: Caller) -> KeyAccess | None:
        """What the caller's key may do, if PostHog said so; None (unknown) offers every tool allowed."""
        if caller.key is None or not self.options.scope_check:
            return None
        entry = self.keys.get(caller.key)
        return entry.access if entry is not None else None

    def refusal(self, spec: ToolSpec[Any], caller: Caller) -> str | None:
        return refusal(spec, self.options, self.access(caller), caller.read_only)

    async def learn(self, caller: Caller, until: float) -> None:
        """Ask PostHog what the caller's key may do, unless known or being asked; wait for the answer until `until`."""
        key = caller.key
        if key is None or caller.problems or not self.options.scope_check or self.keys.get(key) is not None:
            return
        self._ask_soon(key)
        with anyio.move_on_after(until - anyio.current_time()):
            await self.asking[digest(key)].wait()

    def heard(self, key: SecretStr | None, failure: PostHogError) -> None:
        """A call's failure that contradicts what is remembered of its key: ask PostHog for the key's record again.

        A 401 contradicts any entry but a rejection; a 403 for a missing scope contradicts a record that let the call
        through. The old entry serves until the answer replaces it.
        """
        if key is None or not self.options.scope_check or not isinstance(failure, ApiError):
            return
        entry = self.keys.get(key)
        rejected_now = failure.status == 401 and not (entry is not None and entry.rejected)
        scope_gone = (
            isinstance(failure, PermissionDenied)
            and failure.missing_scope is not None
            and entry is not None
            and entry.access is not None
        )
        if rejected_now or scope_gone:
            self._ask_soon(key)

    def _ask_soon(self, key: SecretStr) -> None:
        if (hashed := digest(key)) not in self.asking:
            self.asking[hashed] = anyio.Event()
            self.background.start_soon(self._ask, key, hashed)

    async def _ask(self, key: SecretStr, hashed: str) -> None:
        access, rejected = None, False
        try:
            access = KeyAccess.from_record(await self.posthog.send(ApiRequest("GET", KEY_RECORD, {}, None), key))
        except (PostHogError, ValueError) as failure:
            rejected = isinstance(failure, AuthenticationFailed)
            logger.warning("Could not read the API key's scopes, so every tool stays listed: %s", failure)
        finally:
            before = self.keys.get(key)
            self.keys.remember(key, access, rejected)
            self.asking.pop(hashed).set()
        if self._offered(before.access if before is not None else None) != self._offered(access):
            await self._tell()

    def _offered(self, access: KeyAccess | None) -> list[str]:
        return [spec.name for spec in TOOLS if refusal(spec, self.options, access) is None]

    async def _tell(self) -> None:
        """Tell the client that the tool list changed, in each era's way: 2026-07-28 clients on their listen streams,
        a 2025-11-25 client by a notification on its session."""
        if self.listeners is not None:
            from mcp.server.subscriptions import ToolsListChanged  # imported already: `listeners` comes with the SDK

            await self.listeners.publish(ToolsListChanged())
        if self.lister is None:
            return
        try:
            await self.lister.send_tool_list_changed()
        except Exception:  # a client that went away, or an era without a back-channel
            logger.debug("could not send notifications/tools/list_changed", exc_info=True)


@asynccontextmanager
async def open_state(
    settings: Settings,
    options: Options,
    keys: Keys,
    retry: RetryPolicy,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    stateless: bool,
) -> AsyncIterator[State]:
    """What a server's calls share, from start to end: PostHog's client and the task group where a question to
    PostHog can outlive its request, closed together.

    Not stateless (stdio): the process's key is asked about at once, and tools/list waits for the answer until
    SCOPE_WAIT after this opens. The stdio entry point opens it before it imports the SDK, so the answer is on its way
    while the SDK loads.
    """
    posthog = PostHog(settings, retry, transport)
    try:
        async with anyio.create_task_group() as background:
            state = State(settings, options, posthog, background, anyio.current_time(), keys, stateless)
            if not stateless:
                background.start_soon(state.learn, process_caller(settings), math.inf)
            yield state
            background.cancel_scope.cancel()
    finally:
        await posthog.aclose()


def digest(key: SecretStr) -> str:
    return hashlib.sha256(key.get_secret_value().encode()).hexdigest()
