"""The tools/list answer: pinned by a snapshot, and every schema rule clients depend on checked per tool."""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from mcp import Client

from tests.fake_posthog import (
    ANTHROPIC_INTEGRATION_ID,
    OTHER_PROJECT_ID,
    ROLE_ID,
    SLACK_INTEGRATION_ID,
    SLACK_ROLE_REFERENCE_ID,
    TWILIO_INTEGRATION_ID,
    VERCEL_ORG_INTEGRATION_ID,
    FakePostHog,
)
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
def test_description_says_the_scope_and_what_comes_back(spec: ToolSpec[Any]) -> None:
    assert spec.title
    assert f"Needs {spec.scope}" in spec.description
    says_what_returns = "eturn" in spec.description or spec.description.startswith("Get")
    assert says_what_returns or spec.output_schema != {"type": "object"}, "neither description nor schema says it"
    if spec.method == "DELETE":
        assert "cannot be undone" in spec.description or "stops" in spec.description


A_CALL_THAT_WORKS: dict[str, dict[str, Any]] = {
    "integrations-list": {},
    "integrations-get": {"id": SLACK_INTEGRATION_ID},
    "integrations-create": {"kind": "twilio", "config": {"account_sid": "AC1", "auth_token": "t"}},
    "integrations-delete": {"id": TWILIO_INTEGRATION_ID},
    "integrations-anthropic-agents-list": {"id": ANTHROPIC_INTEGRATION_ID},
    "integrations-anthropic-environments-list": {"id": ANTHROPIC_INTEGRATION_ID},
    "integrations-anthropic-vaults-list": {"id": ANTHROPIC_INTEGRATION_ID},
    "role-external-references-list": {},
    "role-external-references-create": {
        "provider": "github",
        "provider_organization_id": "posthog",
        "provider_role_id": "777",
        "provider_role_name": "Platform",
        "role": ROLE_ID,
    },
    "role-external-references-delete": {"id": SLACK_ROLE_REFERENCE_ID},
    "role-external-references-lookup": {
        "provider": "github",
        "provider_organization_id": "posthog",
        "provider_role_id": "12345",
    },
    "org-integrations-delete": {"id": VERCEL_ORG_INTEGRATION_ID},
    "org-integrations-environment-mapping-update": {"id": VERCEL_ORG_INTEGRATION_ID, "production": OTHER_PROJECT_ID},
}


def posthog_records(fake: FakePostHog) -> dict[str, str]:
    """Every record the tools can change, by kind and id, as text to compare."""
    return {
        f"{kind} {key}": repr(record)
        for kind, records in (
            ("integration", fake.integrations),
            ("organization integration", fake.organization_integrations),
            ("role external reference", fake.role_external_references),
        )
        for key, record in records.items()
    }


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
async def test_each_tools_hints_are_true_of_what_its_call_does_in_posthog(
    client: Client, fake: FakePostHog, spec: ToolSpec[Any]
) -> None:
    """Read-only: PostHog is unchanged. Idempotent: the same call again changes nothing more. Destructive: a record
    that was there is gone. Measured on the fake PostHog, not read back from the table the hints come from."""
    (tool,) = [tool for tool in (await client.list_tools()).tools if tool.name == spec.name]
    assert tool.annotations is not None
    before = posthog_records(fake)
    first = await client.call_tool(spec.name, A_CALL_THAT_WORKS[spec.name])
    assert first.is_error is False, first.content
    once = posthog_records(fake)
    again = await client.call_tool(spec.name, A_CALL_THAT_WORKS[spec.name])
    twice = posthog_records(fake)
    assert tool.annotations.read_only_hint is (once == before)
    assert tool.annotations.destructive_hint is bool(set(before) - set(once))
    if tool.annotations.idempotent_hint:
        assert twice == once
    else:
        assert twice != once or again.is_error, "a repeat should make another record, or be refused as a duplicate"
    assert tool.annotations.open_world_hint is True
