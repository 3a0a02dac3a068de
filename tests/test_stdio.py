"""The installed console script over real stdio: stdout carries JSON-RPC and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.fake_posthog import FULL_KEY, FakePostHog, running

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")


async def drain(stream: anyio.abc.ByteReceiveStream, into: list[bytes]) -> None:
    """Read stderr as it comes, so that a chatty server never blocks on a full pipe."""
    async for chunk in stream:
        into.append(chunk)


def request(id: int, method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).encode() + b"\n"


async def test_console_script_writes_only_json_rpc_on_stdout(fake: FakePostHog) -> None:
    async with running(fake) as url:
        env = {
            "PATH": os.environ["PATH"],
            "POSTHOG_PERSONAL_API_KEY": FULL_KEY,
            "POSTHOG_HOST": url,
            "POSTHOG_MCP_LOG_LEVEL": "DEBUG",
        }
        process = await anyio.open_process(
            [str(SCRIPT)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        stderr_chunks: list[bytes] = []
        async with process, anyio.create_task_group() as tasks:
            assert process.stdin is not None
            assert process.stdout is not None
            assert process.stderr is not None
            tasks.start_soon(drain, process.stderr, stderr_chunks)
            initialize = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            }
            await process.stdin.send(request(1, "initialize", initialize))
            await process.stdin.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
            await process.stdin.send(request(2, "tools/list", {}))
            await process.stdin.send(request(3, "tools/call", {"name": "integrations-list", "arguments": {"limit": 2}}))
            await process.stdin.send(request(4, "tools/call", {"name": "integrations-get", "arguments": {"id": "x"}}))
            stdout = BufferedByteReceiveStream(process.stdout)
            lines: list[bytes] = []
            with anyio.fail_after(30):
                while len([line for line in lines if b'"id":' in line]) < 4:
                    lines.append(await stdout.receive_until(b"\n", 1 << 22))
                await process.stdin.aclose()
                assert await process.wait() == 0
    stderr = b"".join(stderr_chunks).decode()

    messages = [json.loads(line) for line in lines]
    assert all(message["jsonrpc"] == "2.0" for message in messages)
    answers = {message["id"]: message for message in messages if "id" in message}
    assert answers[1]["result"]["serverInfo"]["name"] == "posthog-integrations-mcp"
    assert len(answers[2]["result"]["tools"]) == 13
    assert answers[3]["result"]["isError"] is False
    assert answers[3]["result"]["structuredContent"]["count"] >= 2
    assert answers[4]["result"]["isError"] is True
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/projects/@current/integrations/")]
    assert "DEBUG" in stderr
    assert FULL_KEY not in stderr
