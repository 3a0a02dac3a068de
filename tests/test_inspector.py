"""The MCP Inspector CLI (pinned) drives the installed server over stdio, as a person trying it would."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import node_tool
from tests.fake_posthog import FULL_KEY, SLACK_INTEGRATION_ID, FakePostHog, running

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")


@pytest.fixture
def inspector() -> str:
    return node_tool("INSPECTOR_BIN", "inspector", "MCP Inspector")


async def inspect(inspector: str, url: str, *arguments: str) -> tuple[int, Any]:
    command = [inspector, "--cli", "-e", f"POSTHOG_PERSONAL_API_KEY={FULL_KEY}", "-e", f"POSTHOG_HOST={url}"]
    command += [*arguments, "--format", "json", "-q", "--", str(SCRIPT)]
    with anyio.fail_after(90):
        done = await anyio.run_process(command, check=False)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None


async def test_inspector_lists_13_portable_tools(fake: FakePostHog, inspector: str) -> None:
    async with running(fake) as url:
        code, answer = await inspect(inspector, url, "--method", "tools/list", "--strict")
    assert code == 0, answer
    assert "schemaFindings" not in answer, answer["schemaFindings"]
    assert len(answer["result"]["tools"]) == 13


async def test_inspector_calls_a_tool_that_reaches_posthog(fake: FakePostHog, inspector: str) -> None:
    async with running(fake) as url:
        arguments = json.dumps({"id": SLACK_INTEGRATION_ID})
        code, answer = await inspect(
            inspector, url, "--method", "tools/call", "--tool-name", "integrations-get", "--tool-args-json", arguments
        )
    assert code == 0, answer
    assert answer["result"]["structuredContent"]["config"]["access_token"] == "[redacted]"
    assert ("GET", "/api/projects/@current/integrations/101/") in [(r.method, r.path) for r in fake.requests]


async def test_inspector_exits_5_on_an_error_result(fake: FakePostHog, inspector: str) -> None:
    async with running(fake) as url:
        code, answer = await inspect(
            inspector, url, "--method", "tools/call", "--tool-name", "integrations-get", "--tool-args-json", "{}"
        )
    assert code == 5
    assert answer["result"]["isError"] is True
    assert all(request.path == "/api/personal_api_keys/@current/" for request in fake.requests)
