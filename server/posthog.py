"""The one HTTP client for PostHog: sends an `ApiRequest`, returns PostHog's JSON or raises a `PostHogError`."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from pydantic import SecretStr

from server import __version__
from server.caller import is_access_token
from server.config import Settings
from server.errors import ApiError, PostHogError, error_for_status, not_json_answer, too_large, unreachable
from server.retries import RETRY_ERRORS, RETRY_STATUSES, RetryPolicy
from server.telemetry import Attempt, attempt, server_of
from tools.digits import ascii_int
from tools.request import ApiRequest

logger = logging.getLogger(__name__)

MAX_BODY = 5_000_000
"""Bytes of an answer, decoded, that this server reads at most; no page of these endpoints comes near it."""
CONNECT_TIMEOUT = 5.0


def http_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One pooled client per process; keys travel per request. Redirects are never followed: the key must not
    travel elsewhere."""
    headers = {"User-Agent": f"posthog-integrations-mcp/{__version__}", "Accept": "application/json"}
    return httpx.AsyncClient(
        base_url=settings.host,
        headers=headers,
        timeout=timeouts(settings.timeout),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
        transport=transport,
    )


def timeouts(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(connect=min(CONNECT_TIMEOUT, seconds), read=seconds, write=seconds, pool=seconds)


class PostHog:
    """PostHog for the whole process. Its client is made at the first request, not at start-up: making one loads
    the CA bundle (~30 ms), which a host that only lists tools should not wait for."""

    def __init__(self, settings: Settings, retry: RetryPolicy, transport: httpx.AsyncBaseTransport | None) -> None:
        self._settings = settings
        self._host = settings.host
        self._timeout = settings.timeout
        self._retry = retry
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._server = server_of(settings.host)

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client(self._settings, self._transport)
        return self._client

    async def aclose(self) -> None:
        """Closes the client; a later request makes a new one (an app whose lifespan is run again)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def send(self, request: ApiRequest, key: SecretStr | None) -> Any:
        """PostHog's parsed JSON, or None for an empty answer (a 204 delete). Reads are retried per the policy."""
        policy = self._retry
        deadline = policy.now() + self._timeout + policy.budget
        timeout, waited, tries = self._timeout, 0.0, 0
        while True:
            try:
                with attempt(request, tries, self._server) as sent:
                    return await self._once(request, key, timeout, sent)
            except PostHogError as failure:
                wait = self._wait_before_retry(request, failure, tries)
                if wait is None or waited + wait > policy.budget or policy.now() + wait >= deadline:
                    raise
                logger.info("%s %s failed (%s); retrying in %.2f s", request.method, request.path, failure, wait)
            await policy.sleep(wait)
            waited += wait
            tries += 1
            timeout = min(self._timeout, deadline - policy.now())

    def _wait_before_retry(self, request: ApiRequest, failure: PostHogError, attempt: int) -> float | None:
        if request.method != "GET" or attempt >= self._retry.retries:
            return None
        if isinstance(failure, ApiError) and failure.status in RETRY_STATUSES:
            return self._retry.wait(attempt, failure.retry_after)
        if isinstance(failure.__cause__, RETRY_ERRORS):
            return self._retry.wait(attempt, None)
        return None

    async def _once(self, request: ApiRequest, key: SecretStr | None, seconds: float, sent: Attempt) -> Any:
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else None
        try:
            async with self._http.stream(
                request.method,
                request.path,
                params=request.query or None,
                json=None if request.form else request.body,
                data=request.body if request.form else None,
                headers=headers,
                timeout=timeouts(seconds),
            ) as response:
                sent.answered(response.status_code)
                content = await _read_capped(response)
        except httpx.TransportError as error:
            raise unreachable(error, request, self._host, seconds) from error
        body = _json(response, content)
        if not response.is_success:
            oauth = key is not None and is_access_token(key.get_secret_value())
            raise error_for_status(response, body, body is None and bool(content), request, self._host, oauth)
        if body is None and content:
            raise not_json_answer(response, self._host)
        return body


async def _read_capped(response: httpx.Response) -> bytes:
    declared = ascii_int(response.headers.get("Content-Length", ""))
    if declared is not None and declared > MAX_BODY:
        raise too_large(MAX_BODY)
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_BODY:
            raise too_large(MAX_BODY)
    return bytes(content)


def _json(response: httpx.Response, content: bytes) -> Any:
    """The JSON body, or None when there is none or it is not JSON."""
    if not content or "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None
