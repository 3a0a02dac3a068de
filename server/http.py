"""Remote mode: MCP over streamable HTTP at /mcp, stateless, so any replica can answer any request.

A credential belongs to a request, not to the process: each request's `Authorization: Bearer …` (a personal API key
`phx_…`, or an OAuth access token `pha_…` from signing in to PostHog, see `server.oauth`) is what its tool calls use,
read from the request when a call needs it and kept nowhere else.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import httpx
from mcp.server import ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.access import offered_scopes
from server.app import build_server
from server.caller import Caller, is_access_token, process_caller
from server.config import Settings, is_loopback
from server.credentials import OUTAGE_WAIT, Keys, Questions, Unavailable, digest
from server.errors import KEYS_PAGE
from server.logs import configure_logging
from server.oauth import Resource
from server.options import NO, YES, Options, parse_options
from server.posthog import PostHog
from server.retries import RetryPolicy
from server.state import State
from tools.digits import ascii_int, ascii_uuid

logger = logging.getLogger(__name__)

MAX_BODY = 1_048_576
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
MCP_HEADERS = ("Authorization", "Content-Type", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID")
POSTHOG_HEADERS = ("X-PostHog-Project-Id", "X-PostHog-Organization-Id", "X-PostHog-Read-Only")
READ = {name.lower(): name for name in ("Authorization", *POSTHOG_HEADERS)}
"""The request headers this server reads, each of which may come once."""
NEWCOMERS = 10
"""Keys new to this server that one client address may present per WINDOW; past it, 429."""
WINDOW = 60.0
"""Seconds over which NEWCOMERS counts."""
NOT_ALLOWED = {
    "error": "method_not_allowed",
    "message": (
        "/mcp takes only POST: this server keeps no sessions (nothing to DELETE) and sends nothing unprompted (no "
        "event stream to GET). Send each JSON-RPC message in a POST."
    ),
}
"""Stateless, the server has no stream for GET to open and no session for DELETE to end (the SDK's GET would open
a stream that never sends anything)."""


class RemoteModeRefused(Exception):
    """A configuration that would expose the server unsafely; the message says what to set."""


def create_app() -> Starlette:
    """The app factory for `uvicorn --factory server.http:create_app`: configured by environment variables only."""
    settings = Settings.from_env()
    configure_logging(os.environ.get("POSTHOG_MCP_LOG_LEVEL", ""), settings.api_key)
    return build_http_app(settings, parse_options([], os.environ))


def build_http_app(
    settings: Settings,
    options: Options,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The ASGI app: /mcp for MCP, /healthz for load balancers; `transport` replaces PostHog in tests, and `clock`
    the time that ages what the server remembers of keys and of client addresses."""
    if not is_loopback(options.host.strip("[]")) and not options.allowed_hosts:
        raise RemoteModeRefused(
            f"Refusing to serve on {options.host} without allowed hosts: set --allowed-hosts (or "
            "POSTHOG_MCP_ALLOWED_HOSTS) to the host names clients use, so that DNS rebinding cannot reach the server."
        )
    if options.allowed_hosts and not options.public_url:
        logger.warning(
            "No --public-url (POSTHOG_MCP_PUBLIC_URL): the OAuth metadata names %s/mcp, which clients reaching %s "
            "cannot use to sign in. Set it to the origin they reach, e.g. https://%s.",
            options.origin,
            ", ".join(options.allowed_hosts),
            options.allowed_hosts[0].split(":")[0],
        )
    if options.secret_env and not options.single_user:
        logger.warning("--secret-env is ignored without --single-user: any caller could read those variables.")
        options = replace(options, secret_env={})

    def caller_of(ctx: ServerRequestContext[State]) -> Caller:
        return request_caller(
            read_headers(ctx.request.headers.raw if isinstance(ctx.request, Request) else []), settings, options
        )

    questions = Questions(PostHog(settings, retry or RetryPolicy(), transport), Keys(stdio=False, now=clock))
    server = build_server(settings, options, caller_of=caller_of, questions=questions)
    resource = Resource(options.origin, options.authorization_server or settings.host, tuple(offered_scopes(options)))
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(options.allowed_hosts or LOOPBACK_HOSTS),
        allowed_origins=list(options.allowed_origins or LOOPBACK_ORIGINS),
    )
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=security,
        max_request_body_size=MAX_BODY,
        host=options.host,
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"]), *resource.routes()],
    )
    app.add_middleware(
        Gate,
        single_user=options.single_user,
        questions=questions,
        newcomers=Newcomers(clock),
        resource=resource,
        host=settings.host,
    )
    if options.allowed_origins:
        app.add_middleware(McpCors, origins=options.allowed_origins)
    return app


class McpCors:
    """CORS for /mcp from the operator's allowed origins. The OAuth metadata and sign-in redirects allow every
    origin on their own (`Resource.routes`), so this must not answer their preflights."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[*MCP_HEADERS, *POSTHOG_HEADERS],
            expose_headers=["Mcp-Session-Id", "WWW-Authenticate"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.cors if scope["type"] == "http" and scope["path"] == "/mcp" else self.app)(scope, receive, send)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class BadHeaders(Exception):
    """Headers this server cannot read: 400 before MCP, the message saying what to send."""


@dataclass(frozen=True)
class RequestHeaders:
    """What one request says in the headers this server reads."""

    authorization: bool
    """An Authorization header came, usable or not."""
    token: str | None
    """The token of `Authorization: Bearer …`, when it is one run of visible ASCII."""
    project_id: str | None
    organization_id: str | None
    read_only: bool


def read_headers(raw: Iterable[tuple[bytes, bytes]]) -> RequestHeaders:
    """The one reader of a request's headers, for the gate before MCP and for the caller inside it.

    Each header may come once: two copies of `Authorization` let two readers disagree on who is calling.
    """
    values: dict[str, list[str]] = {}
    for name, value in raw:
        if (lower := name.decode("latin-1").lower()) in READ:
            values.setdefault(lower, []).append(_text(value).strip())
    for lower, found in values.items():
        if len(found) > 1:
            raise BadHeaders(f"The request has {len(found)} {READ[lower]} headers: send one.")
    one = {lower: found[0] for lower, found in values.items()}
    scheme, _, token = one.get("authorization", "").partition(" ")
    token = token.strip()
    usable = scheme.lower() == "bearer" and token.isascii() and token.isprintable() and " " not in token
    return RequestHeaders(
        authorization="authorization" in one,
        token=token if usable and token else None,
        project_id=_project_id(one.get("x-posthog-project-id", "")),
        organization_id=_organization_id(one.get("x-posthog-organization-id", "")),
        read_only=_read_only(one.get("x-posthog-read-only", "")),
    )


def _text(value: bytes) -> str:
    """A header's value as its sender most likely wrote it: UTF-8, else Latin-1 (which reads any bytes)."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _project_id(value: str) -> str | None:
    if not value:
        return None
    number = ascii_int(value)
    if number is None or number <= 0:
        raise BadHeaders(
            f"X-PostHog-Project-Id {value!r} is not a project id: send its number in ASCII digits (12345), or leave "
            "the header out."
        )
    return str(number)


def _organization_id(value: str) -> str | None:
    if not value:
        return None
    if (uuid := ascii_uuid(value)) is None:
        raise BadHeaders(f"X-PostHog-Organization-Id {value!r} is not an organization id (a UUID).")
    return uuid


def _read_only(value: str) -> bool:
    if value and value.lower() not in YES | NO:
        raise BadHeaders(f"X-PostHog-Read-Only {value!r} is neither yes nor no: send 1 or 0, or leave it out.")
    return value.lower() in YES


def request_caller(headers: RequestHeaders, settings: Settings, options: Options) -> Caller:
    """The caller of one HTTP request: its key, and its defaults from X-PostHog-* headers.

    A shared server gives a request nothing of the process's; a single-user one starts from the process's caller,
    and a key in the request still wins over the process's.
    """
    if options.single_user and headers.token is None:
        base = process_caller(settings)
    else:
        base = Caller(
            key=SecretStr(headers.token) if headers.token else None,
            project_id=settings.project_id if options.single_user else None,
            organization_id=settings.organization_id if options.single_user else None,
            problems=tuple(problem for problem in settings.problems if problem not in settings.key_problems),
        )
    return replace(
        base,
        project_id=headers.project_id or base.project_id,
        organization_id=headers.organization_id or base.organization_id,
        read_only=headers.read_only,
    )


class Newcomers:
    """Keys this server did not know, per client address, over the last minute: each may cost PostHog a request.

    Past NEWCOMERS an address waits, so junk keys cannot make a shared server ask PostHog about each. A key the
    server knows is never held back. Memory holds at most NEWCOMERS keys (hashes) per address seen in the last
    two minutes: each address's old keys are dropped when it comes back, every address's once a minute.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.seen: dict[str, dict[str, float]] = {}
        self.swept = now()

    def wait(self, address: str, key: SecretStr) -> float | None:
        """None when `address` may present `key` now (which counts it); else the seconds until it may."""
        now = self.now()
        if now - self.swept >= WINDOW:
            self.seen = {
                where: keys for where, keys in self.seen.items() if any(now - at < WINDOW for at in keys.values())
            }
            self.swept = now
        keys = {hashed: at for hashed, at in self.seen.get(address, {}).items() if now - at < WINDOW}
        self.seen[address] = keys
        if (hashed := digest(key)) in keys:
            return None
        if len(keys) >= NEWCOMERS:
            return min(keys.values()) + WINDOW - now
        keys[hashed] = now
        return None


class Gate:
    """What /mcp answers before MCP sees a request: 405 for any method but POST, whoever asks (no key would make it
    work), 400 for headers this server cannot read, 401 without a usable credential or with one PostHog rejected
    lately (each pointing to the OAuth metadata, so a client can sign the user in), 429 for an address that presents
    too many new credentials, and 503 when PostHog cannot say whether an access token is valid. Never logs a
    credential.
    """

    def __init__(
        self,
        app: ASGIApp,
        single_user: bool,
        questions: Questions,
        newcomers: Newcomers,
        resource: Resource,
        host: str,
    ) -> None:
        self.app = app
        self.single_user = single_user
        self.questions = questions
        """Shared with the calls: the gate asks about access tokens, the calls about keys, and both read `keys`."""
        self.newcomers = newcomers
        self.resource = resource
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mcp":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await JSONResponse(NOT_ALLOWED, 405, {"Allow": "POST"})(scope, receive, send)
            return
        try:
            headers = read_headers(scope["headers"])
        except BadHeaders as bad:
            await JSONResponse({"error": "bad_request", "message": str(bad)}, 400)(scope, receive, send)
            return
        refused = await self._refusal(headers, scope)
        await (refused or self.app)(scope, receive, send)

    async def _refusal(self, headers: RequestHeaders, scope: Scope) -> JSONResponse | None:
        token = headers.token
        if token is None:
            if self.single_user and not headers.authorization:
                return None
            message = (
                "Sign in to PostHog: this server takes PostHog's OAuth access tokens (your MCP client signs you in "
                f"from {self.resource.metadata_url}), or a personal API key as Authorization: Bearer phx_…"
            )
            if headers.authorization:
                unusable = "the Authorization header holds no usable Bearer token"
                return self._unauthorized(message, "invalid_request", unusable)
            return self._unauthorized(message)
        if token.startswith(("phc_", "phs_", "phr_")):
            what = {"phc": "a project token (phc_)", "phs": "a project secret key (phs_)", "phr": "a refresh token"}
            kind = what[token[:3]]
            message = (
                f"This is {kind}, neither a PostHog personal API key (phx_…) nor an OAuth access token (pha_…): sign "
                "in to PostHog through your MCP client, or send Authorization: Bearer phx_…"
            )
            return self._unauthorized(message, "invalid_token", f"{kind} is not an access token or personal API key")
        key = SecretStr(token)
        oauth = is_access_token(token)
        known = self.questions.keys.get(key)
        if known is None:
            client = scope.get("client")
            if (wait := self.newcomers.wait(client[0] if client else "", key)) is not None:
                return _too_many(wait)
            if oauth:
                try:
                    known = await self.questions.check(key)
                except Unavailable as outage:
                    return _unavailable(outage)
        if known is None or not known.rejected:
            return None
        if oauth:
            message = (
                "The OAuth access token has expired or was revoked: sign in to PostHog again (your MCP client does it "
                "on this 401, or when you reconnect the server)."
            )
            return self._unauthorized(message, "invalid_token", "the access token is expired or revoked")
        message = (
            "PostHog rejected this API key (401) less than a minute ago: it is wrong or revoked, or it belongs to "
            f"the other region. Check it at {KEYS_PAGE.format(host=self.host)}."
        )
        return self._unauthorized(message, "invalid_token", "PostHog rejected this key")

    def _unauthorized(self, message: str, error: str | None = None, description: str | None = None) -> JSONResponse:
        challenge = self.resource.challenge(error, description)
        return JSONResponse({"error": "unauthorized", "message": message}, 401, {"WWW-Authenticate": challenge})


def _too_many(wait: float) -> JSONResponse:
    """`wait` is above 0: a counted key is less than a minute old."""
    seconds = math.ceil(wait)
    message = (
        f"This address presented {NEWCOMERS} credentials new to this server in the last minute, each of which costs "
        f"PostHog a request: try again in {seconds} s."
    )
    return JSONResponse({"error": "too_many_keys", "message": message}, 429, {"Retry-After": str(seconds)})


def _unavailable(outage: Unavailable) -> JSONResponse:
    """PostHog could not check the token: the client should wait and try again, not send the user to sign in."""
    seconds = math.ceil(outage.retry_after or OUTAGE_WAIT)
    message = f"{outage} Try again in {seconds} s; there is no need to sign in again."
    return JSONResponse({"error": "temporarily_unavailable", "message": message}, 503, {"Retry-After": str(seconds)})
