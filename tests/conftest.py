"""Fixtures: a fresh fake PostHog per test, and the server connected to it through a real MCP client."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from server.app import build_server
from server.config import Settings
from server.http import build_http_app
from server.options import Options
from server.retries import RetryPolicy
from tests.fake_posthog import FULL_KEY, FakePostHog, serving

# anyio and hypothesis import some of their parts lazily, and pytest rewrites their modules (both are pytest
# plugins): a first import from deep inside a running test can trip CPython 3.11's parser ("AST constructor
# recursion depth mismatch"). So the parts the tests reach are imported now, at collection.
importlib.import_module("anyio._core._subprocesses")
importlib.import_module("hypothesis.internal.conjecture.optimiser")

MODES = ("auto", "legacy")
"""auto negotiates 2026-07-28 without a handshake; legacy runs the 2025-11-25 initialize handshake."""


@dataclass
class FakeClock:
    """Time for the retry policy that passes only when it sleeps, so waits are checked without being waited."""

    time: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await anyio.lowlevel.checkpoint()

    def policy(self) -> RetryPolicy:
        return RetryPolicy(sleep=self.sleep, now=self.now)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A parameter with characters beyond printable ASCII ("²", a newline, b"\\xb2") names its test with U+XXXX for
    each: an id pytest would escape with a backslash cannot be passed back to pytest by the mutation run."""
    text = val.decode("latin-1") if isinstance(val, bytes) else val
    if not isinstance(text, str):
        return None
    named = "".join(
        char if char.isascii() and char.isprintable() and char != "\\" else f"U+{ord(char):04X}" for char in text
    )
    return named if named != text else None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakePostHog:
    return FakePostHog()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


NO_SCOPE_CHECK = Options(scope_check=False)


@asynccontextmanager
async def connected(
    fake: FakePostHog,
    env: Mapping[str, str] | None = None,
    mode: str = "auto",
    clock: FakeClock | None = None,
    options: Options = NO_SCOPE_CHECK,
    headers: Mapping[str, str] | None = None,
    **client: Any,
) -> AsyncIterator[Client]:
    """The server, configured by `env` (a key by default) and wired to the fake through httpx's ASGI transport.

    `headers` go with every request over HTTP (mode "http"); other modes have no requests to carry them.

    Retries wait on `clock`, a fresh fake one unless given, so no test sleeps through a backoff. The key's scopes
    are not asked for unless `options` say so, so that PostHog sees only the requests a test makes.
    """
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, **(env or {})})
    transport = httpx.ASGITransport(app=fake.app)
    retry = (clock or FakeClock()).policy()
    if mode == "http":
        async with over_http(settings, options, transport, retry, settings.api_key, headers, **client) as connection:
            yield connection
        return
    server = build_server(settings, options, transport=transport, retry=retry)
    async with Client(server, mode=mode, **client) as connection:
        yield connection


@asynccontextmanager
async def over_http(
    settings: Settings,
    options: Options,
    transport: httpx.AsyncBaseTransport,
    retry: RetryPolicy,
    key: SecretStr | None,
    headers: Mapping[str, str] | None = None,
    **client: Any,
) -> AsyncIterator[Client]:
    """The remote server in uvicorn on 127.0.0.1, and the SDK's streamable HTTP client sending `key` as Bearer.

    The process's key is not the caller's: the caller's comes with each request, as a remote client's would.
    """
    app = build_http_app(settings, options, transport, retry)
    bearer = {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}
    async with (
        serving(app) as url,
        httpx2.AsyncClient(headers={**bearer, **(headers or {})}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), **client) as connection,
    ):
        yield connection


@pytest.fixture
async def client(fake: FakePostHog, mode: str, clock: FakeClock) -> AsyncIterator[Client]:
    async with connected(fake, mode=mode, clock=clock) as client:
        yield client


def node_tool(variable: str, command: str, what: str) -> str:
    """A Node tool that `.ci/run` installs pinned and names in `variable`; elsewhere one on PATH will do.

    Without it the test is skipped, except in CI, where its absence is a failure: the tool must not quietly vanish.
    """
    path = os.environ.get(variable) or shutil.which(command)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"no {what}: .ci/run should have installed it and set {variable}")
    pytest.skip(f"no {what} (set {variable}, or run .ci/run)")
