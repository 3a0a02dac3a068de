"""Whole OAuth flows against remote mode, as a host that speaks only OAuth would run them: from the first 401 to a
tool call that reaches PostHog with the user's `pha_` token.

Everything is on 127.0.0.1 and over real HTTP: the fake PostHog (which is also the authorization server) and the
server each listen on a port, and the clients are the real ones: the mcp SDK's `OAuthClientProvider` here, the
TypeScript SDKs' OAuth clients in `test_typescript_clients_*`. The user's browser is a plain HTTP client that opens
the authorize URL, where the fake's test user approves at once, and reads the code from the redirect. Last, the
official conformance suite's scenarios run against the shared server with a signed-in user's token.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import anyio
import anyio.abc
import anyio.lowlevel
import httpx
import httpx2
import mcp_types as types
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError
from pydantic import AnyUrl
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.config import Settings
from server.http import build_http_app
from server.options import Options
from tests.conftest import FakeClock
from tests.fake_oauth import Consent, s256
from tests.fake_posthog import (
    FOREIGN_PROJECT_ID,
    OTHER_PROJECT_ID,
    OTHER_PROJECT_INTEGRATION_ID,
    PROJECT_ID,
    SLACK_INTEGRATION_ID,
    FakePostHog,
    Recorded,
    free_port,
    running,
    serving,
    until_healthy,
)
from tests.test_conformance import SCENARIOS, suite
from tests.test_typescript_sdk import node, package_folder
from tools import TOOLS

__all__ = ["node", "suite"]  # fixtures, imported for the TypeScript and conformance tests

REDIRECT = "http://127.0.0.1:8976/callback"
"""Where the user's browser is sent back with the code. Nothing listens there: the browser reads the Location."""
ALL_TOOLS = sorted(spec.name for spec in TOOLS)
READ_TOOLS = sorted(spec.name for spec in TOOLS if spec.annotations.read_only)
PROJECT_TOOLS = sorted(spec.name for spec in TOOLS if spec.path.startswith("/api/projects/"))
OFFERED = "integration:read integration:write organization:read organization:write organization_integration:write"
"""The scopes of the 13 tools: what the server's challenge asks a user to grant."""
RUNNER = Path(__file__).with_name("ts") / "oauth_flow.mjs"
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "integrations-list", "arguments": {}}}
ACCEPT = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Mcp-Protocol-Version": "2025-11-25",
}
SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")


class Exchange(NamedTuple):
    """One HTTP exchange of an MCP client, as it went over the wire."""

    method: str
    url: str
    status: int
    challenge: str | None
    retry_after: str | None


class Recorder(httpx2.AsyncBaseTransport):
    """The MCP client's transport, real HTTP, remembering every exchange (the SDK's OAuth steps included)."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        headers = response.headers
        exchange = Exchange(
            request.method,
            str(request.url),
            response.status_code,
            headers.get("www-authenticate"),
            headers.get("retry-after"),
        )
        self.exchanges.append(exchange)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Browser:
    """The user's browser: opens the authorize URL, where the fake's test user approves at once, and hands the
    redirect's code and state to the client, as the local callback page of a desktop host would."""

    landed: list[str] = field(default_factory=list)

    async def open(self, url: str) -> None:
        async with httpx2.AsyncClient() as browser:
            answer = await browser.get(url)
        assert answer.status_code == 302, answer.text
        self.landed.append(answer.headers["location"])

    async def callback(self) -> AuthorizationCodeResult:
        query = dict(parse_qsl(urlsplit(self.landed[-1]).query))
        return AuthorizationCodeResult(code=query["code"], state=query["state"])


@dataclass
class Memory:
    """The SDK's TokenStorage, in memory: one user's client registration and tokens."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class User:
    """One person's MCP client: the SDK's OAuth provider, its storage, their browser, and what went over the wire."""

    provider: OAuthClientProvider
    storage: Memory
    browser: Browser
    recorder: Recorder

    @property
    def token(self) -> str:
        assert self.storage.tokens is not None
        return self.storage.tokens.access_token

    @property
    def refresh_token(self) -> str:
        assert self.storage.tokens is not None
        assert self.storage.tokens.refresh_token is not None
        return self.storage.tokens.refresh_token


@dataclass
class Remote:
    """The server in remote mode, shared (no key of its own), in front of the fake PostHog."""

    url: str
    posthog: str
    clock: FakeClock
    """What ages the server's memory of tokens: moving it 61 s makes the server ask PostHog again."""


@asynccontextmanager
async def remote(fake: FakePostHog) -> AsyncIterator[Remote]:
    """The fake PostHog and the server with the defaults a user gets, each on its own port: the server's public URL
    is where it listens, and its authorization server the PostHog of POSTHOG_HOST. Retries never sleep."""
    clock = FakeClock()
    async with running(fake) as posthog:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = Settings.from_env({"POSTHOG_HOST": posthog})
        app = build_http_app(settings, Options(port=port, public_url=url), None, FakeClock().policy(), clock.now)
        async with serving(app, port):
            yield Remote(url, posthog, clock)


@asynccontextmanager
async def signed_in(url: str, mode: str = "auto") -> AsyncIterator[tuple[Client, User]]:
    """An MCP client with the SDK's OAuth provider, connected: its first request met the 401, and the user signed
    in (registration, authorization with PKCE, token) before it went on."""
    metadata = OAuthClientMetadata(
        redirect_uris=[AnyUrl(REDIRECT)],
        client_name="Flow test host",
        grant_types=["authorization_code", "refresh_token"],
    )
    storage, browser, recorder = Memory(), Browser(), Recorder()
    provider = OAuthClientProvider(f"{url}/mcp", metadata, storage, browser.open, browser.callback)
    async with (
        httpx2.AsyncClient(auth=provider, transport=recorder, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client, User(provider, storage, browser, recorder)


def oauth_requests(fake: FakePostHog) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests if r.path.startswith(("/oauth/", "/.well-known/"))]


def introspections(fake: FakePostHog) -> int:
    return sum(1 for r in fake.requests if r.path == "/oauth/introspect/")


def api_requests(fake: FakePostHog) -> list[Recorded]:
    return [r for r in fake.requests if r.path.startswith("/api/")]


def token_forms(fake: FakePostHog) -> list[dict[str, str]]:
    """The form of each POST /oauth/token/, in order."""
    return [dict(parse_qsl(str(r.body))) for r in fake.requests if r.path == "/oauth/token/"]


def client_id(user: User) -> str:
    assert user.storage.client_info is not None
    assert user.storage.client_info.client_id is not None
    return user.storage.client_info.client_id


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def challenge_error(challenge: str | None) -> str | None:
    """The `error` of a Bearer challenge, if it names one."""
    for part in (challenge or "").removeprefix("Bearer ").split(", "):
        name, _, value = part.partition("=")
        if name == "error":
            return value.strip('"')
    return None


async def test_a_client_signs_in_from_the_first_401_and_its_calls_reach_posthog_with_the_token(
    fake: FakePostHog, mode: str
) -> None:
    """Discovery through the challenge and the metadata, dynamic registration at PostHog, authorization with PKCE
    S256 for the offered scopes and this server as the resource, the code exchanged, then the call: PostHog is asked
    about the token once, and the API sees it as the caller's own credential."""
    async with remote(fake) as server, signed_in(server.url, mode) as (client, user):
        listed = sorted(tool.name for tool in (await client.list_tools()).tools)
        result = await client.call_tool("integrations-get", {"id": SLACK_INTEGRATION_ID})

    first, metadata = user.recorder.exchanges[:2]
    assert (first.method, first.url, first.status) == ("POST", f"{server.url}/mcp", 401)
    assert first.challenge == (
        f'Bearer resource_metadata="{server.url}/.well-known/oauth-protected-resource/mcp", scope="{OFFERED}"'
    )
    assert (metadata.method, metadata.url, metadata.status) == (
        "GET",
        f"{server.url}/.well-known/oauth-protected-resource/mcp",
        200,
    )
    assert oauth_requests(fake) == [
        ("GET", "/.well-known/oauth-authorization-server"),
        ("POST", "/oauth/register/"),
        ("GET", "/oauth/authorize/"),
        ("POST", "/oauth/token/"),
        ("POST", "/oauth/introspect/"),
    ]
    registration = next(r for r in fake.requests if r.path == "/oauth/register/")
    assert registration.body["redirect_uris"] == [REDIRECT]
    assert registration.body["client_name"] == "Flow test host"
    authorize = next(r for r in fake.requests if r.path == "/oauth/authorize/").query
    assert user.storage.client_info is not None
    assert authorize["client_id"] == user.storage.client_info.client_id
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["scope"] == OFFERED
    assert authorize["resource"] == f"{server.url}/mcp"
    [exchange] = token_forms(fake)
    assert exchange["grant_type"] == "authorization_code"
    assert s256(exchange["code_verifier"]) == authorize["code_challenge"]
    assert exchange["redirect_uri"] == REDIRECT

    assert user.token.startswith("pha_")
    assert listed == ALL_TOOLS
    assert result.is_error is False
    assert result.structured_content is not None
    assert result.structured_content["id"] == SLACK_INTEGRATION_ID
    [call] = api_requests(fake)
    assert (call.method, call.path) == ("GET", f"/api/projects/@current/integrations/{SLACK_INTEGRATION_ID}/")
    assert call.authorization == f"Bearer {user.token}"
    introspection = next(r for r in fake.requests if r.path == "/oauth/introspect/")
    assert introspection.authorization == f"Bearer {user.token}"
    assert introspection.body == f"token={user.token}"


GRANTS: list[tuple[Consent, list[str]]] = [
    (Consent(), ALL_TOOLS),
    (Consent(scopes=frozenset({"integration:read", "organization:read"})), READ_TOOLS),
    (Consent(scopes=frozenset({"integration:write"})), PROJECT_TOOLS),
    (
        Consent(scopes=frozenset({"organization:read"})),
        ["role-external-references-list", "role-external-references-lookup"],
    ),
    (
        Consent(scopes=frozenset({"organization_integration:write"})),
        ["org-integrations-delete", "org-integrations-environment-mapping-update"],
    ),
    (Consent(scoped_teams=(PROJECT_ID,)), PROJECT_TOOLS),
    (Consent(scopes=frozenset({"openid", "user:read"})), []),
]


async def test_tools_list_is_what_the_user_granted(fake: FakePostHog) -> None:
    """The user unticks scopes (or limits the grant to one project) on PostHog's consent screen: the tools are the
    ones the token can use, as PostHog's introspection tells the server. One user per row, on one server."""
    async with remote(fake) as server:
        for consent, listed in GRANTS:
            fake.consent = consent
            async with signed_in(server.url) as (client, _):
                assert sorted(tool.name for tool in (await client.list_tools()).tools) == listed, consent


async def test_a_read_only_grant_is_told_which_scope_to_grant_and_posthog_is_not_asked(fake: FakePostHog) -> None:
    fake.consent = Consent(scopes=frozenset({"integration:read", "organization:read"}))
    arguments = {"kind": "anthropic", "config": {"api_key": "sk-ant-api03-new"}}
    async with remote(fake) as server, signed_in(server.url) as (client, _):
        result = await client.call_tool("integrations-create", arguments)
    assert result.is_error is True
    assert "lacks the scope integration:write" in text_of(result)
    assert "sign in to PostHog again" in text_of(result)
    assert api_requests(fake) == []


PROJECT_CALLS: list[tuple[dict[str, Any], str | None]] = [
    ({}, f"/api/projects/{PROJECT_ID}/integrations/"),
    ({"project_id": PROJECT_ID}, f"/api/projects/{PROJECT_ID}/integrations/"),
    ({"project_id": str(PROJECT_ID)}, f"/api/projects/{PROJECT_ID}/integrations/"),
    ({"project_id": OTHER_PROJECT_ID}, None),
    ({"project_id": FOREIGN_PROJECT_ID}, None),
]
"""integrations-list's arguments, and the path PostHog is asked (None: refused here, PostHog never asked)."""


async def test_a_token_limited_to_one_project_defaults_to_it_and_is_refused_elsewhere_without_a_request(
    fake: FakePostHog,
) -> None:
    fake.consent = Consent(scoped_teams=(PROJECT_ID,))
    async with remote(fake) as server, signed_in(server.url) as (client, user):
        for arguments, path in PROJECT_CALLS:
            before = len(api_requests(fake))
            result = await client.call_tool("integrations-list", arguments)
            made = api_requests(fake)[before:]
            if path is None:
                chosen = arguments["project_id"]
                assert result.is_error is True, arguments
                assert made == [], arguments
                assert text_of(result).startswith(
                    f"The OAuth access token may act only in project {PROJECT_ID}, not project {chosen}: call with "
                    f"project_id {PROJECT_ID}, or sign in to PostHog again (reconnect this server in your MCP client) "
                    f"and grant project {chosen}."
                ), text_of(result)
            else:
                assert result.is_error is False, text_of(result)
                assert [(r.path, r.authorization) for r in made] == [(path, f"Bearer {user.token}")]


async def test_a_client_whose_token_ran_out_refreshes_it_and_goes_on(fake: FakePostHog) -> None:
    """PostHog's token has expired and the client knows it (its expires_in has passed): it refreshes, PostHog
    rotates the pair, and the call goes on with the new token, without the user signing in again. The old token,
    which the server no longer remembers, is answered 401 invalid_token."""
    async with remote(fake) as server, signed_in(server.url) as (client, user):
        await client.call_tool("integrations-list", {})
        old, old_refresh = user.token, user.refresh_token
        fake.expire(old)
        user.provider.context.token_expiry_time = time.time() - 1
        server.clock.time += 61
        result = await client.call_tool("integrations-list", {})
        async with httpx.AsyncClient() as http:
            stale = await http.post(
                f"{server.url}/mcp", json=LIST, headers={**ACCEPT, "Authorization": f"Bearer {old}"}
            )
            reused = await http.post(
                f"{server.posthog}/oauth/token/",
                data={"grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": client_id(user)},
            )

    assert result.is_error is False
    assert user.token != old
    assert [form["grant_type"] for form in token_forms(fake)][:2] == ["authorization_code", "refresh_token"]
    assert token_forms(fake)[1]["refresh_token"] == old_refresh
    assert [r.path for r in fake.requests].count("/oauth/authorize/") == 1
    assert [r.authorization for r in api_requests(fake)] == [f"Bearer {old}", f"Bearer {user.token}"]
    assert stale.status_code == 401
    assert challenge_error(stale.headers["www-authenticate"]) == "invalid_token"
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("ended", ["revoked", "expired"])
async def test_a_token_posthog_no_longer_honours_is_a_401_invalid_token_and_the_client_gets_a_new_one(
    fake: FakePostHog, ended: str
) -> None:
    """The client still believes in its token (revoked by the user, or expired on a clock the client does not
    share). Once the server's minute of memory has passed, it asks PostHog, hears `active: false`, and answers 401
    invalid_token; the client gets a new token (this SDK signs in again on any 401) and the call goes on."""
    async with remote(fake) as server, signed_in(server.url) as (client, user):
        await client.call_tool("integrations-list", {})
        old = user.token
        (fake.revoke if ended == "revoked" else fake.expire)(old)
        server.clock.time += 61
        seen = len(user.recorder.exchanges)
        result = await client.call_tool("integrations-list", {})

    assert result.is_error is False
    refused = user.recorder.exchanges[seen]
    assert (refused.url, refused.status, challenge_error(refused.challenge)) == (
        f"{server.url}/mcp",
        401,
        "invalid_token",
    )
    assert user.token != old
    assert len(token_forms(fake)) == 2
    assert [r.authorization for r in api_requests(fake)] == [f"Bearer {old}", f"Bearer {user.token}"]


OUTAGES: list[tuple[Callable[[], Response], str]] = [
    (lambda: Response(status_code=503, headers={"Retry-After": "7"}), "7"),
    (lambda: Response("<h1>Bad Gateway</h1>", status_code=502, media_type="text/html"), "5"),
    (
        lambda: JSONResponse(
            {"type": "throttled_error", "code": "throttled", "detail": "Request was throttled.", "attr": None},
            status_code=429,
            headers={"Retry-After": "3"},
        ),
        "3",
    ),
]


@pytest.mark.parametrize(("outage", "retry_after"), OUTAGES)
async def test_when_posthog_cannot_check_a_token_the_answer_is_503_and_nobody_signs_in_again(
    fake: FakePostHog, outage: Callable[[], Response], retry_after: str
) -> None:
    """PostHog's introspection fails (down, throttled) when the server must ask again: the request is a 503 with
    Retry-After, not a 401, so the client does not send the user through sign-in; once PostHog is back, the same
    token works."""
    down = True

    async def introspection_down(request: Recorded) -> Response | None:
        return outage() if down and request.path == "/oauth/introspect/" else None

    async with remote(fake) as server, signed_in(server.url) as (client, user):
        await client.call_tool("integrations-list", {})
        token, signed = user.token, oauth_requests(fake)
        server.clock.time += 61
        fake.intercept = introspection_down
        with pytest.raises(MCPError):
            await client.call_tool("integrations-list", {})
        failed = user.recorder.exchanges[-1]
        down = False
        result = await client.call_tool("integrations-list", {})

    assert (failed.url, failed.status, failed.retry_after, failed.challenge) == (
        f"{server.url}/mcp",
        503,
        retry_after,
        None,
    )
    assert result.is_error is False
    assert user.token == token
    assert oauth_requests(fake)[len(signed) :] == [("POST", "/oauth/introspect/")] * 2
    assert [r.authorization for r in api_requests(fake)] == [f"Bearer {token}"] * 2


async def test_a_hundred_calls_with_one_token_ask_posthog_about_it_once(fake: FakePostHog) -> None:
    """100 calls through the SDK's client (which sends one request at a time) within the minute: PostHog is asked
    about the token once. After the minute, 100 requests at the same moment with the token (a host that sends it
    itself, in parallel, no handshake first): PostHog is asked once more, not once per request."""
    answers: list[httpx.Response] = []

    async def post(http: httpx.AsyncClient, bearer: str) -> None:
        answers.append(await http.post(f"{server.url}/mcp", json=CALL, headers={**ACCEPT, "Authorization": bearer}))

    async with remote(fake) as server, signed_in(server.url) as (client, user):
        async with anyio.create_task_group() as group:
            for _ in range(100):
                group.start_soon(client.call_tool, "integrations-list", {})
        within = introspections(fake)
        server.clock.time += 61
        async with httpx.AsyncClient(timeout=30) as http, anyio.create_task_group() as group:
            for _ in range(100):
                group.start_soon(post, http, f"Bearer {user.token}")

    assert within == 1
    assert introspections(fake) == 2
    assert [(answer.status_code, answer.json()["result"]["isError"]) for answer in answers] == [(200, False)] * 100
    assert [r.authorization for r in api_requests(fake)] == [f"Bearer {user.token}"] * 200


@asynccontextmanager
async def installed_script(fake: FakePostHog, stderr: list[bytes]) -> AsyncIterator[str]:
    """The installed command in remote mode at DEBUG, in front of the fake PostHog; yields its URL, and what it
    writes to stderr lands in `stderr`."""
    async with running(fake) as posthog:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {"PATH": os.environ["PATH"], "POSTHOG_HOST": posthog, "POSTHOG_MCP_LOG_LEVEL": "DEBUG"}
        command = [str(SCRIPT), "serve", "--transport", "http", "--port", str(port), "--public-url", url]
        async with await anyio.open_process(command, env=env, stdout=subprocess.DEVNULL) as server:
            assert server.stderr is not None

            async def drain(stream: anyio.abc.ByteReceiveStream) -> None:
                async for chunk in stream:
                    stderr.append(chunk)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(drain, server.stderr)
                await until_healthy(url)
                try:
                    yield url
                finally:
                    server.terminate()


@pytest.mark.parametrize("where", ["in-process", "installed script"])
async def test_two_users_interleaving_calls_reach_posthog_each_with_their_own_token_and_no_log_holds_one(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    """Ada granted everything in project 1, Grace only reads in project 2; their calls interleave on one server.
    Each call reaches PostHog with its caller's token, in its caller's project, and each sees its own tools. No log
    line at DEBUG holds a token: neither any library's record in the test's process (the server's and the clients')
    nor the installed server's stderr."""
    caplog.set_level(logging.DEBUG)
    grants = {
        "ada": Consent(scoped_teams=(PROJECT_ID,)),
        "grace": Consent(scopes=frozenset({"integration:read"}), scoped_teams=(OTHER_PROJECT_ID,)),
    }
    integration = {"ada": SLACK_INTEGRATION_ID, "grace": OTHER_PROJECT_INTEGRATION_ID}
    project = {"ada": PROJECT_ID, "grace": OTHER_PROJECT_ID}
    users: dict[str, User] = {}
    listed: dict[str, list[str]] = {}
    results: dict[str, list[Any]] = {"ada": [], "grace": []}
    stderr: list[bytes] = []

    async def work(name: str, client: Client) -> None:
        listed[name] = sorted(tool.name for tool in (await client.list_tools()).tools)
        for index in range(20):
            if index % 2:
                result = await client.call_tool("integrations-get", {"id": integration[name]})
            else:
                result = await client.call_tool("integrations-list", {})
            assert result.is_error is False, text_of(result)
            results[name].append(result.structured_content)
            await anyio.lowlevel.checkpoint()

    async with AsyncExitStack() as stack:
        if where == "in-process":
            url = (await stack.enter_async_context(remote(fake))).url
        else:
            url = await stack.enter_async_context(installed_script(fake, stderr))
        fake.consent = grants["ada"]
        ada, users["ada"] = await stack.enter_async_context(signed_in(url))
        fake.consent = grants["grace"]
        grace, users["grace"] = await stack.enter_async_context(signed_in(url))
        async with anyio.create_task_group() as both:
            both.start_soon(work, "ada", ada)
            both.start_soon(work, "grace", grace)

    assert listed == {"ada": PROJECT_TOOLS, "grace": sorted(set(READ_TOOLS) & set(PROJECT_TOOLS))}
    by_token = {f"Bearer {user.token}": name for name, user in users.items()}
    calls = api_requests(fake)
    assert len(calls) == 40
    for call in calls:
        assert call.authorization in by_token
        assert call.path.startswith(f"/api/projects/{project[by_token[call.authorization]]}/integrations/")
    for name in ("ada", "grace"):
        gets = [result for result in results[name] if "results" not in result]
        assert {result["id"] for result in gets} == {integration[name]}
    assert caplog.records
    assert bool(stderr) is (where == "installed script")
    logs = caplog.text + b"".join(stderr).decode()
    for secret in [value for user in users.values() for value in (user.token, user.refresh_token)]:
        assert secret not in logs


SIGN_IN_REDIRECTS = [
    ("GET", "/.well-known/oauth-authorization-server", "", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/openid-configuration", "", "/.well-known/openid-configuration"),
    ("POST", "/register", "", "/oauth/register/"),
    ("GET", "/authorize", "?client_id=c&state=s%20t&scope=integration%3Aread", "/oauth/authorize/"),
    ("POST", "/token", "", "/oauth/token/"),
]


async def test_the_servers_own_origin_sends_sign_in_requests_to_posthog(fake: FakePostHog) -> None:
    """For clients that ignore `authorization_servers` and look on the MCP server's origin (Claude Code among them):
    307, which keeps a POST a POST with its body, to the same place at PostHog, the query as given."""
    async with remote(fake) as server, httpx.AsyncClient() as http:
        for method, path, query, target in SIGN_IN_REDIRECTS:
            answer = await http.request(method, f"{server.url}{path}{query}")
            assert (answer.status_code, answer.headers["location"]) == (307, f"{server.posthog}{target}{query}"), path
    assert fake.requests == []


async def test_a_client_that_looks_for_sign_in_on_the_servers_own_origin_completes_the_flow(fake: FakePostHog) -> None:
    """Every sign-in step is sent to the server's own origin and follows the redirect: metadata, registration,
    authorization (the browser follows to PostHog, which sends it back with a code), the token; then the token
    works at /mcp and reaches PostHog."""
    async with remote(fake) as server, httpx.AsyncClient(follow_redirects=True) as http:
        metadata = (await http.get(f"{server.url}/.well-known/oauth-authorization-server")).json()
        registered = await http.post(
            f"{server.url}/register", json={"redirect_uris": [REDIRECT], "client_name": "Looker"}
        )
        client = registered.json()["client_id"]
        verifier = "v" * 64
        authorize = {
            "response_type": "code",
            "client_id": client,
            "redirect_uri": REDIRECT,
            "state": "s",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "scope": "integration:read",
        }
        sent = await http.get(f"{server.url}/authorize", params=authorize, follow_redirects=False)
        back = await http.get(sent.headers["location"], follow_redirects=False)
        code = dict(parse_qsl(urlsplit(back.headers["location"]).query))["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client}
        issued = await http.post(f"{server.url}/token", data={**form, "code_verifier": verifier})
        token = issued.json()["access_token"]
        answer = await http.post(f"{server.url}/mcp", json=CALL, headers={**ACCEPT, "Authorization": f"Bearer {token}"})

    assert metadata["issuer"] == server.posthog
    assert registered.status_code == 201
    assert sent.status_code == 307
    assert back.status_code == 302
    assert issued.status_code == 200
    assert token.startswith("pha_")
    assert answer.status_code == 200
    assert answer.json()["result"]["isError"] is False
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/.well-known/oauth-authorization-server"),
        ("POST", "/oauth/register/"),
        ("GET", "/oauth/authorize/"),
        ("POST", "/oauth/token/"),
        ("POST", "/oauth/introspect/"),
        ("GET", "/api/projects/@current/integrations/"),
    ]
    assert fake.requests[-1].authorization == f"Bearer {token}"


class Host:
    """The Node host of tests/ts/oauth_flow.mjs, one step per command, PostHog changed between steps."""

    def __init__(self, process: anyio.abc.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.stdin = process.stdin
        self.stdout = BufferedByteReceiveStream(process.stdout)

    async def step(self, do: str, **command: Any) -> dict[str, Any]:
        await self.stdin.send((json.dumps({"do": do, **command}) + "\n").encode())
        with anyio.fail_after(30):
            row: dict[str, Any] = json.loads(await self.stdout.receive_until(b"\n", 10_000_000))
        assert "exception" not in row, row
        return row


@asynccontextmanager
async def typescript_host(node: str, sdk: str, mode: str, url: str) -> AsyncIterator[Host]:
    config = {"sdk": sdk, "dir": str(package_folder(sdk)), "mode": mode, "url": f"{url}/mcp", "redirect": REDIRECT}
    async with await anyio.open_process([node, str(RUNNER), json.dumps(config)], stderr=None) as process:
        host = Host(process)
        yield host
        await host.stdin.aclose()
        with anyio.fail_after(30):
            assert await process.wait() == 0


def issued(fake: FakePostHog, client: str) -> list[str]:
    """The access tokens PostHog issued to a registered client, oldest first."""
    return [token for token, owner in fake.oauth.token_clients.items() if owner == client]


def refusals(row: dict[str, Any], url: str) -> list[str | None]:
    """The `error` of each 401 the server answered in a step."""
    return [
        challenge_error(exchange["challenge"])
        for exchange in row["exchanges"]
        if exchange["url"] == f"{url}/mcp" and exchange["status"] == 401
    ]


@pytest.mark.parametrize(("sdk", "mode"), [("sdk1", "legacy"), ("client2", "auto")])
async def test_typescript_clients_sign_in_refresh_when_told_and_keep_to_their_grant(
    node: str, fake: FakePostHog, sdk: str, mode: str
) -> None:
    """A Node host on each TypeScript SDK: the first 401 sends the user to sign in once, the call reaches PostHog
    with the token issued to that client; an expired and then a revoked token are each answered 401 invalid_token,
    and the SDK refreshes (PostHog rotates the pair) and goes on without the user; a read-only grant lists the read
    tools; a grant limited to one project defaults to it and is refused elsewhere without a request."""
    async with remote(fake) as server, typescript_host(node, sdk, mode, server.url) as host:
        connected = await host.step("connect")
        client = connected["clientId"]
        listed = await host.step("list")
        called = await host.step("call", name="integrations-get", arguments={"id": SLACK_INTEGRATION_ID})
        first_token = issued(fake, client)[-1]
        rows = {}
        for ended in ("expired", "revoked"):
            (fake.expire if ended == "expired" else fake.revoke)(issued(fake, client)[-1])
            server.clock.time += 61
            rows[ended] = await host.step("call", name="integrations-list", arguments={})
        tokens = issued(fake, client)

        fake.consent = Consent(scopes=frozenset({"integration:read", "organization:read"}))
        reader = await host.step("connect")
        read_tools = await host.step("list")

        fake.consent = Consent(scoped_teams=(PROJECT_ID,))
        await host.step("connect")
        before = len(api_requests(fake))
        here = await host.step("call", name="integrations-list", arguments={})
        elsewhere = await host.step("call", name="integrations-list", arguments={"project_id": OTHER_PROJECT_ID})
        scoped = api_requests(fake)[before:]
        await host.step("close")

    assert connected["signIns"] == 1
    assert (connected["exchanges"][0]["url"], connected["exchanges"][0]["status"]) == (f"{server.url}/mcp", 401)
    assert sorted(listed["tools"]) == ALL_TOOLS
    assert called["isError"] is False
    assert called["structuredContent"]["id"] == SLACK_INTEGRATION_ID
    calls = api_requests(fake)
    assert calls[0].authorization == f"Bearer {first_token}"
    assert first_token.startswith("pha_")
    for ended in ("expired", "revoked"):
        assert rows[ended]["isError"] is False, rows[ended]
        assert rows[ended]["signIns"] == 1, ended
        assert refusals(rows[ended], server.url) == ["invalid_token"], ended
    forms = [form for form in token_forms(fake) if form["client_id"] == client]
    assert [form["grant_type"] for form in forms] == ["authorization_code", "refresh_token", "refresh_token"]
    spent = {form["refresh_token"] for form in forms[1:]}
    assert len(spent) == 2
    assert spent.isdisjoint(fake.oauth.refresh_tokens)
    assert len(tokens) == 3
    assert [r.authorization for r in calls[:3]] == [f"Bearer {token}" for token in tokens]

    assert reader["signIns"] == 1
    assert reader["clientId"] != client
    assert sorted(read_tools["tools"]) == READ_TOOLS

    assert here["isError"] is False
    assert elsewhere["isError"] is True
    assert f"may act only in project {PROJECT_ID}, not project {OTHER_PROJECT_ID}" in elsewhere["text"]
    assert [r.path for r in scoped] == [f"/api/projects/{PROJECT_ID}/integrations/"]


HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


def bearer_proxy(http: httpx.AsyncClient, upstream: str, token: str) -> ASGIApp:
    """Forwards every request to `upstream` as it came (method, path, Host, Origin, body), adding the user's
    token: the conformance suite's server scenarios send no credentials and have no option to."""

    async def forward(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        headers = [(name, value) for name, value in request.headers.items() if name not in HOP_BY_HOP]
        answer = await http.request(
            request.method,
            f"{upstream}{request.url.path}{'?' + request.url.query if request.url.query else ''}",
            headers=[*headers, ("authorization", f"Bearer {token}")],
            content=await request.body(),
        )
        kept = {name: value for name, value in answer.headers.items() if name not in HOP_BY_HOP}
        await Response(answer.content, answer.status_code, kept)(scope, receive, send)

    return forward


async def test_the_conformance_scenarios_pass_on_a_shared_server_with_oauth_for_a_signed_in_user(
    suite: str, fake: FakePostHog
) -> None:
    """The official suite's scenarios that tests/test_conformance.py runs against --single-user, here against a
    shared server that lets in only OAuth-checked callers: a proxy adds a signed-in user's token to every request
    the suite makes, Host and Origin as the suite sent them (so DNS-rebinding protection still judges them)."""
    token = fake.mint_token(OFFERED.split())
    async with (
        remote(fake) as server,
        httpx.AsyncClient(timeout=30) as http,
        serving(bearer_proxy(http, server.url, token)) as proxy,
    ):
        for scenario in SCENARIOS:
            with anyio.fail_after(120):
                run = await anyio.run_process(
                    [suite, "server", "--url", f"{proxy}/mcp", "--scenario", scenario], check=False
                )
            assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
            assert "0 failed" in run.stdout.decode(), scenario
    assert introspections(fake) == 1
    assert {r.authorization for r in api_requests(fake)} <= {f"Bearer {token}"}
