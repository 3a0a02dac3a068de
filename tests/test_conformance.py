"""The official MCP conformance suite against remote mode, as a deployment would be checked."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from tests.conftest import node_tool
from tests.fake_posthog import free_port, until_healthy

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"]
"""The scenarios that apply to a server without the suite's own demo tools."""


@pytest.fixture
def suite() -> str:
    return node_tool("CONFORMANCE_BIN", "conformance", "MCP conformance suite")


async def test_remote_mode_passes_the_conformance_scenarios_that_apply(suite: str) -> None:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "POSTHOG_PERSONAL_API_KEY": "phx_conformance_only",
        "POSTHOG_MCP_SCOPE_CHECK": "0",
    }
    command = [str(SCRIPT), "serve", "--transport", "http", "--single-user", "--port", str(port)]
    async with await anyio.open_process(command, env=env) as server:
        try:
            await until_healthy(f"http://127.0.0.1:{port}")
            for scenario in SCENARIOS:
                with anyio.fail_after(120):
                    run = await anyio.run_process(
                        [suite, "server", "--url", f"http://127.0.0.1:{port}/mcp", "--scenario", scenario], check=False
                    )
                assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
                assert "0 failed" in run.stdout.decode()
        finally:
            server.terminate()
