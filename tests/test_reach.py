"""Where a credential may act: PostHog limits a key or an OAuth access token to some projects (`scoped_teams`) or
organizations (`scoped_organizations`). The one project (or organization) of such a credential is the default of a
call that names none; a call for another is refused before anything is sent, naming the ones it may use."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest

from server.options import Options
from tests.conftest import connected
from tests.fake_posthog import ORG_ID, OTHER_ORG_ID, FakePostHog, Key

KEY = "phx_test_reach_00000000000000000000000000000000000"
KEY_RECORD = "/api/personal_api_keys/@current/"
ROLES = "role-external-references-list"
INTEGRATIONS = "integrations-list"


def text(result: types.CallToolResult) -> str:
    return str(result.content[0].model_dump()["text"])


@pytest.mark.parametrize(
    ("teams", "organizations", "env", "tool", "arguments", "sent", "refusal"),
    [
        ((1,), (), {}, INTEGRATIONS, {}, "/api/projects/1/integrations/", None),
        ((2,), (), {}, INTEGRATIONS, {}, "/api/projects/2/integrations/", None),
        ((1,), (), {}, INTEGRATIONS, {"project_id": 1}, "/api/projects/1/integrations/", None),
        ((1, 2), (), {}, INTEGRATIONS, {}, "/api/projects/@current/integrations/", None),
        ((1, 2), (), {}, INTEGRATIONS, {"project_id": 2}, "/api/projects/2/integrations/", None),
        ((), (), {}, INTEGRATIONS, {}, "/api/projects/@current/integrations/", None),
        ((1,), (), {"POSTHOG_PROJECT_ID": "1"}, INTEGRATIONS, {}, "/api/projects/1/integrations/", None),
        (
            (1,),
            (),
            {},
            INTEGRATIONS,
            {"project_id": 2},
            None,
            "The API key may act only in project 1, not project 2: call with project_id 1, or use a key with access "
            "to project 2. Nothing was sent to PostHog.",
        ),
        (
            (1,),
            (),
            {"POSTHOG_PROJECT_ID": "2"},
            INTEGRATIONS,
            {},
            None,
            "The API key may act only in project 1, not project 2: call with project_id 1, or use a key with access "
            "to project 2. Nothing was sent to PostHog.",
        ),
        (
            (1, 2),
            (),
            {},
            "integrations-get",
            {"project_id": 3, "id": 5},
            None,
            "The API key may act only in projects 1, 2, not project 3: call with project_id set to one of them, or "
            "use a key with access to project 3. Nothing was sent to PostHog.",
        ),
        ((), (ORG_ID,), {}, ROLES, {}, f"/api/organizations/{ORG_ID}/role_external_references/", None),
        ((), (ORG_ID, OTHER_ORG_ID), {}, ROLES, {}, "/api/organizations/@current/role_external_references/", None),
        ((), (ORG_ID,), {}, INTEGRATIONS, {"project_id": 2}, "/api/projects/2/integrations/", None),
        (
            (),
            (ORG_ID,),
            {},
            ROLES,
            {"organization_id": OTHER_ORG_ID},
            None,
            f"The API key may act only in organization {ORG_ID}, not organization {OTHER_ORG_ID}: call with "
            f"organization_id {ORG_ID}, or use a key with access to organization {OTHER_ORG_ID}. Nothing was sent to "
            "PostHog.",
        ),
        (
            (),
            (ORG_ID,),
            {"POSTHOG_ORGANIZATION_ID": OTHER_ORG_ID},
            ROLES,
            {},
            None,
            f"The API key may act only in organization {ORG_ID}, not organization {OTHER_ORG_ID}: call with "
            f"organization_id {ORG_ID}, or use a key with access to organization {OTHER_ORG_ID}. Nothing was sent to "
            "PostHog.",
        ),
    ],
)
async def test_a_limited_key_acts_in_its_one_project_or_organization_and_is_refused_elsewhere_before_sending(
    fake: FakePostHog,
    mode: str,
    teams: tuple[int, ...],
    organizations: tuple[str, ...],
    env: dict[str, str],
    tool: str,
    arguments: dict[str, Any],
    sent: str | None,
    refusal: str | None,
) -> None:
    fake.keys[KEY] = Key(frozenset({"*"}), scoped_teams=teams, scoped_organizations=organizations)
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": KEY, **env}, mode, options=Options()) as client:
        await client.list_tools(cache_mode="bypass")
        result = await client.call_tool(tool, arguments)
    paths = [request.path for request in fake.requests]
    if refusal is not None:
        assert (result.is_error, text(result)) == (True, refusal)
        assert paths == [KEY_RECORD]
    else:
        assert paths == [KEY_RECORD, sent]


async def test_without_the_scope_check_nothing_is_known_of_the_key_so_posthog_decides(fake: FakePostHog) -> None:
    fake.keys[KEY] = Key(frozenset({"*"}), scoped_teams=(1,))
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": KEY}, options=Options(scope_check=False)) as client:
        result = await client.call_tool(INTEGRATIONS, {"project_id": 2})
    assert result.is_error is True
    assert [request.path for request in fake.requests] == ["/api/projects/2/integrations/"]
