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

from server.config import Settings
from server.http import RemoteModeRefused, build_http_app
from server.options import Options
from tests.conftest import FakeClock, connected
from tests.fake_posthog import (
    FULL_KEY,
    INVALID_KEY,
    ORG_ID,
    OTHER_PROJECT_ID,
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
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
READS = 7


@asynccontextmanager
async def remote(
    fake: FakePostHog, options: Options | None = None, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """The remote server in uvicorn; yields its base URL. The process has no key of its own unless `env` gives one."""
    settings = Settings.from_env(env or {})
    app = build_http_app(settings, options or Options(), httpx.ASGITransport(app=fake.app), FakeClock().policy())
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


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("Bearer", "Bearer"),
        ("Bearer phc_project_token_123", 'Bearer error="invalid_token"'),
        ("Bearer phs_project_secret_123", 'Bearer error="invalid_token"'),
        ("Bearer phx_caf\u00e9".encode(), "Bearer"),
        (b"Bearer phx_caf\xe9", "Bearer"),
        ("Bearer phx_two words", "Bearer"),
    ],
)
async def test_no_usable_key_is_401_before_anything_else(
    fake: FakePostHog, authorization: str | bytes | None, challenge: str
) -> None:
    """The process's own key changes nothing: on a shared server only the request's key counts."""
    async with remote(fake, env={"POSTHOG_PERSONAL_API_KEY": FULL_KEY}) as url, httpx.AsyncClient() as http:
        headers = raw(*ACCEPT.items(), *([("Authorization", authorization)] if authorization else []))
        answer = await http.post(f"{url}/mcp", json=CALL, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith(challenge)
    assert "phx_" in answer.json()["message"]
    assert fake.requests == []


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


async def test_a_foreign_host_header_is_refused(fake: FakePostHog) -> None:
    async with remote(fake) as url, httpx.AsyncClient() as http:
        headers = {**ACCEPT, "Authorization": f"Bearer {FULL_KEY}", "Host": "attacker.example"}
        answer = await http.post(f"{url}/mcp", json=INITIALIZE, headers=headers)
    assert answer.status_code in (400, 403, 421)
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


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("X-PostHog-Project-Id", b"\xb2", "X-PostHog-Project-Id '²' is not a project id: send its number in ASCII"),
        ("X-PostHog-Project-Id", "²".encode(), "X-PostHog-Project-Id '²' is not a project id: send its number in"),
        ("X-PostHog-Project-Id", "\uff11\uff12".encode(), "X-PostHog-Project-Id '\uff11\uff12' is not a project id"),
        ("X-PostHog-Project-Id", "٣".encode(), "X-PostHog-Project-Id '٣' is not a project id"),
        ("X-PostHog-Project-Id", b"0", "X-PostHog-Project-Id '0' is not a project id"),
        ("X-PostHog-Project-Id", b"-3", "X-PostHog-Project-Id '-3' is not a project id"),
        ("X-PostHog-Project-Id", b"1.5", "X-PostHog-Project-Id '1.5' is not a project id"),
        ("X-PostHog-Project-Id", b"acme", "X-PostHog-Project-Id 'acme' is not a project id"),
        ("X-PostHog-Organization-Id", b"acme", "X-PostHog-Organization-Id 'acme' is not an organization id (a UUID)"),
        (
            "X-PostHog-Organization-Id",
            "\uff10189c2a4-8e5b-7c3d-9f00-1234567890ab".encode(),
            "X-PostHog-Organization-Id '\uff10189c2a4-8e5b-7c3d-9f00-1234567890ab' is not an organization id (a UUID)",
        ),
        ("X-PostHog-Read-Only", b"maybe", "X-PostHog-Read-Only 'maybe' is neither yes nor no: send 1 or 0"),
    ],
)
async def test_a_header_this_server_cannot_read_is_400_before_mcp(
    fake: FakePostHog, name: str, value: bytes, expected: str
) -> None:
    headers = raw(*ACCEPT.items(), ("Authorization", f"Bearer {FULL_KEY}"), (name, value))
    async with remote(fake, Options(scope_check=False)) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json=CALL, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert answer.json()["message"].startswith(expected)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("2", f"/api/projects/{OTHER_PROJECT_ID}/integrations/"),
        ("02", f"/api/projects/{OTHER_PROJECT_ID}/integrations/"),
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
