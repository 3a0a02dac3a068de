"""Fixtures: a fresh fake PostHog per test, and the server connected to it through a real MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.config import Settings
from tests.fake_posthog import FULL_KEY, FakePostHog

MODES = ("auto", "legacy")
"""auto negotiates 2026-07-28 without a handshake; legacy runs the 2025-11-25 initialize handshake."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> FakePostHog:
    return FakePostHog()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def connected(
    fake: FakePostHog, env: Mapping[str, str] | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """The server, configured by `env` (a key by default) and wired to the fake through httpx's ASGI transport."""
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, **(env or {})})
    server = build_server(settings, transport=httpx.ASGITransport(app=fake.app))
    async with Client(server, mode=mode) as client:
        yield client


@pytest.fixture
async def client(fake: FakePostHog, mode: str) -> AsyncIterator[Client]:
    async with connected(fake, mode=mode) as client:
        yield client
