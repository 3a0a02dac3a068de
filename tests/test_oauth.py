"""Remote mode as an OAuth protected resource: what a client learns before it has a token (metadata, challenges,
redirects to PostHog's sign-in), and the settings that shape it."""

from __future__ import annotations

import logging

import httpx
import pytest

from server.config import Settings
from server.http import build_http_app
from server.logs import KeyScrubbingFormatter
from server.options import Options, parse_options
from tests.conftest import FakeClock
from tests.fake_posthog import FakePostHog, serving

ALL_SCOPES = [
    "integration:read",
    "integration:write",
    "organization:read",
    "organization:write",
    "organization_integration:write",
]
READ_SCOPES = ["integration:read", "organization:read"]
LOCAL = "http://127.0.0.1:8000"
PUBLIC = "https://mcp.example.com"


def app_for(options: Options, env: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An in-process client of the remote app (no lifespan: these answers need no PostHog)."""
    app = build_http_app(Settings.from_env(env or {}), options, httpx.ASGITransport(app=FakePostHog().app))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("options", "env", "resource", "server", "scopes"),
    [
        (Options(), {}, f"{LOCAL}/mcp", "https://us.posthog.com", ALL_SCOPES),
        (Options(), {"POSTHOG_HOST": "eu"}, f"{LOCAL}/mcp", "https://eu.posthog.com", ALL_SCOPES),
        (Options(host="::1", port=9000), {}, "http://[::1]:9000/mcp", "https://us.posthog.com", ALL_SCOPES),
        (
            Options(public_url=PUBLIC, authorization_server="https://oauth.posthog.com", allowed_hosts=("a",)),
            {"POSTHOG_HOST": "https://posthog.example.com/"},
            f"{PUBLIC}/mcp",
            "https://oauth.posthog.com",
            ALL_SCOPES,
        ),
        (Options(read_only=True), {}, f"{LOCAL}/mcp", "https://us.posthog.com", READ_SCOPES),
        (
            Options(enabled=frozenset({"integrations-list", "role-external-references-create"})),
            {"POSTHOG_HOST": "https://posthog.example.com"},
            f"{LOCAL}/mcp",
            "https://posthog.example.com",
            ["integration:read", "organization:write"],
        ),
    ],
)
@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"])
async def test_the_metadata_names_this_server_posthog_and_the_scopes_of_the_tools_offered(
    options: Options, env: dict[str, str], resource: str, server: str, scopes: list[str], path: str
) -> None:
    async with app_for(options, env) as http:
        answer = await http.get(path, headers={"Origin": "https://claude.ai"})
    assert answer.status_code == 200
    assert answer.json() == {
        "resource": resource,
        "authorization_servers": [server],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "PostHog integrations",
    }
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("allowed_origins", [(), ("https://app.example.com",)])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/.well-known/oauth-protected-resource/mcp"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("POST", "/token"),
        ("POST", "/register"),
    ],
)
async def test_any_web_origin_may_read_the_metadata_and_follow_the_redirects_whatever_origins_mcp_allows(
    allowed_origins: tuple[str, ...], method: str, path: str
) -> None:
    """A browser-based client reads these before it has a token, from its own origin, and registers and asks for
    tokens by POST; /mcp keeps its own list."""
    preflight = {
        "Origin": "https://claude.ai",
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "mcp-protocol-version",
    }
    async with app_for(Options(allowed_origins=allowed_origins)) as http:
        answer = await http.options(path, headers=preflight)
        mcp = await http.options("/mcp", headers={**preflight, "Access-Control-Request-Method": "POST"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert mcp.headers.get("Access-Control-Allow-Origin") != "https://claude.ai"


@pytest.mark.parametrize(
    ("method", "path", "location"),
    [
        ("GET", "/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/openid-configuration", "/.well-known/openid-configuration"),
        ("POST", "/register", "/oauth/register/"),
        (
            "GET",
            "/authorize?response_type=code&client_id=c1&code_challenge=x&state=a%20b",
            "/oauth/authorize/?response_type=code&client_id=c1&code_challenge=x&state=a%20b",
        ),
        ("POST", "/token", "/oauth/token/"),
    ],
)
@pytest.mark.parametrize(
    ("options", "env", "server"),
    [
        (Options(), {}, "https://us.posthog.com"),
        (Options(), {"POSTHOG_HOST": "eu"}, "https://eu.posthog.com"),
        (
            Options(authorization_server="https://oauth.posthog.com"),
            {"POSTHOG_HOST": "eu"},
            "https://oauth.posthog.com",
        ),
    ],
)
async def test_a_client_that_looks_for_sign_in_on_this_origin_is_sent_to_posthogs_keeping_method_and_query(
    method: str, path: str, location: str, options: Options, env: dict[str, str], server: str
) -> None:
    async with app_for(options, env) as http:
        answer = await http.request(method, path, content=b"client_name=x" if method == "POST" else None)
    assert answer.status_code == 307
    assert answer.headers["Location"] == server + location


@pytest.mark.parametrize(
    ("options", "challenge"),
    [
        (
            Options(public_url=PUBLIC, allowed_hosts=("127.0.0.1:*",), read_only=True),
            f'Bearer resource_metadata="{PUBLIC}/.well-known/oauth-protected-resource/mcp", '
            'scope="integration:read organization:read"',
        ),
        (
            Options(enabled=frozenset()),
            'Bearer resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"',
        ),
    ],
)
async def test_the_challenge_follows_the_public_url_and_the_offered_tools(
    fake: FakePostHog, clock: FakeClock, options: Options, challenge: str
) -> None:
    """No tools offered, no scope to ask for: the challenge leaves `scope` out rather than send it empty."""
    app = build_http_app(Settings.from_env({}), options, httpx.ASGITransport(app=fake.app), clock.policy(), clock.now)
    async with serving(app) as url, httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/mcp", json={}, headers={"Accept": "application/json, text/event-stream"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == challenge
    assert fake.requests == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/.well-known/oauth-protected-resource"),
        ("DELETE", "/.well-known/oauth-protected-resource/mcp"),
        ("PUT", "/token"),
        ("DELETE", "/register"),
        ("PATCH", "/.well-known/oauth-authorization-server"),
    ],
)
async def test_the_metadata_is_only_read_and_the_redirects_only_take_get_and_post(method: str, path: str) -> None:
    async with app_for(Options()) as http:
        answer = await http.request(method, path)
    assert answer.status_code == 405


@pytest.mark.parametrize(
    ("argv", "environ", "public_url", "authorization_server"),
    [
        ([], {}, "", ""),
        (["--public-url", "https://mcp.example.com/"], {}, "https://mcp.example.com", ""),
        ([], {"POSTHOG_MCP_PUBLIC_URL": " https://mcp.example.com:8443 "}, "https://mcp.example.com:8443", ""),
        (
            ["--public-url", "http://127.0.0.1:9000"],
            {"POSTHOG_MCP_PUBLIC_URL": "https://x.example"},
            "http://127.0.0.1:9000",
            "",
        ),
        ([], {"POSTHOG_MCP_AUTHORIZATION_SERVER": "https://oauth.posthog.com/"}, "", "https://oauth.posthog.com"),
        (["--authorization-server", "http://localhost:8010"], {}, "", "http://localhost:8010"),
    ],
)
def test_the_public_url_and_the_authorization_server_come_from_a_flag_or_a_variable(
    argv: list[str], environ: dict[str, str], public_url: str, authorization_server: str
) -> None:
    options = parse_options(argv, environ)
    assert (options.public_url, options.authorization_server) == (public_url, authorization_server)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["--public-url", "mcp.example.com"],
            "--public-url (POSTHOG_MCP_PUBLIC_URL) 'mcp.example.com': use the https://",
        ),
        (
            ["--public-url", "https://mcp.example.com/mcp"],
            "--public-url (POSTHOG_MCP_PUBLIC_URL) 'https://mcp.example.com/mcp': give the origin alone "
            "(https://mcp.example.com): the server adds /mcp and the OAuth metadata's paths\n",
        ),
        (["--public-url", "https://mcp.example.com/?a=1"], "use the https:// URL of the public server"),
        (["--public-url", "https://user@mcp.example.com"], "use the https:// URL of the public server"),
        (
            ["--public-url", "http://mcp.example.com"],
            "--public-url (POSTHOG_MCP_PUBLIC_URL) 'http://mcp.example.com': use https:// (plain http:// is accepted "
            "only for 127.0.0.1, ::1 and localhost)\n",
        ),
        (["--authorization-server", "ftp://oauth.posthog.com"], "use the https:// URL of the sign-in server"),
        (["--authorization-server", "http://oauth.posthog.com"], "plain http:// is accepted only for"),
    ],
)
def test_a_public_url_or_authorization_server_that_cannot_work_stops_the_server_saying_why(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_options(argv, {})
    assert stopped.value.code == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    "token",
    ["pha_access0123456789abcdef", "phr_refresh0123456789abcdef", "phx_key0123456789abcdef", "phc_project0123456789"],
)
def test_a_token_of_any_posthog_kind_that_reaches_a_log_line_is_scrubbed(token: str) -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "Authorization: Bearer %s", (token,), None)
    line = KeyScrubbingFormatter(None).format(record)
    assert line.endswith("Authorization: Bearer [redacted]")
    assert token not in line


@pytest.mark.parametrize(
    ("options", "warned"),
    [
        (
            Options(allowed_hosts=("mcp.example.com:443", "mcp.internal")),
            "No --public-url (POSTHOG_MCP_PUBLIC_URL): the OAuth metadata names http://127.0.0.1:8000/mcp, which "
            "clients reaching mcp.example.com:443, mcp.internal cannot use to sign in. Set it to the origin they "
            "reach, e.g. https://mcp.example.com.",
        ),
        (Options(allowed_hosts=("mcp.example.com",), public_url=PUBLIC), None),
        (Options(), None),
    ],
)
def test_a_deployment_reached_by_name_without_a_public_url_is_warned_at_start(
    options: Options, warned: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="server.http"):
        build_http_app(Settings.from_env({}), options)
    assert [record.getMessage() for record in caplog.records] == ([warned] if warned else [])
