"""Numbers read from text take ASCII digits only: "²", full-width and Arabic-Indic digits are mistakes, each
answered the way its kind of mistake is, never a crash and never an id PostHog did not issue."""

from __future__ import annotations

import pytest
from mcp import Client
from starlette.responses import Response

from server.config import Settings
from tests.conftest import FakeClock, connected
from tests.fake_posthog import FULL_KEY, TWILIO_INTEGRATION_ID, FakePostHog, Recorded
from tests.test_stdio import INITIALIZE, converse, request
from tools.digits import ascii_decimal, ascii_int, ascii_uuid

NOT_ASCII = ["²", "\uff11\uff12", "٣", "12³", "۱۲", "\U0001d7cf\U0001d7d0"]
"""Superscript, full-width, Arabic-Indic, a superscript tail, extended Arabic-Indic, mathematical bold."""
IN_HEADERS = ["²", "12³", "¹²"]
"""Header values are Latin-1: of the digits that are not ASCII, only these superscripts can arrive as they are."""


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0", 0),
        ("12", 12),
        (" 12 ", 12),
        ("007", 7),
        ("", None),
        (" ", None),
        ("+7", None),
        ("-1", None),
        ("1.0", None),
        ("1e3", None),
        ("0x1F", None),
        ("1_000", None),
        ("12\n3", None),
        *[(text, None) for text in NOT_ASCII],
    ],
)
def test_a_whole_number_is_ascii_digits_and_nothing_else(text: str, number: int | None) -> None:
    assert ascii_int(text) == number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("2.5", 2.5),
        ("30", 30.0),
        (" .5 ", 0.5),
        ("7.", 7.0),
        ("nan", None),
        ("inf", None),
        ("1e3", None),
        ("-1", None),
        ("1.2.3", None),
        (".", None),
        *[(text, None) for text in NOT_ASCII],
    ],
)
def test_a_decimal_is_ascii_digits_and_one_point(text: str, number: float | None) -> None:
    assert ascii_decimal(text) == number


@pytest.mark.parametrize(
    ("text", "uuid"),
    [
        ("0189C2A4-8E5B-7C3D-9F00-1234567890AB", "0189c2a4-8e5b-7c3d-9f00-1234567890ab"),
        (" 0189c2a48e5b7c3d9f001234567890ab ", "0189c2a4-8e5b-7c3d-9f00-1234567890ab"),
        ("\uff10189c2a4-8e5b-7c3d-9f00-1234567890ab", None),
        ("0189c2a4-8e5b-7c3d-9f00-1234567890a\u0663", None),
        ("0189c2a4-8e5b-7c3d-9f00-1234567890", None),
        ("acme", None),
        ("", None),
    ],
)
def test_a_uuid_is_ascii_and_comes_back_canonical(text: str, uuid: str | None) -> None:
    assert ascii_uuid(text) == uuid


@pytest.mark.parametrize("variable", ["POSTHOG_PROJECT_ID", "POSTHOG_MCP_TIMEOUT", "POSTHOG_MCP_MAX_RESULT_TOKENS"])
@pytest.mark.parametrize("value", [*NOT_ASCII, "nan", "inf", "1e3", "0x10"])
def test_a_number_variable_in_other_digits_is_a_problem_naming_it(variable: str, value: str) -> None:
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, variable: value})
    (problem,) = settings.problems
    assert problem.startswith(f"{variable} {value!r} is not")


@pytest.mark.parametrize("value", NOT_ASCII)
async def test_a_project_id_in_other_digits_leaves_the_server_up_and_every_call_explains(
    fake: FakePostHog, value: str
) -> None:
    async with connected(fake, env={"POSTHOG_PROJECT_ID": value}) as client:
        result = await client.call_tool("integrations-list", {})
    assert result.is_error is True
    assert result.content[0].text == (  # type: ignore[union-attr]
        "This server is not set up to reach PostHog, so nothing was sent: "
        f"POSTHOG_PROJECT_ID {value!r} is not a project id: set it to a number such as 12345, or unset it."
    )
    assert fake.requests == []


async def test_the_installed_server_starts_with_a_project_id_in_other_digits() -> None:
    call = {"name": "integrations-list", "arguments": {}}
    answers, stderr = await converse(
        {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_PROJECT_ID": "²", "POSTHOG_MCP_SCOPE_CHECK": "0"},
        [
            request(1, "initialize", INITIALIZE),
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
            request(2, "tools/call", call),
        ],
    )
    assert answers[1]["result"]["isError"] is True
    assert "POSTHOG_PROJECT_ID '²' is not a project id" in answers[1]["result"]["content"][0]["text"]
    assert "POSTHOG_PROJECT_ID '²' is not a project id" in stderr


@pytest.mark.parametrize("value", IN_HEADERS)
async def test_retry_after_in_other_digits_is_a_rate_limit_without_a_known_wait(
    client: Client, fake: FakePostHog, clock: FakeClock, value: str
) -> None:
    for _ in range(4):
        fake.fail_next(429, json={"detail": "Request was throttled."}, headers={"Retry-After": value})
    result = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
    assert result.content[0].text == "PostHog is rate-limiting this API key (429): wait, then try again."  # type: ignore[union-attr]
    assert len(clock.sleeps) == 3
    assert all(wait <= 2.0 for wait in clock.sleeps)


@pytest.mark.parametrize("value", NOT_ASCII)
async def test_a_throttle_detail_in_other_digits_gives_no_wait(client: Client, fake: FakePostHog, value: str) -> None:
    for _ in range(4):
        fake.fail_next(429, json={"detail": f"Request was throttled. Expected available in {value} seconds."})
    result = await client.call_tool("integrations-list", {})
    assert result.content[0].text == "PostHog is rate-limiting this API key (429): wait, then try again."  # type: ignore[union-attr]


@pytest.mark.parametrize("value", IN_HEADERS)
async def test_a_content_length_in_other_digits_does_not_stop_the_answer(
    client: Client, fake: FakePostHog, value: str
) -> None:
    async def odd_length(request: Recorded) -> Response:
        body = b'{"id": 104, "kind": "twilio"}'
        return Response(body, media_type="application/json", headers={"Content-Length": value})

    fake.intercept = odd_length
    result = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    assert result.structured_content == {"id": 104, "kind": "twilio"}


@pytest.mark.parametrize("value", NOT_ASCII)
@pytest.mark.parametrize(("tool", "field"), [("integrations-get", "id"), ("integrations-list", "project_id")])
async def test_an_id_in_other_digits_is_a_validation_error_and_nothing_is_sent(
    client: Client, fake: FakePostHog, value: str, tool: str, field: str
) -> None:
    result = await client.call_tool(tool, {field: value})
    assert result.is_error is True
    assert f"\n- {field}: Input should be a valid integer (got {value!r})" in result.content[0].text  # type: ignore[union-attr]
    assert fake.requests == []
