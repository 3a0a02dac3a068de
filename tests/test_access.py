"""Which tools a key is offered, read from PostHog's record of the key: each scope, project limits, unreadable records.

The names of the tools are written out in each row, not derived from the tool table, so that a wrong rule in the
server cannot be copied into the expectation.
"""

from __future__ import annotations

import logging
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from starlette.responses import JSONResponse, Response

from server.options import Options
from tests.conftest import connected
from tests.fake_posthog import FakePostHog, Key, Recorded

KEY = "phx_test_access_0000000000000000000000000000000000"
KEY_RECORD = "/api/personal_api_keys/@current/"
INTEGRATION_READS = [
    "integrations-list",
    "integrations-get",
    "integrations-anthropic-agents-list",
    "integrations-anthropic-environments-list",
    "integrations-anthropic-vaults-list",
]
INTEGRATION_TOOLS = [
    "integrations-list",
    "integrations-get",
    "integrations-create",
    "integrations-delete",
    "integrations-anthropic-agents-list",
    "integrations-anthropic-environments-list",
    "integrations-anthropic-vaults-list",
]
REFERENCE_READS = ["role-external-references-list", "role-external-references-lookup"]
REFERENCE_TOOLS = [
    "role-external-references-list",
    "role-external-references-create",
    "role-external-references-delete",
    "role-external-references-lookup",
]
ORG_INTEGRATION_TOOLS = ["org-integrations-delete", "org-integrations-environment-mapping-update"]
EVERY_TOOL = [*INTEGRATION_TOOLS, *REFERENCE_TOOLS, *ORG_INTEGRATION_TOOLS]
PROJECT_LIMITED = "the API key is limited to specific projects, and PostHog refuses such keys on organization tools"


async def listed(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]


def text(result: types.CallToolResult) -> str:
    return str(result.content[0].model_dump()["text"])


def with_key(fake: FakePostHog, scopes: str, scoped_teams: tuple[int, ...] | None = ()) -> dict[str, str]:
    """A key PostHog knows with these scopes (space-separated), as the server's configured key."""
    fake.keys[KEY] = Key(frozenset(scopes.split()), scoped_teams=scoped_teams)
    return {"POSTHOG_PERSONAL_API_KEY": KEY}


@pytest.mark.parametrize(
    ("scopes", "offered"),
    [
        ("*", EVERY_TOOL),
        ("integration:read", INTEGRATION_READS),
        ("integration:write", INTEGRATION_TOOLS),
        ("integration:read integration:write", INTEGRATION_TOOLS),
        ("organization:read", REFERENCE_READS),
        ("organization:write", REFERENCE_TOOLS),
        ("organization_integration:write", ORG_INTEGRATION_TOOLS),
        ("organization_integration:read", []),
        ("integration:read organization:write", [*INTEGRATION_READS, *REFERENCE_TOOLS]),
        ("organization:write organization_integration:write", [*REFERENCE_TOOLS, *ORG_INTEGRATION_TOOLS]),
        ("feature_flag:write project:read user:read", []),
        ("integration", []),
        ("integration:*", []),
        ("read", []),
    ],
)
async def test_a_key_is_offered_the_tools_its_scopes_allow_and_write_implies_read(
    fake: FakePostHog, mode: str, scopes: str, offered: list[str]
) -> None:
    async with connected(fake, with_key(fake, scopes), mode, options=Options()) as client:
        assert await listed(client) == offered
    assert [(request.method, request.path) for request in fake.requests] == [("GET", KEY_RECORD)]


@pytest.mark.parametrize(
    ("scopes", "tool", "missing"),
    [
        ("integration:read", "integrations-delete", "integration:write"),
        ("integration:write", "role-external-references-list", "organization:read"),
        ("organization:read", "role-external-references-delete", "organization:write"),
        ("organization:write", "org-integrations-delete", "organization_integration:write"),
        ("organization_integration:read", "org-integrations-delete", "organization_integration:write"),
    ],
)
async def test_a_call_the_scopes_do_not_allow_names_the_scope_and_sends_nothing(
    fake: FakePostHog, mode: str, scopes: str, tool: str, missing: str
) -> None:
    arguments = {"id": "0192f5a8-7c1e-7000-8000-00000000d001"} if "delete" in tool else {}
    async with connected(fake, with_key(fake, scopes), mode, options=Options()) as client:
        await listed(client)
        result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert text(result) == (
        f"{tool} is not available here: the API key lacks the scope {missing}. Nothing was sent to PostHog."
    )
    assert [request.path for request in fake.requests] == [KEY_RECORD]


@pytest.mark.parametrize(
    ("scoped_teams", "offered"),
    [
        ((1,), INTEGRATION_TOOLS),
        ((1, 2), INTEGRATION_TOOLS),
        ((), EVERY_TOOL),
        (None, EVERY_TOOL),
    ],
    ids=["one project", "two projects", "not limited ([])", "not limited (null, a key older than scoping)"],
)
async def test_only_a_key_limited_to_projects_loses_the_organization_tools(
    fake: FakePostHog, mode: str, scoped_teams: tuple[int, ...] | None, offered: list[str]
) -> None:
    async with connected(fake, with_key(fake, "*", scoped_teams), mode, options=Options()) as client:
        assert await listed(client) == offered


@pytest.mark.parametrize("tool", [*REFERENCE_TOOLS, *ORG_INTEGRATION_TOOLS])
async def test_an_organization_tool_called_with_a_project_limited_key_says_why_and_sends_nothing(
    fake: FakePostHog, tool: str
) -> None:
    async with connected(fake, with_key(fake, "*", (1,)), options=Options()) as client:
        await listed(client)
        result = await client.call_tool(tool, {})
    assert text(result) == f"{tool} is not available here: {PROJECT_LIMITED}. Nothing was sent to PostHog."
    assert [request.path for request in fake.requests] == [KEY_RECORD]


@pytest.mark.parametrize(
    "record",
    [
        [{"scopes": ["integration:read"]}],
        "integration:read",
        42,
        {"scoped_teams": []},
        {"scopes": "integration:read"},
        {"scopes": None},
        {"scopes": {"integration:read": True}},
    ],
    ids=repr,
)
async def test_a_key_record_without_a_list_of_scopes_leaves_every_tool_offered_and_says_why(
    fake: FakePostHog, mode: str, record: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    async def answer(request: Recorded) -> Response | None:
        return JSONResponse(record) if request.path == KEY_RECORD else None

    fake.intercept = answer
    async with connected(fake, with_key(fake, "integration:read"), mode, options=Options()) as client:
        assert await listed(client) == EVERY_TOOL
    assert [logged.getMessage() for logged in caplog.records] == [
        "Could not read the API key's scopes, so every tool stays listed: the key's record has no list of scopes"
    ]


async def test_the_operators_read_only_mode_is_named_before_a_missing_scope(fake: FakePostHog, mode: str) -> None:
    options = Options(read_only=True)
    async with connected(fake, with_key(fake, "integration:read"), mode, options=options) as client:
        assert await listed(client) == INTEGRATION_READS
        result = await client.call_tool("integrations-delete", {"id": 101})
    assert text(result) == (
        "integrations-delete is not available here: the server runs in read-only mode (--read-only or "
        "POSTHOG_MCP_READ_ONLY). Nothing was sent to PostHog."
    )


async def test_the_operators_tool_filter_is_named_before_a_missing_scope(fake: FakePostHog, mode: str) -> None:
    options = Options(enabled=frozenset({"integrations-list", "integrations-get"}))
    async with connected(fake, with_key(fake, "organization:read"), mode, options=options) as client:
        assert await listed(client) == []
        result = await client.call_tool("integrations-delete", {"id": 101})
    assert text(result) == (
        "integrations-delete is not available here: the operator's tool filter leaves it out (--toolsets, --tools, "
        "--exclude-tools). Nothing was sent to PostHog."
    )


async def test_a_request_for_read_only_mode_over_http_is_named_when_a_write_is_refused(fake: FakePostHog) -> None:
    headers = {"X-PostHog-Read-Only": "1"}
    async with connected(fake, mode="http", options=Options(scope_check=False), headers=headers) as client:
        assert await listed(client) == [*INTEGRATION_READS, *REFERENCE_READS]
        result = await client.call_tool("integrations-delete", {"id": 101})
    assert text(result) == (
        "integrations-delete is not available here: this request asked for read-only mode (X-PostHog-Read-Only). "
        "Nothing was sent to PostHog."
    )
    assert fake.requests == []
