"""`posthog-integrations-mcp doctor`: one line per check, a fix for each failure, exit 1 when the server would fail."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.responses import Response

from server.config import Settings
from server.doctor import doctor
from server.options import Options
from tests.fake_posthog import (
    FOREIGN_PROJECT_ID,
    FULL_KEY,
    INTEGRATION_KEY,
    INVALID_KEY,
    NO_TOOL_KEY,
    ORG_ID,
    PROJECT_SCOPED_KEY,
    READ_ONLY_KEY,
    FakePostHog,
    Recorded,
    running,
)
from tools import TOOLS

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")


async def diagnose(
    env: dict[str, str], transport: httpx.AsyncBaseTransport | None, options: Options | None = None
) -> tuple[int, str]:
    out = io.StringIO()
    code = await doctor(Settings.from_env(env), options or Options(), out, transport)
    return code, out.getvalue()


async def test_a_good_configuration_passes_every_check(fake: FakePostHog) -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": FULL_KEY}, httpx.ASGITransport(app=fake.app))
    assert code == 0
    assert report.splitlines() == [
        "✓ API key phx_fake… is set and looks like a personal API key",
        "✓ https://us.posthog.com answers",
        "✓ PostHog accepts the key",
        "✓ the key's scopes (*) allow 13 of 13 tools: " + ", ".join(spec.name for spec in TOOLS),
        "✓ the default project is Acme Web (1)",
        f"✓ the default organization is Acme ({ORG_ID})",
    ]
    assert FULL_KEY[:9] not in report


async def test_a_read_only_key_passes_with_the_read_tools(fake: FakePostHog) -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": READ_ONLY_KEY}, httpx.ASGITransport(app=fake.app))
    assert code == 0
    assert "allow 7 of 13 tools: integrations-list, integrations-get, " in report


async def test_checks_the_key_cannot_make_are_skipped_not_failed(fake: FakePostHog) -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": INTEGRATION_KEY}, httpx.ASGITransport(app=fake.app))
    assert code == 0
    assert "- project not checked: API key missing required scope 'project:read'" in report
    assert "- organization not checked: API key missing required scope 'organization:read'" in report


async def test_a_project_scoped_key_skips_the_organization(fake: FakePostHog) -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": PROJECT_SCOPED_KEY}, httpx.ASGITransport(app=fake.app))
    assert code == 0
    assert "- organization not checked: the key is limited to projects" in report


async def test_a_key_that_allows_no_tool_fails(fake: FakePostHog) -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": NO_TOOL_KEY}, httpx.ASGITransport(app=fake.app))
    assert code == 1
    assert "✗ the key's scopes (feature_flag:read) allow none of the tools" in report


async def test_a_default_project_outside_the_key_fails_with_the_variable_to_fix(fake: FakePostHog) -> None:
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_PROJECT_ID": str(FOREIGN_PROJECT_ID)}
    code, report = await diagnose(env, httpx.ASGITransport(app=fake.app))
    assert code == 1
    assert "✗ the default project (/api/projects/3/) does not resolve: HTTP 404 Not found." in report
    assert "→ set POSTHOG_PROJECT_ID to one this key may use, or unset it to use the current project" in report


async def test_a_rejected_key_is_reported_without_the_key(fake: FakePostHog) -> None:
    code, report = await diagnose(
        {"POSTHOG_PERSONAL_API_KEY": INVALID_KEY, "POSTHOG_HOST": "http://127.0.0.1:8000"},
        httpx.ASGITransport(app=fake.app),
    )
    assert code == 1
    assert "✗ PostHog at http://127.0.0.1:8000 rejects the key" in report
    assert "→ check the key at http://127.0.0.1:8000/settings/user-api-keys: it may be wrong or revoked" in report
    assert INVALID_KEY not in report


class Regions(httpx.AsyncBaseTransport):
    """US and EU cloud as two PostHogs; the key exists only in the EU one."""

    def __init__(self) -> None:
        us, eu = FakePostHog(), FakePostHog()
        us.keys.pop(FULL_KEY)
        self.hosts = {
            "us.posthog.com": httpx.ASGITransport(app=us.app),
            "eu.posthog.com": httpx.ASGITransport(app=eu.app),
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.hosts[request.url.host].handle_async_request(request)


async def test_a_key_from_the_other_region_gets_the_host_to_use() -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": "us"}, Regions())
    assert code == 1
    assert "→ the key belongs to the other region: set POSTHOG_HOST=https://eu.posthog.com" in report


def nowhere(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be made, but {request.url} was")


async def test_configuration_problems_fail_before_any_request() -> None:
    code, report = await diagnose({"POSTHOG_PERSONAL_API_KEY": "phc_project_token"}, httpx.MockTransport(nowhere))
    assert code == 1
    assert report.startswith("✗ POSTHOG_PERSONAL_API_KEY holds a project token (phc_…)")


async def test_an_unreachable_host_is_named() -> None:
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": "http://127.0.0.1:9"}
    code, report = await diagnose(env, None)
    assert code == 1
    assert "✗ cannot reach http://127.0.0.1:9" in report


async def test_the_doctor_command_runs_against_posthog(fake: FakePostHog) -> None:
    async with running(fake) as url:
        env = {"PATH": os.environ["PATH"], "POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url}
        done = await anyio.run_process([str(SCRIPT), "doctor"], env=env, check=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.decode().count("✓") == 6
    without_key = await anyio.run_process([str(SCRIPT), "doctor"], env={"PATH": os.environ["PATH"]}, check=False)
    assert without_key.returncode == 1
    assert without_key.stdout.decode().startswith("✗ No PostHog API key: set POSTHOG_PERSONAL_API_KEY")


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (
            "/api/personal_api_keys/@current/",
            "✗ PostHog did not say what the key may do (HTTP 200)\n  → run doctor again later",
        ),
        (
            "/api/projects/@current/",
            "✗ the default project (/api/projects/@current/) does not resolve: HTTP 200 with application/json that "
            "is not JSON\n  → set POSTHOG_PROJECT_ID to one this key may use, or unset it to use the current project",
        ),
        (
            f"/api/organizations/{ORG_ID}/",
            f"✗ the default organization (/api/organizations/{ORG_ID}/) does not resolve: HTTP 200 with "
            "application/json that is not JSON\n  → set POSTHOG_ORGANIZATION_ID to one this key may use, or unset it "
            "to use the current organization",
        ),
    ],
)
async def test_an_answer_labelled_json_that_is_not_json_fails_the_check_without_a_crash(
    fake: FakePostHog, path: str, line: str
) -> None:
    async def garbled(request: Recorded) -> Response | None:
        if request.path == path:
            return Response(b"<html>gateway</html>", media_type="application/json")
        return None

    fake.intercept = garbled
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_ORGANIZATION_ID": ORG_ID}
    code, report = await diagnose(env, httpx.ASGITransport(app=fake.app))
    assert code == 1
    assert line in report
