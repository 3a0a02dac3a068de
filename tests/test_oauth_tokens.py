"""OAuth access tokens (`pha_…`) in remote mode: each checked with PostHog once a minute at most, let in on its word
alone, its scopes and projects shaping what the caller sees, and PostHog's outages kept apart from bad tokens."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from starlette.responses import Response

from server.config import Settings
from server.http import build_http_app
from server.options import Options
from tests.conftest import FakeClock
from tests.fake_posthog import OTHER_PROJECT_ID, PROJECT_ID, FakePostHog, Recorded, serving
from tests.test_http import ACCEPT, CALL, LIST, caller

INTROSPECTION = "/oauth/introspect/"
METADATA = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"
SCOPES = "integration:read integration:write organization:read organization:write organization_integration:write"
READS = ["integration:read", "organization:read"]
READ_TOOLS = [
    "integrations-list",
    "integrations-get",
    "integrations-anthropic-agents-list",
    "integrations-anthropic-environments-list",
    "integrations-anthropic-vaults-list",
    "role-external-references-list",
    "role-external-references-lookup",
]
EXPIRED = (
    f'Bearer error="invalid_token", error_description="the access token is expired or revoked", '
    f'resource_metadata="{METADATA}", scope="{SCOPES}"'
)
EXPIRED_MESSAGE = (
    "The OAuth access token has expired or was revoked: sign in to PostHog again (your MCP client does it on this "
    "401, or when you reconnect the server)."
)


@asynccontextmanager
async def remote(fake: FakePostHog, clock: FakeClock, options: Options | None = None) -> AsyncIterator[str]:
    """Remote mode in uvicorn, with PostHog at the fake; the server's memory ages on `clock`."""
    app = build_http_app(
        Settings.from_env({}), options or Options(), httpx.ASGITransport(app=fake.app), clock.policy(), clock.now
    )
    async with serving(app) as url:
        yield url


async def post(url: str, token: str, message: dict[str, Any] = LIST) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{url}/mcp", json=message, headers={**ACCEPT, "Authorization": f"Bearer {token}"})


def introspections(fake: FakePostHog) -> list[Recorded]:
    return [request for request in fake.requests if request.path == INTROSPECTION]


def text(result: types.CallToolResult) -> str:
    return str(result.content[0].model_dump()["text"])


def answering(fake: FakePostHog, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    """PostHog's introspection answers this, every time, until the test says otherwise."""

    async def introspection(request: Recorded) -> Response | None:
        if request.path != INTROSPECTION:
            return None
        content = body if isinstance(body, str) else json.dumps(body)
        media = "text/html" if isinstance(body, str) else "application/json"
        return Response(content, status, headers, media_type=media)

    fake.intercept = introspection


@pytest.mark.parametrize(
    ("scopes", "tools"),
    [
        (READS, READ_TOOLS),
        (["integration:write"], [*READ_TOOLS[:5], "integrations-create", "integrations-delete"]),
        (
            ["organization:write", "organization_integration:write"],
            [
                *READ_TOOLS[5:],
                "role-external-references-create",
                "role-external-references-delete",
                "org-integrations-delete",
                "org-integrations-environment-mapping-update",
            ],
        ),
        (["feature_flag:read"], []),
        ([], []),
    ],
)
async def test_a_token_is_let_in_on_posthogs_word_and_its_scopes_decide_the_tools(
    fake: FakePostHog, clock: FakeClock, scopes: list[str], tools: list[str]
) -> None:
    """The token asks about itself: it is both the bearer and the `token`."""
    token = fake.mint_token(scopes)
    async with remote(fake, clock) as url, caller(url, token) as client:
        listed = [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]
    assert sorted(listed) == sorted(tools)
    asked = introspections(fake)
    assert len(asked) == 1
    assert (asked[0].method, asked[0].authorization, asked[0].body) == ("POST", f"Bearer {token}", f"token={token}")
    assert [request.path for request in fake.requests] == [INTROSPECTION]


@pytest.mark.parametrize(
    ("answer", "tools"),
    [
        ({"scope": "* integration:read"}, READ_TOOLS[:5]),
        ({"scope": "*"}, []),
        ({}, []),
        ({"scope": None}, []),
        ({"scope": ["integration:read"]}, []),
        ({"scope": "organization:read", "scoped_teams": None, "scoped_organizations": None}, READ_TOOLS[5:]),
    ],
)
async def test_an_active_tokens_answer_grants_only_the_oauth_scopes_it_names(
    fake: FakePostHog, clock: FakeClock, answer: dict[str, Any], tools: list[str]
) -> None:
    """`*` is no OAuth scope, so an answer naming it grants nothing by it; no scope, or one that is not a
    space-separated string, grants nothing; null limits are no limits."""
    answering(fake, 200, {"active": True, "exp": 4102444800, **answer})
    async with remote(fake, clock) as url, caller(url, "pha_star_0123456789") as client:
        listed = [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]
    assert sorted(listed) == sorted(tools)


async def test_one_introspection_a_minute_however_many_requests_then_the_answer_is_asked_again(
    fake: FakePostHog, clock: FakeClock
) -> None:
    token = fake.mint_token(READS)
    async with remote(fake, clock) as url, caller(url, token) as client:
        async with anyio.create_task_group() as calls:
            for _ in range(20):
                calls.start_soon(client.call_tool, "integrations-list", {})
        for _ in range(80):
            await client.call_tool("role-external-references-list", {})
        assert len(introspections(fake)) == 1
        clock.time = 59.9
        await client.list_tools(cache_mode="bypass")
        assert len(introspections(fake)) == 1
        clock.time = 60.0
        await client.list_tools(cache_mode="bypass")
    assert len(introspections(fake)) == 2


async def test_a_tokens_answer_lasts_no_longer_than_the_token(fake: FakePostHog, clock: FakeClock) -> None:
    token = fake.mint_token(READS, lifetime=10)
    async with remote(fake, clock) as url:
        assert (await post(url, token)).status_code == 200
        clock.time = 9.0
        assert (await post(url, token)).status_code == 200
        assert len(introspections(fake)) == 1
        clock.time = 10.0
        fake.expire(token)
        refused = await post(url, token)
    assert len(introspections(fake)) == 2
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == EXPIRED


@pytest.mark.parametrize("outage", [False, True])
async def test_ten_requests_at_once_with_a_new_token_ask_posthog_once_and_hear_its_answer(
    fake: FakePostHog, clock: FakeClock, outage: bool
) -> None:
    """PostHog holds its answer until all ten, and a request with another new token, wait at the door: each would
    ask, were asking not shared per token; when PostHog cannot say, all ten hear so (503), and the other token is
    still let in."""
    token, other = fake.mint_token(READS), fake.mint_token(READS)
    answers: list[httpx.Response] = []
    arrived, release = anyio.Event(), anyio.Event()

    async def slow(request: Recorded) -> Response | None:
        if request.path != INTROSPECTION:
            return None
        if len(introspections(fake)) == 2:
            arrived.set()
        await release.wait()
        down = outage and request.body == f"token={token}"
        return Response("{}", 503, media_type="application/json") if down else None

    async def one(bearer: str) -> None:
        answers.append(await post(url, bearer))

    fake.intercept = slow
    async with remote(fake, clock) as url, anyio.create_task_group() as requests:
        for _ in range(10):
            requests.start_soon(one, token)
        requests.start_soon(one, other)
        with anyio.fail_after(10):
            await arrived.wait()
            await anyio.wait_all_tasks_blocked()
        asked = len(introspections(fake))
        release.set()
    assert asked == 2
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == ([200] + [503] * 10 if outage else [200] * 11)
    if outage:
        messages = sorted(answer.json()["message"] for answer in answers if answer.status_code == 503)
        first = "PostHog answered HTTP 503 when asked about the access token."
        waited = "PostHog could not say whether the access token is valid."
        after = " Try again in 5 s; there is no need to sign in again."
        assert messages == [first + after] + [waited + after] * 9


@pytest.mark.parametrize("how", ["expired", "revoked", "unknown", "inactive", "refused 403", "refused 400"])
async def test_a_token_posthog_does_not_vouch_for_is_401_invalid_token_and_stays_refused_a_minute(
    fake: FakePostHog, clock: FakeClock, how: str
) -> None:
    token = fake.mint_token(READS)
    if how == "expired":
        fake.expire(token)
    elif how == "revoked":
        fake.revoke(token)
    elif how == "unknown":
        token = "pha_never_issued_0123456789"
    elif how == "inactive":
        answering(fake, 200, {"active": False})
    else:
        answering(fake, int(how[-3:]), {"detail": "no"})
    async with remote(fake, clock) as url:
        first = await post(url, token, CALL)
        clock.time = 59.0
        again = await post(url, token, CALL)
    for answer in (first, again):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == EXPIRED
        assert answer.json() == {"error": "unauthorized", "message": EXPIRED_MESSAGE}
    assert [request.path for request in fake.requests] == [INTROSPECTION]


class Unreachable(httpx.AsyncBaseTransport):
    """PostHog that cannot be connected to."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    ("status", "body", "headers", "retry_after", "why", "logged_why"),
    [
        (503, {"detail": "down"}, {"Retry-After": "7"}, "7", "PostHog answered HTTP 503", "HTTP 503"),
        (500, {"detail": "boom"}, None, "5", "PostHog answered HTTP 500", "HTTP 500"),
        (502, "<html>bad gateway</html>", None, "5", "PostHog answered HTTP 502", "HTTP 502"),
        (
            429,
            {"detail": "Request was throttled. Expected available in 3 seconds."},
            {"Retry-After": "3"},
            "3",
            "PostHog answered HTTP 429",
            "(429)",
        ),
        (200, "<html>maintenance</html>", None, "5", "PostHog gave an answer this server cannot read", "not JSON"),
        (0, None, None, "5", "PostHog could not be reached", "Cannot reach PostHog"),
    ],
)
async def test_when_posthog_cannot_say_the_client_waits_and_is_not_sent_to_sign_in(
    fake: FakePostHog,
    clock: FakeClock,
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    retry_after: str,
    why: str,
    logged_why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """503 with Retry-After (PostHog's, else 5 s), never 401; nothing is remembered, so PostHog back is asked again.
    The operator's log says what PostHog did, without the token."""
    token = fake.mint_token(READS)
    transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=fake.app)
    if status:
        answering(fake, status, body, headers)
    else:
        transport = Unreachable()
    app = build_http_app(Settings.from_env({}), Options(), transport, clock.policy(), clock.now)
    with caplog.at_level(logging.WARNING, logger="server.credentials"):
        async with serving(app) as url:
            down = await post(url, token)
            fake.intercept = None
            back = await post(url, token) if status else down
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 1
    assert logged[0].startswith("PostHog could not check an access token: ")
    assert logged_why in logged[0]
    assert token not in logged[0]
    await check_down(down, retry_after, why)
    if not status:
        return
    assert back.status_code == 200
    assert len(introspections(fake)) == 2


async def check_down(answer: httpx.Response, retry_after: str, why: str) -> None:
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == retry_after
    assert "WWW-Authenticate" not in answer.headers
    body = answer.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["message"] == (
        f"{why} when asked about the access token. Try again in {retry_after} s; there is no need to sign in again."
    )


@pytest.mark.parametrize("scope_check", [True, False])
async def test_a_token_revoked_within_the_minute_fails_its_call_then_is_refused_at_the_door(
    fake: FakePostHog, clock: FakeClock, scope_check: bool
) -> None:
    """PostHog's 401 has the token asked about again, with or without the scope check: the door lets a token in on
    PostHog's word alone, which the 401 has just contradicted."""
    token = fake.mint_token(READS)
    asked_again = anyio.Event()

    async def watch(request: Recorded) -> Response | None:
        if len(introspections(fake)) == 2:
            asked_again.set()
        return None

    fake.intercept = watch
    async with remote(fake, clock, Options(scope_check=scope_check)) as url:
        async with caller(url, token) as client:
            await client.list_tools(cache_mode="bypass")
            fake.revoke(token)
            result = await client.call_tool("integrations-list", {})
        with anyio.fail_after(10):
            await asked_again.wait()
            await anyio.wait_all_tasks_blocked()
        refused = await post(url, token)
    assert result.is_error is True
    assert text(result) == (
        "PostHog rejected the OAuth access token (401): Invalid access token. It expired or was revoked: your MCP "
        "client signs in to PostHog again on its next request (or reconnect the server), then call again."
    )
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == EXPIRED


async def test_the_door_and_the_calls_ask_posthog_about_a_token_once_between_them(
    fake: FakePostHog, clock: FakeClock
) -> None:
    """A call's 401 has the token asked about again in the background. A request that reaches the door meanwhile,
    the minute having passed, waits for that question's answer instead of asking its own, and hears it."""
    token = fake.mint_token(READS)
    arrived, release = anyio.Event(), anyio.Event()

    async def hold_the_second(request: Recorded) -> Response | None:
        if request.path == INTROSPECTION and len(introspections(fake)) == 2:
            arrived.set()
            await release.wait()
        return None

    async with remote(fake, clock) as url:
        async with caller(url, token) as client:
            await client.list_tools(cache_mode="bypass")
            fake.revoke(token)
            fake.intercept = hold_the_second
            result = await client.call_tool("integrations-list", {})
        refused: list[httpx.Response] = []

        async def knock() -> None:
            refused.append(await post(url, token))

        with anyio.fail_after(10):
            await arrived.wait()
            clock.time = 61.0
            async with anyio.create_task_group() as door:
                door.start_soon(knock)
                await anyio.sleep(0.3)
                asked_meanwhile = len(introspections(fake))
                release.set()
    assert result.is_error is True
    assert asked_meanwhile == len(introspections(fake)) == 2
    assert [(response.status_code, response.headers["WWW-Authenticate"]) for response in refused] == [(401, EXPIRED)]


@pytest.mark.parametrize(
    ("arguments", "sent", "refusal"),
    [
        ({}, f"/api/projects/{PROJECT_ID}/integrations/", None),
        ({"project_id": PROJECT_ID}, f"/api/projects/{PROJECT_ID}/integrations/", None),
        (
            {"project_id": OTHER_PROJECT_ID},
            None,
            f"The OAuth access token may act only in project {PROJECT_ID}, not project {OTHER_PROJECT_ID}: call with "
            f"project_id {PROJECT_ID}, or sign in to PostHog again (reconnect this server in your MCP client) and "
            f"grant project {OTHER_PROJECT_ID}. Nothing was sent to PostHog.",
        ),
    ],
)
async def test_a_token_for_one_project_acts_there_and_nowhere_else(
    fake: FakePostHog, clock: FakeClock, arguments: dict[str, Any], sent: str | None, refusal: str | None
) -> None:
    token = fake.mint_token(READS, scoped_teams=[PROJECT_ID])
    async with remote(fake, clock) as url, caller(url, token) as client:
        listed = [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]
        result = await client.call_tool("integrations-list", arguments)
    assert sorted(listed) == sorted(READ_TOOLS[:5])
    paths = [request.path for request in fake.requests]
    if refusal:
        assert (result.is_error, text(result)) == (True, refusal)
        assert paths == [INTROSPECTION]
    else:
        assert result.is_error is False
        assert paths == [INTROSPECTION, sent]


async def test_a_scope_posthog_finds_missing_is_named_with_how_to_grant_it(fake: FakePostHog, clock: FakeClock) -> None:
    token = fake.mint_token(["integration:read"])
    async with remote(fake, clock, Options(scope_check=False)) as url, caller(url, token) as client:
        listed = [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]
        result = await client.call_tool("role-external-references-list", {})
    assert len(listed) == 13
    assert (result.is_error, text(result)) == (
        True,
        "The OAuth access token lacks the scope organization:read (403). Sign in to PostHog again, reconnecting this "
        "server in your MCP client, and grant organization:read; then call again.",
    )


@pytest.mark.parametrize(
    ("exp", "kept"),
    [(None, 60.0), (True, 60.0), ("4102444800", 60.0), (10, 10.0), (300, 60.0), (-100, 1.0)],
)
async def test_an_active_tokens_answer_is_kept_until_its_exp_or_a_minute_and_a_second_at_least(
    fake: FakePostHog, clock: FakeClock, exp: Any, kept: float
) -> None:
    """`exp` counts from now, in seconds (None: absent; a bool or a string is no time). PostHog's word that a token
    is active wins over a clock that says its exp has passed, for a second."""
    answer: dict[str, Any] = {"active": True, "scope": "integration:read", "scoped_teams": []}
    if exp is not None:
        answer["exp"] = exp + time.time() if isinstance(exp, int) and not isinstance(exp, bool) else exp
    answering(fake, 200, answer)
    async with remote(fake, clock) as url:
        assert (await post(url, "pha_kept_0123456789")).status_code == 200
        clock.time = kept - 0.5  # the wall clock moved a little since exp was written
        assert (await post(url, "pha_kept_0123456789")).status_code == 200
        asked = len(introspections(fake))
        clock.time = kept
        assert (await post(url, "pha_kept_0123456789")).status_code == 200
    assert (asked, len(introspections(fake))) == (1, 2)


@pytest.mark.parametrize("scope_check", [True, False])
async def test_a_failure_that_is_no_answer_about_the_token_leaves_it_as_it_was(
    fake: FakePostHog, clock: FakeClock, scope_check: bool
) -> None:
    """An unreadable answer says nothing of the token: the call fails with PostHog's words, and the token is not
    asked about again."""
    token = fake.mint_token(READS)
    async with remote(fake, clock, Options(scope_check=scope_check)) as url, caller(url, token) as client:
        await client.list_tools(cache_mode="bypass")
        fake.fail_next(200, text="<html>maintenance</html>", content_type="text/html")
        result = await client.call_tool("integrations-get", {"id": 7})
        again = await client.call_tool("integrations-list", {})
    assert (result.is_error, again.is_error) == (True, False)
    assert text(result).startswith("PostHog answered HTTP 200 with text/html that is not JSON")
    assert len(introspections(fake)) == 1


@pytest.mark.parametrize(
    ("scopes", "teams", "tool", "reason"),
    [
        (
            ["integration:read", "organization:read"],
            [PROJECT_ID],
            "role-external-references-list",
            "the OAuth access token is limited to specific projects, and PostHog refuses such tokens on organization "
            "tools",
        ),
        (
            READS,
            [],
            "integrations-create",
            "the OAuth access token lacks the scope integration:write (sign in to PostHog again, reconnecting this "
            "server in your MCP client, and grant it)",
        ),
    ],
)
async def test_a_tool_the_sign_in_does_not_allow_is_refused_saying_how_to_get_it(
    fake: FakePostHog, clock: FakeClock, scopes: list[str], teams: list[int], tool: str, reason: str
) -> None:
    token = fake.mint_token(scopes, scoped_teams=teams)
    async with remote(fake, clock) as url, caller(url, token) as client:
        result = await client.call_tool(tool, {"kind": "github", "config": {}} if "create" in tool else {})
    assert (result.is_error, text(result)) == (
        True,
        f"{tool} is not available here: {reason}. Nothing was sent to PostHog.",
    )
    assert [request.path for request in fake.requests] == [INTROSPECTION]
