"""What each failure of PostHog becomes: the kind of error, what the retry policy and the key memory read from it
(status, wait, missing scope, whether a write may have happened), and the exact words a model reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.errors import (
    ApiError,
    AuthenticationFailed,
    BadRequest,
    Conflict,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    error_for_status,
    not_json_answer,
    too_large,
    unreachable,
)
from tools.request import ApiRequest

HOST = "https://eu.posthog.com"
GET = ApiRequest("GET", "/api/projects/1/integrations/7/", {}, None)
DELETE = ApiRequest("DELETE", "/api/projects/1/integrations/7/", {}, None)
KEYS = f"{HOST}/settings/user-api-keys"


def answer(status: int, body: Any = None, text: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    if body is not None:
        return httpx.Response(status, json=body, headers=headers)
    return httpx.Response(status, text=text, headers=headers)


# PostHog's answer, the request -> the kind of error, its retry_after, unsure_write and message
CASES: list[tuple[httpx.Response, ApiRequest, type[ApiError], float | None, bool, str]] = [
    (
        answer(400, {"detail": "Bad.", "attr": "kind"}),
        GET,
        BadRequest,
        None,
        False,
        "PostHog refused the request (400): Bad (field: kind). Fix the arguments and call again.",
    ),
    (
        answer(400, {"attr": "kind"}),
        GET,
        BadRequest,
        None,
        False,
        "PostHog refused the request (400) (field: kind). Fix the arguments and call again.",
    ),
    (
        answer(400, text="<html>", headers={"Content-Type": "text/html"}),
        DELETE,
        BadRequest,
        None,
        False,
        "PostHog refused the request (400) with text/html instead of JSON. Fix the arguments and call again.",
    ),
    (
        answer(400, text="x"),
        GET,
        BadRequest,
        None,
        False,
        "PostHog refused the request (400) with text/plain; charset=utf-8 instead of JSON. Fix the arguments and "
        "call again.",
    ),
    (
        httpx.Response(400, content=b"x"),
        GET,
        BadRequest,
        None,
        False,
        "PostHog refused the request (400) with no content type instead of JSON. Fix the arguments and call again.",
    ),
    (
        answer(401, {"detail": "Invalid."}),
        GET,
        AuthenticationFailed,
        None,
        False,
        "PostHog rejected the API key (401): Invalid. The key is wrong or revoked, or it belongs to the other region: "
        "US keys work only with https://us.posthog.com and EU keys only with https://eu.posthog.com (POSTHOG_HOST is "
        f"{HOST}). Check the key at {KEYS}.",
    ),
    (
        answer(404, {"detail": "Not found."}),
        GET,
        NotFound,
        None,
        False,
        "Not found (404): PostHog has nothing at /api/projects/1/integrations/7/. Check the id, and that it belongs to "
        "that project or organization (a list tool shows what exists).",
    ),
    (
        answer(409, {"detail": "Unpaid."}),
        DELETE,
        Conflict,
        None,
        False,
        "PostHog refused the request (409 conflict): Unpaid.",
    ),
    (
        answer(429, {"detail": "Expected available in 7 seconds."}, headers={"Retry-After": "3"}),
        GET,
        RateLimited,
        3.0,
        False,
        "PostHog is rate-limiting this API key (429): wait 3 seconds, then try again.",
    ),
    (
        answer(429, {"detail": "Request was throttled. Expected available in 7 seconds."}),
        GET,
        RateLimited,
        7.0,
        False,
        "PostHog is rate-limiting this API key (429): wait 7 seconds, then try again.",
    ),
    (
        answer(429, {"detail": "Request was throttled."}),
        GET,
        RateLimited,
        None,
        False,
        "PostHog is rate-limiting this API key (429): wait, then try again.",
    ),
    (
        answer(429, {}, headers={"Retry-After": "2"}),
        DELETE,
        RateLimited,
        2.0,
        False,
        "PostHog is rate-limiting this API key (429): wait 2 seconds, then try again.",
    ),
    (
        answer(503, {"detail": "Down."}, headers={"Retry-After": "4"}),
        GET,
        ServerError,
        4.0,
        False,
        "PostHog failed with HTTP 503; try again in a moment.",
    ),
    (
        answer(500, text="<html>", headers={"Content-Type": "text/html"}),
        DELETE,
        ServerError,
        None,
        True,
        "PostHog failed with HTTP 500 with text/html instead of JSON; try again in a moment. The DELETE may or may "
        "not have taken effect.",
    ),
    (
        answer(302, text="", headers={"Location": "https://elsewhere.example/"}),
        GET,
        ApiError,
        None,
        False,
        "PostHog answered with a redirect (HTTP 302) to https://elsewhere.example/, which this server does not "
        f"follow, so the key goes nowhere else. Check POSTHOG_HOST ({HOST}).",
    ),
    (
        answer(418, {"detail": "Teapot", "attr": "id"}),
        GET,
        ApiError,
        None,
        False,
        "PostHog answered HTTP 418: Teapot (field: id).",
    ),
    (answer(418, {"detail": "Teapot. "}), GET, ApiError, None, False, "PostHog answered HTTP 418: Teapot."),
    (
        answer(418, {"detail": "Teapot. ", "attr": "id"}),
        GET,
        ApiError,
        None,
        False,
        "PostHog answered HTTP 418: Teapot (field: id).",
    ),
    (answer(418, {"detail": "Stop!"}), GET, ApiError, None, False, "PostHog answered HTTP 418: Stop!"),
    (answer(418, {"detail": "Why? "}), GET, ApiError, None, False, "PostHog answered HTTP 418: Why?"),
    (answer(418, {"detail": 7, "attr": 8}), GET, ApiError, None, False, "PostHog answered HTTP 418."),
    (answer(418, ["not", "an", "object"]), GET, ApiError, None, False, "PostHog answered HTTP 418."),
]


@pytest.mark.parametrize(("response", "request_", "kind", "wait", "unsure", "message"), CASES)
def test_each_status_becomes_its_kind_of_error_with_what_the_server_reads_from_it(
    response: httpx.Response,
    request_: ApiRequest,
    kind: type[ApiError],
    wait: float | None,
    unsure: bool,
    message: str,
) -> None:
    content = response.content
    body = response.json() if response.headers.get("Content-Type") == "application/json" else None
    error = error_for_status(response, body, body is None and bool(content), request_, HOST)
    assert type(error) is kind
    assert (error.status, error.retry_after, error.unsure_write, str(error)) == (
        response.status_code,
        wait,
        unsure,
        message,
    )


@pytest.mark.parametrize(
    ("detail", "scope"),
    [
        ("API key missing required scope 'integration:write'", "integration:write"),
        ("API KEY MISSING REQUIRED SCOPE 'organization:read'", "organization:read"),
        ("Your organization access level is insufficient.", None),
        (None, None),
    ],
)
def test_a_refusal_names_the_scope_the_key_lacks_when_posthog_does(detail: str | None, scope: str | None) -> None:
    body = {"detail": detail} if detail is not None else {}
    error = error_for_status(answer(403, body), body, False, GET, HOST)
    assert type(error) is PermissionDenied
    assert (error.status, error.missing_scope, error.retry_after, error.unsure_write) == (403, scope, None, False)


@pytest.mark.parametrize(
    ("failure", "request_", "message", "unsure"),
    [
        (
            httpx.ConnectError("refused"),
            DELETE,
            f"Cannot reach PostHog at {HOST} (refused). Check POSTHOG_HOST and the network.",
            False,
        ),
        (
            httpx.ConnectTimeout(""),
            DELETE,
            f"Cannot reach PostHog at {HOST} (ConnectTimeout). Check POSTHOG_HOST and the network.",
            False,
        ),
        (
            httpx.PoolTimeout("pool"),
            DELETE,
            f"Cannot reach PostHog at {HOST} (pool). Check POSTHOG_HOST and the network.",
            False,
        ),
        (
            httpx.RemoteProtocolError("dropped"),
            DELETE,
            f"Cannot reach PostHog at {HOST} (dropped). Check POSTHOG_HOST and the network. The DELETE may or may not "
            "have taken effect.",
            True,
        ),
        (
            httpx.RemoteProtocolError("dropped"),
            GET,
            f"Cannot reach PostHog at {HOST} (dropped). Check POSTHOG_HOST and the network.",
            False,
        ),
        (
            httpx.ReadTimeout("slow"),
            DELETE,
            f"PostHog at {HOST} did not answer within 2.5 seconds. Try again; raise POSTHOG_MCP_TIMEOUT if it keeps "
            "happening. The DELETE may or may not have taken effect.",
            True,
        ),
        (
            httpx.WriteTimeout("slow"),
            GET,
            f"PostHog at {HOST} did not answer within 2.5 seconds. Try again; raise POSTHOG_MCP_TIMEOUT if it keeps "
            "happening.",
            False,
        ),
    ],
)
def test_a_network_failure_says_whether_a_write_may_have_happened(
    failure: httpx.TransportError, request_: ApiRequest, message: str, unsure: bool
) -> None:
    error = unreachable(failure, request_, HOST, 2.5)
    assert type(error) is ConnectionFailed
    assert (str(error), error.unsure_write) == (message, unsure)


def test_answers_that_cannot_be_read_say_what_came_and_what_to_do() -> None:
    assert str(too_large(5_000_000)) == (
        "PostHog's answer is larger than 5 MB, which this server does not read. Ask for less: a smaller limit, or a "
        "filter."
    )
    assert str(not_json_answer(httpx.Response(200, content=b"x"), HOST)) == (
        "PostHog answered HTTP 200 with no content type that is not JSON (an error page from a proxy or gateway, or "
        f"a cut-off answer?). Try again in a moment; if it persists, check POSTHOG_HOST ({HOST})."
    )
    assert too_large(1).unsure_write is False


@pytest.mark.parametrize(
    ("status", "detail", "message"),
    [
        (
            401,
            "Invalid access token.",
            "PostHog rejected the OAuth access token (401): Invalid access token. It expired or was revoked: your MCP "
            "client signs in to PostHog again on its next request (or reconnect the server), then call again.",
        ),
        (
            403,
            "API key missing required scope 'integration:write'",
            "The OAuth access token lacks the scope integration:write (403). Sign in to PostHog again, reconnecting "
            "this server in your MCP client, and grant integration:write; then call again.",
        ),
        (
            403,
            "API keys with scoped projects are only supported on project-based endpoints.",
            "PostHog refused (403): API keys with scoped projects are only supported on project-based endpoints. This "
            "sign-in is limited to specific projects; organization tools need access to the organization: sign in to "
            "PostHog again and grant it.",
        ),
        (
            403,
            "Your organization access level is insufficient.",
            "PostHog refused (403): Your organization access level is insufficient. This needs an organization admin.",
        ),
    ],
)
def test_a_refusal_of_an_oauth_access_token_says_to_sign_in_again_not_to_edit_a_key(
    status: int, detail: str, message: str
) -> None:
    """The user changes what a sign-in may do by signing in again: there is no key page to send them to."""
    body = {"detail": detail}
    assert str(error_for_status(answer(status, body), body, False, GET, HOST, oauth=True)) == message
