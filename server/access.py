"""Which tools this server offers: the operator's controls, then what the key may do, each refusal explained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.options import Options
from tools import ToolSpec

KEY_RECORD = "/api/personal_api_keys/@current/"
"""Where PostHog tells a key its own scopes; any valid key may read it."""


@dataclass(frozen=True)
class KeyAccess:
    """What PostHog says the key may do."""

    scopes: frozenset[str]
    project_scoped: bool
    """Limited to some projects: PostHog refuses such a key on every organization endpoint."""

    @classmethod
    def from_record(cls, record: Any) -> KeyAccess:
        scopes = record.get("scopes") if isinstance(record, dict) else None
        if not isinstance(scopes, list):
            raise ValueError("the key's record has no list of scopes")
        return cls(frozenset(str(scope) for scope in scopes), bool(record.get("scoped_teams")))

    def missing(self, spec: ToolSpec[Any]) -> str | None:
        """Why the key cannot use this tool, or None when it can (`*` is everything; `:write` implies `:read`)."""
        if self.project_scoped and spec.path.startswith("/api/organizations/"):
            return "the API key is limited to specific projects, and PostHog refuses such keys on organization tools"
        resource, _, action = spec.scope.partition(":")
        if {"*", spec.scope} & self.scopes or (action == "read" and f"{resource}:write" in self.scopes):
            return None
        return f"the API key lacks the scope {spec.scope}"


def refusal(spec: ToolSpec[Any], options: Options, key: KeyAccess | None, read_only: bool = False) -> str | None:
    """Why this server does not offer the tool, or None when it does. Read-only mode is checked first: it wins.

    `read_only` is the caller's own request for it (X-PostHog-Read-Only), which can only narrow the options.
    """
    if options.read_only and not spec.annotations.read_only:
        return "the server runs in read-only mode (--read-only or POSTHOG_MCP_READ_ONLY)"
    if read_only and not spec.annotations.read_only:
        return "this request asked for read-only mode (X-PostHog-Read-Only)"
    if spec.name not in options.enabled:
        return "the operator's tool filter leaves it out (--toolsets, --tools, --exclude-tools)"
    return key.missing(spec) if key is not None else None
