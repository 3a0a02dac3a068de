"""What a tool returns for PostHog's answer, and the output schema that promises it.

Each shape turns PostHog's parsed JSON (None for a 204) into the structured result the model sees,
plus, where it helps, a sentence to read before the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tools.arguments import Arguments

NULLABLE_STRING: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
"""Spelled with anyOf: a `type` array is legal JSON Schema but less portable across clients."""


class UnexpectedShape(Exception):
    """PostHog answered with JSON of another shape than the endpoint documents."""


@dataclass(frozen=True)
class Output:
    data: dict[str, Any]
    note: str | None = None


class ResultShape(Protocol):
    @property
    def output_schema(self) -> dict[str, Any]: ...

    def shape(self, body: Any, arguments: Arguments) -> Output: ...


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise UnexpectedShape(f"expected a JSON object, got {type(body).__name__}")
    return body


def _page(body: Any, items: str) -> dict[str, Any]:
    page = _object(body)
    if not isinstance(page.get(items), list):
        raise UnexpectedShape(f"expected a page with a {items} list")
    return page


@dataclass(frozen=True)
class Record:
    """One object as PostHog returns it (get, create, update)."""

    @property
    def output_schema(self) -> dict[str, Any]:
        return {"type": "object"}

    def shape(self, body: Any, arguments: Arguments) -> Output:
        return Output(_object(body))


@dataclass(frozen=True)
class OffsetPage:
    """A limit/offset page; `next_offset` saves the model from parsing the `next` URL."""

    item: dict[str, Any]

    @property
    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "next": NULLABLE_STRING,
                "previous": NULLABLE_STRING,
                "next_offset": {"type": "integer", "description": "Pass as offset to get the next page."},
                "results": {"type": "array", "items": self.item},
            },
            "required": ["count", "results"],
        }

    def shape(self, body: Any, arguments: Arguments) -> Output:
        page = _page(body, "results")
        if page.get("next"):
            offsets = parse_qs(urlsplit(str(page["next"])).query).get("offset")
            if offsets and offsets[0].isdigit():
                page = {**page, "next_offset": int(offsets[0])}
        return Output(page)


@dataclass(frozen=True)
class CursorPage:
    """A cursor page of an Anthropic list: pass `next_cursor` as `after` while `has_more`."""

    items: str
    item: dict[str, Any]

    @property
    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "next_cursor": NULLABLE_STRING,
                "has_more": {"type": "boolean"},
                self.items: {"type": "array", "items": self.item},
            },
            "required": [self.items],
        }

    def shape(self, body: Any, arguments: Arguments) -> Output:
        return Output(_page(body, self.items))


@dataclass(frozen=True)
class Deleted:
    """A 204 delete, answered as `{"deleted": true, "id": …}` so the model sees what went."""

    id_schema: dict[str, Any]

    @property
    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"deleted": {"const": True}, "id": self.id_schema},
            "required": ["deleted", "id"],
        }

    def shape(self, body: Any, arguments: Arguments) -> Output:
        return Output({"deleted": True, "id": arguments.model_dump(mode="json")["id"]})


@dataclass(frozen=True)
class Lookup:
    """`{"reference": … | null}`; no match is an answer, not an error, and the note says so plainly."""

    noun: str
    item: dict[str, Any]

    @property
    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"reference": {"anyOf": [self.item, {"type": "null"}]}},
            "required": ["reference"],
        }

    def shape(self, body: Any, arguments: Arguments) -> Output:
        found = _object(body)
        if "reference" not in found:
            raise UnexpectedShape("expected an object with a reference")
        if found["reference"] is not None:
            return Output(found)
        asked = ", ".join(f"{k}={v!r}" for k, v in arguments.model_dump(mode="json", exclude_none=True).items())
        return Output(found, note=f"No {self.noun} matches {asked}.")
