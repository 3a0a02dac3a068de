"""What PostHog says of each credential a caller brings, asked once and remembered under a hash, never the value.

- A personal API key (`phx_…`) is asked about through its own record, only to hide the tools it cannot use: any
  answer, or none, lets its calls go on, and PostHog judges each call.
- An OAuth access token (`pha_…`) is asked about by self-introspection before its request reaches MCP (the gate's
  `Questions.check`): PostHog's answer decides whether it is let in at all, and its scopes and projects shape the
  tools as a key's do.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import SecretStr

from server.access import KEY_RECORD, KeyAccess
from server.caller import is_access_token
from server.errors import ApiError, AuthenticationFailed, ConnectionFailed, PostHogError, ServerError
from server.posthog import PostHog
from tools.request import ApiRequest

logger = logging.getLogger(__name__)

REMEMBERED = 60.0
"""Seconds an HTTP server remembers what PostHog said of a credential, and any server a key's unreadable record."""
INTROSPECTION = "/oauth/introspect/"
"""Where an OAuth access token asks PostHog about itself (RFC 7662): no client credentials, no extra scope."""
MIN_VALID = 1.0
"""Seconds an active token is remembered at least, even when this machine's clock says its `exp` has passed:
PostHog's word that it is active wins over a clock that may be off."""
OUTAGE_WAIT = 5.0
"""Seconds a client is told to wait when PostHog could not say whether a token is valid and did not say when."""


@dataclass(frozen=True)
class Said:
    """PostHog's answer about one credential."""

    access: KeyAccess | None
    """None when PostHog would not say, or rejected the credential: every tool the operator allows stays offered."""
    rejected: bool
    """A key PostHog answered 401 for (wrong, revoked, or the other region's), or a token that is not active."""
    valid_for: float = math.inf
    """Seconds until the credential itself expires (an access token's `exp`)."""


@dataclass(frozen=True)
class Learned:
    said: Said
    until: float
    """When, on the memory's clock, it is asked again."""

    @property
    def access(self) -> KeyAccess | None:
        return self.said.access

    @property
    def rejected(self) -> bool:
        return self.said.rejected


class Unavailable(Exception):
    """PostHog could not say whether an access token is valid (unreachable, failing, throttled): an outage of
    PostHog's or this server's, never a reason to send the user through sign-in again."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Keys:
    """The one memory of credentials in a process: what PostHog said of each, under a hash of it.

    The process owns it, and how long an entry lives depends on the mode:
    - stdio (`build_server` makes it): one key, the process's, whose scopes are learned once and kept for the life
      of the process, so the tools it cannot use stay hidden however long the session lasts.
    - HTTP, shared or single-user (`build_http_app` makes it, for MCP and for the gate in front of MCP): any number
      of credentials, each kept 60 s, so a shared server holds only the last minute's and sees changed scopes.
    An entry without scopes lives 60 s in both: the next tools/list after it asks again. An access token's entry
    never outlives the token (`exp`). In every mode, PostHog contradicting an entry replaces it (`State.heard`).
    """

    def __init__(self, stdio: bool, now: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = math.inf if stdio else REMEMBERED
        self.now = now
        """The clock that ages entries; tests move it."""
        self._entries: dict[str, Learned] = {}

    def get(self, key: SecretStr) -> Learned | None:
        """What PostHog said of the credential within an entry's lifetime, or None."""
        entry = self._entries.get(digest(key))
        return entry if entry is not None and self.now() < entry.until else None

    def remember(self, key: SecretStr, said: Said) -> None:
        now = self.now()
        self._entries = {seen: entry for seen, entry in self._entries.items() if now < entry.until}
        lifetime = self.lifetime if said.access is not None else REMEMBERED
        self._entries[digest(key)] = Learned(said, now + min(lifetime, said.valid_for))


async def ask(posthog: PostHog, key: SecretStr) -> Said:
    """What PostHog says of the credential. For an access token, raises `Unavailable` when PostHog cannot say."""
    if is_access_token(key.get_secret_value()):
        return await _introspect(posthog, key)
    try:
        return Said(KeyAccess.from_record(await posthog.send(ApiRequest("GET", KEY_RECORD, {}, None), key)), False)
    except (PostHogError, ValueError) as failure:
        logger.warning("Could not read the API key's scopes, so every tool stays listed: %s", failure)
        return Said(None, isinstance(failure, AuthenticationFailed))


async def _introspect(posthog: PostHog, token: SecretStr) -> Said:
    """Self-introspection: the token is both the bearer and the one asked about. Only an active token is valid; an
    answer PostHog gives about the caller (any 4xx) rejects it; one about PostHog (no answer, 5xx, 429) is an outage."""
    request = ApiRequest("POST", INTROSPECTION, {}, {"token": token.get_secret_value()}, form=True)
    try:
        answer = await posthog.send(request, token)
    except ApiError as failure:
        if failure.status == 429 or isinstance(failure, ServerError):
            logger.warning("PostHog could not check an access token: %s", failure)
            raise Unavailable(
                f"PostHog answered HTTP {failure.status} when asked about the access token.", failure.retry_after
            ) from failure
        return Said(None, rejected=True)
    except PostHogError as failure:
        logger.warning("PostHog could not check an access token: %s", failure)
        said = (
            "could not be reached"
            if isinstance(failure, ConnectionFailed)
            else "gave an answer this server cannot read"
        )
        raise Unavailable(f"PostHog {said} when asked about the access token.") from failure
    if not isinstance(answer, dict) or answer.get("active") is not True:
        return Said(None, rejected=True)
    return Said(KeyAccess.from_introspection(answer), False, max(_seconds_left(answer), MIN_VALID))


def _seconds_left(answer: dict[str, Any]) -> float:
    """Until an introspected token's `exp` (Unix seconds), or forever when it has none."""
    exp = answer.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return exp - time.time()
    return math.inf


class Questions:
    """The process's questions to PostHog about credentials, at most one on its way per credential, each answer kept
    in `keys`. One object serves the gate (access tokens, before MCP sees them) and the calls (a key's scopes, and a
    credential PostHog has just contradicted), so however many requests bring a credential at once, and whichever
    of them wants to know, PostHog is asked once.
    """

    def __init__(self, posthog: PostHog, keys: Keys) -> None:
        self.posthog = posthog
        self.keys = keys
        self._asking: dict[str, anyio.Event] = {}

    def start(self, key: SecretStr) -> tuple[anyio.Event, bool]:
        """The event set once PostHog's answer about the credential is in, and whether the caller is the one to ask
        (`put`): true unless a question is already on its way."""
        hashed = digest(key)
        if (asked := self._asking.get(hashed)) is not None:
            return asked, False
        self._asking[hashed] = asked = anyio.Event()
        return asked, True

    async def put(self, key: SecretStr) -> None:
        """Ask PostHog about the credential, for the caller `start` chose, and remember the answer. Raises
        `Unavailable` as `ask` does; the memory is left as it was then."""
        try:
            self.keys.remember(key, await ask(self.posthog, key))
        finally:
            self._asking.pop(digest(key)).set()

    async def check(self, token: SecretStr) -> Learned:
        """The gate's: what PostHog says of a token the memory does not hold; raises `Unavailable` when it cannot
        say."""
        answered, mine = self.start(token)
        if mine:
            await self.put(token)
        else:
            await answered.wait()
        if (known := self.keys.get(token)) is None:
            raise Unavailable("PostHog could not say whether the access token is valid.")
        return known


def digest(key: SecretStr) -> str:
    return hashlib.sha256(key.get_secret_value().encode()).hexdigest()
