"""Remote mode: the key comes with each request, callers never meet, and the endpoint is safe by default."""

from __future__ import annotations

import json
import logging
import os
import random
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from server.config import Settings
from server.http import Newcomers, RemoteModeRefused, build_http_app, create_app
from server.options import Options
from tests.conftest import FakeClock, connected
from tests.fake_posthog import (
    FULL_KEY,
    INVALID_KEY,
    ORG_ID,
    OTHER_ORG_ID,
    OTHER_PROJECT_ID,
    PROJECT_ID,
    READ_ONLY_KEY,
    ROLE_ID,
    TWILIO_INTEGRATION_ID,
    FakePostHog,
    free_port,
    running,
    serving,
    until_healthy,
)

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
READS = 7


@asynccontextmanager
async def remote(
    fake: FakePostHog, options: Options | None = None, env: dict[str, str] | None = None, clock: FakeClock | None = None
) -> AsyncIterator[str]:
    """The remote server in uvicorn; yields its base URL. The process has no key of its own unless `env` gives one;
    the server's memory of keys and addresses ages on `clock`."""
    settings = Settings.from_env(env or {})
    clock = clock or FakeClock()
    transport = httpx.ASGITransport(app=fake.app)
    app = build_http_app(settings, options or Options(), transport, clock.policy(), clock.now)
    async with serving(app) as url:
        yield url


def raw(*headers: tuple[str, str | bytes]) -> list[tuple[bytes, bytes]]:
    """Headers exactly as given, repeats and all, with values in any bytes."""
    return [(name.encode(), value.encode() if isinstance(value, str) else value) for name, value in headers]


@asynccontextmanager
async def caller(url: str, key: str | None, **headers: str) -> AsyncIterator[Client]:
    bearer = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers={**bearer, **headers}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client,
    ):
        yield client


NO_KEY = (
    "Sign in to PostHog: this server takes PostHog's OAuth access tokens (your MCP client signs you in from "
    "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp), or a personal API key as Authorization: Bearer "
    "phx_…"
)
POINTERS = (
    'resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp", scope="integration:read '
    'integration:write organization:read organization:write organization_integration:write"'
)
"""What every 401 ends with: where the OAuth metadata is, and the scopes of the tools offered (all of them here)."""
SIGN_IN = f"Bearer {POINTERS}"
UNREADABLE = (
    'Bearer error="invalid_request", error_description="the Authorization header holds no usable Bearer token", '
    f"{POINTERS}"
)


def not_personal(what: str) -> tuple[str, str]:
    """The challenge and message for a project token, a project secret key or a refresh token sent as the key."""
    return (
        f'Bearer error="invalid_token", error_description="{what} is not an access token or personal API key", '
        f"{POINTERS}",
        f"This is {what}, neither a PostHog personal API key (phx_…) nor an OAuth access token (pha_…): sign in to "
        "PostHog through your MCP client, or send Authorization: Bearer phx_…",
    )


UNUSABLE: list[tuple[str | bytes, str, str]] = [
    ("Basic dXNlcjpwYXNz", UNREADABLE, NO_KEY),
    ("Bearer", UNREADABLE, NO_KEY),
    ("phx_no_scheme_0123456789", UNREADABLE, NO_KEY),
    ("Bearer phc_project_token_123", *not_personal("a project token (phc_)")),
    ("Bearer phs_project_secret_123", *not_personal("a project secret key (phs_)")),
    ("Bearer phr_refresh_token_123", *not_personal("a refresh token")),
    ("bearer phc_", *not_personal("a project token (phc_)")),
    ("Bearer phx_caf\u00e9".encode(), UNREADABLE, NO_KEY),
    (b"Bearer phx_caf\xe9", UNREADABLE, NO_KEY),
    ("Bearer phx_two words", UNREADABLE, NO_KEY),
]


@pytest.mark.parametrize(
    ("single_user", "authorization", "challenge", "message"),
    [(False, None, SIGN_IN, NO_KEY), *[(single_user, *row) for single_user in (False, True) for row in UNUSABLE]],
)
async def test_no_usable_key_is_401_before_anything_else(
    fake: FakePostHog, single_user: bool, authorization: str | bytes | None, challenge: str, message: str
) -> None:
    """The process's own key changes nothing: on a shared server only the request's key counts, and a single-user
    one lends its key only to a request that sends no Authorization at all (a bad one is a mistake to report)."""
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY}
    async with remote(fake, Options(single_user=single_user), env) as url, httpx.AsyncClient() as http:
        headers = raw(*ACCEPT.items(), *([("Authorization", authorization)] if authorization else []))
        answer = await http.post(f"{url}/mcp", json=CALL, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == challenge
    assert answer.json() == {"error": "unauthorized", "message": message}
    assert fake.requests == []


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {FULL_KEY}", f"Bearer  {FULL_KEY}", f"bearer {FULL_KEY}", f"BEARER {FULL_KEY}", f"Bearer   {FULL_KEY}"],
)
async def test_a_bearer_key_is_read_whatever_its_spacing_and_the_schemes_letter_case(
    fake: FakePostHog, authorization: str
) -> None:
    async with remote(fake) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=LIST, headers={**ACCEPT, "Authorization": authorization})
    assert answer.status_code == 200
    assert len(answer.json()["result"]["tools"]) == 13
    assert [request.authorization for request in fake.requests] == [f"Bearer {FULL_KEY}"]


async def test_health_and_preflight_need_no_key(fake: FakePostHog) -> None:
    options = Options(allowed_origins=("https://app.example.com",))
    async with remote(fake, options) as url, httpx.AsyncClient() as http:
        health = await http.get(f"{url}/healthz")
        preflight = await http.options(
            f"{url}/mcp",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
        )
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_no_cors_unless_configured(fake: FakePostHog) -> None:
    async with remote(fake) as url, httpx.AsyncClient() as http:
        preflight = await http.options(
            f"{url}/mcp", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
        )
    assert "access-control-allow-origin" not in preflight.headers


ALLOWED = Options(allowed_hosts=("mcp.example.com",), allowed_origins=("https://app.example.com",))


@pytest.mark.parametrize(
    ("options", "host", "origin", "status"),
    [
        (ALLOWED, "mcp.example.com", None, 200),
        (ALLOWED, "mcp.example.com", "https://app.example.com", 200),
        (ALLOWED, "mcp.example.com", "https://attacker.example", 403),
        (ALLOWED, "mcp.example.com", "http://127.0.0.1:8000", 403),
        (ALLOWED, "attacker.example", None, 421),
        (ALLOWED, "127.0.0.1:8000", None, 421),
        (Options(), "127.0.0.1:8000", None, 200),
        (Options(), "localhost:8000", "http://localhost:8000", 200),
        (Options(), "127.0.0.1:8000", "http://127.0.0.1:3000", 200),
        (Options(), "127.0.0.1:8000", "https://app.example.com", 403),
        (Options(), "mcp.example.com", None, 421),
    ],
    ids=lambda value: "allowed" if value is ALLOWED else "default" if isinstance(value, Options) else str(value),
)
async def test_only_the_allowed_hosts_and_origins_reach_mcp(
    fake: FakePostHog, options: Options, host: str, origin: str | None, status: int
) -> None:
    """--allowed-hosts and --allowed-origins replace the loopback defaults; whatever they leave out is refused before
    PostHog is asked anything (DNS rebinding, a page of another site)."""
    headers = {**ACCEPT, "Authorization": f"Bearer {FULL_KEY}", "Host": host, **({"Origin": origin} if origin else {})}
    async with remote(fake, options) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=INITIALIZE, headers=headers)
    assert answer.status_code == status
    if status != 200:
        assert fake.requests == []


async def test_a_body_over_1_mib_is_refused(fake: FakePostHog) -> None:
    async with remote(fake) as url, httpx.AsyncClient() as http:
        headers = {**ACCEPT, "Authorization": f"Bearer {FULL_KEY}"}
        answer = await http.post(f"{url}/mcp", content=b"{" + b" " * 1_100_000 + b"}", headers=headers)
    assert answer.status_code == 413


def test_a_public_bind_without_allowed_hosts_refuses_to_start() -> None:
    with pytest.raises(RemoteModeRefused, match="--allowed-hosts"):
        build_http_app(Settings.from_env({}), Options(host="0.0.0.0"))
    build_http_app(Settings.from_env({}), Options(host="0.0.0.0", allowed_hosts=("mcp.example.com",)))


async def test_a_key_posthog_rejects_is_a_tool_error(fake: FakePostHog) -> None:
    async with remote(fake) as url, caller(url, INVALID_KEY) as client:
        result = await client.call_tool("integrations-list", {})
    assert result.is_error is True
    assert "(401)" in str(result.content[0].model_dump()["text"])


async def test_two_callers_each_see_their_own_key_and_tools_and_nothing_else(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    """A full key and a read-only key interleave 100 calls each through one server."""
    caplog.set_level(logging.DEBUG)
    seen: dict[str, list[tuple[str, bool]]] = {FULL_KEY: [], READ_ONLY_KEY: []}

    async def work(client: Client, key: str, calls: int) -> None:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        assert len(tools) == (13 if key == FULL_KEY else READS)
        for index in range(calls):
            tool = random.choice(["integrations-get", "integrations-delete"])
            result = await client.call_tool(tool, {"id": 999_000 + index} if tool.endswith("delete") else {"id": 101})
            seen[key].append((tool, bool(result.is_error)))
            await anyio.lowlevel.checkpoint()

    async with (
        remote(fake, Options()) as url,
        caller(url, FULL_KEY) as full,
        caller(url, READ_ONLY_KEY) as read_only,
        anyio.create_task_group() as both,
    ):
        both.start_soon(work, full, FULL_KEY, 100)
        both.start_soon(work, read_only, READ_ONLY_KEY, 100)

    for tool, failed in seen[READ_ONLY_KEY]:
        assert failed is (tool == "integrations-delete")
    deletes_by_key = {r.authorization for r in fake.requests if r.method == "DELETE"}
    assert deletes_by_key <= {f"Bearer {FULL_KEY}"}
    by_key = [r.authorization for r in fake.requests if r.method == "GET" and r.path.endswith("/101/")]
    assert by_key.count(f"Bearer {READ_ONLY_KEY}") == sum(1 for tool, _ in seen[READ_ONLY_KEY] if tool.endswith("get"))
    assert by_key.count(f"Bearer {FULL_KEY}") == sum(1 for tool, _ in seen[FULL_KEY] if tool.endswith("get"))
    assert caplog.records
    for key in (FULL_KEY, READ_ONLY_KEY):
        assert key not in caplog.text


async def test_read_only_header_narrows_but_never_widens(fake: FakePostHog) -> None:
    async with (
        remote(fake, Options(scope_check=False)) as url,
        caller(url, FULL_KEY, **{"X-PostHog-Read-Only": "1"}) as c,
    ):
        assert len((await c.list_tools()).tools) == READS
        refused = await c.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert "this request asked for read-only mode (X-PostHog-Read-Only)" in str(refused.content[0].model_dump())
    options = Options(scope_check=False, read_only=True)
    async with remote(fake, options) as url, caller(url, FULL_KEY, **{"X-PostHog-Read-Only": "0"}) as client:
        assert len((await client.list_tools()).tools) == READS
    assert all(request.method == "GET" for request in fake.requests)


async def test_secret_env_is_ignored_on_a_shared_server(fake: FakePostHog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR_SECRET", "sk-operator-only")
    options = Options(scope_check=False, secret_env={"OPERATOR_SECRET": None})
    arguments = {"kind": "anthropic", "config": {"api_key": {"$env": "OPERATOR_SECRET"}}}
    async with remote(fake, options) as url, caller(url, FULL_KEY) as client:
        result = await client.call_tool("integrations-create", arguments)
    assert "OPERATOR_SECRET is not among the variables this server may read" in str(result.content[0].model_dump())
    assert fake.requests == []


@pytest.mark.parametrize(
    ("allowed", "kind", "config", "refused"),
    [
        (None, "anthropic", {"api_key": {"$env": "OPERATOR_SECRET"}}, None),
        (
            None,
            "postgresql",
            {"host": "evil.example", "user": "u", "password": {"$env": "OPERATOR_SECRET"}},
            "listed without kinds",
        ),
        (
            frozenset({"postgresql"}),
            "postgresql",
            {"host": "db", "user": "u", "password": {"$env": "OPERATOR_SECRET"}},
            None,
        ),
        (
            frozenset({"postgresql"}),
            "anthropic",
            {"api_key": {"$env": "OPERATOR_SECRET"}},
            "allowed only for postgresql",
        ),
    ],
)
async def test_single_user_fills_secret_env_only_for_the_kinds_it_allows(
    fake: FakePostHog,
    monkeypatch: pytest.MonkeyPatch,
    allowed: frozenset[str] | None,
    kind: str,
    config: dict[str, Any],
    refused: str | None,
) -> None:
    """The per-kind rule of --secret-env holds over HTTP too, the one mode besides stdio where it applies."""
    monkeypatch.setenv("OPERATOR_SECRET", "sk-operator-only")
    options = Options(scope_check=False, single_user=True, secret_env={"OPERATOR_SECRET": allowed})
    async with remote(fake, options, {"POSTHOG_PERSONAL_API_KEY": FULL_KEY}) as url, caller(url, None) as client:
        result = await client.call_tool("integrations-create", {"kind": kind, "config": config})
    if refused is None:
        assert result.is_error is False
        sent = {name: "sk-operator-only" if isinstance(value, dict) else value for name, value in config.items()}
        assert fake.requests[0].body == {"kind": kind, "config": sent}
        assert "sk-operator-only" not in str(result.model_dump())
    else:
        assert result.is_error is True
        assert refused in str(result.content[0].model_dump())
        assert fake.requests == []


async def test_single_user_acts_with_the_process_key_unless_a_header_overrides_it(fake: FakePostHog) -> None:
    options = Options(scope_check=False, single_user=True)
    async with remote(fake, options, {"POSTHOG_PERSONAL_API_KEY": FULL_KEY}) as url:
        async with caller(url, None) as anonymous:
            assert (await anonymous.call_tool("integrations-get", {"id": 101})).is_error is False
        async with caller(url, INVALID_KEY) as other:
            assert (await other.call_tool("integrations-get", {"id": 101})).is_error is True
    assert [r.authorization for r in fake.requests] == [f"Bearer {FULL_KEY}", f"Bearer {INVALID_KEY}"]


async def test_a_2026_client_over_http_confirms_by_input_required(fake: FakePostHog) -> None:
    asked: list[str] = []

    async def yes(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    options = Options(scope_check=False, confirm="always")
    async with connected(fake, mode="http", options=options, elicitation_callback=yes) as client:
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    assert len(asked) == 1
    assert [request.method for request in fake.requests] == ["GET", "DELETE"]


async def test_a_2025_client_over_http_counts_as_one_that_cannot_confirm(fake: FakePostHog) -> None:
    async def yes(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"confirm": True})

    async with (
        remote(fake, Options(scope_check=False, confirm="always")) as url,
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {FULL_KEY}"}) as http,
        Client(
            streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy", elicitation_callback=yes
        ) as client,
    ):
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert "this client cannot ask" in str(result.content[0].model_dump())
    assert fake.requests == []


async def test_two_workers_answer_400_calls_from_20_clients_none_lost_none_doubled(fake: FakePostHog) -> None:
    async with running(fake) as posthog:
        env = {**os.environ, "POSTHOG_HOST": posthog, "POSTHOG_MCP_SCOPE_CHECK": "0"}
        env.pop("POSTHOG_PERSONAL_API_KEY", None)
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.http:create_app", "--workers", "2"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        async with await anyio.open_process(command, env=env) as workers:
            url = f"http://127.0.0.1:{port}"
            await until_healthy(url)
            answered: list[bool] = []

            async def client(number: int) -> None:
                async with caller(url, FULL_KEY) as session:
                    for call in range(20):
                        marker = f"w{number}-{call}"
                        arguments = {
                            "provider": "github",
                            "provider_organization_id": "load",
                            "provider_role_id": marker,
                            "provider_role_name": marker,
                            "role": ROLE_ID,
                        }
                        result = await session.call_tool("role-external-references-create", arguments)
                        answered.append(result.is_error is False)

            try:
                with anyio.fail_after(120):
                    async with anyio.create_task_group() as clients:
                        for number in range(20):
                            clients.start_soon(client, number)
            finally:
                workers.terminate()
    assert answered == [True] * 400
    markers = [json.dumps(r.body) for r in fake.requests if r.method == "POST"]
    for number in range(20):
        for call in range(20):
            assert sum(f'"w{number}-{call}"' in body for body in markers) == 1


async def test_the_command_refuses_a_public_bind_without_allowed_hosts() -> None:
    command = [str(SCRIPT), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())]
    done = await anyio.run_process(command, env={"PATH": os.environ["PATH"]}, check=False)
    assert done.returncode != 0
    assert "without allowed hosts: set --allowed-hosts" in done.stderr.decode()


CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "integrations-list", "arguments": {}}}
PROJECT_TOKEN = "phc_project_token_123"


@pytest.mark.parametrize("single_user", [False, True], ids=["shared", "single-user"])
@pytest.mark.parametrize(
    ("sent", "named"),
    [
        ([("Authorization", f"Bearer {PROJECT_TOKEN}"), ("Authorization", f"Bearer {FULL_KEY}")], "Authorization"),
        ([("Authorization", f"Bearer {FULL_KEY}"), ("Authorization", f"Bearer {PROJECT_TOKEN}")], "Authorization"),
        ([("Authorization", "Basic dXNlcjpwYXNz"), ("Authorization", f"Bearer {FULL_KEY}")], "Authorization"),
        ([("Authorization", f"Bearer {FULL_KEY}"), ("Authorization", f"Bearer {READ_ONLY_KEY}")], "Authorization"),
        ([("Authorization", f"Bearer {FULL_KEY}"), ("Authorization", f"Bearer {FULL_KEY}")], "Authorization"),
        ([("Authorization", f"Bearer {FULL_KEY}"), ("authorization", f"Bearer {FULL_KEY}")], "Authorization"),
        ([("X-PostHog-Project-Id", "1"), ("X-PostHog-Project-Id", "2")], "X-PostHog-Project-Id"),
        ([("X-PostHog-Organization-Id", ORG_ID), ("X-PostHog-Organization-Id", ORG_ID)], "X-PostHog-Organization-Id"),
        ([("X-PostHog-Read-Only", "1"), ("X-PostHog-Read-Only", "0")], "X-PostHog-Read-Only"),
    ],
)
async def test_a_header_sent_twice_is_400_before_mcp(
    fake: FakePostHog, single_user: bool, sent: list[tuple[str, str]], named: str
) -> None:
    """Two readers of one header can disagree on which copy counts (the gate read the last, the caller the first)."""
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY}
    headers = [*ACCEPT.items(), *sent]
    if named != "Authorization":
        headers.append(("Authorization", f"Bearer {FULL_KEY}"))
    async with remote(fake, Options(single_user=single_user), env) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=CALL, headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {"error": "bad_request", "message": f"The request has 2 {named} headers: send one."}
    assert fake.requests == []


NOT_A_PROJECT = "is not a project id: send its number in ASCII digits (12345), or leave the header out."
NOT_AN_ORGANIZATION = "is not an organization id (a UUID)."
NEITHER = "is neither yes nor no: send 1 or 0, or leave it out."


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("X-PostHog-Project-Id", b"\xb2", f"X-PostHog-Project-Id '²' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", "²".encode(), f"X-PostHog-Project-Id '²' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", "\uff11\uff12".encode(), f"X-PostHog-Project-Id '\uff11\uff12' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", "٣".encode(), f"X-PostHog-Project-Id '٣' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", b"0", f"X-PostHog-Project-Id '0' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", b"-3", f"X-PostHog-Project-Id '-3' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", b"1.5", f"X-PostHog-Project-Id '1.5' {NOT_A_PROJECT}"),
        ("X-PostHog-Project-Id", b"acme", f"X-PostHog-Project-Id 'acme' {NOT_A_PROJECT}"),
        ("X-PostHog-Organization-Id", b"acme", f"X-PostHog-Organization-Id 'acme' {NOT_AN_ORGANIZATION}"),
        (
            "X-PostHog-Organization-Id",
            "\uff10189c2a4-8e5b-7c3d-9f00-1234567890ab".encode(),
            f"X-PostHog-Organization-Id '\uff10189c2a4-8e5b-7c3d-9f00-1234567890ab' {NOT_AN_ORGANIZATION}",
        ),
        ("X-PostHog-Read-Only", b"maybe", f"X-PostHog-Read-Only 'maybe' {NEITHER}"),
        ("X-PostHog-Read-Only", b"2", f"X-PostHog-Read-Only '2' {NEITHER}"),
    ],
)
async def test_a_header_this_server_cannot_read_is_400_before_mcp(
    fake: FakePostHog, name: str, value: bytes, expected: str
) -> None:
    headers = raw(*ACCEPT.items(), ("Authorization", f"Bearer {FULL_KEY}"), (name, value))
    async with remote(fake, Options(scope_check=False)) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=CALL, headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {"error": "bad_request", "message": expected}
    assert fake.requests == []


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("2", f"/api/projects/{OTHER_PROJECT_ID}/integrations/"),
        ("02", f"/api/projects/{OTHER_PROJECT_ID}/integrations/"),
        ("1", f"/api/projects/{PROJECT_ID}/integrations/"),
        ("", "/api/projects/@current/integrations/"),
    ],
)
async def test_a_project_header_in_ascii_digits_is_the_default_project(
    fake: FakePostHog, value: str, path: str
) -> None:
    async with (
        remote(fake, Options(scope_check=False)) as url,
        caller(url, FULL_KEY, **{"X-PostHog-Project-Id": value}) as client,
    ):
        result = await client.call_tool("integrations-list", {})
    assert result.is_error is False
    assert [request.path for request in fake.requests] == [path]


NOT_ALLOWED = {
    "error": "method_not_allowed",
    "message": (
        "/mcp takes only POST: this server keeps no sessions (nothing to DELETE) and sends nothing unprompted (no "
        "event stream to GET). Send each JSON-RPC message in a POST."
    ),
}


@pytest.mark.parametrize("single_user", [False, True], ids=["shared", "single-user"])
@pytest.mark.parametrize(
    "authorization",
    [
        [],
        [("Authorization", f"Bearer {FULL_KEY}")],
        [("Authorization", f"Bearer {PROJECT_TOKEN}")],
        [("Authorization", f"Bearer {FULL_KEY}"), ("Authorization", f"Bearer {FULL_KEY}")],
    ],
    ids=["no-key", "key", "project-token", "two-keys"],
)
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"])
async def test_every_method_but_post_is_405_allow_post_before_the_key_is_looked_at(
    fake: FakePostHog,
    caplog: pytest.LogCaptureFixture,
    method: str,
    authorization: list[tuple[str, str]],
    single_user: bool,
) -> None:
    """A stateless server has no event stream to open and no session to end, and no key would change that: so 405
    comes first, where 401 (or 400) would send a client after a key only to be refused again (the TypeScript SDK
    runs its OAuth flow on a 401). The headers are a TypeScript SDK 1.x client's, which GETs /mcp after initialize."""
    caplog.set_level(logging.DEBUG)
    accept = "text/event-stream" if method == "GET" else ACCEPT["Accept"]
    headers = [("Accept", accept), ("Mcp-Protocol-Version", "2025-11-25"), *authorization]
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY}
    async with remote(fake, Options(single_user=single_user), env) as url, httpx.AsyncClient() as http:
        caplog.clear()
        with anyio.fail_after(5):
            answer = await http.request(method, f"{url}/mcp", headers=headers)
        mcp_logs = [record.getMessage() for record in caplog.records if record.name.startswith("mcp")]
    assert (answer.status_code, answer.headers.get("Allow")) == (405, "POST")
    if method != "HEAD":
        assert answer.json() == NOT_ALLOWED
    assert mcp_logs == []
    assert fake.requests == []


async def test_a_browser_client_reads_the_405_of_an_allowed_origin(fake: FakePostHog) -> None:
    """CORS wraps the refusal too: a web client sees 405 and goes on with POST, not an opaque network error."""
    origin = "https://app.example.com"
    async with remote(fake, Options(allowed_origins=(origin,))) as url, httpx.AsyncClient() as http:
        headers = {"Origin": origin, "Accept": "text/event-stream", "Authorization": f"Bearer {FULL_KEY}"}
        with anyio.fail_after(5):
            answer = await http.get(f"{url}/mcp", headers=headers)
    assert (answer.status_code, answer.headers.get("Allow")) == (405, "POST")
    assert answer.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    ("value", "tools"),
    [
        *[(word, READS) for word in ("1", "true", "yes", "on", "TRUE", "Yes", "oN")],
        *[(word, 13) for word in ("0", "false", "no", "off", "FALSE", "No")],
    ],
)
async def test_the_read_only_header_takes_the_words_the_options_take_in_any_letter_case(
    fake: FakePostHog, value: str, tools: int
) -> None:
    headers = {**ACCEPT, "Authorization": f"Bearer {FULL_KEY}", "X-PostHog-Read-Only": value}
    async with remote(fake, Options(scope_check=False)) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=LIST, headers=headers)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["result"]["tools"]) == tools


ROLES = "role-external-references-list"


def roles_of(organization: str) -> str:
    return f"/api/organizations/{organization}/role_external_references/"


@pytest.mark.parametrize(
    ("single_user", "env", "bearer", "headers", "tool", "path"),
    [
        (False, {"POSTHOG_PROJECT_ID": "2"}, FULL_KEY, {}, "integrations-list", "/api/projects/@current/integrations/"),
        (True, {"POSTHOG_PROJECT_ID": "2"}, FULL_KEY, {}, "integrations-list", "/api/projects/2/integrations/"),
        (True, {"POSTHOG_PROJECT_ID": "2"}, None, {}, "integrations-list", "/api/projects/2/integrations/"),
        (
            True,
            {"POSTHOG_PROJECT_ID": "2"},
            FULL_KEY,
            {"X-PostHog-Project-Id": "1"},
            "integrations-list",
            "/api/projects/1/integrations/",
        ),
        (False, {"POSTHOG_ORGANIZATION_ID": ORG_ID}, FULL_KEY, {}, ROLES, roles_of("@current")),
        (True, {"POSTHOG_ORGANIZATION_ID": ORG_ID}, FULL_KEY, {}, ROLES, roles_of(ORG_ID)),
        (True, {"POSTHOG_ORGANIZATION_ID": ORG_ID}, None, {}, ROLES, roles_of(ORG_ID)),
        (False, {}, FULL_KEY, {"X-PostHog-Organization-Id": ORG_ID}, ROLES, roles_of(ORG_ID)),
        (True, {}, None, {"X-PostHog-Organization-Id": ORG_ID}, ROLES, roles_of(ORG_ID)),
        (
            True,
            {"POSTHOG_ORGANIZATION_ID": OTHER_ORG_ID},
            FULL_KEY,
            {"X-PostHog-Organization-Id": ORG_ID},
            ROLES,
            roles_of(ORG_ID),
        ),
    ],
)
async def test_a_requests_default_project_and_organization_come_from_its_headers_then_a_single_users_process(
    fake: FakePostHog,
    single_user: bool,
    env: dict[str, str],
    bearer: str | None,
    headers: dict[str, str],
    tool: str,
    path: str,
) -> None:
    """A shared server lends a request nothing of the process's; a single-user one its defaults, key or no key."""
    options = Options(scope_check=False, single_user=single_user)
    async with (
        remote(fake, options, {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, **env}) as url,
        caller(url, bearer, **headers) as client,
    ):
        result = await client.call_tool(tool, {})
    assert result.is_error is False, result.content
    assert [(request.path, request.authorization) for request in fake.requests] == [(path, f"Bearer {FULL_KEY}")]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, None),
        ({"POSTHOG_PERSONAL_API_KEY": PROJECT_TOKEN}, None),
        (
            {"POSTHOG_MCP_TIMEOUT": "forever"},
            "POSTHOG_MCP_TIMEOUT 'forever' is not a number of seconds between 0 and 600.",
        ),
        ({"POSTHOG_PROJECT_ID": "acme"}, "POSTHOG_PROJECT_ID"),
    ],
)
async def test_a_shared_server_refuses_calls_for_its_settings_problems_but_not_for_its_own_keys(
    fake: FakePostHog, env: dict[str, str], problem: str | None
) -> None:
    """Over HTTP each request brings its key: the process's missing or wrong key is no problem, a bad setting is."""
    async with remote(fake, Options(scope_check=False), env) as url, caller(url, FULL_KEY) as client:
        result = await client.call_tool("integrations-list", {})
    if problem is None:
        assert result.is_error is False
        assert len(fake.requests) == 1
        return
    text = result.content[0].model_dump()["text"]
    assert result.is_error is True
    assert text.startswith(f"This server is not set up to reach PostHog, so nothing was sent: {problem}")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("host", "page"),
    [
        ("", "https://us.posthog.com/settings/user-api-keys"),
        ("eu", "https://eu.posthog.com/settings/user-api-keys"),
        ("https://posthog.example.com/", "https://posthog.example.com/settings/user-api-keys"),
    ],
)
async def test_a_key_posthog_rejected_is_401_with_the_keys_page_of_the_servers_posthog(
    fake: FakePostHog, host: str, page: str
) -> None:
    async with remote(fake, env={"POSTHOG_HOST": host}) as url, httpx.AsyncClient() as http:
        headers = {**ACCEPT, "Authorization": f"Bearer {INVALID_KEY}"}
        first = await http.post(f"{url}/mcp", json=LIST, headers=headers)
        with anyio.fail_after(10):
            await anyio.wait_all_tasks_blocked()
        refused = await http.post(f"{url}/mcp", json=CALL, headers=headers)
    assert first.status_code == 200
    assert refused.status_code == 401
    assert (
        refused.headers["WWW-Authenticate"]
        == f'Bearer error="invalid_token", error_description="PostHog rejected this key", {POINTERS}'
    )
    assert refused.json() == {
        "error": "unauthorized",
        "message": "PostHog rejected this API key (401) less than a minute ago: it is wrong or revoked, or it belongs "
        f"to the other region. Check it at {page}.",
    }
    assert [request.path for request in fake.requests] == ["/api/personal_api_keys/@current/"]


def junk(number: int) -> str:
    """A well-formed personal API key that PostHog never issued."""
    return f"phx_junk_{number:040d}"


async def post_from(url: str, source: str, key: str) -> httpx.Response:
    """tools/list with `key`, from the loopback address `source`."""
    headers = {**ACCEPT, "Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=source)) as http:
        return await http.post(f"{url}/mcp", json=LIST, headers=headers)


@pytest.mark.parametrize(
    ("first", "other", "last", "retry_after"),
    [
        (0.0, None, 1.0, 59),
        (30.0, None, 40.0, 50),
        (30.0, None, 89.0, 1),
        (0.0, None, 59.5, 1),
        (0.0, None, 59.999, 1),
        (0.0, None, 60.0, None),
        (30.0, 60.0, 61.0, 29),
        (30.0, 60.0, 89.5, 1),
        (30.0, 60.0, 90.0, None),
        (0.0, 30.0, 60.0, None),
    ],
)
async def test_an_address_past_10_new_keys_a_minute_is_429_until_the_oldest_is_a_minute_old(
    fake: FakePostHog, clock: FakeClock, first: float, other: float | None, last: float, retry_after: int | None
) -> None:
    """Ten new keys at `first`, another address's at `other` (which sweeps what the server remembers), the 11th at
    `last`: held back, with Retry-After in whole seconds (at least 1), until the first ten are a minute old."""
    async with remote(fake, Options(scope_check=False), clock=clock) as url:
        clock.time = first
        for number in range(10):
            assert (await post_from(url, "127.0.0.1", junk(number))).status_code == 200
        if other is not None:
            clock.time = other
            assert (await post_from(url, "127.0.0.2", junk(100))).status_code == 200
        clock.time = last
        answer = await post_from(url, "127.0.0.1", junk(10))
        again = await post_from(url, "127.0.0.1", junk(0))
    assert again.status_code == 200
    if retry_after is None:
        assert answer.status_code == 200
        return
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == str(retry_after)
    assert answer.json() == {
        "error": "too_many_keys",
        "message": "This address presented 10 credentials new to this server in the last minute, each of which costs "
        f"PostHog a request: try again in {retry_after} s.",
    }
    assert fake.requests == []


def test_the_count_of_new_keys_sweeps_idle_addresses_once_a_minute_not_on_every_request(clock: FakeClock) -> None:
    """Sweeping walks every address: once a minute bounds the memory without making each request pay for it."""
    newcomers = Newcomers(clock.now)
    steps = [(30.0, "a", ["a"]), (60.0, "b", ["a", "b"]), (100.0, "c", ["a", "b", "c"]), (120.0, "d", ["c", "d"])]
    for at, address, remembered in steps:
        clock.time = at
        assert newcomers.wait(address, SecretStr(junk(0))) is None
        assert list(newcomers.seen) == remembered


ODD_KEY = "phx_k3y"
"""A process key too short for the log formatter's pattern of keys: only the key itself, given it, hides it."""


@pytest.mark.parametrize(
    ("env", "tools", "level", "said"),
    [
        ({}, 13, logging.WARNING, []),
        ({"POSTHOG_MCP_READ_ONLY": "1", "POSTHOG_MCP_LOG_LEVEL": "debug"}, READS, logging.DEBUG, []),
        ({"POSTHOG_MCP_TOOLS": "integrations-get", "POSTHOG_MCP_LOG_LEVEL": " Error "}, 1, logging.ERROR, []),
        (
            {"POSTHOG_MCP_LOG_LEVEL": "loud"},
            13,
            logging.WARNING,
            ["WARNING server: POSTHOG_MCP_LOG_LEVEL 'loud' is not a log level; using WARNING."],
        ),
    ],
)
async def test_the_uvicorn_factory_reads_its_settings_options_and_log_level_from_the_environment(
    fake: FakePostHog,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    tools: int,
    level: int,
    said: list[str],
) -> None:
    """`uvicorn --factory server.http:create_app` has no command line of ours: the environment is its configuration.
    Its logs go to stderr (pytest's handlers are set aside, as uvicorn's process has none), never with the key."""
    for name in [name for name in os.environ if name.startswith("POSTHOG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(logging.root, "handlers", [])
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    root = logging.root.level
    try:
        async with running(fake) as posthog:
            for name, value in {
                "POSTHOG_HOST": posthog,
                "POSTHOG_PERSONAL_API_KEY": ODD_KEY,
                "POSTHOG_MCP_SCOPE_CHECK": "0",
                **env,
            }.items():
                monkeypatch.setenv(name, value)
            app = create_app()
            logging.getLogger("server.test").error("the process key is %s", ODD_KEY)
            effective = logging.getLogger("server").getEffectiveLevel()
            async with serving(app) as url, caller(url, FULL_KEY) as client:
                listed = (await client.list_tools()).tools
                result = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
    finally:
        logging.root.setLevel(root)
        for name, was in chatty.items():
            logging.getLogger(name).setLevel(was)
    ours = [line.split(" ", 2)[2] for line in capsys.readouterr().err.splitlines()]
    lines = [line for line in ours if line.split(" ")[1] in ("server:", "server.test:")]
    assert lines == [*said, "ERROR server.test: the process key is [redacted]"]
    assert effective == level
    assert len(listed) == tools
    assert result.is_error is False
    assert [(request.path, request.authorization) for request in fake.requests] == [
        (f"/api/projects/@current/integrations/{TWILIO_INTEGRATION_ID}/", f"Bearer {FULL_KEY}")
    ]
