"""The tool table: one spec per PostHog endpoint, the single source of truth for the server, docs and tests."""

from typing import Any

from tools import integrations, org_integrations, role_external_references
from tools.spec import ToolSpec

TOOLS: tuple[ToolSpec[Any], ...] = integrations.SPECS + role_external_references.SPECS + org_integrations.SPECS
BY_NAME = {spec.name: spec for spec in TOOLS}
SCOPES = tuple(sorted({spec.scope for spec in TOOLS}))


def reader(path: str) -> ToolSpec[Any] | None:
    """The read tool of a path template (integrations-get for integrations-delete's path), if there is one."""
    return next((spec for spec in TOOLS if spec.method == "GET" and spec.path == path), None)


def how_to_check(spec: ToolSpec[Any]) -> str:
    """How to see whether a write took effect: a read of the same path (get), else of its parent (list)."""
    found = reader(spec.path) or reader(spec.path.rstrip("/").rsplit("/", 1)[0] + "/")
    where = f"with {found.name}" if found else "in PostHog's web app"
    return f"Check {where} before trying it again."


__all__ = ["BY_NAME", "SCOPES", "TOOLS", "ToolSpec", "how_to_check", "reader"]
