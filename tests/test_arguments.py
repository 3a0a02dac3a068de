"""Arguments through the MCP client: what reaches PostHog, and the words a model reads when they do not fit."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from tests.fake_posthog import ROLE_ID, FakePostHog

INVALID = "Invalid arguments for {tool}; nothing was sent to PostHog:\n"
ITEM = "/api/projects/@current/integrations/{id}/"
LIST = "/api/projects/@current/integrations/"
REFERENCE = {
    "provider": "github",
    "provider_organization_id": "posthog",
    "provider_role_id": "777",
    "provider_role_name": "Platform",
    "role": ROLE_ID,
}


def text(result: types.CallToolResult) -> str:
    return str(result.content[0].model_dump()["text"])


@pytest.mark.parametrize(
    ("tool", "arguments", "path", "query"),
    [
        ("integrations-get", {"id": "7"}, ITEM.format(id=7), {}),
        ("integrations-get", {"id": " 7 "}, ITEM.format(id=7), {}),
        ("integrations-get", {"id": "+7"}, ITEM.format(id=7), {}),
        ("integrations-get", {"id": "007"}, ITEM.format(id=7), {}),
        ("integrations-get", {"id": "9" * 30}, ITEM.format(id="9" * 30), {}),
        ("integrations-get", {"id": "7", "project_id": "2"}, "/api/projects/2/integrations/7/", {}),
        ("integrations-list", {"limit": "5", "offset": "0"}, LIST, {"limit": "5", "offset": "0"}),
        ("integrations-list", {"limit": "100", "offset": " 40"}, LIST, {"limit": "100", "offset": "40"}),
    ],
    ids=repr,
)
async def test_a_whole_number_sent_as_a_string_reaches_posthog_as_that_number(
    client: Client, fake: FakePostHog, tool: str, arguments: dict[str, Any], path: str, query: dict[str, str]
) -> None:
    await client.call_tool(tool, arguments)
    (request,) = fake.requests
    assert (request.method, request.path, request.query) == ("GET", path, query)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"id": "7.0"}, "id: Input should be a valid integer (got '7.0')"),
        ({"id": 7.0}, "id: Input should be a valid integer (got 7.0)"),
        ({"id": 7.5}, "id: Input should be a valid integer (got 7.5)"),
        ({"id": True}, "id: Input should be a valid integer (got True)"),
        ({"id": "1e3"}, "id: Input should be a valid integer (got '1e3')"),
        ({"id": "0x1F"}, "id: Input should be a valid integer (got '0x1F')"),
        ({"id": "1_000"}, "id: Input should be a valid integer (got '1_000')"),
        pytest.param({"id": "٣"}, "id: Input should be a valid integer (got '٣')", id="an Arabic-Indic digit"),
        pytest.param(
            {"id": "\uff11\uff12"}, "id: Input should be a valid integer (got '\uff11\uff12')", id="full-width digits"
        ),
        ({"id": "7 7"}, "id: Input should be a valid integer (got '7 7')"),
        ({"id": ""}, "id: Input should be a valid integer (got '')"),
        ({"id": "9" * 31}, f"id: Input should be a valid integer (got '{'9' * 31}')"),
        ({"id": [7]}, "id: Input should be a valid integer (got [7])"),
        ({"id": "0"}, "id: Input should be greater than or equal to 1 (got 0)"),
        ({"id": "-7"}, "id: Input should be greater than or equal to 1 (got -7)"),
        ({"id": -7}, "id: Input should be greater than or equal to 1 (got -7)"),
    ],
    ids=repr,
)
async def test_anything_but_a_positive_whole_number_as_an_id_is_refused_naming_the_field(
    client: Client, fake: FakePostHog, arguments: dict[str, Any], problem: str
) -> None:
    result = await client.call_tool("integrations-get", arguments)
    assert result.is_error is True
    assert text(result) == INVALID.format(tool="integrations-get") + f"- {problem}"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("tool", "arguments", "problems"),
    [
        ("integrations-get", {}, ["id: required"]),
        ("integrations-get", None, ["id: required"]),
        ("integrations-get", {"id": 101, "bogus": 1}, ["bogus: unknown argument"]),
        ("integrations-get", {"id": 101, "bogus": None}, ["bogus: unknown argument"]),
        ("integrations-get", {"id": None}, ["id: Input should be a valid integer (got None)"]),
        (
            "integrations-create",
            {"kind": "twilio", "config": None},
            ["config: Input should be a valid dictionary (got None)"],
        ),
        (
            "integrations-get",
            {"id": 101, "project_id": None},
            ["project_id: null is not allowed; leave it out to use the default"],
        ),
        ("integrations-list", {"limit": "101"}, ["limit: Input should be less than or equal to 100 (got 101)"]),
        ("integrations-list", {"offset": -1}, ["offset: Input should be greater than or equal to 0 (got -1)"]),
        ("integrations-list", {"kind": ""}, ["kind: String should have at least 1 character (got '')"]),
        (
            "role-external-references-delete",
            {"id": "nope"},
            ["id: Input should be a UUID such as 0189c2a4-8e5b-7c3d-9f00-1234567890ab (got 'nope')"],
        ),
        (
            "role-external-references-delete",
            {"id": 5},
            ["id: Input should be a UUID such as 0189c2a4-8e5b-7c3d-9f00-1234567890ab (got 5)"],
        ),
        (
            "role-external-references-list",
            {"organization_id": "acme"},
            ["organization_id: Input should be a UUID such as 0189c2a4-8e5b-7c3d-9f00-1234567890ab (got 'acme')"],
        ),
        (
            "role-external-references-lookup",
            {"provider": "github", "provider_organization_id": "posthog"},
            ["give provider_role_id or provider_role_slug (or both)"],
        ),
        (
            "integrations-create",
            {"config": {}, "project_id": "x", "extra": 1},
            ["project_id: Input should be a valid integer (got 'x')", "kind: required", "extra: unknown argument"],
        ),
        (
            "org-integrations-environment-mapping-update",
            {"id": "0192f5a8-7c1e-7000-8000-00000000d001", "production": "2", "preview": None, "development": 0},
            [
                "preview: null is not allowed; leave it out to use the default",
                "development: Input should be greater than or equal to 1 (got 0)",
            ],
        ),
    ],
    ids=repr,
)
async def test_every_problem_is_named_at_once_in_words_a_model_can_act_on(
    client: Client, fake: FakePostHog, tool: str, arguments: dict[str, Any] | None, problems: list[str]
) -> None:
    result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert result.structured_content is None
    assert text(result) == INVALID.format(tool=tool) + "\n".join(f"- {problem}" for problem in problems)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("x" * 58, "'" + "x" * 58 + "'"),
        ("x" * 59, "'" + "x" * 56 + "..."),
        ("x" * 10_000, "'" + "x" * 56 + "..."),
    ],
    ids=["60 characters shown whole", "61 cut to 60", "10,000 cut to 60"],
)
async def test_a_long_value_is_quoted_cut_to_60_characters(
    client: Client, fake: FakePostHog, given: str, shown: str
) -> None:
    result = await client.call_tool("integrations-get", {"id": given})
    problem = f"- id: Input should be a valid integer (got {shown})"
    assert text(result) == INVALID.format(tool="integrations-get") + problem
    assert len(shown) == 60


async def test_null_goes_to_posthog_where_the_api_gives_it_a_meaning(client: Client, fake: FakePostHog) -> None:
    result = await client.call_tool("role-external-references-create", {**REFERENCE, "provider_role_slug": None})
    assert result.is_error is False
    (request,) = fake.requests
    assert request.body == {**REFERENCE, "provider_role_slug": None}
