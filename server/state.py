"""What every call of one server process shares: configuration, the PostHog client, what each key may do.

Nothing here belongs to one caller: over HTTP many callers share the process, so a key is only ever a hash here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from pydantic import SecretStr

from server.access import KeyAccess, refusal
from server.caller import Caller, is_access_token, process_caller
from server.config import Settings
from server.credentials import Keys, Questions, Unavailable
from server.errors import ApiError, PermissionDenied, PostHogError
from server.options import Options
from server.posthog import PostHog
from tools import TOOLS, ToolSpec

if TYPE_CHECKING:  # importing mcp takes ~0.6 s: stdio asks PostHog for the key's record before it is imported
    from mcp.server.session import ServerSession
    from mcp.server.subscriptions import SubscriptionBus

logger = logging.getLogger(__name__)


@dataclass
class State:
    settings: Settings
    options: Options
    questions: Questions
    """How PostHog is asked about credentials, what it said (`keys`), and the client the calls send through."""
    background: anyio.abc.TaskGroup
    """Where a question to PostHog can outlive the request that asked it."""
    started: float
    stateless: bool = False
    """Over HTTP no request can reach the client during a call: a 2025-11-25 client cannot be asked anything."""
    lister: ServerSession | None = None
    """Over stdio, the session of the latest tools/list (the SDK makes one per request): through it a 2025-11-25
    client is told whenever what PostHog says of the key changes the list. None until the client lists tools."""
    listeners: SubscriptionBus | None = None
    """Over stdio, where 2026-07-28 clients that listen for tool list changes (subscriptions/listen) hear of them."""

    @property
    def posthog(self) -> PostHog:
        return self.questions.posthog

    @property
    def keys(self) -> Keys:
        return self.questions.keys

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
        answered = self._ask_soon(key)
        with anyio.move_on_after(until - anyio.current_time()):
            await answered.wait()

    def heard(self, key: SecretStr | None, failure: PostHogError) -> None:
        """A call's failure that contradicts what is remembered of its credential: ask PostHog about it again.

        A 401 contradicts any entry but a rejection; a 403 for a missing scope contradicts a record that let the call
        through. The old entry serves until the answer replaces it. An access token is asked about whatever the
        scope check says: the gate lets it in on PostHog's word alone, which a 401 has just contradicted.
        """
        if key is None or not isinstance(failure, ApiError):
            return
        if not (self.options.scope_check or is_access_token(key.get_secret_value())):
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

    def _ask_soon(self, key: SecretStr) -> anyio.Event:
        """Ask PostHog about the credential in the background, unless a question is on its way: the event of the
        answer."""
        answered, mine = self.questions.start(key)
        if mine:
            self.background.start_soon(self._ask, key)
        return answered

    async def _ask(self, key: SecretStr) -> None:
        before = self.keys.get(key)
        try:
            await self.questions.put(key)
        except Unavailable as outage:  # the old entry, if any, serves until PostHog can say
            logger.warning("%s", outage)
        after = self.keys.get(key)
        if self._offered(before.access if before else None) != self._offered(after.access if after else None):
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
    questions: Questions,
    *,
    stateless: bool,
) -> AsyncIterator[State]:
    """What a server's calls share, from start to end: PostHog's client (the one `questions` asks through) and the
    task group where a question to PostHog can outlive its request, closed together (over HTTP the gate in front of
    MCP asks through the same client, and only while the app runs).

    Not stateless (stdio): the process's key is asked about at once, and tools/list waits for the answer until
    SCOPE_WAIT after this opens. The stdio entry point opens it before it imports the SDK, so the answer is on its way
    while the SDK loads.
    """
    try:
        async with anyio.create_task_group() as background:
            state = State(settings, options, questions, background, anyio.current_time(), stateless)
            if not stateless:
                background.start_soon(state.learn, process_caller(settings), math.inf)
            yield state
            background.cancel_scope.cancel()
    finally:
        await questions.posthog.aclose()
