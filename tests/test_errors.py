"""Every failure is an isError result a model can act on, and bad input never reaches PostHog."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from server.app import build_server
from server.config import Settings
from tests.conftest import NO_SCOPE_CHECK, FakeClock, connected
from tests.fake_posthog import (
    FULL_KEY,
    ORG_ID,
    PROJECT_SCOPED_KEY,
    READ_KEY,
    UNPAID_INVOICES_MESSAGE,
    UNPAID_ORG_INTEGRATION_ID,
    FakePostHog,
)

UNKNOWN_UUID = "0f0f0f0f-0000-4000-8000-000000000000"
UUID_WANTED = "Input should be a UUID such as 0189c2a4-8e5b-7c3d-9f00-1234567890ab"


def text(result: types.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, types.TextContent)
    return block.text


async def failure(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert result.structured_content is None
    return text(result)


# PostHog's answers


KEYS = "https://us.posthog.com/settings/user-api-keys"
MESSAGES = [
    (
        "integrations-create",
        400,
        {"type": "validation_error", "code": "invalid_input", "detail": "This field is required.", "attr": "config"},
        "PostHog refused the request (400): This field is required (field: config). Fix the arguments and call again.",
    ),
    (
        "integrations-get",
        400,
        {"detail": "Not allowed"},
        "PostHog refused the request (400): Not allowed. Fix the arguments and call again.",
    ),
    (
        "integrations-get",
        400,
        {"detail": "Why?", "attr": None},
        "PostHog refused the request (400): Why? Fix the arguments and call again.",
    ),
    (
        "integrations-get",
        401,
        {"detail": "Personal API key found in request Authorization header is invalid."},
        "PostHog rejected the API key (401): Personal API key found in request Authorization header is invalid. The "
        "key is wrong or revoked, or it belongs to the other region: US keys work only with https://us.posthog.com "
        "and EU keys only with https://eu.posthog.com (POSTHOG_HOST is https://us.posthog.com). Check the key at "
        f"{KEYS}.",
    ),
    (
        "org-integrations-environment-mapping-update",
        403,
        {"detail": "This action does not support personal API key access"},
        "PostHog refused (403): This action does not support personal API key access. Make this change in PostHog's "
        "web app instead.",
    ),
    (
        "org-integrations-environment-mapping-update",
        403,
        {"detail": "This action does not support Personal API Key access"},
        "PostHog refused (403): This action does not support Personal API Key access. Make this change in PostHog's "
        "web app instead.",
    ),
    (
        "org-integrations-environment-mapping-update",
        403,
        {"detail": "THIS ACTION DOES NOT SUPPORT PERSONAL API KEY ACCESS."},
        "PostHog refused (403): THIS ACTION DOES NOT SUPPORT PERSONAL API KEY ACCESS. Make this change in PostHog's "
        "web app instead.",
    ),
    (
        "role-external-references-list",
        403,
        {"detail": "API keys with scoped projects are only supported on project-based endpoints."},
        "PostHog refused (403): API keys with scoped projects are only supported on project-based endpoints. This key "
        f"is limited to specific projects; organization tools need a key with access to the organization. Create one "
        f"at {KEYS}.",
    ),
    (
        "role-external-references-list",
        403,
        {"detail": "API Keys with Scoped Projects are only supported on project-based endpoints"},
        "PostHog refused (403): API Keys with Scoped Projects are only supported on project-based endpoints. This key "
        f"is limited to specific projects; organization tools need a key with access to the organization. Create one "
        f"at {KEYS}.",
    ),
    (
        "role-external-references-create",
        403,
        {"detail": "Your organization access level is insufficient."},
        "PostHog refused (403): Your organization access level is insufficient. This needs an organization admin.",
    ),
    (
        "role-external-references-create",
        403,
        {"detail": "Your Organization Access Level Is Insufficient"},
        "PostHog refused (403): Your Organization Access Level Is Insufficient. This needs an organization admin.",
    ),
    (
        "integrations-delete",
        403,
        {"detail": "API Key missing required scope 'integration:write'"},
        f"The API key lacks the scope integration:write (403). Add integration:write to the key at {KEYS} (or create "
        "a key that has it), then call again.",
    ),
    (
        "integrations-get",
        403,
        {"detail": "You do not have permission to perform this action."},
        "PostHog refused the request (403): You do not have permission to perform this action.",
    ),
    ("integrations-get", 403, {}, "PostHog refused the request (403): permission denied."),
    (
        "org-integrations-delete",
        409,
        {"detail": "This Vercel installation has unpaid invoices."},
        "PostHog refused the request (409 conflict): This Vercel installation has unpaid invoices.",
    ),
    ("org-integrations-delete", 409, {"detail": "Busy"}, "PostHog refused the request (409 conflict): Busy."),
    ("integrations-get", 418, {"detail": "I'm a teapot."}, "PostHog answered HTTP 418: I'm a teapot."),
    (
        "integrations-create",
        400,
        {"detail": "Could not connect to postgres://admin:hunter2@db:5432/app: timeout", "attr": "config"},
        "PostHog refused the request (400): Could not connect to postgres://admin:[redacted]@db:5432/app: timeout "
        "(field: config). Fix the arguments and call again.",
    ),
    (
        "integrations-get",
        400,
        {"detail": "Bad\u200b value\u202e."},
        "PostHog refused the request (400): Bad value. Fix the arguments and call again.",
    ),
    ("integrations-get", 418, {"detail": "Odd", "attr": "id"}, "PostHog answered HTTP 418: Odd (field: id)."),
]
ARGUMENTS: dict[str, dict[str, Any]] = {
    "integrations-create": {"kind": "twilio", "config": {}},
    "integrations-get": {"id": 1},
    "integrations-delete": {"id": 1},
    "org-integrations-environment-mapping-update": {"id": UNKNOWN_UUID, "production": 1},
    "org-integrations-delete": {"id": UNKNOWN_UUID},
    "role-external-references-list": {},
    "role-external-references-create": {
        "provider": "github",
        "provider_organization_id": "posthog",
        "provider_role_id": "1",
        "provider_role_name": "Ops",
        "role": UNKNOWN_UUID,
    },
}


@pytest.mark.parametrize(("tool", "status", "body", "message"), MESSAGES)
async def test_posthogs_refusals_read_as_one_sentence_with_the_hint_that_fits(
    client: Client, fake: FakePostHog, tool: str, status: int, body: dict[str, Any], message: str
) -> None:
    """Hints are found whatever the case of PostHog's wording, and its detail ends in one full stop, not two."""
    fake.fail_next(status, json=body)
    assert await failure(client, tool, ARGUMENTS[tool]) == message


async def test_a_conflict_from_posthog_is_quoted_whole(client: Client) -> None:
    message = await failure(client, "org-integrations-delete", {"id": UNPAID_ORG_INTEGRATION_ID})
    assert message == f"PostHog refused the request (409 conflict): {UNPAID_INVOICES_MESSAGE}"


async def test_bare_detail_body_is_kept(client: Client, fake: FakePostHog) -> None:
    fake.fail_next(400, json={"detail": "Project 9 does not belong to this organization."})
    message = await failure(client, "integrations-get", {"id": 1})
    assert "(400): Project 9 does not belong to this organization." in message


async def test_invalid_key_points_at_the_region_and_the_key_page(fake: FakePostHog) -> None:
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": "phx_not_a_real_key", "POSTHOG_HOST": "eu"}) as client:
        message = await failure(client, "integrations-list", {})
    assert "(401): Personal API key found in request Authorization header is invalid." in message
    assert "other region" in message
    assert "POSTHOG_HOST is https://eu.posthog.com" in message
    assert "https://eu.posthog.com/settings/user-api-keys" in message


async def test_missing_scope_names_the_scope_and_how_to_add_it(fake: FakePostHog) -> None:
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": READ_KEY}) as client:
        message = await failure(client, "integrations-delete", {"id": 1})
    assert message.startswith("The API key lacks the scope integration:write (403).")
    assert "https://us.posthog.com/settings/user-api-keys" in message
    assert len(fake.requests) == 1


async def test_project_scoped_key_on_an_organization_tool_says_why(fake: FakePostHog) -> None:
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": PROJECT_SCOPED_KEY}) as client:
        message = await failure(client, "role-external-references-list", {})
    assert "limited to specific projects" in message


async def test_not_found_names_the_path_it_looked_at(client: Client) -> None:
    message = await failure(client, "integrations-get", {"id": 999999, "project_id": 1})
    assert message.startswith("Not found (404): PostHog has nothing at /api/projects/1/integrations/999999/.")


async def test_rate_limit_past_the_budget_answers_at_once_with_the_seconds_to_wait(
    client: Client, fake: FakePostHog, clock: FakeClock
) -> None:
    body = {
        "type": "throttled_error",
        "code": "throttled",
        "detail": "Request was throttled. Expected available in 45 seconds.",
    }
    fake.fail_next(429, json=body, headers={"Retry-After": "45"})
    message = await failure(client, "integrations-list", {})
    assert message == "PostHog is rate-limiting this API key (429): wait 45 seconds, then try again."
    assert (len(fake.requests), clock.sleeps) == (1, [])


async def test_rate_limit_without_header_reads_the_seconds_from_the_detail(client: Client, fake: FakePostHog) -> None:
    fake.fail_next(429, json={"detail": "Request was throttled. Expected available in 30 seconds."})
    assert "wait 30 seconds" in await failure(client, "integrations-list", {})


async def test_server_error_on_a_read_says_try_later_once_retries_are_spent(
    client: Client, fake: FakePostHog, clock: FakeClock
) -> None:
    for _ in range(4):
        fake.fail_next(503, json={"type": "server_error", "code": "error", "detail": "A server error occurred."})
    message = await failure(client, "integrations-list", {})
    assert message == "PostHog failed with HTTP 503; try again in a moment."
    assert (len(fake.requests), len(clock.sleeps)) == (4, 3)


async def test_server_error_on_a_write_says_it_may_have_happened(client: Client, fake: FakePostHog) -> None:
    fake.fail_next(500, text="Server Error (500)", content_type="text/html")
    message = await failure(client, "integrations-delete", {"id": 1})
    assert message.startswith("PostHog failed with HTTP 500 with text/html instead of JSON; try again in a moment.")
    assert "The DELETE may or may not have taken effect" in message


async def test_html_error_page_names_status_and_content_type(client: Client, fake: FakePostHog) -> None:
    for _ in range(4):
        fake.fail_next(502, text="<html><body>Bad gateway</body></html>", content_type="text/html; charset=utf-8")
    message = await failure(client, "integrations-get", {"id": 1})
    assert "HTTP 502" in message
    assert "text/html" in message


async def test_html_page_with_200_is_not_taken_for_data(client: Client, fake: FakePostHog) -> None:
    fake.fail_next(200, text="<html>Sign in</html>", content_type="text/html")
    message = await failure(client, "integrations-list", {})
    assert message.startswith("PostHog answered HTTP 200 with text/html that is not JSON")


@pytest.mark.parametrize(
    ("tool", "body", "why"),
    [
        ("integrations-list", [1, 2, 3], "expected a JSON object, got list"),
        ("integrations-get", "text", "expected a JSON object, got str"),
        ("integrations-get", None, "expected a JSON object, got NoneType"),
        ("integrations-list", {"results": "none"}, "expected a page with a results list of objects"),
    ],
)
async def test_json_of_another_shape_is_an_error_that_says_what_was_expected(
    client: Client, fake: FakePostHog, tool: str, body: Any, why: str
) -> None:
    fake.fail_next(200, json=body)
    message = await failure(client, tool, {"id": 1} if tool == "integrations-get" else {})
    assert message == f"PostHog answered {tool} with something this server cannot read ({why})."


async def test_a_redirect_is_not_followed_so_the_key_goes_nowhere_else(client: Client, fake: FakePostHog) -> None:
    fake.fail_next(302, headers={"Location": "https://elsewhere.example/api/projects/1/integrations/"})
    message = await failure(client, "integrations-list", {})
    assert message.startswith(
        "PostHog answered with a redirect (HTTP 302) to https://elsewhere.example/api/projects/1/integrations/"
    )
    assert len(fake.requests) == 1


async def test_unreachable_host_is_named_after_the_retries(mode: str, clock: FakeClock) -> None:
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": "http://127.0.0.1:9"})
    async with Client(build_server(settings, NO_SCOPE_CHECK, retry=clock.policy()), mode=mode) as client:
        message = await failure(client, "integrations-list", {})
    assert message.startswith("Cannot reach PostHog at http://127.0.0.1:9 (")
    assert "may or may not" not in message
    assert len(clock.sleeps) == 3


async def test_a_crash_inside_the_server_is_logged_and_answered_generically(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("internal detail that must not reach the model")

    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY})
    async with Client(
        build_server(settings, NO_SCOPE_CHECK, transport=httpx.MockTransport(explode)), mode=mode
    ) as client:
        message = await failure(client, "integrations-list", {})
    assert message == "integrations-list failed inside this server; its log (stderr) has the details."
    assert any(
        "internal detail" in str(record.exc_info) for record in caplog.records if record.levelno == logging.ERROR
    )


async def test_unknown_tool_is_a_protocol_error(client: Client) -> None:
    with pytest.raises(MCPError, match="Unknown tool 'integrations-frobnicate'"):
        await client.call_tool("integrations-frobnicate", {})


# Configuration problems: the server starts and lists its tools, calls say what to fix, nothing is sent.


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"POSTHOG_PERSONAL_API_KEY": ""}, "set POSTHOG_PERSONAL_API_KEY"),
        ({"POSTHOG_PERSONAL_API_KEY": "phc_project_token"}, "project token"),
        ({"POSTHOG_HOST": "http://posthog.example.com"}, "use https://"),
    ],
)
async def test_configuration_problem_is_reported_on_every_call_without_a_request(
    fake: FakePostHog, mode: str, env: dict[str, str], words: str
) -> None:
    async with connected(fake, env, mode) as client:
        assert len((await client.list_tools()).tools) == 13
        for tool, arguments in [("integrations-list", {}), ("role-external-references-delete", {"id": UNKNOWN_UUID})]:
            message = await failure(client, tool, arguments)
            assert message.startswith("This server is not set up to reach PostHog, so nothing was sent:")
            assert words in message
    assert fake.requests == []


async def test_every_configuration_problem_is_reported_in_one_call_each_whole(fake: FakePostHog, mode: str) -> None:
    """One call tells the user everything to fix, rather than one problem a restart."""
    env = {
        "POSTHOG_PERSONAL_API_KEY": "",
        "POSTHOG_HOST": "http://posthog.example.com",
        "POSTHOG_PROJECT_ID": "abc",
        "POSTHOG_MCP_TIMEOUT": "soon",
    }
    async with connected(fake, env, mode) as client:
        message = await failure(client, "integrations-list", {})
    problems = Settings.from_env(env).problems
    assert [problem.split(" ", 1)[0] for problem in problems] == [
        "POSTHOG_HOST",
        "No",
        "POSTHOG_PROJECT_ID",
        "POSTHOG_MCP_TIMEOUT",
    ]
    assert message == "This server is not set up to reach PostHog, so nothing was sent: " + " ".join(problems)
    assert fake.requests == []


# Bad arguments: each bad field named, nothing sent.


@pytest.mark.parametrize(
    ("tool", "arguments", "problems"),
    [
        ("integrations-get", {}, ["id: required"]),
        ("integrations-get", {"id": "seven"}, ["id: Input should be a valid integer (got 'seven')"]),
        ("integrations-get", {"id": 1.5}, ["id: Input should be a valid integer (got 1.5)"]),
        ("integrations-get", {"id": True}, ["id: Input should be a valid integer (got True)"]),
        ("integrations-get", {"id": 0}, ["id: Input should be greater than or equal to 1 (got 0)"]),
        (
            "integrations-get",
            {"id": 1, "project_id": None},
            ["project_id: null is not allowed; leave it out to use the default"],
        ),
        ("integrations-get", {"id": 1, "verbose": True}, ["verbose: unknown argument"]),
        (
            "integrations-get",
            {"id": "../../users/@me"},
            ["id: Input should be a valid integer (got '../../users/@me')"],
        ),
        (
            "integrations-list",
            {"limit": 500, "offset": -1, "kind": ""},
            [
                "kind: String should have at least 1 character (got '')",
                "limit: Input should be less than or equal to 100 (got 500)",
                "offset: Input should be greater than or equal to 0 (got -1)",
            ],
        ),
        ("integrations-create", {"kind": "twilio"}, ["config: required"]),
        (
            "integrations-create",
            {"kind": "twilio", "config": "sid=1"},
            ["config: Input should be a valid dictionary (got 'sid=1')"],
        ),
        (
            "role-external-references-delete",
            {"id": "12"},
            [f"id: {UUID_WANTED} (got '12')"],
        ),
        (
            "role-external-references-list",
            {"organization_id": "@current/../x"},
            [f"organization_id: {UUID_WANTED} (got '@current/../x')"],
        ),
        (
            "role-external-references-lookup",
            {"provider": "github", "provider_organization_id": "posthog"},
            ["give provider_role_id or provider_role_slug (or both)"],
        ),
        (
            "role-external-references-create",
            {
                "provider": "x" * 33,
                "provider_organization_id": "",
                "provider_role_id": "1",
                "provider_role_name": "n",
                "role": UNKNOWN_UUID,
            },
            [
                f"provider: String should have at most 32 characters (got {'x' * 33!r})",
                "provider_organization_id: String should have at least 1 character (got '')",
            ],
        ),
        ("org-integrations-environment-mapping-update", {"id": UNKNOWN_UUID}, ["production: required"]),
    ],
)
async def test_bad_arguments_name_each_field_and_send_nothing(
    client: Client, fake: FakePostHog, tool: str, arguments: dict[str, Any], problems: list[str]
) -> None:
    message = await failure(client, tool, arguments)
    assert message == f"Invalid arguments for {tool}; nothing was sent to PostHog:\n" + "\n".join(
        f"- {problem}" for problem in problems
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"kind": "slack", "config": {}}, "'slack' is connected through a browser sign-in (OAuth)"),
        ({"kind": "hubspot", "config": {"client_id": "x"}}, "'hubspot' is connected through a browser sign-in"),
        ({"kind": "github", "config": {}}, "'github' is connected by installing PostHog's GitHub App"),
        ({"kind": "google-pubsub", "config": {"key": "{}"}}, "'google-pubsub' needs a service-account key file"),
        ({"kind": "google-cloud-storage", "config": {}}, "'google-cloud-storage' needs a service-account key file"),
    ],
)
async def test_kinds_that_need_a_browser_are_refused_with_the_settings_link(
    client: Client, fake: FakePostHog, config: dict[str, Any], words: str
) -> None:
    message = await failure(client, "integrations-create", {**config, "project_id": 7})
    assert message.startswith(words)
    assert "https://us.posthog.com/project/7/settings/integrations" in message
    assert message.endswith("Nothing was sent to PostHog.")
    assert fake.requests == []


async def test_refusal_without_a_known_project_says_where_to_look(client: Client) -> None:
    message = await failure(client, "integrations-create", {"kind": "linear", "config": {}})
    assert "https://us.posthog.com/project/<project id>/settings/integrations" in message


async def test_organization_defaults_to_current(client: Client, fake: FakePostHog) -> None:
    await client.call_tool("role-external-references-list", {})
    assert fake.requests[-1].path == "/api/organizations/@current/role_external_references/"
    assert ORG_ID
