"""The official MCP conformance suite against remote mode, as a deployment would be checked."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from tests.fake_posthog import free_port, until_healthy

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"]
"""The scenarios that apply to a server without the suite's own demo tools."""


def conformance() -> str:
    """`.ci/run` installs the pinned suite and exports CONFORMANCE_BIN; elsewhere the test needs it on PATH."""
    path = os.environ.get("CONFORMANCE_BIN") or shutil.which("conformance")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("no MCP conformance suite: .ci/run should have installed it and set CONFORMANCE_BIN")
    pytest.skip("no MCP conformance suite (set CONFORMANCE_BIN, or run .ci/run)")


async def test_remote_mode_passes_the_conformance_scenarios_that_apply() -> None:
    suite = conformance()
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
