"""What a tool returns for PostHog's answer, and the output schema that promises it.

Each shape turns PostHog's parsed JSON (None for a 204) into the structured result the model sees. Whatever this
server adds (next_offset, _truncated, _shortened, a note) is a field of that result, declared in the schema: hosts
that show the model only structuredContent, and typed clients that keep only what the schema declares, lose nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from tools.arguments import Arguments
from tools.digits import ascii_int


class UnexpectedShape(Exception):
    """PostHog answered with JSON of another shape than the endpoint documents."""


class ResultShape(Protocol):
    @property
    def output_schema(self) -> dict[str, Any]: ...

    def shape(self, body: Any, arguments: Arguments) -> dict[str, Any]: ...


STRING = {"type": "string"}
INTEGER = {"type": "integer"}


def _or_null(type_: str) -> dict[str, Any]:
    """A value of JSON type `type_`, or null; anyOf rather than a list of types, which some clients cannot map."""
    return {"anyOf": [{"type": type_}, {"type": "null"}]}


def fields(**properties: dict[str, Any]) -> dict[str, Any]:
    """A row or record of PostHog's: the fields this server adds or relies on, named, with `_shortened` for one cut
    to fit the result budget; PostHog's other fields, and any it adds later, allowed, so that a typed client keeps
    them as they came. Naming them all would cost tools/list about 2 kB more (README, "Tools")."""
    return {"type": "object", "properties": {**properties, "_shortened": STRING}, "additionalProperties": True}


TRUNCATED = {"type": "object", "properties": {"omitted": INTEGER, "hint": STRING}}
"""How many rows a cut page left out, and how to get them."""


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise UnexpectedShape(f"expected a JSON object, got {type(body).__name__}")
    return body


def _page(body: Any, items: str) -> dict[str, Any]:
    page = _object(body)
    rows = page.get(items)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise UnexpectedShape(f"expected a page with a {items} list of objects")
    return page


def _short(row: dict[str, Any], leave_out: tuple[str, ...]) -> dict[str, Any]:
    """A list row without empty values, its creator as {id, email}: the get tool has the full record."""
    short = {key: value for key, value in row.items() if value not in (None, "") and key not in leave_out}
    if isinstance(creator := short.get("created_by"), dict):
        short["created_by"] = {key: creator[key] for key in ("id", "email") if key in creator}
    return short


def _compact(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


SHORTENED = (
    "Long values were cut to fit the result budget: a cut text ends in …[N more characters], a cut list in "
    '"[N more items]".'
)


def capped(
    data: dict[str, Any], shape: ResultShape, arguments: Arguments, fits: Callable[[dict[str, Any]], bool], whole: str
) -> dict[str, Any]:
    """`data`, which does not fit, made to fit: `fits` measures what the model would receive.

    A page keeps as many leading rows as fit, at least one, and says where the rest begin, so paging always moves
    on. A row too big to fit alone, and a single record (get, create, lookup) too big, keep their shorter values
    and have the longest cut, as little as fits, each cut marked and `_shortened` saying so and where the whole is
    (`whole`). Ids, field names and a page's own fields (count, next, previous, cursors) are never cut, so only
    those, were they long enough to fill the budget by themselves, could take a result over it.
    """
    if not isinstance(shape, OffsetPage | CursorPage):
        return _fitted(lambda limit: _cut_row(data, limit, whole), _compact(data), fits)
    rows = data[shape.items]

    def page(kept: list[dict[str, Any]]) -> dict[str, Any]:
        return shape.keep(data, kept, arguments)

    fitted = page(rows[: _largest(lambda count: fits(page(rows[:count])), 1, len(rows))])
    if fits(fitted) or not rows:
        return fitted
    first = rows[0]
    return _fitted(lambda limit: page([_cut_row(first, limit, whole)]), _compact(first), fits)


def _largest(fits: Callable[[int], bool], low: int, high: int) -> int:
    """A number from `low` up to `high` (which does not fit) that fits while the next one does not; `low` if none.

    Bisection: a few measurements of whole results, however long the page or the value."""
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def _fitted(make: Callable[[int], dict[str, Any]], top: int, fits: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """`make(limit)` for the longest limit on values that fits; `make(top)` cuts nothing and does not fit."""
    return make(_largest(lambda limit: fits(make(limit)), 0, top))


def _cut_row(row: dict[str, Any], limit: int, whole: str) -> dict[str, Any]:
    return {**_cut_fields(row, limit), "_shortened": f"{SHORTENED} {whole}"}


def _cut_fields(values: dict[str, Any], limit: int) -> dict[str, Any]:
    return {name: _cut(value, limit, name) for name, value in values.items()}


def _cut(value: Any, limit: int, name: str = "") -> Any:
    """`value` with each text and list longer than `limit` as JSON cut, and marked; an object keeps every field, an
    id is never cut. Each cut value is at most about `limit` long, so a smaller limit never gives a longer result."""
    if isinstance(value, dict):
        return _cut_fields(value, limit)
    if isinstance(value, list):
        return _leading([_cut(item, limit) for item in value], limit)
    if isinstance(value, str) and name != "id" and _compact(value) > limit:
        return f"{value[:limit]}…[{len(value) - limit} more characters]"
    return value


def _leading(items: list[Any], limit: int) -> list[Any]:
    """The leading items that fit in `limit` as JSON, at least one, then how many more there were."""
    size = 1
    for kept, item in enumerate(items):
        size += _compact(item) + 1
        if size > limit and kept:
            return [*items[:kept], f"[{len(items) - kept} more items]"]
    return items


@dataclass(frozen=True)
class Record:
    """One object as PostHog returns it (get, create, update)."""

    @property
    def output_schema(self) -> dict[str, Any]:
        return fields()

    def shape(self, body: Any, arguments: Arguments) -> dict[str, Any]:
        return _object(body)


@dataclass(frozen=True)
class OffsetPage:
    """A limit/offset page; `next_offset` saves the model from parsing the `next` URL."""

    item: dict[str, Any]
    leave_out: tuple[str, ...] = ()
    """Fields of a row that only the get tool returns: a list is for finding a row, not for reading it."""

    @property
    def output_schema(self) -> dict[str, Any]:
        links = {"next": _or_null("string"), "previous": _or_null("string"), "next_offset": INTEGER}
        return _page_schema({"count": INTEGER, **links, "results": _array(self.item)}, "count", "results")

    items = "results"

    def shape(self, body: Any, arguments: Arguments) -> dict[str, Any]:
        page = _page(body, "results")
        page["results"] = [_short(row, self.leave_out) for row in page["results"]]
        if page.get("next"):
            offsets = parse_qs(urlsplit(str(page["next"])).query).get("offset")
            if offsets and (offset := ascii_int(offsets[0])) is not None:
                page["next_offset"] = offset
        return page

    def keep(self, data: dict[str, Any], rows: list[dict[str, Any]], arguments: Arguments) -> dict[str, Any]:
        """The page with only `rows`, its leading ones; `next` and `next_offset` then point at the first left out.

        That `next` is PostHog's own URL of this list (`next`, or on its last page `previous`: both carry the
        filters and the limit) with the offset changed; a page with neither gets no `next`."""
        page = {**data, "results": rows}
        left_out = len(data["results"]) - len(rows)
        if not left_out:
            return page
        offset = (getattr(arguments, "offset", None) or 0) + len(rows)
        if url := data.get("next") or data.get("previous"):
            page["next"] = _with_offset(str(url), offset)
        else:
            page.pop("next", None)
        how = f"call again with offset={offset}, and a smaller limit"
        return {**page, "next_offset": offset, "_truncated": _left_out(left_out, how)}


@dataclass(frozen=True)
class CursorPage:
    """A cursor page of an Anthropic list: pass `next_cursor` as `after` while `has_more`."""

    items: str
    item: dict[str, Any]

    @property
    def output_schema(self) -> dict[str, Any]:
        cursor = {"next_cursor": _or_null("string"), "has_more": {"type": "boolean"}}
        return _page_schema({**cursor, self.items: _array(self.item)}, self.items)

    def shape(self, body: Any, arguments: Arguments) -> dict[str, Any]:
        return _page(body, self.items)

    def keep(self, data: dict[str, Any], rows: list[dict[str, Any]], arguments: Arguments) -> dict[str, Any]:
        """The page with only `rows`, its leading ones; `next_cursor` is then the id of the last row kept."""
        left_out = len(data[self.items]) - len(rows)
        if not left_out:
            return {**data, self.items: rows}
        after = rows[-1].get("id")
        if not isinstance(after, str):
            raise UnexpectedShape(f"expected {self.items} with an id to continue after")
        how = f"call again with after={after}"
        return {
            **data,
            self.items: rows,
            "next_cursor": after,
            "has_more": True,
            "_truncated": _left_out(left_out, how),
        }


def _page_schema(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """A page: PostHog's fields, `_truncated` when rows were left out, and any field PostHog adds."""
    return {
        "type": "object",
        "properties": {**properties, "_truncated": TRUNCATED},
        "required": list(required),
        "additionalProperties": True,
    }


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _left_out(omitted: int, how: str) -> dict[str, Any]:
    return {"omitted": omitted, "hint": f"{omitted} more rows were left out to keep this result small; {how}."}


def _with_offset(url: str, offset: int) -> str:
    """`url` with its offset query parameter set to `offset`, the rest as it was."""
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "offset"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("offset", str(offset))])))


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

    def shape(self, body: Any, arguments: Arguments) -> dict[str, Any]:
        return {"deleted": True, "id": arguments.model_dump(mode="json")["id"]}


@dataclass(frozen=True)
class Lookup:
    """`{"reference": … | null}`; no match is an answer, not an error, and its `note` says so plainly."""

    noun: str

    @property
    def output_schema(self) -> dict[str, Any]:
        return {**fields(reference=_or_null("object"), note=STRING), "required": ["reference"]}

    def shape(self, body: Any, arguments: Arguments) -> dict[str, Any]:
        found = _object(body)
        if "reference" not in found:
            raise UnexpectedShape("expected an object with a reference")
        if found["reference"] is not None:
            return found
        asked = ", ".join(f"{k}={v!r}" for k, v in arguments.model_dump(mode="json", exclude_none=True).items())
        return {**found, "note": f"No {self.noun} matches {asked}."}
