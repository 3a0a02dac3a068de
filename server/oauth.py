"""Remote mode as an OAuth 2.1 protected resource whose authorization server is PostHog (RFC 9728; the MCP
authorization spec's server side), so that hosts which speak only OAuth connect by signing in to PostHog.

The server issues nothing and stores no token: it names PostHog as the place to sign in, checks each access token
with PostHog (`server.credentials.Questions`), and sends it to PostHog's API as the caller's credential. PostHog's
tokens name no audience, and this server's only upstream is their issuer's own API, so forwarding the token is what
makes the call the user's own (as PostHog's and GitHub's hosted MCP servers do); the README says so to operators.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, request_response
from starlette.types import ASGIApp

METADATA = "/.well-known/oauth-protected-resource"
SIGN_IN = {
    "/.well-known/oauth-authorization-server": "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration": "/.well-known/openid-configuration",
    "/register": "/oauth/register/",
    "/authorize": "/oauth/authorize/",
    "/token": "/oauth/token/",
}
"""Paths on this server's origin that send a client to PostHog's own: some clients (Claude Code among them) look for
the authorization server on the MCP server's origin instead of reading `authorization_servers`."""


@dataclass(frozen=True)
class Resource:
    """This server as OAuth knows it: where clients reach it, where users sign in, and what they are asked to grant."""

    origin: str
    authorization_server: str
    scopes: tuple[str, ...]
    """The scopes of the tools the operator offers, which a client asks for when the user signs in."""

    @property
    def url(self) -> str:
        return f"{self.origin}/mcp"

    @property
    def metadata_url(self) -> str:
        return f"{self.origin}{METADATA}/mcp"

    def metadata(self) -> dict[str, Any]:
        return {
            "resource": self.url,
            "authorization_servers": [self.authorization_server],
            "scopes_supported": list(self.scopes),
            "bearer_methods_supported": ["header"],
            "resource_name": "PostHog integrations",
        }

    def challenge(self, error: str | None = None, description: str | None = None) -> str:
        """`WWW-Authenticate` for a 401: where the metadata is and what to ask for, and (RFC 6750) an error only when
        the request brought a credential."""
        problem = [f'error="{error}"', f'error_description="{description}"'] if error else []
        scope = [f'scope="{" ".join(self.scopes)}"'] if self.scopes else []
        return "Bearer " + ", ".join([*problem, f'resource_metadata="{self.metadata_url}"', *scope])

    def routes(self) -> list[Route]:
        """The metadata at both of RFC 9728's places, and the redirects to PostHog's sign-in. Anyone may read them,
        from any web origin: browser-based clients do, before they have a token."""
        metadata = _open_to_all(self._metadata)
        redirect = _open_to_all(self._redirect)
        return [
            *(Route(path, metadata, methods=["GET", "OPTIONS"]) for path in (METADATA, f"{METADATA}/mcp")),
            *(Route(path, redirect, methods=["GET", "POST", "OPTIONS"]) for path in SIGN_IN),
        ]

    async def _metadata(self, request: Request) -> Response:
        return JSONResponse(self.metadata(), headers={"Cache-Control": "public, max-age=3600"})

    async def _redirect(self, request: Request) -> Response:
        """307 keeps the method and body: registration and the token request are POSTs."""
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{self.authorization_server}{SIGN_IN[request.url.path]}{query}", 307)


def _open_to_all(endpoint: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    return CORSMiddleware(
        request_response(endpoint), allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"]
    )
