"""Failures of a call to PostHog, one class per kind, each worded for a model to act on.

`str(error)` is exactly what the model reads. Nothing here quotes the API key: PostHog never echoes it and
messages are built from status, body and configuration only.
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx

from server.retries import retry_after
from tools.request import ApiRequest

KEYS_PAGE = "{host}/settings/user-api-keys"
_MISSING_SCOPE = re.compile(r"missing required scope '([^']+)'", re.IGNORECASE)
_SECONDS = re.compile(r"available in ([0-9]+) second")


class PostHogError(Exception):
    """A call to PostHog that did not succeed; the message says what to do next."""

    def __init__(self, message: str, *, unsure_write: bool = False) -> None:
        super().__init__(message)
        self.unsure_write = unsure_write
        """A write reached PostHog, or may have, and may or may not have taken effect."""


class ApiError(PostHogError):
    """PostHog answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        unsure_write: bool = False,
    ) -> None:
        super().__init__(message, unsure_write=unsure_write)
        self.status = status
        self.retry_after = retry_after
        """Seconds PostHog asked to wait before trying again, if it said."""


class BadRequest(ApiError):
    """400: PostHog refused the arguments or the state of things."""


class AuthenticationFailed(ApiError):
    """401: the key is wrong, revoked, or from the other region."""


class PermissionDenied(ApiError):
    """403: a missing scope, a project-scoped key, or too low an access level."""

    def __init__(self, message: str, *, missing_scope: str | None) -> None:
        super().__init__(message, status=403)
        self.missing_scope = missing_scope
        """The scope PostHog said the key lacks, if it named one."""


class NotFound(ApiError):
    """404: nothing with that id where the call looked."""


class Conflict(ApiError):
    """409: the current state forbids it (e.g. unpaid invoices)."""


class RateLimited(ApiError):
    """429: too many requests; `retry_after` says how long to wait, when PostHog says it."""


class ServerError(ApiError):
    """5xx: PostHog failed."""


class UnexpectedResponse(PostHogError):
    """An answer this server cannot read: not JSON where JSON was expected, or another shape."""


class ConnectionFailed(PostHogError):
    """PostHog could not be reached, or did not answer in time."""


def _unsure(request: ApiRequest) -> str:
    return f" The {request.method} may or may not have taken effect." if request.method != "GET" else ""


def error_for_status(
    response: httpx.Response, body: Any, not_json: bool, request: ApiRequest, host: str, oauth: bool = False
) -> ApiError:
    """The error for a non-2xx answer, quoting PostHog's `detail` and `attr` (typed or bare shape). With `oauth`
    the credential is an access token from signing in, which the user changes by signing in again, not on a page of
    keys."""
    status = response.status_code
    detail = body.get("detail") if isinstance(body, dict) and isinstance(body.get("detail"), str) else None
    attr = body.get("attr") if isinstance(body, dict) and isinstance(body.get("attr"), str) else None
    received = f" with {response.headers.get('Content-Type') or 'no content type'} instead of JSON" if not_json else ""
    field = f" (field: {attr})" if attr else ""
    said = _sentence(f": {detail.rstrip().removesuffix('.')}{field}" if detail else f"{received}{field}")
    keys = KEYS_PAGE.format(host=host)
    if status == 400:
        return BadRequest(f"PostHog refused the request (400){said} Fix the arguments and call again.", status=status)
    if status == 401 and oauth:
        return AuthenticationFailed(
            f"PostHog rejected the OAuth access token (401){said} It expired or was revoked: your MCP client signs "
            "in to PostHog again on its next request (or reconnect the server), then call again.",
            status=status,
        )
    if status == 401:
        return AuthenticationFailed(
            f"PostHog rejected the API key (401){said} The key is wrong or revoked, or it belongs to the other "
            f"region: US keys work only with https://us.posthog.com and EU keys only with https://eu.posthog.com "
            f"(POSTHOG_HOST is {host}). Check the key at {keys}.",
            status=status,
        )
    if status == 403:
        found = _MISSING_SCOPE.search(detail) if detail else None
        scope = found[1] if found else None
        return PermissionDenied(_forbidden(detail, scope, keys, oauth), missing_scope=scope)
    if status == 404:
        return NotFound(
            f"Not found (404): PostHog has nothing at {request.path}. Check the id, and that it belongs to that "
            "project or organization (a list tool shows what exists).",
            status=status,
        )
    if status == 409:
        return Conflict(f"PostHog refused the request (409 conflict){said}", status=status)
    wait = _wait(response, detail)
    if status == 429:
        after = f"wait {math.ceil(wait)} seconds, then try again" if wait is not None else "wait, then try again"
        message = f"PostHog is rate-limiting this API key (429): {after}."
        return RateLimited(message, status=status, retry_after=wait)
    if status >= 500:
        return ServerError(
            f"PostHog failed with HTTP {status}{received}; try again in a moment.{_unsure(request)}",
            status=status,
            retry_after=wait,
            unsure_write=request.method != "GET",
        )
    if response.is_redirect:
        return ApiError(
            f"PostHog answered with a redirect (HTTP {status}) to {response.headers.get('Location')}, which this "
            f"server does not follow, so the key goes nowhere else. Check POSTHOG_HOST ({host}).",
            status=status,
        )
    return ApiError(f"PostHog answered HTTP {status}{said}", status=status)


def _forbidden(detail: str | None, scope: str | None, keys: str, oauth: bool) -> str:
    """PostHog's refusal and, where its words say why, what to do; the words are matched in any case (PostHog
    spells one refusal both "personal API key" and "Personal API Key")."""
    text = _sentence(detail or "permission denied")
    if scope and oauth:
        return (
            f"The OAuth access token lacks the scope {scope} (403). Sign in to PostHog again, reconnecting this "
            f"server in your MCP client, and grant {scope}; then call again."
        )
    if scope:
        return (
            f"The API key lacks the scope {scope} (403). Add {scope} to the key at {keys} "
            "(or create a key that has it), then call again."
        )
    words = text.casefold()
    if "scoped projects" in words and oauth:
        return (
            f"PostHog refused (403): {text} This sign-in is limited to specific projects; organization tools need "
            "access to the organization: sign in to PostHog again and grant it."
        )
    if "scoped projects" in words:
        return (
            f"PostHog refused (403): {text} This key is limited to specific projects; organization tools need a key "
            f"with access to the organization. Create one at {keys}."
        )
    if "does not support personal api key" in words:
        return f"PostHog refused (403): {text} Make this change in PostHog's web app instead."
    if "access level is insufficient" in words:
        return f"PostHog refused (403): {text} This needs an organization admin."
    return f"PostHog refused the request (403): {text}"


def _sentence(text: str) -> str:
    """`text` ending as a sentence does, with one full stop: PostHog's details sometimes end in one already."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _wait(response: httpx.Response, detail: str | None) -> float | None:
    """Seconds to wait: Retry-After, else PostHog's "Expected available in N seconds"."""
    seconds = retry_after(response)
    if seconds is None and detail and (said := _SECONDS.search(detail)):
        seconds = float(said[1])
    return seconds


def too_large(limit: int) -> UnexpectedResponse:
    return UnexpectedResponse(
        f"PostHog's answer is larger than {limit // 1_000_000} MB, which this server does not read. Ask for less: "
        "a smaller limit, or a filter."
    )


def not_json_answer(response: httpx.Response, host: str) -> UnexpectedResponse:
    content_type = response.headers.get("Content-Type") or "no content type"
    return UnexpectedResponse(
        f"PostHog answered HTTP {response.status_code} with {content_type} that is not JSON (an error page from a "
        f"proxy or gateway, or a cut-off answer?). Try again in a moment; if it persists, check POSTHOG_HOST ({host})."
    )


def unreachable(error: httpx.TransportError, request: ApiRequest, host: str, timeout: float) -> ConnectionFailed:
    sent = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    unsure = _unsure(request) if sent else ""
    if isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout):
        return ConnectionFailed(
            f"PostHog at {host} did not answer within {timeout:g} seconds. Try again; raise POSTHOG_MCP_TIMEOUT "
            f"if it keeps happening.{unsure}",
            unsure_write=bool(unsure),
        )
    reason = str(error) or type(error).__name__
    return ConnectionFailed(
        f"Cannot reach PostHog at {host} ({reason}). Check POSTHOG_HOST and the network.{unsure}",
        unsure_write=bool(unsure),
    )
