"""Faults PostHog and the network really produce: what is retried, what never is, and what the model hears."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server import Server
from starlette.responses import JSONResponse, Response, StreamingResponse

from server import __version__
from server.app import build_server
from server.config import DEFAULT_TIMEOUT, Settings
from server.posthog import http_client
from server.retries import RetryPolicy, retry_after
from tests.conftest import NO_SCOPE_CHECK, FakeClock
from tests.fake_posthog import (
    FULL_KEY,
    GITHUB_ROLE_REFERENCE_ID,
    ROLE_ID,
    TWILIO_INTEGRATION_ID,
    VERCEL_ORG_INTEGRATION_ID,
    FakePostHog,
    Recorded,
    running,
)

CHECK = {
    "integrations-create": "Check with integrations-list before trying it again.",
    "integrations-delete": "Check with integrations-get before trying it again.",
    "role-external-references-create": "Check with role-external-references-list before trying it again.",
    "role-external-references-delete": "Check with role-external-references-list before trying it again.",
    "org-integrations-delete": "Check in PostHog's web app before trying it again.",
    "org-integrations-environment-mapping-update": "Check in PostHog's web app before trying it again.",
}
SERVER_ERROR = {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
WRITES = [
    ("integrations-create", {"kind": "twilio", "config": {"account_sid": "AC1", "auth_token": "t"}}),
    ("integrations-delete", {"id": TWILIO_INTEGRATION_ID}),
    (
        "role-external-references-create",
        {
            "provider": "github",
            "provider_organization_id": "posthog",
            "provider_role_id": "777",
            "provider_role_name": "Ops",
            "role": ROLE_ID,
        },
    ),
    ("role-external-references-delete", {"id": GITHUB_ROLE_REFERENCE_ID}),
    ("org-integrations-delete", {"id": VERCEL_ORG_INTEGRATION_ID}),
    ("org-integrations-environment-mapping-update", {"id": VERCEL_ORG_INTEGRATION_ID, "production": 1}),
]


def text(result: Any) -> str:
    return str(result.content[0].text)


# Retries of reads


@pytest.mark.parametrize(("status", "headers"), [(429, {"Retry-After": "2"}), (502, {}), (503, {}), (504, {})], ids=str)
async def test_a_read_is_retried_after_a_transient_failure(
    client: Client, fake: FakePostHog, clock: FakeClock, status: int, headers: dict[str, str]
) -> None:
    fake.fail_next(status, json=SERVER_ERROR, headers=headers)
    result = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    assert len(fake.requests) == 2
    (wait,) = clock.sleeps
    if headers:
        assert wait == 2.0
    else:
        assert 0 <= wait <= 0.5


async def test_backoff_doubles_with_full_jitter_and_stops_after_three_retries(
    client: Client, fake: FakePostHog, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jitter is drawn between 0 and a ceiling that doubles; drawing the ceiling itself shows the ceilings."""
    drawn: list[tuple[float, float]] = []

    def ceiling(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", ceiling)
    for _ in range(5):
        fake.fail_next(503, json=SERVER_ERROR)
    result = await client.call_tool("integrations-list", {})
    assert result.is_error is True
    assert len(fake.requests) == 4
    assert drawn == [(0, 0.5), (0, 1.0), (0, 2.0)]
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_backoff_waits_vary_between_calls(client: Client, fake: FakePostHog, clock: FakeClock) -> None:
    """Full jitter: clients that failed together do not retry together."""
    for _ in range(20):
        fake.fail_next(503, json=SERVER_ERROR)
        assert (await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})).is_error is False
    assert len(set(clock.sleeps)) == 20
    assert all(0 <= wait <= 0.5 for wait in clock.sleeps)
    assert max(clock.sleeps) > 0.25


async def test_retry_after_given_as_an_http_date_is_honoured(
    client: Client, fake: FakePostHog, clock: FakeClock
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    fake.fail_next(429, json={"detail": "Request was throttled."}, headers={"Retry-After": later})
    result = await client.call_tool("integrations-list", {})
    assert result.is_error is False
    (wait,) = clock.sleeps
    assert 8 <= wait <= 10


async def test_retries_stop_when_the_next_wait_would_overrun_the_budget(
    client: Client, fake: FakePostHog, clock: FakeClock
) -> None:
    for _ in range(4):
        fake.fail_next(429, json={"detail": "Request was throttled."}, headers={"Retry-After": "8"})
    message = text(await client.call_tool("integrations-list", {}))
    assert message == "PostHog is rate-limiting this API key (429): wait 8 seconds, then try again."
    assert clock.sleeps == [8.0, 8.0]
    assert len(fake.requests) == 3


@pytest.mark.parametrize(("tool", "arguments"), WRITES, ids=[tool for tool, _ in WRITES])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_a_write_is_never_retried(
    client: Client, fake: FakePostHog, clock: FakeClock, tool: str, arguments: dict[str, Any], status: int
) -> None:
    fake.fail_next(status, json=SERVER_ERROR, headers={"Retry-After": "1"})
    result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert len(fake.requests) == 1
    assert clock.sleeps == []
    if status >= 500:
        method = {"create": "POST", "delete": "DELETE", "update": "PATCH"}[tool.rsplit("-", 1)[1]]
        assert f"The {method} may or may not have taken effect. {CHECK[tool]}" in text(result)


@dataclass
class HangsUntilTimeout(httpx.AsyncBaseTransport):
    """PostHog that hangs the first `hangs` requests until their read timeout runs out, on the tests' clock: the
    clock moves by the timeout while the request hangs, as a real one would."""

    inner: httpx.AsyncBaseTransport
    clock: FakeClock
    hangs: int
    timeouts: list[float] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions["timeout"]["read"]
        self.timeouts.append(timeout)
        if len(self.timeouts) <= self.hangs:
            self.clock.time += timeout
            raise httpx.ReadTimeout("timed out", request=request)
        return await self.inner.handle_async_request(request)


def hanging(fake: FakePostHog, clock: FakeClock, hangs: int) -> tuple[Server[Any], HangsUntilTimeout]:
    """The server with default settings, PostHog hanging the first `hangs` requests."""
    transport = HangsUntilTimeout(httpx.ASGITransport(app=fake.app), clock, hangs)
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY})
    return build_server(settings, NO_SCOPE_CHECK, transport=transport, retry=clock.policy()), transport


async def test_with_default_settings_a_read_that_times_out_is_tried_again(
    fake: FakePostHog, clock: FakeClock, mode: str
) -> None:
    server, posthog = hanging(fake, clock, hangs=1)
    async with Client(server, mode=mode) as client:
        read = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
    assert read.is_error is False
    (wait,) = clock.sleeps
    assert posthog.timeouts == [DEFAULT_TIMEOUT, pytest.approx(RetryPolicy().budget - wait)]
    assert len(fake.requests) == 1


async def test_a_read_that_keeps_timing_out_ends_within_the_timeout_and_the_retry_budget(
    fake: FakePostHog, clock: FakeClock
) -> None:
    server, posthog = hanging(fake, clock, hangs=10)
    async with Client(server) as client:
        read = await client.call_tool("integrations-list", {})
    assert read.is_error is True
    assert text(read).startswith("PostHog at https://us.posthog.com did not answer within ")
    assert len(posthog.timeouts) == 2
    assert clock.time == pytest.approx(DEFAULT_TIMEOUT + RetryPolicy().budget)


async def test_a_read_that_times_out_is_retried_and_a_write_is_not(fake: FakePostHog, mode: str) -> None:
    """On the real clock, with the retry budget shorter than the timeout as it is by default."""
    over = anyio.Event()

    async def first_request_hangs(request: Recorded) -> Response | None:
        if len(fake.requests) == 1:
            await over.wait()
        return None

    fake.intercept = first_request_hangs
    async with running(fake) as url:
        env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url, "POSTHOG_MCP_TIMEOUT": "0.3"}
        retry = RetryPolicy(base=0.01, budget=0.2)
        async with Client(build_server(Settings.from_env(env), NO_SCOPE_CHECK, retry=retry), mode=mode) as client:
            read = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
            assert (read.is_error, len(fake.requests)) == (False, 2)
            fake.requests.clear()
            write = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
        over.set()
    assert write.is_error is True
    assert text(write).startswith(f"PostHog at {url} did not answer within 0.3 seconds.")
    assert text(write).endswith("The DELETE may or may not have taken effect. " + CHECK["integrations-delete"])
    assert len(fake.requests) == 1


async def test_a_write_that_cannot_connect_is_not_retried_and_was_never_sent(mode: str, clock: FakeClock) -> None:
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": "http://127.0.0.1:9"})
    async with Client(build_server(settings, NO_SCOPE_CHECK, retry=clock.policy()), mode=mode) as client:
        result = await client.call_tool("integrations-delete", {"id": 1})
    assert text(result).startswith("Cannot reach PostHog at http://127.0.0.1:9 (")
    assert "may or may not" not in text(result)
    assert clock.sleeps == []


# What is read, and how


def test_the_client_has_explicit_timeouts_a_pool_and_a_user_agent() -> None:
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_MCP_TIMEOUT": "12"})
    http = http_client(settings)
    assert http.timeout == httpx.Timeout(connect=5.0, read=12.0, write=12.0, pool=12.0)
    assert http.headers["User-Agent"] == f"posthog-integrations-mcp/{__version__}"
    assert http.follow_redirects is False


async def test_requests_carry_the_user_agent(client: Client, fake: FakePostHog) -> None:
    await client.call_tool("integrations-list", {})
    assert fake.requests[0].user_agent == f"posthog-integrations-mcp/{__version__}"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_an_answer_over_5_mb_is_refused(client: Client, fake: FakePostHog, declared: bool) -> None:
    chunk = b"x" * 1_000_000

    async def huge(request: Recorded) -> Response:
        if declared:
            return Response(b'{"results": ["' + chunk * 6 + b'"]}', media_type="application/json")

        async def body() -> Any:
            yield b'{"results": ["'
            for _ in range(6):
                yield chunk

        return StreamingResponse(body(), media_type="application/json")

    fake.intercept = huge
    message = text(await client.call_tool("integrations-list", {}))
    assert message.startswith("PostHog's answer is larger than 5 MB, which this server does not read.")


async def test_a_cut_off_json_answer_names_status_and_content_type(client: Client, fake: FakePostHog) -> None:
    fake.fail_next(200, text='{"count": 3, "results": [{"id": 1', content_type="application/json")
    message = text(await client.call_tool("integrations-list", {}))
    assert message.startswith("PostHog answered HTTP 200 with application/json that is not JSON")


# Concurrency and cancellation


async def test_twenty_slow_calls_are_in_flight_at_once(client: Client, fake: FakePostHog) -> None:
    """PostHog holds every answer until 20 requests are waiting: calls made one at a time would never finish."""
    all_arrived = anyio.Event()

    async def hold_until_twenty(request: Recorded) -> None:
        if len(fake.requests) == 20:
            all_arrived.set()
        await all_arrived.wait()

    fake.intercept = hold_until_twenty
    results: list[bool] = []

    async def call() -> None:
        result = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
        results.append(result.is_error is False)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as calls:
            for _ in range(20):
                calls.start_soon(call)
    assert results == [True] * 20


async def test_a_cancelled_call_aborts_its_request_and_the_server_serves_on(client: Client, fake: FakePostHog) -> None:
    started, aborted = anyio.Event(), anyio.Event()

    async def first_request_hangs(request: Recorded) -> None:
        if len(fake.requests) == 1:
            started.set()
            try:
                await anyio.sleep_forever()
            finally:
                aborted.set()

    fake.intercept = first_request_hangs
    with anyio.fail_after(10):
        async with anyio.create_task_group() as calls:
            calls.start_soon(client.call_tool, "integrations-get", {"id": TWILIO_INTEGRATION_ID})
            await started.wait()
            calls.cancel_scope.cancel()
        await aborted.wait()
        result = await client.call_tool("integrations-list", {"limit": 1})
    assert result.is_error is False
    assert [request.path for request in fake.requests] == [
        "/api/projects/@current/integrations/104/",
        "/api/projects/@current/integrations/",
    ]


async def test_a_slow_answer_does_not_hold_up_another_call(client: Client, fake: FakePostHog) -> None:
    arrived, release = anyio.Event(), anyio.Event()

    async def first_request_waits(request: Recorded) -> Response | None:
        if len(fake.requests) == 1:
            arrived.set()
            await release.wait()
            return JSONResponse({"detail": "late"}, status_code=400)
        return None

    fake.intercept = first_request_waits
    with anyio.fail_after(10):
        async with anyio.create_task_group() as calls:
            calls.start_soon(client.call_tool, "integrations-get", {"id": 1})
            await arrived.wait()
            quick = await client.call_tool("integrations-list", {"limit": 1})
            assert quick.is_error is False
            release.set()


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("7", 7, 7),
        (" 7 ", 7, 7),
        ("0", 0, 0),
        ("in 30 s, GMT", 25, 30),
        ("in 30 s, -0000", 25, 30),
        ("in 30 s, +0000", 25, 30),
        ("in -30 s, GMT", 0, 0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0, 0),
    ],
)
def test_retry_after_is_read_as_seconds_or_as_a_date_never_in_the_past(value: str, low: float, high: float) -> None:
    """A date without a zone (`-0000`) is UTC, as the HTTP spec says every HTTP date is. "in N s, ZONE" rows are
    dates N seconds from now, made when the test runs."""
    if value.startswith("in "):
        seconds, _, zone = value.removeprefix("in ").partition(" s, ")
        moment = datetime.now(UTC) + timedelta(seconds=int(seconds))
        value = moment.strftime("%a, %d %b %Y %H:%M:%S ") + zone
    seconds_to_wait = retry_after(httpx.Response(429, headers={"Retry-After": value}))
    assert seconds_to_wait is not None
    assert low <= seconds_to_wait <= high


@pytest.mark.parametrize("value", ["", " ", "soon", "-5", "1.5", "Wed, 32 Oct 2015 07:28:00 GMT"])
def test_a_retry_after_that_is_neither_is_no_wait(value: str) -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": value})) is None
