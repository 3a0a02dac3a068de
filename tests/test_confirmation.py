"""Destructive tools ask the user first, where the client can ask; nothing is deleted without a yes."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from mcp.client.context import ClientRequestContext

from server.options import Options
from tests.conftest import connected
from tests.fake_posthog import SLACK_ROLE_REFERENCE_ID, TWILIO_INTEGRATION_ID, FakePostHog

ASK = Options(scope_check=False)
INTEGRATION = f"/api/projects/@current/integrations/{TWILIO_INTEGRATION_ID}/"


class User:
    """Answers every confirmation the same way, and remembers what it was asked and what PostHog had seen."""

    def __init__(self, fake: FakePostHog, action: str = "accept", confirm: bool = True) -> None:
        self.fake, self.action, self.confirm = fake, action, confirm
        self.asked: list[str] = []
        self.deletes_before_answer: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.asked.append(params.message)
        self.deletes_before_answer += [r.path for r in self.fake.requests if r.method == "DELETE"]
        content: dict[str, Any] | None = {"confirm": self.confirm} if self.action == "accept" else None
        return types.ElicitResult(action=self.action, content=content)


def methods(fake: FakePostHog) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request in fake.requests]


async def test_accepted_confirmation_names_what_is_deleted_and_what_is_lost(fake: FakePostHog, mode: str) -> None:
    user = User(fake)
    async with connected(fake, mode=mode, options=ASK, elicitation_callback=user) as client:
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    (question,) = user.asked
    assert question == (
        "Delete an integration?\n"
        f"twilio AC00000000000000000000000000000001 ({INTEGRATION})\n"
        "PostHog revokes its tokens at the provider, so this cannot be undone, and whatever uses it (alerts, "
        "destinations, workflows) stops working."
    )
    assert user.deletes_before_answer == []
    assert methods(fake) == [("GET", INTEGRATION), ("DELETE", INTEGRATION)]


@pytest.mark.parametrize(
    ("action", "confirm", "message"),
    [
        (
            "decline",
            False,
            "The user declined integrations-delete. Nothing was deleted; do not try again unless they ask.",
        ),
        (
            "cancel",
            False,
            "The user dismissed the confirmation of integrations-delete. Nothing was deleted. An agent that runs "
            "unattended (claude -p, the Agent SDK) dismisses every confirmation, so calling again will not help: to "
            "let it delete, the operator starts this server with --confirm never (POSTHOG_MCP_CONFIRM=never).",
        ),
        (
            "accept",
            False,
            "The user declined integrations-delete. Nothing was deleted; do not try again unless they ask.",
        ),
    ],
)
async def test_anything_but_a_yes_deletes_nothing(
    fake: FakePostHog, mode: str, action: str, confirm: bool, message: str
) -> None:
    async with connected(fake, mode=mode, options=ASK, elicitation_callback=User(fake, action, confirm)) as client:
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is True
    assert result.content[0].model_dump()["text"] == message
    assert methods(fake) == [("GET", INTEGRATION)]
    assert TWILIO_INTEGRATION_ID in fake.integrations


async def test_without_a_get_tool_the_question_names_the_path(fake: FakePostHog, mode: str) -> None:
    user = User(fake)
    async with connected(fake, mode=mode, options=ASK, elicitation_callback=user) as client:
        await client.call_tool("role-external-references-delete", {"id": SLACK_ROLE_REFERENCE_ID})
    path = f"/api/organizations/@current/role_external_references/{SLACK_ROLE_REFERENCE_ID}/"
    assert user.asked == [
        f"Delete a role external reference?\n{path}\nThe external role stops mapping to its PostHog role."
    ]
    assert methods(fake) == [("DELETE", path)]


async def test_a_missing_record_is_reported_without_asking(fake: FakePostHog, mode: str) -> None:
    user = User(fake)
    async with connected(fake, mode=mode, options=ASK, elicitation_callback=user) as client:
        result = await client.call_tool("integrations-delete", {"id": 999})
    assert result.content[0].model_dump()["text"].startswith("Not found (404)")
    assert user.asked == []


async def test_a_client_that_cannot_ask_deletes_in_auto_mode(fake: FakePostHog, mode: str) -> None:
    async with connected(fake, mode=mode, options=ASK) as client:
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    assert methods(fake) == [("DELETE", INTEGRATION)]


async def test_a_client_that_cannot_ask_is_refused_in_always_mode(fake: FakePostHog, mode: str) -> None:
    async with connected(fake, mode=mode, options=Options(scope_check=False, confirm="always")) as client:
        result = await client.call_tool("org-integrations-delete", {"id": "0192f5a8-7c1e-7000-8000-00000000d001"})
    assert result.is_error is True
    assert result.content[0].model_dump()["text"] == (
        "org-integrations-delete was refused: this server asks the user before anything is deleted (--confirm "
        "always), and this client cannot ask (it does not support elicitation). Nothing was deleted."
    )
    assert fake.requests == []


async def test_never_mode_does_not_ask(fake: FakePostHog, mode: str) -> None:
    user = User(fake, "decline")
    options = Options(scope_check=False, confirm="never")
    async with connected(fake, mode=mode, options=options, elicitation_callback=user) as client:
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    assert user.asked == []


async def test_reads_and_creates_are_never_confirmed(fake: FakePostHog, mode: str) -> None:
    user = User(fake, "decline")
    async with connected(fake, mode=mode, options=ASK, elicitation_callback=user) as client:
        await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
        await client.call_tool(
            "org-integrations-environment-mapping-update",
            {"id": "0192f5a8-7c1e-7000-8000-00000000d001", "production": 1},
        )
    assert user.asked == []


@pytest.mark.parametrize("failure", ["the dialog crashed", "no window to ask in"])
async def test_a_failure_to_ask_deletes_nothing_and_is_logged(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    async def broken(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ErrorData:
        return types.ErrorData(code=types.INTERNAL_ERROR, message=failure)

    async with connected(fake, mode="legacy", options=ASK, elicitation_callback=broken) as client:
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is True
    assert result.content[0].model_dump()["text"] == (
        f"integrations-delete was not run: asking the user to confirm failed ({failure}). Nothing was deleted."
    )
    warnings = [r.getMessage() for r in caplog.records if r.name == "server.confirm" and r.levelname == "WARNING"]
    assert warnings == [f"could not ask the user to confirm integrations-delete: {failure}"]
    assert methods(fake) == [("GET", INTEGRATION)]


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_the_read_that_names_what_is_deleted_is_retried_like_any_read(
    fake: FakePostHog, mode: str, status: int
) -> None:
    user = User(fake)
    fake.fail_next(status, json={"detail": "Try again."})
    async with connected(fake, mode=mode, options=ASK, elicitation_callback=user) as client:
        result = await client.call_tool("integrations-delete", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    assert len(user.asked) == 1
    assert methods(fake) == [("GET", INTEGRATION), ("GET", INTEGRATION), ("DELETE", INTEGRATION)]


@pytest.mark.parametrize(
    ("asked_for", "answered_for", "deleted"),
    [
        ({"id": 104}, {"id": 104}, True),
        ({"id": 104, "project_id": 1}, {"id": 104, "project_id": 1}, True),
        ({"id": 104}, {"id": 105}, False),
        ({"id": 105}, {"id": 104}, False),
        ({"id": 104}, {"id": 104, "project_id": 1}, False),
        ({"id": 104, "project_id": 1}, {"id": 104}, False),
    ],
)
async def test_a_yes_counts_only_for_the_call_it_was_asked_for(
    fake: FakePostHog, asked_for: dict[str, Any], answered_for: dict[str, Any], deleted: bool
) -> None:
    """2026-07-28: the answer travels with the retried call, so it is bound to that call's tool and arguments."""
    user = User(fake)
    async with connected(fake, mode="auto", options=ASK, elicitation_callback=user) as client:
        asked = await client.session.call_tool("integrations-delete", asked_for, allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult)
        yes: types.InputResponses = {"confirm": types.ElicitResult(action="accept", content={"confirm": True})}
        other = await client.session.call_tool(
            "integrations-delete",
            answered_for,
            input_responses=yes,
            request_state=asked.request_state,
            allow_input_required=True,
        )
    if deleted:
        assert isinstance(other, types.CallToolResult)
        assert other.is_error is False
        assert [request.method for request in fake.requests] == ["GET", "DELETE"]
    else:
        assert isinstance(other, types.InputRequiredResult)
        assert [request.method for request in fake.requests] == ["GET", "GET"]
