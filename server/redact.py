"""Secrets out of results: old integration rows can still hold credentials in `config`.

A key is secret by the words of its name (`refresh_token`, `apiKey`, `client-secret`), never by raw
substrings, so `author`, `oauth_provider`, `key_id` and `account_sid` stay readable.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

REDACTED = "[redacted]"
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "secret", "credential", "credentials", "dsn"})
_SECRET_LAST_WORDS = frozenset({"token", "key"})
_READABLE_KEYS = frozenset({"public", "idempotency", "partition", "sort", "primary", "foreign"})


@cache
def is_secret(name: str) -> bool:
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words:
        return False
    if _SECRET_WORDS.intersection(words) or "connection_string" in "_".join(words):
        return True
    last = words[-1].removesuffix("s")
    if last == "key":
        return len(words) == 1 or words[-2] not in _READABLE_KEYS
    return last in _SECRET_LAST_WORDS


def redact(value: Any) -> Any:
    """A copy with every non-empty value under a secret key replaced by "[redacted]", at any depth."""
    if isinstance(value, dict):
        return {
            key: REDACTED if item not in (None, "") and is_secret(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
