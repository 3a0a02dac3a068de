"""The installed console script over real stdio: stdout carries JSON-RPC and nothing else; logs go to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.fake_posthog import FULL_KEY, READ_ONLY_KEY, FakePostHog, running
from tools import TOOLS

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}


def request(id: int, method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).encode() + b"\n"


async def drain(stream: anyio.abc.ByteReceiveStream, into: list[bytes]) -> None:
    """Read stderr as it comes, so that a chatty server never blocks on a full pipe."""
    async for chunk in stream:
        into.append(chunk)


@dataclass
class Spawned:
    """The installed script, started with pipes: its stdin, its stdout buffered by line, its stderr as it came."""

    process: anyio.abc.Process
    stdin: anyio.abc.ByteSendStream
    stdout: BufferedByteReceiveStream
    stderr: list[bytes]

    async def rest(self) -> bytes:
        """Whatever stdout holds beyond the lines read so far, up to its end."""
        assert self.process.stdout is not None
        return bytes(self.stdout.buffer) + b"".join([chunk async for chunk in self.process.stdout])


@asynccontextmanager
async def spawned(env: dict[str, str]) -> AsyncIterator[Spawned]:
    """The installed script with `env` over PATH, stderr drained as it comes so a chatty server never blocks."""
    process = await anyio.open_process(
        [str(SCRIPT)],
        env={"PATH": os.environ["PATH"], **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    async with process, anyio.create_task_group() as tasks:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        stderr: list[bytes] = []
        tasks.start_soon(drain, process.stderr, stderr)
        yield Spawned(process, process.stdin, BufferedByteReceiveStream(process.stdout), stderr)


async def converse(env: dict[str, str], requests: list[bytes]) -> tuple[list[dict[str, Any]], str]:
    """Send the requests, read stdout until every one is answered, close stdin; the server must exit 0."""
    lines: list[bytes] = []
    async with spawned(env) as server:
        for line in requests:
            await server.stdin.send(line)
        expected = sum(1 for line in requests if b'"id":' in line)
        with anyio.fail_after(30):
            while sum(1 for line in lines if b'"id":' in line) < expected:
                lines.append(await server.stdout.receive_until(b"\n", 1 << 22))
            await server.stdin.aclose()
            assert await server.process.wait() == 0
            rest = await server.rest()
    assert rest == b"", "something other than answers reached stdout"
    return [json.loads(line) for line in lines], b"".join(server.stderr).decode()


async def test_console_script_writes_only_json_rpc_on_stdout(fake: FakePostHog) -> None:
    async with running(fake) as url:
        env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url, "POSTHOG_MCP_LOG_LEVEL": "DEBUG"}
        messages, stderr = await converse(
            env,
            [
                request(1, "initialize", INITIALIZE),
                b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n',
                request(2, "tools/list", {}),
                request(3, "tools/call", {"name": "integrations-list", "arguments": {"limit": 2}}),
                request(4, "tools/call", {"name": "integrations-get", "arguments": {"id": "x"}}),
            ],
        )
    assert all(message["jsonrpc"] == "2.0" for message in messages)
    answers = {message["id"]: message["result"] for message in messages}
    assert answers[1]["serverInfo"]["name"] == "posthog-integrations-mcp"
    assert len(answers[2]["tools"]) == 13
    assert answers[3]["isError"] is False
    assert answers[3]["structuredContent"]["next_offset"] == 2
    assert answers[4]["isError"] is True
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/api/personal_api_keys/@current/"),
        ("GET", "/api/projects/@current/integrations/"),
    ]
    assert " DEBUG " in stderr
    assert FULL_KEY not in stderr


async def test_a_corrected_capture_host_is_reported_once_on_stderr() -> None:
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": "eu.i.posthog.com"}
    messages, stderr = await converse(env, [request(1, "initialize", INITIALIZE)])
    assert [message["id"] for message in messages] == [1]
    assert stderr.count("capture host") == 1
    assert "using https://eu.posthog.com" in stderr


async def test_the_console_script_lists_what_the_key_may_use_and_offers_list_changes_in_both_eras(
    fake: FakePostHog, mode: str
) -> None:
    """The key's record, asked for while the SDK loads, is in before the first tools/list. Both eras are told that
    the list may change (`tools.listChanged`): 2025-11-25 clients by notification, 2026-07-28 clients on a
    subscriptions/listen stream."""
    async with running(fake) as url:
        env = {"POSTHOG_PERSONAL_API_KEY": READ_ONLY_KEY, "POSTHOG_HOST": url}
        async with Client(StdioServerParameters(command=str(SCRIPT), env=env), mode=mode) as client:
            tools = client.server_capabilities.tools
            listed = [tool.name for tool in (await client.list_tools()).tools]
    assert tools is not None
    assert tools.list_changed is True
    assert listed == [spec.name for spec in TOOLS if spec.method == "GET"]
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/personal_api_keys/@current/")]
