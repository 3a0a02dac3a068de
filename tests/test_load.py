"""500 calls, 50 at a time, through the real process over stdio, against a PostHog that fails and stalls."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from starlette.responses import JSONResponse, Response

from tests.fake_posthog import ANTHROPIC_INTEGRATION_ID, FULL_KEY, ROLE_ID, SLACK_INTEGRATION_ID, FakePostHog, Recorded
from tests.fake_posthog import running as serving

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
CALLS, AT_ONCE, WARM_UP = 500, 50, 50
BUDGET = 10 + 20 + 5
"""Seconds a call may take at most: POSTHOG_MCP_TIMEOUT plus the retry budget (the README's bound), and slack."""


def call(index: int) -> tuple[str, dict[str, Any]]:
    """A mix of reads and writes; each write carries a marker of its own, to count how often it reached PostHog."""
    match index % 10:
        case 0:
            arguments = {
                "provider": "github",
                "provider_organization_id": "load",
                "provider_role_id": f"load-{index}",
                "provider_role_name": "Load",
                "role": ROLE_ID,
            }
            return "role-external-references-create", arguments
        case 5:
            return "integrations-create", {
                "kind": "twilio",
                "config": {"account_sid": f"load-{index}", "auth_token": "t"},
            }
        case 1 | 2 | 3:
            return "integrations-list", {"limit": 5}
        case 4:
            return "integrations-get", {"id": SLACK_INTEGRATION_ID}
        case 6:
            return "role-external-references-list", {}
        case 7:
            return "role-external-references-lookup", {
                "provider": "github",
                "provider_organization_id": "posthog",
                "provider_role_slug": "frontend-team",
            }
        case 8:
            return "integrations-anthropic-agents-list", {"id": ANTHROPIC_INTEGRATION_ID}
        case _:
            return "integrations-anthropic-vaults-list", {"id": ANTHROPIC_INTEGRATION_ID}


def rss_of_child(name: str) -> int:
    """Resident memory, in bytes, of this process's child whose command line names `name`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and name.encode() in cmdline:
            return int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    raise LookupError(name)


async def test_500_calls_with_faults_all_end_in_a_result_and_no_write_repeats(fake: FakePostHog) -> None:
    chance = random.Random(20261126)

    async def faults(request: Recorded) -> Response | None:
        roll = chance.random()
        if roll < 0.10:
            return JSONResponse({"type": "server_error", "detail": "A server error occurred."}, status_code=503)
        if roll < 0.15:
            return JSONResponse({"detail": "Request was throttled."}, status_code=429, headers={"Retry-After": "1"})
        if roll < 0.20:
            await anyio.sleep(2)
        return None

    durations: list[float] = []
    results: dict[int, bool] = {}
    limiter = anyio.CapacityLimiter(AT_ONCE)

    async def one(client: Client, index: int) -> None:
        tool, arguments = call(index)
        async with limiter:
            started = anyio.current_time()
            with anyio.fail_after(BUDGET + 5):
                result = await client.call_tool(tool, arguments)
            durations.append(anyio.current_time() - started)
        assert result.content, f"call {index} came back empty"
        results[index] = bool(result.is_error)

    async with serving(fake) as url:
        env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url, "POSTHOG_MCP_TIMEOUT": "10"}
        async with Client(StdioServerParameters(command=str(SCRIPT), env=env)) as client:
            async with anyio.create_task_group() as warm_up:
                for _ in range(WARM_UP):
                    warm_up.start_soon(one, client, 1)
            before = rss_of_child(SCRIPT.name)
            fake.intercept = faults
            results.clear()
            async with anyio.create_task_group() as load:
                for index in range(CALLS):
                    load.start_soon(one, client, index)
            after = rss_of_child(SCRIPT.name)

    assert sorted(results) == list(range(CALLS)), "a call was lost"
    assert max(durations) < BUDGET
    assert after - before < 20 * 2**20, f"memory grew by {(after - before) / 2**20:.1f} MB"
    bodies = [json.dumps(request.body) for request in fake.requests if request.method == "POST"]
    for index in range(CALLS):
        if call(index)[0].endswith("-create"):
            assert sum(f'"load-{index}"' in body for body in bodies) == 1, f"write {index} reached PostHog not once"
    failed = sum(results.values())
    assert 0 < failed < CALLS // 4, f"{failed} calls failed: the faults should fail a few, retries save most reads"
