"""The tool table: one spec per PostHog endpoint, the single source of truth for the server, docs and tests."""

from typing import Any

from tools import integrations, org_integrations, role_external_references
from tools.spec import ToolSpec

TOOLS: tuple[ToolSpec[Any], ...] = integrations.SPECS + role_external_references.SPECS + org_integrations.SPECS
BY_NAME = {spec.name: spec for spec in TOOLS}
SCOPES = tuple(sorted({spec.scope for spec in TOOLS}))


def how_to_check(spec: ToolSpec[Any]) -> str:
    """How to see whether a write took effect: a read of the same path (get), else of its parent (list)."""
    parent = spec.path.rstrip("/").rsplit("/", 1)[0] + "/"
    for path in (spec.path, parent):
        if reads := [read.name for read in TOOLS if read.method == "GET" and read.path == path]:
            return f"Check with {reads[0]} before trying it again."
    return "Check in PostHog's web app before trying it again."


__all__ = ["BY_NAME", "SCOPES", "TOOLS", "ToolSpec", "how_to_check"]
