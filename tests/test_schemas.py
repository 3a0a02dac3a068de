"""The tools/list answer: pinned by a snapshot, and every schema rule clients depend on checked per tool."""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import Formatter
from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from tools import TOOLS, ToolSpec

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"
ROOT_COMPOSITION = ("anyOf", "oneOf", "allOf", "$ref", "not")


def _keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys_anywhere(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys_anywhere(item)}
    return set()


async def test_tools_list_matches_the_snapshot(client: Client) -> None:
    listing = await client.list_tools()
    tools = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listing.tools]
    answer = json.dumps(tools, indent=2, sort_keys=True)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(answer + "\n")
    assert answer + "\n" == SNAPSHOT.read_text(), (
        "tools/list drifted: rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    )


async def test_tools_list_names_every_spec_once_in_table_order(client: Client) -> None:
    listing = await client.list_tools()
    assert [tool.name for tool in listing.tools] == [spec.name for spec in TOOLS]
    assert len(TOOLS) == 13


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_input_schema_is_a_flat_closed_object(spec: ToolSpec[Any]) -> None:
    schema = spec.input_schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert not set(schema) & set(ROOT_COMPOSITION)
    assert "$defs" not in _keys_anywhere(schema)
    assert "title" not in _keys_anywhere({name: prop for name, prop in schema["properties"].items()})


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_every_property_is_described_and_optional_ones_are_not_nullable(spec: ToolSpec[Any]) -> None:
    schema = spec.input_schema
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"
        assert "default" not in prop, f"{name} shows a default"
        if name not in spec.arguments.nullable:
            assert "anyOf" not in prop, f"{name} is nullable, but the API gives null no meaning"
        else:
            assert name not in required
            assert {"type": "null"} in prop["anyOf"]


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_path_parameters_are_typed_and_required_except_the_defaulted_scope(spec: ToolSpec[Any]) -> None:
    schema = spec.input_schema
    placeholders = {name for _, name, _, _ in Formatter().parse(spec.path) if name}
    for name in placeholders:
        prop = schema["properties"][name]
        assert prop["type"] == "integer" or prop.get("format") == "uuid", f"{name} is not an integer or a UUID"
        if name in ("project_id", "organization_id"):
            assert name not in schema.get("required", [])
            assert "current" in prop["description"]
        else:
            assert name in schema["required"]


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_annotations_are_explicit_and_match_the_method(spec: ToolSpec[Any]) -> None:
    hints = spec.annotations
    assert hints.open_world is True
    if spec.method == "GET":
        assert (hints.read_only, hints.destructive, hints.idempotent) == (True, False, True)
    elif spec.method == "DELETE":
        assert (hints.read_only, hints.destructive, hints.idempotent) == (False, True, True)
    else:
        assert hints.read_only is False
        assert hints.destructive is False


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_description_says_the_scope_and_what_comes_back(spec: ToolSpec[Any]) -> None:
    assert spec.title
    assert f"Needs {spec.scope}" in spec.description
    says_what_returns = "eturn" in spec.description or spec.description.startswith("Get")
    assert says_what_returns or spec.output_schema != {"type": "object"}, "neither description nor schema says it"
    if spec.method == "DELETE":
        assert "cannot be undone" in spec.description or "stops" in spec.description


async def test_all_four_annotations_reach_the_client(client: Client) -> None:
    listing = await client.list_tools()
    for tool in listing.tools:
        assert isinstance(tool.annotations, types.ToolAnnotations)
        hints = tool.annotations.model_dump(exclude_none=True)
        assert set(hints) == {"read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"}, tool.name


async def test_lists_deletes_and_lookup_declare_a_structured_output_schema(client: Client) -> None:
    listing = await client.list_tools()
    for tool in listing.tools:
        assert tool.output_schema is not None
        assert tool.output_schema["type"] == "object"
        if "list" in tool.name or "delete" in tool.name or "lookup" in tool.name:
            assert tool.output_schema["required"], tool.name
