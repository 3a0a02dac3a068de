"""The tool table: one spec per PostHog endpoint, the single source of truth for the server, docs and tests."""

from typing import Any

from tools import integrations, org_integrations, role_external_references
from tools.spec import ToolSpec

TOOLS: tuple[ToolSpec[Any], ...] = integrations.SPECS + role_external_references.SPECS + org_integrations.SPECS
BY_NAME = {spec.name: spec for spec in TOOLS}
SCOPES = tuple(sorted({spec.scope for spec in TOOLS}))

__all__ = ["BY_NAME", "SCOPES", "TOOLS", "ToolSpec"]
