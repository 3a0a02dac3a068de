"""The one HTTP client for PostHog: sends an `ApiRequest`, returns PostHog's JSON or raises a `PostHogError`."""

from __future__ import annotations

from typing import Any

import httpx

from server import __version__
from server.config import Settings
from server.errors import error_for_status, not_json_answer, unreachable
from tools.request import ApiRequest


def http_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One pooled client per process. Redirects are never followed: the key must not travel elsewhere."""
    headers = {"User-Agent": f"posthog-integrations-mcp/{__version__}", "Accept": "application/json"}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    return httpx.AsyncClient(
        base_url=settings.host,
        headers=headers,
        timeout=httpx.Timeout(settings.timeout),
        follow_redirects=False,
        transport=transport,
    )


class PostHog:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._host = settings.host
        self._timeout = settings.timeout

    async def send(self, request: ApiRequest) -> Any:
        """PostHog's parsed JSON, or None for an empty answer (a 204 delete)."""
        try:
            response = await self._http.request(
                request.method, request.path, params=request.query or None, json=request.body
            )
        except httpx.TransportError as error:
            raise unreachable(error, request, self._host, self._timeout) from error
        body = self._json(response)
        if not response.is_success:
            raise error_for_status(response, body, request, self._host)
        if body is None and response.content:
            raise not_json_answer(response, self._host)
        return body

    def _json(self, response: httpx.Response) -> Any:
        """The JSON body, or None when there is none or it is not JSON."""
        if not response.content or "json" not in response.headers.get("Content-Type", ""):
            return None
        try:
            return response.json()
        except ValueError:
            return None
