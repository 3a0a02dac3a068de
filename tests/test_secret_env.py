"""`{"$env": NAME}`: a credential goes from the server's environment to PostHog without passing the model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.options import Options
from tests.conftest import connected
from tests.fake_posthog import FULL_KEY, FakePostHog

SECRET = "sk-ant-api03-from-the-environment"
ALLOWED = Options(scope_check=False, secret_env=frozenset({"ANTHROPIC_KEY", "POSTHOG_PERSONAL_API_KEY"}))


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_KEY", SECRET)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", FULL_KEY)
    monkeypatch.setenv("UNLISTED_KEY", "not-for-you")
    monkeypatch.delenv("UNSET_KEY", raising=False)


def everything(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"))


async def test_a_listed_variable_reaches_posthog_and_never_comes_back(fake: FakePostHog, mode: str) -> None:
    config = {"api_key": {"$env": "ANTHROPIC_KEY"}, "workspace_label": "Ops"}
    async with connected(fake, mode=mode, options=ALLOWED) as client:
        result = await client.call_tool("integrations-create", {"kind": "anthropic", "config": config})
    assert result.is_error is False
    assert fake.requests[0].body == {"kind": "anthropic", "config": {"api_key": SECRET, "workspace_label": "Ops"}}
    assert SECRET not in everything(result)


async def test_a_substituted_value_echoed_by_posthog_is_scrubbed_from_the_error(fake: FakePostHog) -> None:
    fake.fail_next(400, json={"detail": f"Anthropic rejected the key {SECRET}", "attr": "api_key"})
    async with connected(fake, options=ALLOWED) as client:
        result = await client.call_tool(
            "integrations-create", {"kind": "anthropic", "config": {"api_key": {"$env": "ANTHROPIC_KEY"}}}
        )
    assert "Anthropic rejected the key [redacted]" in everything(result)
    assert SECRET not in everything(result)


async def test_references_are_replaced_at_any_depth_and_in_lists(fake: FakePostHog) -> None:
    config = {
        "account_sid": "AC1",
        "auth_token": {"$env": "ANTHROPIC_KEY"},
        "extra": [{"deep": {"$env": "ANTHROPIC_KEY"}}],
    }
    async with connected(fake, options=ALLOWED) as client:
        await client.call_tool("integrations-create", {"kind": "twilio", "config": config})
    assert fake.requests[0].body["config"] == {"account_sid": "AC1", "auth_token": SECRET, "extra": [{"deep": SECRET}]}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "UNLISTED_KEY",
            '{"$env": "UNLISTED_KEY"} is refused: UNLISTED_KEY is not among the variables this server may read '
            "(--secret-env or POSTHOG_MCP_SECRET_ENV). Ask the user to allow it, or to give the value directly. "
            "Nothing was sent to PostHog.",
        ),
        (
            "UNSET_KEY",
            '{"$env": "UNSET_KEY"} cannot be used: UNSET_KEY is not set where this server runs. '
            "Nothing was sent to PostHog.",
        ),
        (
            "POSTHOG_PERSONAL_API_KEY",
            '{"$env": "POSTHOG_PERSONAL_API_KEY"} is refused: this server never reads its own API key. '
            "Nothing was sent to PostHog.",
        ),
    ],
    ids=["unlisted", "unset", "the server's own key, even when listed"],
)
async def test_a_variable_that_may_not_or_cannot_be_read_is_named_and_nothing_is_sent(
    fake: FakePostHog, mode: str, name: str, message: str
) -> None:
    options = Options(scope_check=False, secret_env=ALLOWED.secret_env | {"UNSET_KEY"})
    config = {"account_sid": "AC1", "auth_token": {"nested": [{"$env": name}]}}
    async with connected(fake, mode=mode, options=options) as client:
        result = await client.call_tool("integrations-create", {"kind": "twilio", "config": config})
    assert result.is_error is True
    assert result.content[0].model_dump()["text"] == message
    assert FULL_KEY not in everything(result)
    assert "not-for-you" not in everything(result)
    assert fake.requests == []


async def test_a_substituted_value_echoed_in_a_result_is_scrubbed(fake: FakePostHog) -> None:
    config = {"account_sid": {"$env": "ANTHROPIC_KEY"}, "auth_token": "t"}
    async with connected(fake, options=ALLOWED) as client:
        result = await client.call_tool("integrations-create", {"kind": "twilio", "config": config})
    assert fake.requests[0].body["config"]["account_sid"] == SECRET
    assert result.structured_content is not None
    assert result.structured_content["config"]["account_sid"] == "[redacted]"
    assert SECRET not in everything(result)
