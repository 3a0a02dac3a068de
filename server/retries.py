"""When a read is tried again, and how long to wait first.

Only GETs are retried: a write that failed may still have happened, so repeating it is the caller's decision.
Two bounds hold a read: its waits add up to at most `budget` seconds, and the whole call, tries and waits, ends
within the timeout plus `budget` (each try after the first gets what is left), so a first try that hangs until its
timeout still leaves room for a second. Written here rather than taken from httpx-retries or stamina: neither stops
early when the wait PostHog asks for (Retry-After) would overrun the budget, which is what lets a model hear "wait
40 s" at once instead of a call that hangs and then fails anyway.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import anyio
import httpx

from tools.digits import ascii_int

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError)
"""Failures where a GET can safely be sent again: not connected, no answer in time, a pooled connection dropped."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    """Tries after the first."""
    base: float = 0.5
    """The first backoff's ceiling in seconds; it doubles each time (full jitter: a random wait up to it)."""
    budget: float = 20.0
    """Seconds of waiting a call may spend in all, and what it may run past its first try's timeout."""
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep, repr=False)
    now: Callable[[], float] = field(default=time.monotonic, repr=False)

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before try `attempt + 1`: what PostHog asked for, else exponential backoff with full jitter."""
        if retry_after is not None:
            return retry_after
        return random.uniform(0, self.base * 2**attempt)


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds, given as seconds or as an HTTP date; None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if (seconds := ascii_int(value)) is not None:
        return float(seconds)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
