"""Argument models: the shared field types, validation with model-readable errors, and input schemas.

Schemas are pydantic's, trimmed to what clients handle best: no titles, and an optional field is simply
not required (no `anyOf [X, null]`) unless the API really takes null (`Arguments.nullable`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError
from pydantic_core import ErrorDetails

_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")


def _integer_from_numeric_string(value: object) -> object:
    """Models often send numbers as strings; accept exactly those, refuse floats and booleans."""
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return value


_LENIENT = BeforeValidator(_integer_from_numeric_string)
# Bounds go before the lenient validator so that they show in the JSON schema as minimum and maximum.
Id = Annotated[int, Strict(), Field(ge=1), _LENIENT]
"""A positive integer id, or a string of its digits; never a float, a boolean or anything else."""
PageSize = Annotated[int, Strict(), Field(ge=1, le=100), _LENIENT]
Offset = Annotated[int, Strict(), Field(ge=0), _LENIENT]
# Paging arguments carry no description: the server's instructions say once what to pass (next_offset as offset).
Limit = PageSize | None
Skip = Offset | None


class Arguments(BaseModel):
    """Base of every tool's argument model: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nullable: ClassVar[frozenset[str]] = frozenset()
    """Optional fields to which the API gives a meaning for null; null is refused for the others."""


class ProjectArguments(Arguments):
    """A project tool's; the server's instructions say once what project_id defaults to, not each tool."""

    project_id: Id | None = None


class OrganizationArguments(Arguments):
    """An organization tool's; the server's instructions say once what organization_id defaults to."""

    organization_id: UUID | None = None


@dataclass
class InvalidArguments(Exception):
    """The arguments do not fit the tool; each problem names its field."""

    problems: list[str]


ArgsT = TypeVar("ArgsT", bound=Arguments)


def parse_arguments(model: type[ArgsT], raw: Mapping[str, Any] | None) -> ArgsT:
    """Validate a tool call's arguments, collecting every problem rather than the first."""
    raw = raw or {}
    problems = [
        f"{name}: null is not allowed; leave it out to use the default"
        for name, value in raw.items()
        if value is None
        and name in model.model_fields
        and not model.model_fields[name].is_required()
        and name not in model.nullable
    ]
    try:
        arguments = model.model_validate(raw)
    except ValidationError as error:
        problems += [_describe(detail) for detail in error.errors()]
    if problems:
        raise InvalidArguments(problems)
    return arguments


_PLAIN = {"missing": "required", "extra_forbidden": "unknown argument"}
_UUID = "Input should be a UUID such as 0189c2a4-8e5b-7c3d-9f00-1234567890ab"


def _describe(detail: ErrorDetails) -> str:
    field = ".".join(str(part) for part in detail["loc"])
    if detail["type"] in _PLAIN:
        return f"{field}: {_PLAIN[detail['type']]}"
    message = _UUID if detail["type"].startswith("uuid") else detail["msg"].removeprefix("Value error, ")
    if not field:
        return message
    shown = repr(detail["input"])
    return f"{field}: {message} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


@cache
def input_schema(model: type[Arguments]) -> dict[str, Any]:
    """The tool's JSON schema: a flat object, no titles, optional fields plainly optional."""
    schema = model.model_json_schema()
    properties: dict[str, Any] = schema.get("properties", {})
    for name, prop in properties.items():
        prop.pop("default", None)
        if name not in model.nullable:
            _drop_null_branch(prop)
    result: dict[str, Any] = {"type": "object", "properties": _without_titles(properties)}
    if schema.get("required"):
        result["required"] = schema["required"]
    result["additionalProperties"] = False
    return result


def _drop_null_branch(prop: dict[str, Any]) -> None:
    branches = prop.get("anyOf")
    if branches and {"type": "null"} in branches:
        rest = [branch for branch in branches if branch != {"type": "null"}]
        if len(rest) == 1:
            del prop["anyOf"]
            prop.update(rest[0])


def _without_titles(value: Any) -> Any:
    """A copy without pydantic's titles; a property named `title` stays, as its value is a schema, not a string."""
    if isinstance(value, dict):
        return {
            key: _without_titles(item) for key, item in value.items() if not (key == "title" and isinstance(item, str))
        }
    if isinstance(value, list):
        return [_without_titles(item) for item in value]
    return value
