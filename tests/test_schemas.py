"""The tools/list answer: pinned by a snapshot, and every schema rule clients depend on checked per tool."""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from mcp import Client

from tests.conftest import connected
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
from tools.results import INTEGER, STRING, CursorPage, Deleted, Lookup, OffsetPage

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


SAID_ONCE = {"project_id", "organization_id", "id", "limit", "offset", "after"}
"""Arguments that the server's instructions explain once for every tool (the defaults, and paging), or whose tool's
description says it (the id of what it acts on): none of them repeats that in each tool's schema."""


def self_evident(spec: ToolSpec[Any], name: str) -> bool:
    """An argument whose name says it all: one of SAID_ONCE, or an optional filter of a list tool."""
    return name in SAID_ONCE or (spec.name.endswith("-list") and name not in spec.input_schema.get("required", []))


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_every_property_is_described_and_optional_ones_are_not_nullable(spec: ToolSpec[Any]) -> None:
    schema = spec.input_schema
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        assert prop.get("description") or self_evident(spec, name), f"{name} has no description"
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
            assert "description" not in prop, "the server's instructions say once what it defaults to"
        else:
            assert name in schema["required"]


@pytest.mark.parametrize("spec", [spec for spec in TOOLS if spec.method == "DELETE"], ids=lambda spec: spec.name)
def test_a_deletes_description_says_what_is_lost(spec: ToolSpec[Any]) -> None:
    assert "cannot be undone" in spec.description or "stops" in spec.description


async def test_the_instructions_say_once_what_project_id_and_organization_id_default_to(client: Client) -> None:
    assert client.instructions is not None
    assert (
        "Without project_id, a tool acts in the server's default project (POSTHOG_PROJECT_ID), else the API key "
        "owner's current project; without organization_id (a UUID), likewise in POSTHOG_ORGANIZATION_ID, else the "
        "current organization." in client.instructions
    )


def named(spec: ToolSpec[Any]) -> tuple[set[str], set[str]]:
    """What a tool's output schema must name, at the top and in each row: what this server adds or relies on."""
    result = spec.result
    if isinstance(result, OffsetPage):
        return {"count", "next", "previous", "next_offset", "results", "_truncated"}, {"id", "_shortened"}
    if isinstance(result, CursorPage):
        return {"next_cursor", "has_more", result.items, "_truncated"}, {"id", "_shortened"}
    if isinstance(result, Lookup):
        return {"reference", "note", "_shortened"}, set()
    if isinstance(result, Deleted):
        return {"deleted", "id"}, set()
    return {"_shortened"}, set()


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_each_output_schema_names_what_this_server_adds_or_relies_on_and_takes_posthogs_other_fields(
    spec: ToolSpec[Any],
) -> None:
    """A typed client builds classes from the output schema: what it names is typed, and an object that says
    additionalProperties: true keeps the fields it does not name. Only the server's own `{"deleted", "id"}` and
    `_truncated` are closed."""
    schema = spec.output_schema
    top, row = named(spec)
    assert set(schema["properties"]) == top
    assert (schema.get("additionalProperties") is True) is not isinstance(spec.result, Deleted)
    rows = [prop["items"] for prop in schema["properties"].values() if prop.get("type") == "array"]
    assert [set(item["properties"]) for item in rows] == ([row] if row else [])
    assert all(item["additionalProperties"] is True for item in rows)
    if "_truncated" in top:
        assert schema["properties"]["_truncated"]["properties"] == {"omitted": INTEGER, "hint": STRING}


KIND_ANSWERS = [
    ("myspace", True, 'PostHog refused the request (400): "myspace" is not a valid choice (field: kind)'),
    ("Twilio", True, 'PostHog refused the request (400): "Twilio" is not a valid choice (field: kind)'),
    ("SLACK", True, 'PostHog refused the request (400): "SLACK" is not a valid choice (field: kind)'),
    (" slack", True, 'PostHog refused the request (400): " slack" is not a valid choice (field: kind)'),
    ("vercel", True, "PostHog refused the request (400): Kind not supported"),
    ("slack-posthog-code", True, "PostHog refused the request (400): This integration kind is deprecated"),
    ("slack", False, "'slack' is connected through a browser sign-in (OAuth)"),
    ("github", False, "'github' is connected by installing PostHog's GitHub App in a browser."),
    ("google-pubsub", False, "'google-pubsub' needs a service-account key file uploaded"),
    ("twilio", True, ""),
]


@pytest.mark.parametrize(("kind", "sent", "answer"), KIND_ANSWERS, ids=[kind for kind, _, _ in KIND_ANSWERS])
async def test_create_takes_kind_as_a_string_and_posthog_judges_it(
    client: Client, fake: FakePostHog, kind: str, sent: bool, answer: str
) -> None:
    """integrations-create lists no kinds in its schema (they are in its description): PostHog validates the kind,
    in its own letter case; only the kinds that need a browser are refused here, before anything is sent."""
    result = await client.call_tool(
        "integrations-create", {"kind": kind, "config": {"account_sid": "AC1", "auth_token": "t"}}
    )
    assert [request.body["kind"] for request in fake.requests] == ([kind] if sent else [])
    assert result.is_error is bool(answer)
    assert result.content[0].model_dump()["text"].startswith(answer)


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


ADDED = ("_truncated", "_shortened", "note", "next_offset")
"""The fields this server adds to PostHog's answers: wherever one appears, its schema names it."""


def undeclared(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """The keys of `value`, at any depth, that its schema does not declare where the schema is an object with
    properties. An object that says additionalProperties: true declares PostHog's other fields too (a typed client
    keeps them as they came), but never this server's own."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "object" and isinstance(value, dict):
            return undeclared(branch, value, where)
    if isinstance(value, dict) and "properties" in schema:
        properties, open_ = schema["properties"], schema.get("additionalProperties") is True
        return [
            missing
            for key, item in value.items()
            for missing in (
                undeclared(properties[key], item, f"{where}.{key}")
                if key in properties
                else ([] if open_ and key not in ADDED else [f"{where}.{key}"])
            )
        ]
    if isinstance(value, list) and "items" in schema:
        return [
            missing
            for index, item in enumerate(value)
            for missing in undeclared(schema["items"], item, f"{where}[{index}]")
        ]
    return []


def make_long(fake: FakePostHog) -> None:
    """Pages and records too long for a 500-token budget, of each kind, and a row too long for it on its own."""
    for index in range(40):
        fake.add_integration("twilio", {"account_sid": f"AC{index:032d}"}, display_name=f"Support line {index}")
        fake.add_role_external_reference("okta", "acme", f"role-{index}", provider_role_name=f"Team {index}" * 9)
    fake.add_integration("postgresql", {"host": "db"}, display_name="N" * 10_000)
    fake.add_role_external_reference("azure", "acme", "role-1", provider_role_name="R" * 10_000)
    agents = [{"id": f"agent_{index:03d}", "name": f"Agent {index}" * 9, "version": 1} for index in range(40)]
    fake.anthropic_resources[ANTHROPIC_INTEGRATION_ID] = {
        "agents": agents,
        "environments": [{"id": "env_big", "name": "E" * 10_000}],
        "vaults": [{"id": "vlt_big", "display_name": "V" * 10_000}],
    }
    fake.integrations[SLACK_INTEGRATION_ID].config["scopes"] = [f"scope:{index}" for index in range(3_000)]
    fake.organization_integrations[VERCEL_ORG_INTEGRATION_ID].config["account"]["name"] = "A" * 10_000


NO_MATCH = {"provider": "github", "provider_organization_id": "posthog", "provider_role_id": "404"}
ANTHROPIC = {"id": ANTHROPIC_INTEGRATION_ID}
LONG_RESULTS: list[tuple[str, dict[str, Any], str]] = [
    ("integrations-list", {}, "_truncated"),
    ("integrations-list", {"kind": "postgresql"}, "_shortened"),
    ("integrations-get", {"id": SLACK_INTEGRATION_ID}, "_shortened"),
    (
        "integrations-create",
        {"kind": "twilio", "config": {"account_sid": "A" * 10_000, "auth_token": "t"}},
        "_shortened",
    ),
    ("integrations-anthropic-agents-list", ANTHROPIC, "_truncated"),
    ("integrations-anthropic-environments-list", ANTHROPIC, "_shortened"),
    ("integrations-anthropic-vaults-list", ANTHROPIC, "_shortened"),
    ("role-external-references-list", {}, "_truncated"),
    ("role-external-references-list", {"provider": "azure"}, "_shortened"),
    ("role-external-references-lookup", {**NO_MATCH, "provider_role_id": "x" * 3_000}, "_shortened"),
    ("org-integrations-environment-mapping-update", {"id": VERCEL_ORG_INTEGRATION_ID, "production": 1}, "_shortened"),
]
"""Calls whose results a 500-token budget cuts, and the field that says so."""


def found(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(found(item, key) for item in value.values())
    return isinstance(value, list) and any(found(item, key) for item in value)


async def test_every_result_fits_its_output_schema_and_every_field_in_it_is_declared(mode: str) -> None:
    """Every tool's result from the fake (deletes last, so that what later calls read is still there), a lookup
    without a match, and results cut to a small budget. The client checks each against its tool's output schema;
    here each key at every level must be declared too."""
    fake, cut = FakePostHog(), FakePostHog()
    make_long(cut)
    ordered = sorted(TOOLS, key=lambda spec: spec.method == "DELETE")
    calls = [(spec.name, A_CALL_THAT_WORKS[spec.name], "") for spec in ordered]
    results = []
    async with connected(fake, {}, mode) as client:
        schemas = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
        for name, arguments, field in [*calls, ("role-external-references-lookup", NO_MATCH, "note")]:
            results.append((name, field, await client.call_tool(name, arguments)))
    async with connected(cut, {"POSTHOG_MCP_MAX_RESULT_TOKENS": "500"}, mode) as client:
        results += [(name, field, await client.call_tool(name, arguments)) for name, arguments, field in LONG_RESULTS]
    assert [(name, result.content) for name, _, result in results if result.is_error] == []
    missing = [
        (name, field) for name, field, result in results if field and not found(result.structured_content, field)
    ]
    assert missing == []
    lost = [(name, undeclared(schemas[name] or {}, result.structured_content)) for name, _, result in results]
    assert lost == [(name, []) for name, _, _ in results]
