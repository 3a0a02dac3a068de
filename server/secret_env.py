"""Credentials that never pass through the model: `{"$env": "NAME"}` in a request body becomes the value of
environment variable NAME, read at call time, if the operator listed NAME (--secret-env).

Only `integrations-create` takes free-form objects (its `config`), so that is where the form can appear.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

NEVER_READ = frozenset({"POSTHOG_PERSONAL_API_KEY", "POSTHOG_API_KEY"})
"""The server's own key, refused even when listed: a prompt-injected call must not be able to send it anywhere."""


class SecretEnvRefused(Exception):
    """A `$env` reference that may not or cannot be read; the message names the variable, never a value."""


def substitute(
    value: Any, allowed: frozenset[str], environ: Mapping[str, str] = os.environ
) -> tuple[Any, frozenset[str]]:
    """A copy of `value` with every `{"$env": NAME}` replaced, and the set of values substituted."""
    used: set[str] = set()

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if set(item) == {"$env"} and isinstance(item["$env"], str):
                secret = _read(item["$env"], allowed, environ)
                used.add(secret)
                return secret
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value), frozenset(used)


def _read(name: str, allowed: frozenset[str], environ: Mapping[str, str]) -> str:
    if name in NEVER_READ:
        raise SecretEnvRefused(f'{{"$env": "{name}"}} is refused: this server never reads its own API key.')
    if name not in allowed:
        raise SecretEnvRefused(
            f'{{"$env": "{name}"}} is refused: {name} is not among the variables this server may read '
            "(--secret-env or POSTHOG_MCP_SECRET_ENV). Ask the user to allow it, or to give the value directly."
        )
    if not environ.get(name):
        raise SecretEnvRefused(f'{{"$env": "{name}"}} cannot be used: {name} is not set where this server runs.')
    return environ[name]


def scrub(value: Any, secrets: frozenset[str]) -> Any:
    """A copy with every substituted value replaced by "[redacted]", should PostHog echo one back."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, secrets) for item in value]
    return value
