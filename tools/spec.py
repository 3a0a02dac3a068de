"""The declarative description of one PostHog endpoint as one MCP tool."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from tools.arguments import Arguments, input_schema
from tools.results import ResultShape

Method = Literal["GET", "POST", "PATCH", "DELETE"]
CURRENT = "@current"
"""PostHog's name for the key owner's current project or organization."""
ArgsT = TypeVar("ArgsT", bound=Arguments)
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!e\.g\.)(?<!i\.e\.)\s+(?=[A-Z])")
"""Where one sentence ends and the next begins: a stop, then a capital; "e.g. PostHog" goes on."""


@dataclass(frozen=True)
class Target:
    """Where a call goes: the PostHog app URL and the project and organization it acts in.

    `project_id` and `organization_id` are already resolved (argument, then the operator's default,
    then PostHog's `@current`), so checks and messages can name them.
    """

    host: str
    project_id: str
    organization_id: str


@dataclass(frozen=True)
class Annotations:
    """MCP tool annotations, all four set explicitly: clients assume the worst for a missing hint."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True


ANNOTATIONS: Mapping[Method, Annotations] = {
    "GET": Annotations(read_only=True, destructive=False, idempotent=True),
    "POST": Annotations(read_only=False, destructive=False, idempotent=False),
    "PATCH": Annotations(read_only=False, destructive=False, idempotent=True),
    "DELETE": Annotations(read_only=False, destructive=True, idempotent=True),
}


@dataclass(frozen=True)
class ToolSpec(Generic[ArgsT]):
    """One endpoint. Registration, schemas, docs and tests all read these fields.

    Path placeholders are filled from the argument model's fields of the same name; the other fields go
    to the query string (GET, DELETE) or the JSON body (POST, PATCH). `refuse` runs before anything is
    sent and returns the reason a call cannot work through this server, if there is one.
    """

    name: str
    toolset: str
    """The group an operator enables by name (--toolsets)."""
    title: str
    """For people: the question a destructive tool asks before it runs. Not in tools/list, where the name says as
    much and every byte is the model's context."""
    description: str
    method: Method
    path: str
    scope: str
    arguments: type[ArgsT]
    result: ResultShape
    refuse: Callable[[ArgsT, Target], str | None] | None = None
    loss: str = ""
    """For a destructive tool: what the user loses, shown when they are asked to confirm."""

    @property
    def summary(self) -> str:
        """The description's first sentence, whole: what a table of tools shows."""
        return _SENTENCE_END.split(self.description, maxsplit=1)[0]

    @property
    def annotations(self) -> Annotations:
        return ANNOTATIONS[self.method]

    @property
    def input_schema(self) -> dict[str, Any]:
        return input_schema(self.arguments)

    @property
    def output_schema(self) -> dict[str, Any]:
        return self.result.output_schema
