"""The key never leaks: not in results, not in errors, not in logs, not in the configuration's repr."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest

from server.config import Settings
from tests.conftest import connected
from tests.fake_posthog import (
    ANTHROPIC_INTEGRATION_ID,
    FULL_KEY,
    SLACK_INTEGRATION_ID,
    VERCEL_ORG_INTEGRATION_ID,
    FakePostHog,
)

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("integrations-list", {}),
    ("integrations-get", {"id": SLACK_INTEGRATION_ID}),
    ("integrations-get", {"id": 999_999}),
    ("integrations-create", {"kind": "anthropic", "config": {"api_key": "sk-ant-canary"}}),
    ("integrations-create", {"kind": "slack", "config": {}}),
    ("integrations-anthropic-agents-list", {"id": ANTHROPIC_INTEGRATION_ID}),
    ("role-external-references-lookup", {"provider": "x", "provider_organization_id": "y", "provider_role_id": "z"}),
    ("org-integrations-environment-mapping-update", {"id": VERCEL_ORG_INTEGRATION_ID, "production": 99}),
    ("integrations-delete", {"id": "not a number"}),
]


async def test_the_key_is_in_no_result_and_no_log_line_at_debug(
    fake: FakePostHog, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    fake.fail_next(500, text="boom", content_type="text/plain")
    async with connected(fake, mode=mode) as client:
        for tool, arguments in CALLS:
            result = await client.call_tool(tool, arguments)
            seen.append(json.dumps(result.model_dump(mode="json")))
        seen.append(json.dumps((await client.list_tools()).model_dump(mode="json")))
    assert all(request.authorization == f"Bearer {FULL_KEY}" for request in fake.requests)
    assert caplog.records, "nothing was logged, so this test proves nothing"
    for text in [*seen, caplog.text]:
        assert FULL_KEY not in text


async def test_a_rejected_key_is_not_echoed_in_the_error(fake: FakePostHog) -> None:
    canary = "phx_canary_not_known_to_posthog_0000000000000"
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": canary}) as rejected:
        result = await rejected.call_tool("integrations-list", {})
    assert result.is_error is True
    assert canary not in json.dumps(result.model_dump(mode="json"))


def test_the_key_is_held_as_a_secret_from_the_moment_it_is_read() -> None:
    settings = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": FULL_KEY})
    assert FULL_KEY not in repr(settings)
    assert FULL_KEY not in str(settings)
    assert FULL_KEY not in repr(settings.api_key)


def test_a_key_that_reaches_a_log_line_is_scrubbed_and_httpx_stays_quiet() -> None:
    script = (
        "import logging\n"
        "from pydantic import SecretStr\n"
        "from server.logs import configure_logging\n"
        f"configure_logging('DEBUG', SecretStr({FULL_KEY!r}))\n"
        f"logging.getLogger('somewhere').warning('oops: Authorization: Bearer %s', {FULL_KEY!r})\n"
        "logging.getLogger('httpx').info('HTTP Request: GET https://us.posthog.com/api/ \"HTTP/1.1 200 OK\"')\n"
        "logging.getLogger('server').debug('a debug line')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == ""
    assert "oops: Authorization: Bearer [redacted]" in done.stderr
    assert FULL_KEY not in done.stderr
    assert "HTTP Request" not in done.stderr
    assert "a debug line" in done.stderr
