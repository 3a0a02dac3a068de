"""What the server remembers of keys, in every mode that memory meets: stdio, shared HTTP, single-user HTTP.

Time is a `FakeClock` the server reads through `Keys(now=…)` and `build_http_app(clock=…)`: tests move it past a
minute without waiting one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.subscriptions import ToolsListChanged
from pydantic import SecretStr
from starlette.responses import Response

import server.app
from server.app import build_server
from server.config import Settings
from server.credentials import Keys, Questions
from server.http import Newcomers, build_http_app
from server.options import Options
from server.posthog import PostHog
from tests.conftest import FakeClock
from tests.fake_posthog import (
    FULL_KEY,
    MEMBER_KEY,
    READ_ONLY_KEY,
    ROLE_ID,
    FakePostHog,
    Recorded,
    serving,
)
from tools import TOOLS

KEY_RECORD = ("GET", "/api/personal_api_keys/@current/")
LIST = ("GET", "/api/projects/@current/integrations/")
READS = [spec.name for spec in TOOLS if spec.method == "GET"]
EVERY_TOOL = [spec.name for spec in TOOLS]
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def junk(number: int) -> str:
    """A well-formed personal API key that PostHog never issued."""
    return f"phx_junk_{number:040d}"


def sent(fake: FakePostHog) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request in fake.requests]


def text(result: types.CallToolResult) -> str:
    return str(result.content[0].model_dump()["text"])


async def listed(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]


@asynccontextmanager
async def over_stdio(
    fake: FakePostHog, key: str, clock: FakeClock, mode: str = "auto", options: Options | None = None, **client: Any
) -> AsyncIterator[Client]:
    """The server as stdio runs it, in process: the process's key, its scopes checked, its memory on `clock`."""
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": key})
    posthog = PostHog(settings, clock.policy(), httpx.ASGITransport(app=fake.app))
    server = build_server(settings, options or Options(), questions=Questions(posthog, Keys(stdio=True, now=clock.now)))
    async with Client(server, mode=mode, **client) as connection:
        yield connection


class ListChanged:
    """A message handler that notes notifications/tools/list_changed."""

    def __init__(self) -> None:
        self.event = anyio.Event()

    async def __call__(self, message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.event.set()


# Over stdio: learned once, for the life of the process


async def test_over_stdio_a_late_answer_that_shrinks_the_list_is_heard_in_both_eras(
    fake: FakePostHog, mode: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostHog answers for the key after tools/list stopped waiting: 13 tools are listed, then 7. A 2026-07-28 client
    hears of it on its subscriptions/listen stream, a 2025-11-25 client by notifications/tools/list_changed."""
    monkeypatch.setattr(server.app, "SCOPE_WAIT", 0.05)
    release, changed = anyio.Event(), ListChanged()

    async def late_record(request: Recorded) -> None:
        if (request.method, request.path) == KEY_RECORD:
            await release.wait()

    fake.intercept = late_record
    async with (
        over_stdio(fake, READ_ONLY_KEY, clock, mode, message_handler=changed) as client,
        AsyncExitStack() as stack,
    ):
        if mode == "auto":
            changes = await stack.enter_async_context(client.listen(tools_list_changed=True))
        assert await listed(client) == EVERY_TOOL
        release.set()
        with anyio.fail_after(10):
            await changed.event.wait()
            if mode == "auto":
                assert await anext(changes) == ToolsListChanged()
        assert await listed(client) == READS
    assert sent(fake) == [KEY_RECORD]


@pytest.mark.parametrize("elapsed", [61.0, 3_600.0, 30 * 86_400.0])
async def test_over_stdio_tools_the_key_cannot_use_stay_hidden_and_refused_after_a_minute(
    fake: FakePostHog, mode: str, clock: FakeClock, elapsed: float
) -> None:
    async with over_stdio(fake, READ_ONLY_KEY, clock, mode) as client:
        assert await listed(client) == READS
        clock.time += elapsed
        refused = await client.call_tool("integrations-delete", {"id": 104})
        assert await listed(client) == READS
    assert text(refused) == (
        "integrations-delete is not available here: the API key lacks the scope integration:write. "
        "Nothing was sent to PostHog."
    )
    assert sent(fake) == [KEY_RECORD]


async def test_over_stdio_a_403_for_a_scope_the_key_had_relearns_it_and_says_the_list_changed(
    fake: FakePostHog, clock: FakeClock
) -> None:
    """The key's scopes were cut in PostHog while the session ran: the next refusal teaches the server."""
    changed = ListChanged()
    async with over_stdio(fake, FULL_KEY, clock, "legacy", message_handler=changed) as client:
        assert await listed(client) == EVERY_TOOL
        clock.time += 3_600
        fake.keys[FULL_KEY] = replace(fake.keys[FULL_KEY], scopes=frozenset({"feature_flag:read"}))
        failed = await client.call_tool("integrations-list", {})
        with anyio.fail_after(10):
            await changed.event.wait()
        assert await listed(client) == []
        refused = await client.call_tool("integrations-get", {"id": 101})
    assert text(failed).startswith("The API key lacks the scope integration:read (403).")
    assert text(refused).startswith("integrations-get is not available here: the API key lacks the scope")
    assert sent(fake) == [KEY_RECORD, LIST, KEY_RECORD]


async def test_over_stdio_a_revoked_key_is_relearned_after_its_401_and_the_list_changes(
    fake: FakePostHog, clock: FakeClock
) -> None:
    """PostHog now rejects the key: as when its record cannot be read, every tool is listed and each call explains."""
    changed = ListChanged()
    async with over_stdio(fake, READ_ONLY_KEY, clock, "legacy", message_handler=changed) as client:
        assert await listed(client) == READS
        del fake.keys[READ_ONLY_KEY]
        failed = await client.call_tool("integrations-list", {})
        with anyio.fail_after(10):
            await changed.event.wait()
        assert await listed(client) == EVERY_TOOL
    assert text(failed).startswith("PostHog rejected the API key (401)")
    assert sent(fake) == [KEY_RECORD, LIST, KEY_RECORD]


async def test_over_stdio_a_passing_401_leaves_the_learned_scopes_in_place(
    fake: FakePostHog, mode: str, clock: FakeClock
) -> None:
    asked_again = anyio.Event()

    async def second_record(request: Recorded) -> Response | None:
        if (request.method, request.path) == KEY_RECORD and sent(fake).count(KEY_RECORD) == 2:
            asked_again.set()
        return None

    fake.intercept = second_record
    async with over_stdio(fake, READ_ONLY_KEY, clock, mode) as client:
        assert await listed(client) == READS
        fake.fail_next(401, json={"detail": "Personal API key found in request Authorization header is invalid."})
        await client.call_tool("integrations-list", {})
        with anyio.fail_after(10):
            await asked_again.wait()
        await anyio.wait_all_tasks_blocked()
        assert await listed(client) == READS
        refused = await client.call_tool("integrations-delete", {"id": 104})
    assert text(refused).startswith("integrations-delete is not available here: the API key lacks the scope")
    assert sent(fake) == [KEY_RECORD, LIST, KEY_RECORD]


@pytest.mark.parametrize(
    ("key", "tool", "arguments", "said"),
    [
        (
            MEMBER_KEY,
            "role-external-references-create",
            {
                "provider": "github",
                "provider_organization_id": "o",
                "provider_role_id": "r",
                "provider_role_name": "n",
                "role": ROLE_ID,
            },
            "access level is insufficient",
        ),
        (FULL_KEY, "integrations-get", {"id": 999_999}, "Not found (404)"),
    ],
    ids=["403 for the access level", "404"],
)
async def test_over_stdio_a_failure_that_does_not_contradict_the_record_asks_nothing_more(
    fake: FakePostHog, mode: str, clock: FakeClock, key: str, tool: str, arguments: dict[str, Any], said: str
) -> None:
    async with over_stdio(fake, key, clock, mode) as client:
        assert await listed(client) == EVERY_TOOL
        failed = await client.call_tool(tool, arguments)
        await anyio.wait_all_tasks_blocked()
    assert failed.is_error is True
    assert said in text(failed)
    assert sent(fake).count(KEY_RECORD) == 1


# Over HTTP: each key for a minute, rejected keys too, and a budget of new keys per client address


@asynccontextmanager
async def remote(
    fake: FakePostHog, clock: FakeClock, options: Options | None = None, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    settings = Settings.from_env(env or {})
    transport = httpx.ASGITransport(app=fake.app)
    app = build_http_app(settings, options or Options(), transport, clock.policy(), clock.now)
    async with serving(app) as url:
        yield url


async def post(
    url: str, key: str | None, method: str = "tools/list", params: dict[str, Any] | None = None, source: str = ""
) -> httpx.Response:
    """One JSON-RPC request to /mcp with `key` as Bearer, from the loopback address `source` (any when empty)."""
    headers = {**ACCEPT, **({"Authorization": f"Bearer {key}"} if key else {})}
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
    async with httpx.AsyncClient(transport=transport) as http:
        return await http.post(f"{url}/mcp", json=message, headers=headers)


def names(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [tool["name"] for tool in answer.json()["result"]["tools"]]


async def test_over_http_a_keys_record_is_remembered_for_a_minute_then_asked_again(
    fake: FakePostHog, clock: FakeClock
) -> None:
    async with remote(fake, clock) as url:
        assert names(await post(url, READ_ONLY_KEY)) == READS
        clock.time += 59
        assert names(await post(url, READ_ONLY_KEY)) == READS
        assert sent(fake) == [KEY_RECORD]
        clock.time += 2
        assert names(await post(url, READ_ONLY_KEY)) == READS
    assert sent(fake) == [KEY_RECORD, KEY_RECORD]


async def test_over_http_a_key_posthog_rejected_is_401_before_mcp_for_a_minute(
    fake: FakePostHog, clock: FakeClock
) -> None:
    key = junk(1)
    async with remote(fake, clock) as url:
        assert names(await post(url, key)) == EVERY_TOOL
        clock.time += 59
        refused = await post(url, key, "tools/call", {"name": "integrations-list", "arguments": {}})
        assert sent(fake) == [KEY_RECORD]
        clock.time += 2
        assert names(await post(url, key)) == EVERY_TOOL
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert refused.json()["message"].startswith("PostHog rejected this API key (401) less than a minute ago")
    assert sent(fake) == [KEY_RECORD, KEY_RECORD]


async def test_over_http_a_key_rejected_on_a_call_is_remembered_too(fake: FakePostHog, clock: FakeClock) -> None:
    """A client that never lists tools: the call's 401 makes the server ask for the record, which PostHog rejects."""
    key = junk(2)
    async with remote(fake, clock) as url:
        failed = await post(url, key, "tools/call", {"name": "integrations-list", "arguments": {}})
        with anyio.fail_after(10):
            await anyio.wait_all_tasks_blocked()
        refused = await post(url, key, "tools/call", {"name": "integrations-list", "arguments": {}})
    assert failed.json()["result"]["isError"] is True
    assert refused.status_code == 401
    assert sent(fake) == [LIST, KEY_RECORD]


async def test_one_address_presents_at_most_10_new_keys_a_minute_and_known_keys_still_work(
    fake: FakePostHog, clock: FakeClock
) -> None:
    async with remote(fake, clock) as url:
        assert names(await post(url, FULL_KEY)) == EVERY_TOOL
        clock.time += 15
        for number in range(9):
            assert names(await post(url, junk(number))) == EVERY_TOOL
        clock.time += 5
        held_back = await post(url, junk(9), "tools/call", {"name": "integrations-list", "arguments": {}})
        rejected_before = await post(url, junk(0))
        known = await post(url, FULL_KEY)
        elsewhere = await post(url, junk(10), source="127.0.0.2")
        assert sent(fake) == [KEY_RECORD] * 11
        clock.time += 41
        later = await post(url, junk(11))
    assert held_back.status_code == 429
    assert held_back.headers["Retry-After"] == "40"
    assert held_back.json()["message"] == (
        "This address presented 10 credentials new to this server in the last minute, each of which costs PostHog a "
        "request: try again in 40 s."
    )
    assert rejected_before.status_code == 401
    assert names(known) == EVERY_TOOL
    assert names(elsewhere) == EVERY_TOOL
    assert names(later) == EVERY_TOOL
    assert sent(fake) == [KEY_RECORD] * 12


async def test_single_user_requests_without_a_key_are_never_held_back_and_remembered_a_minute(
    fake: FakePostHog, clock: FakeClock
) -> None:
    env = {"POSTHOG_PERSONAL_API_KEY": READ_ONLY_KEY}
    async with remote(fake, clock, Options(single_user=True), env) as url:
        for number in range(10):
            assert names(await post(url, junk(number))) == EVERY_TOOL
        assert (await post(url, junk(10))).status_code == 429
        assert names(await post(url, None)) == READS
        clock.time += 59
        assert names(await post(url, None)) == READS
        assert sent(fake) == [KEY_RECORD] * 11
        clock.time += 2
        assert names(await post(url, None)) == READS
    assert sent(fake) == [KEY_RECORD] * 12


def test_the_count_of_new_keys_forgets_addresses_after_a_minute(clock: FakeClock) -> None:
    newcomers = Newcomers(clock.now)
    for number in range(1_000):
        assert newcomers.wait(f"10.0.{number // 256}.{number % 256}", SecretStr(junk(number))) is None
    assert len(newcomers.seen) == 1_000
    clock.time += 60
    assert newcomers.wait("10.9.9.9", SecretStr(junk(1))) is None
    assert list(newcomers.seen) == ["10.9.9.9"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"detail": "This action does not support Personal API Key access"}),
        (401, {"detail": "Personal API key found in request Authorization header is invalid."}),
    ],
)
async def test_over_stdio_a_record_not_read_at_start_is_asked_again_a_minute_later_and_the_list_changes(
    fake: FakePostHog, clock: FakeClock, status: int, body: dict[str, str]
) -> None:
    """Only scopes are learned for good: PostHog down or refusing at start-up must not end the hiding for good."""
    changed = ListChanged()
    fake.fail_next(status, json=body)
    async with over_stdio(fake, READ_ONLY_KEY, clock, "legacy", message_handler=changed) as client:
        assert await listed(client) == EVERY_TOOL
        clock.time += 59
        assert await listed(client) == EVERY_TOOL
        clock.time += 2
        await listed(client)
        with anyio.fail_after(10):
            await changed.event.wait()
        assert await listed(client) == READS
    assert sent(fake) == [KEY_RECORD, KEY_RECORD]
