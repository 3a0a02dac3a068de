"""Credentials that never pass through the model: `{"$env": "NAME"}` in a request body becomes the value of
environment variable NAME, read at call time, if the operator allowed NAME for the body's kind (--secret-env).

Only `integrations-create` takes free-form objects (its `config`), so that is where the form can appear, and its
`kind` decides where PostHog sends the value: it checks credentials live, and some kinds take the host to connect to
from the config itself. A variable listed bare may fill only the kinds whose credentials go to the provider's own
host (`FIXED_HOST_KINDS` in the tool table); any other kind must be named with it (`NAME=postgresql`), so that a
prompt-injected call cannot send the operator's secret to a host the model chose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tools.integrations import FIXED_HOST_KINDS, KINDS

NEVER_READ = frozenset({"POSTHOG_PERSONAL_API_KEY", "POSTHOG_API_KEY"})
"""The server's own key, refused even when listed: a prompt-injected call must not be able to send it anywhere."""

Allowed = Mapping[str, frozenset[str] | None]
"""Variable name -> the kinds whose config it may fill; None for a bare name: the fixed-host kinds."""

_FIXED_HOST = ", ".join(sorted(FIXED_HOST_KINDS))


class SecretEnvRefused(Exception):
    """A `$env` reference that may not or cannot be read; the message names the variable, never a value."""


def parse_allowed(listed: str) -> dict[str, frozenset[str] | None]:
    """`A,B=postgresql|databricks` as a mapping; ValueError names the entry that is wrong. Kinds ignore case."""
    allowed: dict[str, frozenset[str] | None] = {}
    for entry in (entry.strip() for entry in listed.split(",")):
        if not entry:
            continue
        name, named, kinds_text = (part.strip() for part in entry.partition("="))
        if not name:
            raise ValueError(f"{entry!r} names no variable: write NAME or NAME=kind|kind")
        if name in allowed:
            raise ValueError(f"{name} is listed twice: list it once, with all its kinds ({name}=kind|kind)")
        if not named:
            allowed[name] = None
            continue
        kinds = [kind.strip().lower() for kind in kinds_text.split("|")]
        if kinds == [""]:
            raise ValueError(
                f"{name}= names no kind: write {name}=kind|kind, or {name} alone for the kinds whose credentials go "
                f"to the provider's own host ({_FIXED_HOST})"
            )
        if "" in kinds:
            raise ValueError(f"{name}={kinds_text} names an empty kind: write {name}=kind|kind")
        if unknown := sorted(set(kinds) - set(KINDS)):
            plural = "s" if len(unknown) > 1 else ""
            raise ValueError(f"unknown kind{plural} {', '.join(unknown)} for {name}; the kinds are: {', '.join(KINDS)}")
        allowed[name] = frozenset(kinds)
    return allowed


def substitute(value: Any, allowed: Allowed, environ: Mapping[str, str] = os.environ) -> tuple[Any, frozenset[str]]:
    """A copy of request body `value` with every `{"$env": NAME}` replaced, and the set of values substituted.

    The kind the values may fill is the body's own `kind`: the integration whose config PostHog will check.
    """
    kind = value.get("kind") if isinstance(value, dict) else None
    used: set[str] = set()

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if set(item) == {"$env"} and isinstance(item["$env"], str):
                secret = _read(item["$env"], kind, allowed, environ)
                used.add(secret)
                return secret
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value), frozenset(used)


def _read(name: str, kind: object, allowed: Allowed, environ: Mapping[str, str]) -> str:
    reference = f'{{"$env": "{name}"}}'
    if name in NEVER_READ:
        raise SecretEnvRefused(f"{reference} is refused: this server never reads its own API key.")
    if name not in allowed:
        raise SecretEnvRefused(
            f"{reference} is refused: {name} is not among the variables this server may read "
            "(--secret-env or POSTHOG_MCP_SECRET_ENV). Ask the user to allow it, or to give the value directly."
        )
    kinds = allowed[name]
    if kinds is None and kind not in FIXED_HOST_KINDS:
        raise SecretEnvRefused(
            f"{reference} is refused for kind '{kind}': {name} is listed without kinds, which allows it only where "
            f"PostHog sends the credentials to the provider's own host ({_FIXED_HOST}); a {kind} config chooses the "
            f"host its credentials go to. Ask the user to allow {name} for {kind} (--secret-env {name}={kind}) if "
            "they trust that host, or to give the value directly."
        )
    if kinds is not None and kind not in kinds:
        widened = "|".join(sorted(kinds | {str(kind)}))
        raise SecretEnvRefused(
            f"{reference} is refused for kind '{kind}': {name} is allowed only for {', '.join(sorted(kinds))}. Ask "
            f"the user to allow {name} for {kind} too (--secret-env {name}={widened}), or to give the value directly."
        )
    if not environ.get(name):
        raise SecretEnvRefused(f"{reference} cannot be used: {name} is not set where this server runs.")
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
