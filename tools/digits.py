"""Numbers written by people, proxies and models: ASCII digits only.

`str.isdigit()` is true for "²" and full-width "12": `int()` refuses the first, and the second would reach a URL
path as a project id PostHog never issued. Every number this server reads from text (configuration, headers,
Retry-After, ids, page offsets) goes through here.
"""

from __future__ import annotations

import re
from uuid import UUID

_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def ascii_int(text: str) -> int | None:
    """The whole number `text` spells in ASCII digits (spaces around it allowed), or None."""
    text = text.strip()
    return int(text) if _INTEGER.fullmatch(text) else None


def ascii_decimal(text: str) -> float | None:
    """The non-negative decimal `text` spells in ASCII digits and at most one point, or None."""
    text = text.strip()
    return float(text) if _DECIMAL.fullmatch(text) else None


def ascii_uuid(text: str) -> str | None:
    """The UUID `text` spells in ASCII, in its canonical form, or None: `UUID()` alone takes full-width digits."""
    text = text.strip()
    if not text.isascii():
        return None
    try:
        return str(UUID(text))
    except ValueError:
        return None
