"""From validated arguments to the one HTTP request PostHog receives."""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter
from typing import Any
from urllib.parse import quote

from tools.arguments import Arguments, OrganizationArguments, ProjectArguments
from tools.spec import CURRENT, Method, Target, ToolSpec


@dataclass(frozen=True)
class ApiRequest:
    method: Method
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    form: bool = False
    """The body goes form-encoded, as OAuth endpoints take it (RFC 6749, 7662), rather than as JSON."""
    template: str = ""
    """`path` before its ids were filled in (the tool table's), for telemetry; empty when `path` is fixed."""


def resolve_target(arguments: Arguments, host: str, project_id: str | None, organization_id: str | None) -> Target:
    """The argument wins, then the caller's default (the operator's, a header's, or the credential's one project), then
    `@current`."""
    if isinstance(arguments, ProjectArguments) and arguments.project_id is not None:
        project_id = str(arguments.project_id)
    if isinstance(arguments, OrganizationArguments) and arguments.organization_id is not None:
        organization_id = str(arguments.organization_id)
    return Target(host=host, project_id=project_id or CURRENT, organization_id=organization_id or CURRENT)


def build_request(spec: ToolSpec[Any], arguments: Arguments, target: Target) -> ApiRequest:
    values = arguments.model_dump(mode="json", exclude_unset=True)
    placeholders = {name for _, name, _, _ in Formatter().parse(spec.path) if name}
    ids = {"project_id": target.project_id, "organization_id": target.organization_id}
    path = spec.path.format_map({name: quote(str(ids.get(name, values.get(name))), safe="@") for name in placeholders})
    rest = {name: value for name, value in values.items() if name not in placeholders}
    if spec.method in ("POST", "PATCH"):
        return ApiRequest(spec.method, path, query={}, body=rest, template=spec.path)
    query = {name: _query_value(value) for name, value in rest.items()}
    return ApiRequest(spec.method, path, query=query, body=None, template=spec.path)


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
