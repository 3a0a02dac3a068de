"""Remote mode under load: uvicorn with N workers, 50 concurrent clients, calls per second."""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.fake_posthog import FULL_KEY, SLACK_INTEGRATION_ID, free_port, until_healthy


async def calls_per_second(posthog: str, workers: int, clients: int, calls: int) -> float:
    """Start `uvicorn --factory server.http:create_app --workers N`; `clients` callers make `calls` calls each."""
    port = free_port()
    env = {**os.environ, "POSTHOG_HOST": posthog, "POSTHOG_MCP_SCOPE_CHECK": "0"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.http:create_app", "--workers", str(workers)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}"
    async with await anyio.open_process(command, env=env) as server:
        try:
            await until_healthy(url)
            async with anyio.create_task_group() as warm_up:
                for _ in range(clients):
                    warm_up.start_soon(_caller, url, 1)
            started = anyio.current_time()
            async with anyio.create_task_group() as load:
                for _ in range(clients):
                    load.start_soon(_caller, url, calls)
            return clients * calls / (anyio.current_time() - started)
        finally:
            server.terminate()


async def _caller(url: str, calls: int) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {FULL_KEY}"}, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client,
    ):
        for _ in range(calls):
            result = await client.call_tool("integrations-get", {"id": SLACK_INTEGRATION_ID})
            if result.is_error:
                raise RuntimeError(f"a remote call failed: {result.content}")


def summary(rates: dict[int, float]) -> dict[str, Any]:
    return {f"{workers}_workers_calls_per_s": round(rate, 1) for workers, rate in rates.items()}
