"""The TypeScript SDKs (pinned, installed by .ci/run) call every tool over stdio and over HTTP, as a Node host would.

One Node process per SDK, protocol era and transport runs the whole plan; each of its rows is checked against what
the Python client gets for the same call on a PostHog in the same state.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest

from server.config import Settings
from server.http import build_http_app
from server.options import Options
from tests.conftest import FakeClock, connected
from tests.fake_posthog import (
    ANTHROPIC_INTEGRATION_ID,
    FULL_KEY,
    OTHER_ROLE_ID,
    SLACK_INTEGRATION_ID,
    VERCEL_ORG_INTEGRATION_ID,
    FakePostHog,
    running,
    serving,
)
from tools import TOOLS

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
RUNNER = Path(__file__).with_name("ts") / "every_tool.mjs"
SDKS = {
    "sdk1": ("TS_SDK1_DIR", "@modelcontextprotocol/sdk"),
    "client2": ("TS_CLIENT2_DIR", "@modelcontextprotocol/client"),
}
PLAN: list[tuple[str, dict[str, Any]]] = [
    ("integrations-list", {}),
    ("integrations-get", {"id": SLACK_INTEGRATION_ID}),
    ("integrations-create", {"kind": "anthropic", "config": {"api_key": "sk-ant-api03-new", "workspace_label": "QA"}}),
    ("integrations-delete", {"id": "$integrations-create"}),
    ("integrations-anthropic-agents-list", {"id": ANTHROPIC_INTEGRATION_ID, "limit": 2}),
    ("integrations-anthropic-environments-list", {"id": ANTHROPIC_INTEGRATION_ID}),
    ("integrations-anthropic-vaults-list", {"id": ANTHROPIC_INTEGRATION_ID}),
    ("role-external-references-list", {}),
    (
        "role-external-references-lookup",
        {"provider": "github", "provider_organization_id": "posthog", "provider_role_slug": "frontend-team"},
    ),
    (
        "role-external-references-create",
        {
            "provider": "github",
            "provider_organization_id": "posthog",
            "provider_role_id": "67890",
            "provider_role_name": "Backend Team",
            "role": OTHER_ROLE_ID,
        },
    ),
    ("role-external-references-delete", {"id": "$role-external-references-create"}),
    (
        "org-integrations-environment-mapping-update",
        {"id": VERCEL_ORG_INTEGRATION_ID, "production": 2, "development": 1},
    ),
    ("org-integrations-delete", {"id": VERCEL_ORG_INTEGRATION_ID}),
    ("integrations-get", {"id": "one hundred and one"}),
]
"""Every tool once, each with arguments that succeed (a delete removes what a create made), then one bad argument.
An argument "$<tool>" stands for the id that tool's earlier call answered."""
DELETES = {"integrations-delete", "role-external-references-delete", "org-integrations-delete"}
RUNS = [
    pytest.param("sdk1", "legacy", "stdio", id="sdk1-stdio"),
    pytest.param("sdk1", "legacy", "http", id="sdk1-http"),
    pytest.param("client2", "legacy", "stdio", id="client2-legacy-stdio"),
    pytest.param("client2", "legacy", "http", id="client2-legacy-http"),
    pytest.param("client2", "auto", "stdio", id="client2-2026-stdio"),
    pytest.param("client2", "auto", "http", id="client2-2026-http"),
]
VERSIONS = {"legacy": "2025-11-25", "auto": "2026-07-28"}


@pytest.fixture(scope="module")
def node() -> str:
    """Node 22 or later on PATH (.ci/run puts it there); skipped without it, except in CI, where that fails."""
    found = shutil.which("node")
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
        if int(version.lstrip("v").split(".")[0] or 0) >= 22:
            return found
    if os.environ.get("CI"):
        pytest.fail("no Node >= 22 on PATH: .ci/run should have put it there")
    pytest.skip("no Node >= 22 on PATH (run the Node block of .ci/run)")


def package_folder(sdk: str) -> Path:
    """The folder .ci/run installed the SDK into, named by its variable; skipped or failed like node()."""
    variable, package = SDKS[sdk]
    folder = os.environ.get(variable)
    if folder and Path(folder, "node_modules", package, "package.json").is_file():
        return Path(folder)
    if os.environ.get("CI"):
        pytest.fail(f"no {package}: .ci/run should have installed it and set {variable}")
    pytest.skip(f"no {package} (set {variable}, or run .ci/run)")


@asynccontextmanager
async def server_for(transport: str, fake: FakePostHog) -> AsyncIterator[dict[str, Any]]:
    """How the script reaches the server: the installed command over stdio, or remote mode on 127.0.0.1 with the
    key as Bearer. Both with the defaults a user gets (scope check on, --confirm auto)."""
    if transport == "stdio":
        async with running(fake) as posthog:
            env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": posthog}
            yield {"command": str(SCRIPT), "args": [], "env": env}
        return
    app = build_http_app(Settings.from_env({}), Options(), httpx.ASGITransport(app=fake.app), FakeClock().policy())
    async with serving(app) as url:
        yield {"url": f"{url}/mcp", "key": FULL_KEY}


async def typescript_rows(node: str, sdk: str, mode: str, transport: str) -> tuple[list[dict[str, Any]], str]:
    """The script's rows and its stderr, against a fresh fake PostHog."""
    config = {"sdk": sdk, "dir": str(package_folder(sdk)), "mode": mode, "plan": PLAN}
    async with server_for(transport, FakePostHog()) as server:
        with anyio.fail_after(120):
            done = await anyio.run_process([node, str(RUNNER), json.dumps({**config, "server": server})], check=False)
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, stdout + stderr
    return [json.loads(line) for line in stdout.splitlines()], stderr


async def python_rows(mode: str) -> list[dict[str, Any]]:
    """The same plan through the Python SDK's client, in memory, the user saying yes to every confirmation."""
    asked: list[str] = []

    async def yes(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    rows: list[dict[str, Any]] = []
    ids: dict[str, Any] = {}
    async with connected(FakePostHog(), mode=mode, elicitation_callback=yes) as client:
        for name, given in PLAN:
            arguments = {key: ids[value[1:]] if _earlier(value) else value for key, value in given.items()}
            asked.clear()
            result = await client.call_tool(name, arguments)
            ids[name] = (result.structured_content or {}).get("id")
            row = {"call": name, "isError": bool(result.is_error), "structuredContent": result.structured_content}
            row["asked"] = len(asked)
            if result.is_error:
                row["text"] = "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))
            rows.append(row)
    return rows


def _earlier(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with what differs between two equal runs, the ids and creation times of new rows, replaced by names."""
    new = {
        row["structuredContent"]["id"]: f"<id of the row {row['call']} made>"
        for row in rows
        if row["call"].endswith("-create") and not row.get("isError", True)
    }

    def named(value: Any, key: str = "", made: bool = False) -> Any:
        if isinstance(value, dict):
            return {name: named(item, name, made) for name, item in value.items()}
        if isinstance(value, list):
            return [named(item, key, made) for item in value]
        if key == "id" and isinstance(value, int | str) and value in new:
            return new[value]
        return "<now>" if made and key == "created_at" else value

    return [named(row, made=row["call"].endswith("-create")) for row in rows]


@pytest.mark.parametrize(("sdk", "mode", "transport"), RUNS)
async def test_every_tool_works_through_the_typescript_sdks(node: str, sdk: str, mode: str, transport: str) -> None:
    """No result is rejected by the SDK's own output-schema validation (it throws), every call but the bad one
    succeeds, and each result is the one the Python client gets. The user is asked before each delete wherever the
    server can ask: everywhere but stateless HTTP in the handshake era, which has no channel to ask on. Closing
    reports no error either (the script writes what the SDK reports through onerror to stderr): the 1.x SDK used to
    report "SSE stream disconnected: AbortError" for the GET /mcp stream that never sent anything."""
    rows, stderr = await typescript_rows(node, sdk, mode, transport)
    assert [row for row in rows if "exception" in row] == []
    connect, listed, *calls = rows
    assert connect == {"call": "connect", "protocolVersion": VERSIONS[mode] if sdk == "client2" else None}
    assert listed["call"] == "tools/list"
    assert sorted(listed["tools"]) == sorted(spec.name for spec in TOOLS) == sorted({name for name, _ in PLAN})

    expected = await python_rows(mode)
    can_ask = transport == "stdio" or mode == "auto"
    if not can_ask:
        expected = [{**row, "asked": 0} for row in expected]
    assert comparable(calls) == comparable(expected)
    assert [row["asked"] for row in calls if row["call"] in DELETES] == ([1, 1, 1] if can_ask else [0, 0, 0])
    assert [row["isError"] for row in calls] == [False] * (len(PLAN) - 1) + [True]
    assert "\n- id: Input should be a valid integer" in calls[-1]["text"]
    assert [line for line in stderr.splitlines() if line.startswith("client error")] == []
