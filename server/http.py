"""Remote mode: MCP over streamable HTTP at /mcp, stateless, so any replica can answer any request.

A PostHog key belongs to a request, not to the process: each request's `Authorization: Bearer phx_…` is the key
its tool calls use, read from the request when a call needs it and kept nowhere else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from uuid import UUID

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

from server.app import build_server
from server.caller import Caller, process_caller
from server.config import Settings, is_loopback
from server.logs import configure_logging
from server.options import Options, parse_options
from server.retries import RetryPolicy
from server.state import State

logger = logging.getLogger(__name__)

MAX_BODY = 1_048_576
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
MCP_HEADERS = ("Authorization", "Content-Type", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID")


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
) -> Starlette:
    """The ASGI app: /mcp for MCP, /healthz for load balancers; `transport` replaces PostHog in tests."""
    if not is_loopback(options.host.strip("[]")) and not options.allowed_hosts:
        raise RemoteModeRefused(
            f"Refusing to serve on {options.host} without allowed hosts: set --allowed-hosts (or "
            "POSTHOG_MCP_ALLOWED_HOSTS) to the host names clients use, so that DNS rebinding cannot reach the server."
        )
    if options.secret_env and not options.single_user:
        logger.warning("--secret-env is ignored without --single-user: any caller could read those variables.")
        options = replace(options, secret_env={})

    def caller_of(ctx: ServerRequestContext[State]) -> Caller:
        return request_caller(ctx.request.headers if isinstance(ctx.request, Request) else {}, settings, options)

    server = build_server(settings, options, transport, retry, caller_of)
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
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"])],
    )
    app.add_middleware(KeyRequired, single_user=options.single_user)
    if options.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.allowed_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[*MCP_HEADERS, "X-PostHog-Project-Id", "X-PostHog-Organization-Id", "X-PostHog-Read-Only"],
            expose_headers=["Mcp-Session-Id"],
        )
    return app


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer …` header (header names lower-cased), or None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def request_caller(headers: Mapping[str, str], settings: Settings, options: Options) -> Caller:
    """The caller of one HTTP request: its key, and its defaults from X-PostHog-* headers.

    A shared server gives a request nothing of the process's; a single-user one starts from the process's caller,
    and a key in the request still wins over the process's.
    """
    token = bearer(headers)
    if options.single_user and token is None:
        base = process_caller(settings)
    else:
        base = Caller(
            key=SecretStr(token) if token else None,
            project_id=settings.project_id if options.single_user else None,
            organization_id=settings.organization_id if options.single_user else None,
            problems=tuple(problem for problem in settings.problems if problem not in settings.key_problems),
        )
    problems = list(base.problems)
    project = headers.get("x-posthog-project-id", "").strip()
    if project and not (project.isdigit() and int(project) > 0):
        problems.append(f"X-PostHog-Project-Id {project!r} is not a project id: send a number, or leave it out.")
    organization = headers.get("x-posthog-organization-id", "").strip()
    if organization:
        try:
            organization = str(UUID(organization))
        except ValueError:
            problems.append(f"X-PostHog-Organization-Id {organization!r} is not an organization id (a UUID).")
    return replace(
        base,
        project_id=project or base.project_id,
        organization_id=organization or base.organization_id,
        problems=tuple(problems),
        read_only=headers.get("x-posthog-read-only", "").strip().lower() in ("1", "true", "yes"),
    )


class KeyRequired:
    """401 for a request to /mcp without a usable key, before MCP sees it. Never logs the header."""

    def __init__(self, app: ASGIApp, single_user: bool) -> None:
        self.app = app
        self.single_user = single_user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mcp" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        token = bearer(headers)
        if token and token.startswith(("phc_", "phs_")):
            what = "a project token (phc_)" if token.startswith("phc_") else "a project secret key (phs_)"
            challenge = f'Bearer error="invalid_token", error_description="{what} is not a personal API key"'
            message = f"This is {what}, not a PostHog personal API key (phx_…): send Authorization: Bearer phx_…"
            await _unauthorized(message, challenge, scope, receive, send)
        elif token is None and not (self.single_user and "authorization" not in headers):
            message = "Send your PostHog personal API key as Authorization: Bearer phx_…"
            await _unauthorized(message, "Bearer", scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def _unauthorized(message: str, challenge: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"error": "unauthorized", "message": message}, 401, {"WWW-Authenticate": challenge})
    await response(scope, receive, send)
