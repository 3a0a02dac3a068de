"""What a tool returns for PostHog's answer, and the output schema that promises it.

Each shape turns PostHog's parsed JSON (None for a 204) into the structured result the model sees,
plus, where it helps, a sentence to read before the JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tools.arguments import Arguments


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


def _short(row: Any, leave_out: tuple[str, ...]) -> Any:
    """A list row without empty values, its creator as {id, email}: the get tool has the full record."""
    if not isinstance(row, dict):
        return row
    short = {key: value for key, value in row.items() if value not in (None, "") and key not in leave_out}
    if isinstance(creator := short.get("created_by"), dict):
        short["created_by"] = {key: creator[key] for key in ("id", "email") if key in creator}
    return short


def _compact(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def capped(output: Output, shape: ResultShape, arguments: Arguments, max_chars: int) -> Output:
    """Fit a page that is too long in `max_chars` of JSON by dropping trailing items; the JSON stays valid and says
    what is missing. A single record is left whole: PostHog's 5 MB limit is its bound."""
    if not isinstance(shape, OffsetPage | CursorPage):
        return output
    room = max_chars - _compact(shape.keep(output.data, 0, arguments)) - 10
    kept = 0
    for row in output.data[shape.items]:
        room -= _compact(row) + 1
        if room < 0:
            break
        kept += 1
    return Output(shape.keep(output.data, kept, arguments), output.note)


def _left_out(rows: list[Any], kept: int, how: str) -> dict[str, Any]:
    omitted = len(rows) - kept
    return {"omitted": omitted, "hint": f"{omitted} more rows were left out to keep this result small; {how}."}


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
    leave_out: tuple[str, ...] = ()
    """Fields of a row that only the get tool returns: a list is for finding a row, not for reading it."""

    @property
    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "results": {"type": "array", "items": self.item},
                "next_offset": {"type": "integer"},
            },
            "required": ["count", "results"],
        }

    items = "results"

    def shape(self, body: Any, arguments: Arguments) -> Output:
        page = _page(body, "results")
        page["results"] = [_short(row, self.leave_out) for row in page["results"]]
        if page.get("next"):
            offsets = parse_qs(urlsplit(str(page["next"])).query).get("offset")
            if offsets and offsets[0].isdigit():
                page["next_offset"] = int(offsets[0])
        return Output(page)

    def keep(self, data: dict[str, Any], kept: int, arguments: Arguments) -> dict[str, Any]:
        offset = getattr(arguments, "offset", None) or 0
        how = f"call again with offset={offset + kept}, and a smaller limit"
        rows = data["results"]
        return {**data, "results": rows[:kept], "next_offset": offset + kept, "_truncated": _left_out(rows, kept, how)}


@dataclass(frozen=True)
class CursorPage:
    """A cursor page of an Anthropic list: pass `next_cursor` as `after` while `has_more`."""

    items: str
    item: dict[str, Any]

    @property
    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {self.items: {"type": "array", "items": self.item}},
            "required": [self.items],
        }

    def shape(self, body: Any, arguments: Arguments) -> Output:
        return Output(_page(body, self.items))

    def keep(self, data: dict[str, Any], kept: int, arguments: Arguments) -> dict[str, Any]:
        rows = data[self.items]
        after = rows[kept - 1].get("id") if kept else getattr(arguments, "after", None)
        how = f"call again with after={after}" if after else "call again with a smaller limit"
        cut = {
            self.items: rows[:kept],
            "next_cursor": after,
            "has_more": True,
            "_truncated": _left_out(rows, kept, how),
        }
        return {**data, **cut}


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
