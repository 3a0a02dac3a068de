"""Which tools this server offers, and where a credential may act: the operator's controls, then what PostHog says
the key or OAuth access token may do, each refusal explained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.options import Options
from tools import TOOLS, ToolSpec
from tools.spec import CURRENT, Target

KEY_RECORD = "/api/personal_api_keys/@current/"
"""Where PostHog tells a personal API key its own scopes; any valid key may read it."""


@dataclass(frozen=True)
class KeyAccess:
    """What PostHog says a credential may do: a personal API key's record, or an OAuth access token's
    introspection. PostHog checks both kinds the same way, so this server does too."""

    scopes: frozenset[str]
    projects: tuple[str, ...] = ()
    """The projects it is limited to (`scoped_teams`), empty when not limited. PostHog refuses such a credential on
    every organization endpoint and in every other project."""
    organizations: tuple[str, ...] = ()
    """The organizations it is limited to (`scoped_organizations`), empty when not limited."""
    oauth: bool = False
    """An OAuth access token: the user changes what it may do by signing in again, not by editing a key."""

    @classmethod
    def from_record(cls, record: Any) -> KeyAccess:
        scopes = record.get("scopes") if isinstance(record, dict) else None
        if not isinstance(scopes, list):
            raise ValueError("the key's record has no list of scopes")
        return cls(frozenset(str(scope) for scope in scopes), *_limits(record))

    @classmethod
    def from_introspection(cls, answer: dict[str, Any]) -> KeyAccess:
        """An active token's introspection (RFC 7662 with PostHog's fields). `*` is never an OAuth scope."""
        scope = answer.get("scope")
        scopes = frozenset(scope.split() if isinstance(scope, str) else ()) - {"*"}
        return cls(scopes, *_limits(answer), oauth=True)

    @property
    def credential(self) -> str:
        return "OAuth access token" if self.oauth else "API key"

    @property
    def project(self) -> str | None:
        """The one project it is limited to, which is then the default project."""
        return self.projects[0] if len(self.projects) == 1 else None

    @property
    def organization(self) -> str | None:
        """The one organization it is limited to, which is then the default organization."""
        return self.organizations[0] if len(self.organizations) == 1 else None

    def missing(self, spec: ToolSpec[Any]) -> str | None:
        """Why the credential cannot use this tool, or None when it can (`*` is everything; `:write` implies
        `:read`)."""
        if self.projects and spec.path.startswith("/api/organizations/"):
            such = "tokens" if self.oauth else "keys"
            return (
                f"the {self.credential} is limited to specific projects, and PostHog refuses such {such} on "
                "organization tools"
            )
        resource, _, action = spec.scope.partition(":")
        if {"*", spec.scope} & self.scopes or (action == "read" and f"{resource}:write" in self.scopes):
            return None
        how = (
            " (sign in to PostHog again, reconnecting this server in your MCP client, and grant it)"
            if self.oauth
            else ""
        )
        return f"the {self.credential} lacks the scope {spec.scope}{how}"

    def outside(self, spec: ToolSpec[Any], target: Target) -> str | None:
        """Why PostHog would refuse the call's project or organization for this credential, or None. `@current`
        is PostHog's to resolve, so it is never refused here."""
        on_project = spec.path.startswith("/api/projects/")
        chosen, allowed, what = (
            (target.project_id, self.projects, "project")
            if on_project
            else (target.organization_id, self.organizations, "organization")
        )
        if not allowed or chosen == CURRENT or chosen in allowed:
            return None
        ids = ", ".join(allowed)
        plural = "s" if len(allowed) > 1 else ""
        field = f"{what}_id"
        widen = (
            f"sign in to PostHog again (reconnect this server in your MCP client) and grant {what} {chosen}"
            if self.oauth
            else f"use a key with access to {what} {chosen}"
        )
        return (
            f"The {self.credential} may act only in {what}{plural} {ids}, not {what} {chosen}: call with {field} "
            f"{'set to one of them' if plural else ids}, or {widen}."
        )


def _limits(answer: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`scoped_teams` and `scoped_organizations` as strings; empty or null means not limited."""
    return _ids(answer.get("scoped_teams")), _ids(answer.get("scoped_organizations"))


def _ids(values: Any) -> tuple[str, ...]:
    return tuple(str(value) for value in values) if isinstance(values, list) else ()


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


def offered_scopes(options: Options) -> list[str]:
    """The scopes of the tools the operator offers: what a user signing in is asked to grant."""
    return sorted({spec.scope for spec in TOOLS if refusal(spec, options, None) is None})
