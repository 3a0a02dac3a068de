"""The fake PostHog answers the way api-behaviour.md says PostHog does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fake_posthog import (
    ADMIN_LEVEL,
    ANTHROPIC_INTEGRATION_ID,
    FOREIGN_PROJECT_ID,
    FULL_KEY,
    GITHUB_INTEGRATION_ID,
    IN_USE_INTEGRATION_ID,
    IN_USE_MESSAGE,
    INTEGRATION_KEY,
    INTEGRATION_ONLY_KEY,
    INVALID_KEY,
    MEMBER_KEY,
    MEMBER_LEVEL,
    MEMBER_USER,
    NO_TOOL_KEY,
    NON_CONNECTABLE_ORG_INTEGRATION_ID,
    ORG_ID,
    ORG_NAME,
    ORG_SCOPED_KEY,
    OTHER_ORG_ID,
    OTHER_PROJECT_ID,
    OTHER_PROJECT_INTEGRATION_ID,
    OTHER_PROJECT_VERCEL_INTEGRATION_ID,
    PROJECT_ID,
    PROJECT_NAME,
    PROJECT_SCOPED_KEY,
    PROJECT_VERCEL_INTEGRATION_ID,
    READ_KEY,
    READ_ONLY_KEY,
    ROLE_ID,
    SLACK_INTEGRATION_ID,
    UNPAID_ORG_INTEGRATION_ID,
    USER,
    VERCEL_ORG_INTEGRATION_ID,
    FakePostHog,
    Key,
    Recorded,
    running,
)

pytestmark = pytest.mark.anyio

INTEGRATIONS = f"/api/projects/{PROJECT_ID}/integrations/"
REFERENCES = f"/api/organizations/{ORG_ID}/role_external_references/"
ORG_INTEGRATIONS = f"/api/organizations/{ORG_ID}/integrations/"
MY_KEY = "/api/personal_api_keys/@current/"
ME = "/api/users/@me/"
NOT_ON_ORGANIZATIONS = "API keys with scoped projects are only supported on project-based endpoints."


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error(status_type: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    return {"type": status_type, "code": code, "detail": detail, "attr": attr}


@pytest.fixture
async def http(fake: FakePostHog) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=bearer(FULL_KEY)) as client:
        yield client


# Authentication and permissions


async def test_missing_key_is_401_not_provided(http: httpx.AsyncClient) -> None:
    response = await http.get(INTEGRATIONS, headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json() == error(
        "authentication_error", "not_authenticated", "Authentication credentials were not provided."
    )


async def test_unknown_key_is_401_invalid(http: httpx.AsyncClient) -> None:
    response = await http.get(INTEGRATIONS, headers=bearer(INVALID_KEY))
    assert response.status_code == 401
    assert response.json()["detail"] == "Personal API key found in request Authorization header is invalid."


async def test_missing_scope_names_the_scope(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    response = await http.delete(f"{INTEGRATIONS}{SLACK_INTEGRATION_ID}/", headers=bearer(READ_KEY))
    assert response.status_code == 403
    assert response.json() == error(
        "authentication_error", "permission_denied", "API key missing required scope 'integration:write'"
    )
    assert SLACK_INTEGRATION_ID in fake.integrations


async def test_write_scope_implies_read_but_not_other_objects(http: httpx.AsyncClient) -> None:
    assert (await http.get(INTEGRATIONS, headers=bearer(INTEGRATION_KEY))).status_code == 200
    refused = await http.get(REFERENCES, headers=bearer(INTEGRATION_KEY))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "API key missing required scope 'organization:read'"


async def test_project_scoped_key_is_refused_on_every_organization_endpoint(http: httpx.AsyncClient) -> None:
    assert (await http.get(INTEGRATIONS, headers=bearer(PROJECT_SCOPED_KEY))).status_code == 200
    response = await http.get(f"{REFERENCES}lookup/", headers=bearer(PROJECT_SCOPED_KEY))
    assert response.status_code == 403
    assert response.json()["detail"] == "API keys with scoped projects are only supported on project-based endpoints."


async def test_member_cannot_write_on_the_organization(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    assert (await http.get(REFERENCES, headers=bearer(MEMBER_KEY))).status_code == 200
    response = await http.delete(f"{ORG_INTEGRATIONS}{VERCEL_ORG_INTEGRATION_ID}/", headers=bearer(MEMBER_KEY))
    assert response.status_code == 403
    assert response.json()["detail"] == "Your organization access level is insufficient."
    assert VERCEL_ORG_INTEGRATION_ID in fake.organization_integrations


# Routing and recording


async def test_unmatched_path_is_recorded_and_answered_404(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    response = await http.post("/api/projects/1/dashboards?x=1", json={"a": 1})
    assert response.status_code == 404
    assert response.json() == error("invalid_request", "not_found", "Not found.")
    (recorded,) = fake.requests
    assert recorded == Recorded(
        "POST", "/api/projects/1/dashboards", {"x": "1"}, {"a": 1}, f"Bearer {FULL_KEY}", recorded.user_agent
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/abc/integrations/",
        "/api/projects/3/integrations/",  # another organization's project
        f"/api/projects/{PROJECT_ID}/integrations/{OTHER_PROJECT_INTEGRATION_ID}/",
        f"/api/projects/{PROJECT_ID}/integrations/x/",
        "/api/organizations/not-a-uuid/role_external_references/",
    ],
)
async def test_ids_outside_reach_are_404(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_current_and_a_missing_trailing_slash_are_accepted(http: httpx.AsyncClient) -> None:
    by_id = (await http.get(INTEGRATIONS)).json()
    assert (await http.get("/api/projects/@current/integrations")).json() == by_id
    references = await http.get("/api/organizations/@current/role_external_references")
    assert references.json()["count"] == 2


async def test_fail_next_answers_one_request_after_recording_it(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    fake.fail_next(502, text="<html>Bad gateway</html>", content_type="text/html", headers={"X-Edge": "1"})
    failed = await http.get(INTEGRATIONS)
    assert (failed.status_code, failed.text, failed.headers["content-type"]) == (
        502,
        "<html>Bad gateway</html>",
        "text/html",
    )
    assert failed.headers["x-edge"] == "1"
    assert (await http.get(INTEGRATIONS)).status_code == 200
    assert len(fake.requests) == 2


async def test_throttle_next_sends_retry_after(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    fake.throttle_next(17)
    response = await http.get(INTEGRATIONS)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert response.json()["detail"] == "Request was throttled. Expected available in 17 seconds."


# Pages


async def test_pages_link_with_absolute_urls_keeping_the_filter(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    ids = [fake.add_integration("databricks", {"server_hostname": f"h{n}"})["id"] for n in range(5)]
    first = (await http.get(INTEGRATIONS, params={"kind": "databricks", "limit": 2})).json()
    assert first["count"] == 5
    assert [row["id"] for row in first["results"]] == ids[:2]
    assert first["next"] == f"http://testserver{INTEGRATIONS}?kind=databricks&limit=2&offset=2"
    assert first["previous"] is None
    second = (await http.get(first["next"])).json()
    assert second["previous"] == f"http://testserver{INTEGRATIONS}?kind=databricks&limit=2"
    last = (await http.get(second["next"])).json()
    assert ([row["id"] for row in last["results"]], last["next"]) == (ids[4:], None)
    assert last["previous"] == f"http://testserver{INTEGRATIONS}?kind=databricks&limit=2&offset=2"


async def test_limit_is_capped_at_100(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    for n in range(101):
        fake.add_integration("snowflake", {"account": str(n)})
    page = (await http.get(INTEGRATIONS, params={"kind": "snowflake", "limit": 500})).json()
    assert len(page["results"]) == 100
    assert page["next"] == f"http://testserver{INTEGRATIONS}?kind=snowflake&limit=100&offset=100"


async def test_unknown_kind_filter_is_a_validation_error(http: httpx.AsyncClient) -> None:
    response = await http.get(INTEGRATIONS, params={"kind": "myspace"})
    assert response.status_code == 400
    assert response.json()["attr"] == "kind"


# Project integrations


async def test_delete_answers_204_and_forgets_the_row(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    response = await http.delete(f"{INTEGRATIONS}{GITHUB_INTEGRATION_ID}/")
    assert (response.status_code, response.content) == (204, b"")
    assert (await http.get(f"{INTEGRATIONS}{GITHUB_INTEGRATION_ID}/")).status_code == 404


async def test_integration_used_by_workflows_cannot_be_deleted(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    response = await http.delete(f"{INTEGRATIONS}{IN_USE_INTEGRATION_ID}/")
    assert response.status_code == 400
    assert response.json() == error("validation_error", "invalid", IN_USE_MESSAGE)
    assert IN_USE_INTEGRATION_ID in fake.integrations


@pytest.mark.parametrize(
    ("body", "detail", "attr"),
    [
        ({"kind": "twilio", "config": {"account_sid": "AC1"}}, "Account SID and auth token must be provided", None),
        ({"kind": "google-pubsub", "config": {}}, "Key file not provided", None),
        ({"kind": "google-cloud-storage", "config": {"key_info": {}}}, "Key file not provided", None),
        ({"kind": "firebase", "config": {}}, "Firebase service account key must be provided", None),
        ({"kind": "github", "config": {}}, "An installation_id must be provided", None),
        ({"kind": "hubspot", "config": {"code": "bad"}}, "hubspot OAuth failed: invalid_grant", None),
        ({"kind": "slack-posthog-code"}, "This integration kind is deprecated and can no longer be created.", "kind"),
        ({"kind": "vercel", "config": {}}, "Kind not supported", None),
        ({"kind": "myspace", "config": {}}, '"myspace" is not a valid choice.', "kind"),
        ({"config": {}}, "This field is required.", "kind"),
        ({"kind": "anthropic", "config": {"api_key": "sk-ant-invalid"}}, "Invalid Anthropic API key", "api_key"),
        (
            {"kind": "anthropic", "config": {"api_key": "k", "workspace_label": "Production"}},
            "An integration with id 'Production' already exists for this team.",
            "config",
        ),
    ],
)
async def test_create_refusals_follow_the_kind_families(
    http: httpx.AsyncClient, fake: FakePostHog, body: dict[str, Any], detail: str, attr: str | None
) -> None:
    count = len(fake.integrations)
    response = await http.post(INTEGRATIONS, json=body)
    assert response.status_code == 400
    assert (response.json()["type"], response.json()["attr"]) == ("validation_error", attr)
    assert response.json()["detail"].startswith(detail)
    assert len(fake.integrations) == count


async def test_oauth_kind_without_a_code_is_a_bare_html_500(http: httpx.AsyncClient) -> None:
    response = await http.post(INTEGRATIONS, json={"kind": "slack", "config": {}})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("kind", "config", "config_keys"),
    [
        ("anthropic", {"api_key": "sk-ant-secret-1", "workspace_label": "Staging"}, {"workspace_label"}),
        ("twilio", {"account_sid": "AC9", "auth_token": "twilio-secret-1"}, {"account_sid"}),
        ("firebase", {"key_info": {"project_id": "p", "private_key": "firebase-secret-1"}}, set()),
        ("linear", {"code": "oauth-secret-1", "state": "s"}, {"expires_in", "refreshed_at"}),
        ("github", {"installation_id": 7, "state": "s", "code": "github-secret-1"}, {"installation_id", "account"}),
    ],
)
async def test_created_rows_are_201_and_keep_no_secret(
    http: httpx.AsyncClient, kind: str, config: dict[str, Any], config_keys: set[str]
) -> None:
    response = await http.post(INTEGRATIONS, json={"kind": kind, "config": config})
    assert response.status_code == 201
    row = response.json()
    assert set(row) == {"id", "kind", "config", "created_at", "created_by", "errors", "display_name"}
    assert (row["kind"], set(row["config"])) == (kind, config_keys)
    assert "secret-1" not in response.text
    assert (await http.get(f"{INTEGRATIONS}{row['id']}/")).json() == row


# Anthropic actions


async def test_anthropic_agents_page_by_cursor(http: httpx.AsyncClient) -> None:
    path = f"{INTEGRATIONS}{ANTHROPIC_INTEGRATION_ID}/anthropic_managed_agents/"
    first = (await http.get(path, params={"limit": 2, "force_refresh": "true"})).json()
    assert first == {
        "next_cursor": "agent_012",
        "has_more": True,
        "agents": [
            {"id": "agent_011", "name": "Triage bot", "version": 3},
            {"id": "agent_012", "name": "Release notes writer", "version": 1},
        ],
    }
    second = (await http.get(path, params={"limit": 2, "after": "agent_012"})).json()
    assert (second["next_cursor"], second["has_more"], [a["id"] for a in second["agents"]]) == (
        None,
        False,
        ["agent_013"],
    )
    vaults = (await http.get(f"{INTEGRATIONS}{ANTHROPIC_INTEGRATION_ID}/anthropic_managed_agent_vaults")).json()
    assert set(vaults) == {"next_cursor", "has_more", "vaults"}
    assert set(vaults["vaults"][0]) == {"id", "display_name"}


async def test_anthropic_action_on_another_kind_is_400(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{INTEGRATIONS}{SLACK_INTEGRATION_ID}/anthropic_managed_agent_environments/")
    assert response.status_code == 400
    assert (
        response.json()["detail"]
        == f"Integration {SLACK_INTEGRATION_ID} is not an Anthropic integration (kind='slack')"
    )


# Organization integrations


async def test_environment_mapping_defaults_to_production(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    response = await http.patch(
        f"{ORG_INTEGRATIONS}{VERCEL_ORG_INTEGRATION_ID}/environment-mapping/", json={"production": 2}
    )
    assert response.status_code == 200
    assert response.json()["config"]["environment_mapping"] == {"production": 2, "preview": 2, "development": 2}
    assert set(response.json()) == {"id", "kind", "integration_id", "config", "created_at", "updated_at", "created_by"}


@pytest.mark.parametrize(
    ("integration_id", "body", "expected"),
    [
        (
            VERCEL_ORG_INTEGRATION_ID,
            {"production": 1, "preview": 3},
            {"detail": "Project 3 does not belong to this organization."},
        ),
        (
            NON_CONNECTABLE_ORG_INTEGRATION_ID,
            {"production": 1},
            {"detail": "Environment mapping is only supported for connectable integrations."},
        ),
        (
            VERCEL_ORG_INTEGRATION_ID,
            {"preview": 1},
            error("validation_error", "required", "This field is required.", "production"),
        ),
    ],
)
async def test_environment_mapping_refusals(
    http: httpx.AsyncClient, integration_id: str, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = await http.patch(f"{ORG_INTEGRATIONS}{integration_id}/environment-mapping/", json=body)
    assert (response.status_code, response.json()) == (400, expected)


async def test_org_integration_delete_takes_project_vercel_rows_along(
    http: httpx.AsyncClient, fake: FakePostHog
) -> None:
    response = await http.delete(f"{ORG_INTEGRATIONS}{VERCEL_ORG_INTEGRATION_ID}")
    assert response.status_code == 204
    assert VERCEL_ORG_INTEGRATION_ID not in fake.organization_integrations
    assert PROJECT_VERCEL_INTEGRATION_ID not in fake.integrations
    assert OTHER_PROJECT_VERCEL_INTEGRATION_ID not in fake.integrations
    assert fake.projects[OTHER_PROJECT_ID] == ORG_ID


async def test_org_integration_with_unpaid_invoices_is_409(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    response = await http.delete(f"{ORG_INTEGRATIONS}{UNPAID_ORG_INTEGRATION_ID}/")
    assert response.status_code == 409
    assert response.json()["type"] == "invalid_request"
    assert PROJECT_VERCEL_INTEGRATION_ID in fake.integrations


# Role external references


async def test_lookup_without_a_match_is_200_null(http: httpx.AsyncClient) -> None:
    query = {"provider": "github", "provider_organization_id": "posthog", "provider_role_slug": "nobody"}
    response = await http.get(f"{REFERENCES}lookup/", params=query)
    assert (response.status_code, response.json()) == (200, {"reference": None})


async def test_lookup_matches_case_insensitively(http: httpx.AsyncClient) -> None:
    query = {"provider": "github", "provider_organization_id": "PostHog", "provider_role_slug": "FRONTEND-team"}
    reference = (await http.get(f"{REFERENCES}lookup/", params=query)).json()["reference"]
    assert (reference["provider_role_id"], reference["role"]) == ("12345", ROLE_ID)


async def test_lookup_needs_a_slug_or_an_id(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{REFERENCES}lookup/", params={"provider": "github", "provider_organization_id": "x"})
    assert response.status_code == 400
    assert response.json()["detail"] == "Either provider_role_slug or provider_role_id must be provided."
    missing = await http.get(f"{REFERENCES}lookup/", params={"provider_role_id": "1"})
    assert (missing.json()["attr"], missing.json()["code"]) == ("provider", "required")


@pytest.mark.parametrize(
    ("changes", "detail", "attr"),
    [
        (
            {"role": "0192f5a8-7c1e-7000-8000-00000000b003"},
            'Invalid pk "0192f5a8-7c1e-7000-8000-00000000b003" - object does not exist.',
            "role",
        ),
        ({"provider": "x" * 33}, "Ensure this field has no more than 32 characters.", "provider"),
        ({"provider_role_name": "  "}, "This field may not be blank.", "provider_role_name"),
        (
            {"provider_organization_id": "POSTHOG", "provider_role_id": "12345"},
            "A role external reference with this provider, organization, and role ID already exists.",
            None,
        ),
    ],
)
async def test_role_reference_create_refusals(
    http: httpx.AsyncClient, changes: dict[str, Any], detail: str, attr: str | None
) -> None:
    body = {
        "provider": "github",
        "provider_organization_id": "posthog",
        "provider_role_id": "777",
        "provider_role_name": "Backend",
        "role": ROLE_ID,
    }
    response = await http.post(REFERENCES, json={**body, **changes})
    assert response.status_code == 400
    assert (response.json()["detail"], response.json()["attr"]) == (detail, attr)


async def test_role_reference_create_then_delete(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    body = {
        "provider": "linear",
        "provider_organization_id": "acme",
        "provider_role_id": "team-1",
        "provider_role_name": "Team 1",
        "role": ROLE_ID,
    }
    created = await http.post(REFERENCES, json=body)
    assert created.status_code == 201
    row = created.json()
    assert row["provider_role_slug"] is None
    assert row["created_by"]["email"] == "ada@example.com"
    assert (await http.delete(f"{REFERENCES}{row['id']}/")).status_code == 204
    assert (await http.delete(f"{REFERENCES}{row['id']}/")).status_code == 404


# The key's reach: its own record, its owner, a project, an organization


async def test_own_key_record_needs_no_scope_and_never_shows_the_value(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/personal_api_keys/@current", headers=bearer(NO_TOOL_KEY))
    assert response.status_code == 200
    record = response.json()
    assert set(record) == {
        *("id", "label", "description", "value", "mask_value", "created_at", "last_used_at", "last_rolled_at"),
        *("user_id", "is_legacy_hashing", "scopes", "scoped_teams", "scoped_organizations", "local_dev_value"),
    }
    assert (record["value"], record["mask_value"], record["user_id"]) == (None, "phx_...0000", USER["id"])
    assert (record["scopes"], record["scoped_teams"], record["scoped_organizations"]) == (["feature_flag:read"], [], [])
    assert record["last_used_at"] is not None  # this very request used it
    assert NO_TOOL_KEY not in response.text
    by_id = await http.get(f"/api/personal_api_keys/{record['id']}/", headers=bearer(NO_TOOL_KEY))
    assert by_id.json() == record


@pytest.mark.parametrize(
    ("key", "scopes", "scoped_teams", "scoped_organizations"),
    [
        (FULL_KEY, ["*"], [], []),
        (READ_ONLY_KEY, ["integration:read", "organization:read", "project:read", "user:read"], [], []),
        (INTEGRATION_ONLY_KEY, ["integration:read", "integration:write"], [], []),
        (PROJECT_SCOPED_KEY, ["*"], [PROJECT_ID], []),
        (ORG_SCOPED_KEY, ["*"], [], [OTHER_ORG_ID]),
    ],
)
async def test_own_key_record_tells_scopes_and_limits(
    http: httpx.AsyncClient, key: str, scopes: list[str], scoped_teams: list[int], scoped_organizations: list[str]
) -> None:
    record = (await http.get(MY_KEY, headers=bearer(key))).json()
    assert (record["scopes"], record["scoped_teams"], record["scoped_organizations"]) == (
        scopes,
        scoped_teams,
        scoped_organizations,
    )


async def test_a_key_from_before_key_limits_answers_null_limits(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    legacy = "phx_legacy_key_0000000000000000000000000000000"
    fake.keys[legacy] = Key(frozenset({"*"}), scoped_teams=None, scoped_organizations=None)
    record = (await http.get(MY_KEY, headers=bearer(legacy))).json()
    assert (record["scoped_teams"], record["scoped_organizations"]) == (None, None)
    assert (await http.get(REFERENCES, headers=bearer(legacy))).status_code == 200


async def test_a_key_may_only_read_its_own_record(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    own_other = fake.keys[READ_KEY].id  # another key of the same user
    for method, path in (
        ("GET", f"/api/personal_api_keys/{own_other}/"),
        ("DELETE", MY_KEY),
        ("GET", "/api/personal_api_keys/"),
    ):
        response = await http.request(method, path)
        assert response.status_code == 403
        assert response.json()["detail"] == "This action does not support Personal API Key access"
    assert (await http.get(f"/api/personal_api_keys/{fake.keys[MEMBER_KEY].id}/")).status_code == 404
    assert (await http.get(MY_KEY, headers=bearer(INVALID_KEY))).status_code == 401


async def test_me_is_the_key_owner_with_current_project_and_organization(http: httpx.AsyncClient) -> None:
    me = (await http.get("/api/users/@me")).json()
    assert (me["uuid"], me["email"], me["distinct_id"]) == (USER["uuid"], USER["email"], USER["distinct_id"])
    assert (me["team"]["id"], me["team"]["name"], me["team"]["organization"]) == (PROJECT_ID, PROJECT_NAME, ORG_ID)
    assert (me["organization"]["id"], me["organization"]["name"]) == (ORG_ID, ORG_NAME)
    assert [(org["id"], org["name"]) for org in me["organizations"]] == [(ORG_ID, ORG_NAME)]
    member = (await http.get(ME, headers=bearer(MEMBER_KEY))).json()
    assert (member["email"], member["organization"]["membership_level"]) == (MEMBER_USER["email"], MEMBER_LEVEL)


@pytest.mark.parametrize(
    ("key", "status"),
    [(READ_ONLY_KEY, 200), (PROJECT_SCOPED_KEY, 200), (ORG_SCOPED_KEY, 200), (READ_KEY, 403), (NO_TOOL_KEY, 403)],
)
async def test_me_needs_user_read_and_ignores_key_limits(http: httpx.AsyncClient, key: str, status: int) -> None:
    response = await http.get(ME, headers=bearer(key))
    assert response.status_code == status
    if status == 403:
        assert response.json() == error(
            "authentication_error", "permission_denied", "API key missing required scope 'user:read'"
        )


async def test_another_user_is_refused_to_a_non_staff_key(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/api/users/{USER['uuid']}/")
    assert response.status_code == 403
    assert response.json()["detail"] == "As a non-staff user you're only allowed to access the `@me` user instance."


async def test_project_by_id_or_current(http: httpx.AsyncClient) -> None:
    project = (await http.get(f"/api/projects/{PROJECT_ID}/", headers=bearer(READ_ONLY_KEY))).json()
    assert (project["id"], project["name"], project["organization"]) == (PROJECT_ID, PROJECT_NAME, ORG_ID)
    assert project["effective_membership_level"] == ADMIN_LEVEL
    assert (await http.get("/api/projects/@current")).json() == project
    other = (await http.get(f"/api/projects/{OTHER_PROJECT_ID}/")).json()
    assert (other["id"], other["organization"]) == (OTHER_PROJECT_ID, ORG_ID)


@pytest.mark.parametrize(
    ("path", "key", "status", "detail"),
    [
        (f"/api/projects/{FOREIGN_PROJECT_ID}/", FULL_KEY, 404, "Not found."),
        ("/api/projects/999/", FULL_KEY, 404, "Not found."),
        ("/api/projects/abc/", FULL_KEY, 404, "Not found."),
        (f"/api/projects/{PROJECT_ID}/", NO_TOOL_KEY, 403, "API key missing required scope 'project:read'"),
        (f"/api/projects/{PROJECT_ID}/", INTEGRATION_KEY, 403, "API key missing required scope 'project:read'"),
        (
            f"/api/projects/{OTHER_PROJECT_ID}/",
            PROJECT_SCOPED_KEY,
            403,
            f"API key does not have access to the requested project: ID {OTHER_PROJECT_ID}.",
        ),
        (f"/api/projects/{PROJECT_ID}/", ORG_SCOPED_KEY, 404, "Not found."),
        ("/api/projects/@current/", ORG_SCOPED_KEY, 404, "Not found."),
    ],
)
async def test_project_refusals(http: httpx.AsyncClient, path: str, key: str, status: int, detail: str) -> None:
    response = await http.get(path, headers=bearer(key))
    assert (response.status_code, response.json()["detail"]) == (status, detail)


async def test_project_scoped_key_reaches_its_own_project_only(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"/api/projects/{PROJECT_ID}/", headers=bearer(PROJECT_SCOPED_KEY))).status_code == 200
    response = await http.get(f"/api/projects/{OTHER_PROJECT_ID}/integrations/", headers=bearer(PROJECT_SCOPED_KEY))
    assert response.status_code == 403
    assert response.json()["detail"] == f"API key does not have access to the requested project: ID {OTHER_PROJECT_ID}."


async def test_organization_by_id_or_current(http: httpx.AsyncClient) -> None:
    org = (await http.get(f"/api/organizations/{ORG_ID}/", headers=bearer(READ_ONLY_KEY))).json()
    assert (org["id"], org["name"], org["slug"], org["membership_level"]) == (ORG_ID, ORG_NAME, "acme", ADMIN_LEVEL)
    assert [project["id"] for project in org["projects"]] == [PROJECT_ID, OTHER_PROJECT_ID]
    assert (await http.get("/api/organizations/@current")).json() == org
    member = (await http.get("/api/organizations/@current/", headers=bearer(MEMBER_KEY))).json()
    assert member["membership_level"] == MEMBER_LEVEL


@pytest.mark.parametrize(
    ("path", "key", "status", "detail"),
    [
        (f"/api/organizations/{OTHER_ORG_ID}/", FULL_KEY, 404, "Not found."),
        ("/api/organizations/not-a-uuid/", FULL_KEY, 404, "Not found."),
        ("/api/organizations/@current/", INTEGRATION_KEY, 403, "API key missing required scope 'organization:read'"),
        ("/api/organizations/@current/", PROJECT_SCOPED_KEY, 403, NOT_ON_ORGANIZATIONS),
        (f"/api/organizations/{ORG_ID}/", ORG_SCOPED_KEY, 404, "Not found."),  # the lookup filters by the key's orgs
        (
            "/api/organizations/@current/",
            ORG_SCOPED_KEY,
            403,
            f"API key does not have access to the requested organization: ID {ORG_ID}.",
        ),
    ],
)
async def test_organization_refusals(http: httpx.AsyncClient, path: str, key: str, status: int, detail: str) -> None:
    response = await http.get(path, headers=bearer(key))
    assert (response.status_code, response.json()["detail"]) == (status, detail)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", REFERENCES), ("DELETE", f"{ORG_INTEGRATIONS}{VERCEL_ORG_INTEGRATION_ID}/"), ("GET", INTEGRATIONS)],
)
async def test_org_scoped_key_is_refused_outside_its_organization(
    http: httpx.AsyncClient, fake: FakePostHog, method: str, path: str
) -> None:
    response = await http.request(method, path, headers=bearer(ORG_SCOPED_KEY))
    assert response.status_code == 403
    assert response.json()["detail"] == f"API key does not have access to the requested organization: ID {ORG_ID}."
    assert VERCEL_ORG_INTEGRATION_ID in fake.organization_integrations


async def test_no_tool_key_is_refused_by_every_integration_endpoint(http: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", INTEGRATIONS),
        ("GET", REFERENCES),
        ("DELETE", f"{ORG_INTEGRATIONS}{VERCEL_ORG_INTEGRATION_ID}/"),
    ):
        assert (await http.request(method, path, headers=bearer(NO_TOOL_KEY))).status_code == 403


# A real socket


async def test_running_serves_over_a_real_socket_with_its_own_host(fake: FakePostHog) -> None:
    async with running(fake) as url, httpx.AsyncClient(base_url=url, headers=bearer(FULL_KEY)) as client:
        page = (await client.get(INTEGRATIONS, params={"limit": 1})).json()
    assert url.startswith("http://127.0.0.1:")
    assert page["next"] == f"{url}{INTEGRATIONS}?limit=1&offset=1"
    assert fake.requests[0].path == INTEGRATIONS
