"""The fake PostHog is an OAuth 2.1 authorization server the way posthog-oauth.md says PostHog is."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import httpx2
import pytest
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from tests.fake_oauth import SCOPES_SUPPORTED, TEST_CLIENT_ID, TEST_CLIENT_NAME, TEST_REDIRECT_URI, Consent, s256
from tests.fake_posthog import FULL_KEY, ORG_ID, OTHER_PROJECT_ID, PROJECT_ID, VERCEL_ORG_INTEGRATION_ID, FakePostHog
from tests.test_oauth_flows import Memory

pytestmark = pytest.mark.anyio

VERIFIER = "fake-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
CHALLENGE = s256(VERIFIER)
REDIRECT = "http://127.0.0.1:33418/callback"
INTEGRATIONS = f"/api/projects/{PROJECT_ID}/integrations/"
INTROSPECT = "/oauth/introspect/"
INVALID_TOKEN = {
    "type": "authentication_error",
    "code": "authentication_failed",
    "detail": "Invalid access token.",
    "attr": None,
}


@pytest.fixture
async def http(fake: FakePostHog) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def query_of(response: httpx.Response) -> dict[str, str]:
    """The query of a redirect's Location."""
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


def authorize_params(**changes: str | None) -> dict[str, str]:
    """An authorization request of the test client that succeeds; a change of None leaves the parameter out."""
    params: dict[str, str | None] = {
        "client_id": TEST_CLIENT_ID,
        "redirect_uri": TEST_REDIRECT_URI,
        "response_type": "code",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "scope": "integration:read integration:write",
        "state": "state-123",
        **changes,
    }
    return {name: value for name, value in params.items() if value is not None}


async def code_for(http: httpx.AsyncClient, **changes: str | None) -> str:
    return query_of(await http.get("/oauth/authorize/", params=authorize_params(**changes)))["code"]


def exchange_form(code: str, /, **changes: str | None) -> dict[str, str]:
    """The token request that exchanges `code` for the test client; a change of None leaves the parameter out."""
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": TEST_REDIRECT_URI,
        "client_id": TEST_CLIENT_ID,
        "code_verifier": VERIFIER,
        **changes,
    }
    return {name: value for name, value in form.items() if value is not None}


async def sign_in(http: httpx.AsyncClient, scope: str = "integration:read integration:write") -> dict[str, Any]:
    """The whole flow for the test client: the token endpoint's answer."""
    response = await http.post("/oauth/token/", data=exchange_form(await code_for(http, scope=scope)))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def introspect(http: httpx.AsyncClient, token: str, bearer_token: str | None = None) -> httpx.Response:
    headers = bearer(token if bearer_token is None else bearer_token)
    return await http.post(INTROSPECT, data={"token": token}, headers=headers)


# Metadata


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"])
@pytest.mark.parametrize("base", ["http://testserver", "http://127.0.0.1:8123", "https://eu.posthog.example"])
async def test_metadata_names_the_origin_the_request_came_to(http: httpx.AsyncClient, path: str, base: str) -> None:
    response = await http.get(f"{base}{path}")
    assert response.status_code == 200
    assert response.json() == {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize/",
        "token_endpoint": f"{base}/oauth/token/",
        "registration_endpoint": f"{base}/oauth/register/",
        "introspection_endpoint": f"{base}/oauth/introspect/",
        "revocation_endpoint": f"{base}/oauth/revoke/",
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": True,
    }


@pytest.mark.parametrize(
    "scope",
    [
        *("openid", "profile", "email", "introspection", "user:read", "project:read"),
        *("integration:read", "integration:write", "organization:read", "organization:write"),
        *("organization_integration:read", "organization_integration:write"),
    ],
)
async def test_metadata_offers_every_scope_the_tools_use_and_never_star(http: httpx.AsyncClient, scope: str) -> None:
    offered = (await http.get("/.well-known/oauth-authorization-server")).json()["scopes_supported"]
    assert scope in offered
    assert "*" not in offered


# Registration


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"redirect_uris": [REDIRECT], "client_name": "Claude"},
            {
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "client_name": "Claude",
            },
        ),
        (
            {
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "cursor://oauth/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            },
            {
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "cursor://oauth/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
        ),
        (
            {
                "redirect_uris": ["http://[::1]:8080/cb"],
                "client_name": "Acme",
                "token_endpoint_auth_method": "client_secret_post",
            },
            {
                "redirect_uris": ["http://[::1]:8080/cb"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret_expires_at": 0,
                "client_name": "Acme",
            },
        ),
    ],
)
async def test_registration_answers_201_with_a_client_id_and_the_metadata(
    http: httpx.AsyncClient, fake: FakePostHog, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = int(time.time())
    response = await http.post("/oauth/register/", json=body)
    assert response.status_code == 201
    answer = response.json()
    client_id, issued_at, secret = (
        answer.pop("client_id"),
        answer.pop("client_id_issued_at"),
        answer.pop("client_secret", None),
    )
    assert answer == expected
    assert before <= issued_at <= int(time.time())
    assert client_id in fake.oauth.clients
    assert (secret is not None) == (body.get("token_endpoint_auth_method") == "client_secret_post")
    assert fake.oauth.clients[client_id].secret == secret


@pytest.mark.parametrize(
    ("body", "error", "description"),
    [
        (
            {"client_name": "Claude"},
            "invalid_client_metadata",
            "{'redirect_uris': [ErrorDetail(string='This field is required.', code='required')]}",
        ),
        (
            {"redirect_uris": []},
            "invalid_client_metadata",
            "{'redirect_uris': [ErrorDetail(string='This list may not be empty.', code='min_length')]}",
        ),
        (
            {"redirect_uris": [REDIRECT], "client_name": "PostHog MCP"},
            "invalid_client_metadata",
            "{'client_name': [ErrorDetail(string=\"Client name cannot start with 'posthog'\", code='invalid')]}",
        ),
        (
            {"redirect_uris": [REDIRECT], "client_name": "posthog"},
            "invalid_client_metadata",
            "{'client_name': [ErrorDetail(string=\"Client name cannot start with 'posthog'\", code='invalid')]}",
        ),
        (
            {"redirect_uris": [REDIRECT], "client_name": "Acme Official Helper"},
            "invalid_client_metadata",
            "{'client_name': [ErrorDetail(string=\"Client name cannot contain 'official'\", code='invalid')]}",
        ),
        (
            {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"},
            "invalid_client_metadata",
            "{'token_endpoint_auth_method': [ErrorDetail(string='\"client_secret_basic\" is not a valid choice.', "
            "code='invalid_choice')]}",
        ),
        (
            {"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]},
            "invalid_client_metadata",
            "{'grant_types': [ErrorDetail(string='\"client_credentials\" is not a valid choice.', "
            "code='invalid_choice')]}",
        ),
        (
            {"redirect_uris": ["http://example.com/callback"]},
            "invalid_redirect_uri",
            "Redirect URI http://example.com/callback must use HTTPS, or HTTP on a loopback address, and have no "
            "fragment.",
        ),
        (
            {"redirect_uris": ["https://example.com/a b"]},
            "invalid_client_metadata",
            "{'redirect_uris': [ErrorDetail(string='Redirect URI cannot contain whitespace', code='invalid')]}",
        ),
    ],
)
async def test_registration_refuses_bad_metadata_with_400(
    http: httpx.AsyncClient, fake: FakePostHog, body: dict[str, Any], error: str, description: str
) -> None:
    response = await http.post("/oauth/register/", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}
    assert list(fake.oauth.clients) == [TEST_CLIENT_ID]


# Authorization


@pytest.mark.parametrize(
    ("changes", "expected_state"),
    [
        ({}, "state-123"),
        ({"state": "a b&c=d"}, "a b&c=d"),
        ({"state": None}, None),
        ({"resource": "http://127.0.0.1:9000/mcp"}, "state-123"),  # accepted, no effect
        ({"scope": "openid introspection user:read"}, "state-123"),
    ],
)
async def test_authorize_approves_at_once_with_a_code_and_the_state_as_given(
    http: httpx.AsyncClient, fake: FakePostHog, changes: dict[str, str | None], expected_state: str | None
) -> None:
    response = await http.get("/oauth/authorize/", params=authorize_params(**changes))
    assert response.headers["location"].startswith(f"{TEST_REDIRECT_URI}?")
    query = query_of(response)
    assert query.pop("state", None) == expected_state
    assert list(query) == ["code"]
    assert list(fake.oauth.codes) == [query["code"]]
    assert fake.requests[-1].query == authorize_params(**changes)


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        (
            {"client_id": "nobody"},
            "No OAuth application is registered with this client_id. Check the client_id, or register the "
            "application again.",
        ),
        (
            {"client_id": None},
            "No OAuth application is registered with this client_id. Check the client_id, or register the "
            "application again.",
        ),
        ({"redirect_uri": "http://127.0.0.1/evil"}, "Mismatching redirect URI."),
        ({"redirect_uri": f"{TEST_REDIRECT_URI}/"}, "Mismatching redirect URI."),
        ({"redirect_uri": None}, "Mismatching redirect URI."),
    ],
)
async def test_authorize_with_a_wrong_client_or_redirect_uri_is_400_and_never_redirects(
    http: httpx.AsyncClient, fake: FakePostHog, changes: dict[str, str | None], description: str
) -> None:
    response = await http.get("/oauth/authorize/", params=authorize_params(**changes))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json() == {"error": "invalid_request", "error_description": description}
    assert fake.oauth.codes == {}


DOCUMENT = "https://host.example/oauth/client-metadata"
"""A client ID metadata document's URL, which stands for the client: no registration first."""


@pytest.mark.parametrize(
    ("document", "client_id", "redirect_uri", "approved"),
    [
        (
            {"client_id": DOCUMENT, "redirect_uris": ["http://localhost/callback"]},
            DOCUMENT,
            "http://localhost:61234/callback",
            True,
        ),
        (
            {"client_id": DOCUMENT, "redirect_uris": ["http://localhost/callback"]},
            DOCUMENT,
            "http://localhost/callback",
            True,
        ),
        (
            {"client_id": DOCUMENT, "redirect_uris": ["http://localhost/callback"]},
            DOCUMENT,
            "http://localhost:61234/other",
            False,
        ),
        (
            {"client_id": DOCUMENT, "redirect_uris": ["https://app.example/cb"]},
            DOCUMENT,
            "https://app.example:8443/cb",
            False,
        ),
        (
            {"client_id": "https://elsewhere.example/doc", "redirect_uris": ["http://localhost/callback"]},
            DOCUMENT,
            "http://localhost/callback",
            False,
        ),
        (None, DOCUMENT, "http://localhost/callback", False),
        (None, TEST_CLIENT_ID, "http://127.0.0.1:5000/callback", True),
    ],
)
async def test_a_client_id_metadata_document_stands_for_a_client_and_loopback_redirects_take_any_port(
    http: httpx.AsyncClient,
    fake: FakePostHog,
    document: dict[str, Any] | None,
    client_id: str,
    redirect_uri: str,
    approved: bool,
) -> None:
    if document is not None:
        fake.oauth.documents[DOCUMENT] = document
    response = await http.get(
        "/oauth/authorize/", params=authorize_params(client_id=client_id, redirect_uri=redirect_uri)
    )
    assert response.status_code == (302 if approved else 400)
    if approved:
        assert response.headers["location"].startswith(f"{redirect_uri}?code=")


@pytest.mark.parametrize(
    ("changes", "error", "description"),
    [
        ({"code_challenge": None}, "invalid_request", "Code challenge required."),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", "Code challenge required."),
        ({"code_challenge_method": "plain"}, "invalid_request", "Transform algorithm not supported."),
        ({"code_challenge_method": None}, "invalid_request", "Transform algorithm not supported."),
        ({"response_type": None}, "invalid_request", "Missing response_type parameter."),
        ({"response_type": "token"}, "unsupported_response_type", "Only response_type=code is supported."),
        *(
            ({"scope": scope}, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
            for scope in ("integration:read feature_flag:delete", "*", "integration:read *", "", None)
        ),
    ],
)
async def test_authorize_redirects_back_with_the_error_and_the_state(
    http: httpx.AsyncClient, fake: FakePostHog, changes: dict[str, str | None], error: str, description: str
) -> None:
    response = await http.get("/oauth/authorize/", params=authorize_params(**changes))
    assert query_of(response) == {"error": error, "error_description": description, "state": "state-123"}
    assert fake.oauth.codes == {}


# Token


async def test_the_code_buys_a_bearer_pair_that_the_api_honours(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    answer = await sign_in(http, "integration:write integration:read")
    access, refresh = answer.pop("access_token"), answer.pop("refresh_token")
    assert answer == {
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "integration:read integration:write",
        "scoped_teams": [],
        "scoped_organizations": [],
    }
    assert access.startswith("pha_")
    assert refresh.startswith("phr_")
    listed = await http.get(INTEGRATIONS, headers=bearer(access))
    assert listed.status_code == 200
    assert fake.requests[-1].authorization == f"Bearer {access}"


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"code_verifier": "another-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"}, 400, "invalid_grant"),
        ({"code_verifier": CHALLENGE}, 400, "invalid_grant"),  # the challenge itself is not the verifier
        ({"code_verifier": None}, 400, "invalid_request"),
        ({"redirect_uri": REDIRECT}, 400, "invalid_request"),
        ({"redirect_uri": None}, 400, "invalid_request"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"code": None}, 400, "invalid_request"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"client_id": None}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "unsupported_grant_type"),
    ],
)
async def test_a_bad_code_exchange_is_refused_and_issues_nothing(
    http: httpx.AsyncClient, fake: FakePostHog, changes: dict[str, str | None], status: int, error: str
) -> None:
    code = await code_for(http)
    keys = dict(fake.keys)
    response = await http.post("/oauth/token/", data=exchange_form(code, **changes))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert fake.keys == keys


async def test_a_code_is_single_use(http: httpx.AsyncClient) -> None:
    form = exchange_form(await code_for(http))
    assert (await http.post("/oauth/token/", data=form)).status_code == 200
    again = await http.post("/oauth/token/", data=form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_a_code_expires_after_ten_minutes(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    code = await code_for(http)
    assert time.time() + 590 < fake.oauth.codes[code].expires_at <= time.time() + 600
    fake.oauth.codes[code] = replace(fake.oauth.codes[code], expires_at=time.time() - 1)
    response = await http.post("/oauth/token/", data=exchange_form(code))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_json_body_at_the_token_endpoint_is_not_read(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/token/", json=exchange_form(await code_for(http)))
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_a_confidential_client_must_send_its_secret(http: httpx.AsyncClient) -> None:
    registration = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}
    client = (await http.post("/oauth/register/", json=registration)).json()
    changes = {"client_id": client["client_id"], "redirect_uri": REDIRECT}
    for secret, status in ((None, 401), ("wrong", 401), (client["client_secret"], 200)):
        code = await code_for(http, **changes)
        response = await http.post("/oauth/token/", data=exchange_form(code, **changes, client_secret=secret))
        assert response.status_code == status, secret


async def test_a_code_of_another_client_is_invalid_grant(http: httpx.AsyncClient) -> None:
    other = (await http.post("/oauth/register/", json={"redirect_uris": [TEST_REDIRECT_URI]})).json()["client_id"]
    response = await http.post("/oauth/token/", data=exchange_form(await code_for(http), client_id=other))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_rotates_and_the_old_pair_stops_working(http: httpx.AsyncClient) -> None:
    first = await sign_in(http, "integration:read")
    refresh_form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": TEST_CLIENT_ID}
    response = await http.post("/oauth/token/", data=refresh_form)
    assert response.status_code == 200
    second = response.json()
    assert second["scope"] == "integration:read"
    assert {second["access_token"], second["refresh_token"]}.isdisjoint({first["access_token"], first["refresh_token"]})

    again = await http.post("/oauth/token/", data=refresh_form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    old = await http.get(INTEGRATIONS, headers=bearer(first["access_token"]))
    assert old.status_code == 401
    assert old.json() == INVALID_TOKEN
    assert (await introspect(http, first["access_token"])).json() == {"active": False}
    assert (await http.get(INTEGRATIONS, headers=bearer(second["access_token"]))).status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"refresh_token": "phr_unknown", "client_id": TEST_CLIENT_ID}, 400, "invalid_grant"),
        ({"client_id": TEST_CLIENT_ID}, 400, "invalid_request"),
        ({"refresh_token": "phr_unknown"}, 401, "invalid_client"),
    ],
)
async def test_a_bad_refresh_is_refused(http: httpx.AsyncClient, form: dict[str, str], status: int, error: str) -> None:
    response = await http.post("/oauth/token/", data={"grant_type": "refresh_token", **form})
    assert response.status_code == status
    assert response.json()["error"] == error


async def test_a_refresh_token_of_another_client_is_invalid_grant(http: httpx.AsyncClient) -> None:
    other = (await http.post("/oauth/register/", json={"redirect_uris": [REDIRECT]})).json()["client_id"]
    refresh = (await sign_in(http))["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": other}
    response = await http.post("/oauth/token/", data=form)
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("consent", "scope", "teams", "organizations"),
    [
        (Consent(), "integration:read integration:write", [], []),
        (Consent(scopes=frozenset({"integration:read"})), "integration:read", [], []),
        (Consent(scoped_teams=(PROJECT_ID,)), "integration:read integration:write", [PROJECT_ID], []),
        (Consent(scoped_organizations=(ORG_ID,)), "integration:read integration:write", [], [ORG_ID]),
    ],
)
async def test_what_the_user_consents_to_is_what_the_tokens_carry_even_after_refresh(
    http: httpx.AsyncClient, fake: FakePostHog, consent: Consent, scope: str, teams: list[int], organizations: list[str]
) -> None:
    fake.consent = consent
    answer = await sign_in(http)
    for _ in ("issued", "refreshed"):
        assert (answer["scope"], answer["scoped_teams"], answer["scoped_organizations"]) == (
            scope,
            teams,
            organizations,
        )
        seen = (await introspect(http, answer["access_token"])).json()
        assert (seen["scope"], seen["scoped_teams"], seen["scoped_organizations"]) == (scope, teams, organizations)
        fake.consent = Consent()  # a refresh keeps the grant the user made, whatever they would grant now
        form = {"grant_type": "refresh_token", "refresh_token": answer["refresh_token"], "client_id": TEST_CLIENT_ID}
        answer = (await http.post("/oauth/token/", data=form)).json()


async def test_access_tokens_live_as_long_as_the_fake_says(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    fake.access_token_lifetime = 60
    before = int(time.time())
    answer = await sign_in(http)
    assert answer["expires_in"] == 60
    exp = (await introspect(http, answer["access_token"])).json()["exp"]
    assert before + 60 <= exp <= int(time.time()) + 60


# Introspection


async def test_a_token_introspects_itself_with_posthogs_answer(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    client = (await http.post("/oauth/register/", json={"redirect_uris": [REDIRECT], "client_name": "Claude"})).json()
    fake.consent = Consent(scoped_teams=(PROJECT_ID,), scoped_organizations=(ORG_ID,))
    changes = {"client_id": client["client_id"], "redirect_uri": REDIRECT, "scope": "integration:write openid"}
    code = await code_for(http, **changes)
    token = (await http.post("/oauth/token/", data=exchange_form(code, **changes))).json()["access_token"]
    before = int(time.time())
    response = await introspect(http, token)
    assert response.status_code == 200
    answer = response.json()
    exp = answer.pop("exp")
    assert answer == {
        "active": True,
        "token_type": "access_token",
        "scope": "integration:write openid",
        "scoped_teams": [PROJECT_ID],
        "scoped_organizations": [ORG_ID],
        "client_id": client["client_id"],
        "client_name": "Claude",
    }
    assert before + 3600 <= exp <= int(time.time()) + 3600
    asked = [request for request in fake.requests if request.path == INTROSPECT]
    assert [(request.authorization, request.body) for request in asked] == [(f"Bearer {token}", f"token={token}")]


@pytest.mark.parametrize("body", ["form", "json"])
async def test_introspection_reads_the_token_from_a_form_or_json_body(
    http: httpx.AsyncClient, fake: FakePostHog, body: str
) -> None:
    token = fake.mint_token({"integration:read"}, scoped_teams=(OTHER_PROJECT_ID,))
    form, json = ({"token": token}, None) if body == "form" else (None, {"token": token})
    response = await http.post(INTROSPECT, headers=bearer(token), data=form, json=json)
    answer = response.json()
    assert answer["active"] is True
    assert (answer["scope"], answer["scoped_teams"]) == ("integration:read", [OTHER_PROJECT_ID])
    assert (answer["client_id"], answer["client_name"]) == (TEST_CLIENT_ID, TEST_CLIENT_NAME)


@pytest.mark.parametrize("end", ["expire", "revoke", "revoke at the endpoint"])
async def test_an_expired_or_revoked_token_asking_about_itself_is_inactive(
    http: httpx.AsyncClient, fake: FakePostHog, end: str
) -> None:
    token = (await sign_in(http))["access_token"]
    if end == "expire":
        fake.expire(token)
    elif end == "revoke":
        fake.revoke(token)
    else:
        revoked = await http.post("/oauth/revoke/", data={"token": token, "client_id": TEST_CLIENT_ID})
        assert revoked.status_code == 200
    response = await introspect(http, token)
    assert response.status_code == 200
    assert response.json() == {"active": False}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, {"code": "not_authenticated", "detail": "Authentication credentials were not provided."}),
        (bearer("pha_unknown"), {"code": "authentication_failed", "detail": "Invalid access token."}),
        (bearer(FULL_KEY), {"code": "authentication_failed", "detail": "Invalid access token."}),  # not OAuth
        (
            {"Authorization": "Basic abc"},
            {"code": "not_authenticated", "detail": "Authentication credentials were not provided."},
        ),
    ],
)
async def test_introspection_without_an_access_token_as_bearer_is_401(
    http: httpx.AsyncClient, fake: FakePostHog, headers: dict[str, str], expected: dict[str, str]
) -> None:
    token = fake.mint_token({"integration:read"})
    response = await http.post(INTROSPECT, data={"token": token}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"type": "authentication_error", "attr": None, **expected}


async def test_an_unknown_token_asking_about_itself_is_401_not_inactive(http: httpx.AsyncClient) -> None:
    response = await introspect(http, "pha_unknown")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("asker_scopes", "asker_end", "status", "answer"),
    [
        ({"integration:read"}, None, 403, None),
        ({"integration:read", "introspection"}, None, 200, "active"),
        ({"introspection"}, "expire", 401, None),
        ({"introspection"}, "revoke", 401, None),
    ],
)
async def test_asking_about_another_token_needs_a_live_bearer_with_the_introspection_scope(
    http: httpx.AsyncClient,
    fake: FakePostHog,
    asker_scopes: set[str],
    asker_end: str | None,
    status: int,
    answer: str | None,
) -> None:
    asker = fake.mint_token(asker_scopes)
    token = fake.mint_token({"organization:read"})
    if asker_end == "expire":
        fake.expire(asker)
    elif asker_end == "revoke":
        fake.revoke(asker)
    response = await introspect(http, token, bearer_token=asker)
    assert response.status_code == status
    if answer is None:
        return
    assert response.json()["active"] is True
    assert response.json()["scope"] == "organization:read"


@pytest.mark.parametrize("end", ["expire", "revoke", "unknown"])
async def test_an_introspector_sees_expired_revoked_and_unknown_tokens_as_inactive(
    http: httpx.AsyncClient, fake: FakePostHog, end: str
) -> None:
    asker = fake.mint_token({"introspection"})
    token = fake.mint_token({"integration:read"})
    if end == "expire":
        fake.expire(token)
    elif end == "revoke":
        fake.revoke(token)
    else:
        token = "pha_unknown"
    response = await introspect(http, token, bearer_token=asker)
    assert response.status_code == 200
    assert response.json() == {"active": False}


# Revocation


async def test_revoking_a_refresh_token_ends_its_access_token_too(http: httpx.AsyncClient) -> None:
    answer = await sign_in(http)
    form = {"token": answer["refresh_token"], "client_id": TEST_CLIENT_ID}
    assert (await http.post("/oauth/revoke/", data=form)).status_code == 200
    assert (await http.get(INTEGRATIONS, headers=bearer(answer["access_token"]))).status_code == 401
    refresh_form = {
        "grant_type": "refresh_token",
        "refresh_token": answer["refresh_token"],
        "client_id": TEST_CLIENT_ID,
    }
    assert (await http.post("/oauth/token/", data=refresh_form)).json()["error"] == "invalid_grant"


async def test_revocation_needs_a_known_client_and_forgives_an_unknown_token(http: httpx.AsyncClient) -> None:
    unknown_client = await http.post("/oauth/revoke/", data={"token": "pha_x", "client_id": "nobody"})
    assert unknown_client.status_code == 401
    assert unknown_client.json()["error"] == "invalid_client"
    assert (await http.post("/oauth/revoke/", data={"token": "pha_x", "client_id": TEST_CLIENT_ID})).status_code == 200


# Access tokens at the API


async def test_a_read_only_grant_lists_but_cannot_create(http: httpx.AsyncClient, fake: FakePostHog) -> None:
    fake.consent = Consent(scopes=frozenset({"integration:read"}))
    token = (await sign_in(http))["access_token"]
    assert (await http.get(INTEGRATIONS, headers=bearer(token))).status_code == 200
    body = {"kind": "twilio", "config": {"account_sid": "AC1", "auth_token": "secret"}}
    response = await http.post(INTEGRATIONS, json=body, headers=bearer(token))
    assert response.status_code == 403
    assert response.json() == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "API key missing required scope 'integration:write'",
        "attr": None,
    }


def forbidden(detail: str) -> tuple[int, dict[str, Any]]:
    return 403, {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


NOT_ON_ORGANIZATIONS = "API keys with scoped projects are only supported on project-based endpoints."


@pytest.mark.parametrize(
    ("grant", "method", "path", "expected"),
    [
        (
            {"scopes": {"integration:read"}, "scoped_teams": (PROJECT_ID,)},
            "GET",
            f"/api/projects/{OTHER_PROJECT_ID}/integrations/",
            forbidden(f"API key does not have access to the requested project: ID {OTHER_PROJECT_ID}."),
        ),
        (
            {"scopes": {"organization:read"}, "scoped_teams": (PROJECT_ID,)},
            "GET",
            f"/api/organizations/{ORG_ID}/role_external_references/",
            forbidden(NOT_ON_ORGANIZATIONS),
        ),
        (
            {"scopes": {"organization_integration:write"}, "scoped_teams": (PROJECT_ID,)},
            "DELETE",
            f"/api/organizations/{ORG_ID}/integrations/{VERCEL_ORG_INTEGRATION_ID}/",
            forbidden(NOT_ON_ORGANIZATIONS),
        ),
        ({"scopes": set()}, "GET", INTEGRATIONS, forbidden("API key missing required scope 'integration:read'")),
        (
            {"scopes": {"openid", "profile", "email"}},
            "GET",
            INTEGRATIONS,
            forbidden("API key missing required scope 'integration:read'"),
        ),
        (
            {"scopes": {"organization_integration:write"}, "admin": False},
            "DELETE",
            f"/api/organizations/{ORG_ID}/integrations/{VERCEL_ORG_INTEGRATION_ID}/",
            forbidden("Your organization access level is insufficient."),
        ),
        (
            {"scopes": {"user:read"}},
            "GET",
            "/api/personal_api_keys/@current/",
            forbidden("This action does not support OAuth access token access"),
        ),
        ({"scopes": {"user:read"}, "scoped_teams": (PROJECT_ID,)}, "GET", "/api/users/@me/", (200, None)),
        ({"scopes": {"integration:read"}, "scoped_teams": (PROJECT_ID,)}, "GET", INTEGRATIONS, (200, None)),
        ({"scopes": {"integration:write"}}, "GET", INTEGRATIONS, (200, None)),  # write implies read
    ],
)
async def test_an_access_token_reaches_what_a_personal_key_with_its_grant_would(
    http: httpx.AsyncClient,
    fake: FakePostHog,
    grant: dict[str, Any],
    method: str,
    path: str,
    expected: tuple[int, dict[str, Any] | None],
) -> None:
    token = fake.mint_token(**grant)
    response = await http.request(method, path, headers=bearer(token))
    status, body = expected
    assert response.status_code == status
    if body is not None:
        assert response.json() == body


@pytest.mark.parametrize("end", ["expire", "revoke", "unknown"])
async def test_an_expired_revoked_or_unknown_access_token_is_401_at_the_api(
    http: httpx.AsyncClient, fake: FakePostHog, end: str
) -> None:
    token = fake.mint_token({"integration:read"})
    if end == "expire":
        fake.expire(token)
    elif end == "revoke":
        fake.revoke(token)
    else:
        token = "pha_unknown"
    response = await http.get(INTEGRATIONS, headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


async def test_a_minted_token_lives_its_lifetime_and_never_carries_star(fake: FakePostHog) -> None:
    token = fake.mint_token({"integration:read"}, lifetime=120)
    expires_at = fake.keys[token].expires_at
    assert expires_at is not None
    assert time.time() + 110 < expires_at <= time.time() + 120
    with pytest.raises(ValueError, match="never grants"):
        fake.mint_token({"*"})


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/.well-known/oauth-authorization-server", 405),
        ("GET", "/oauth/token/", 405),
        ("GET", "/oauth/introspect", 405),
        ("GET", "/oauth/userinfo/", 404),
        ("GET", "/.well-known/oauth-authorization-server/", 200),
        ("GET", "/oauth/authorize", 302),
    ],
)
async def test_oauth_paths_answer_before_api_authentication_with_or_without_the_slash(
    http: httpx.AsyncClient, fake: FakePostHog, method: str, path: str, status: int
) -> None:
    params = authorize_params() if path.startswith("/oauth/authorize") else None
    response = await http.request(method, path, params=params)
    assert response.status_code == status
    assert fake.requests[-1].path == path


async def test_the_sdk_oauth_client_registers_signs_in_and_reaches_the_api(fake: FakePostHog) -> None:
    """The mcp SDK's own OAuth client speaks to this fake: discovery, registration, PKCE, code exchange."""
    transport = httpx2.ASGITransport(app=fake.app)
    redirected: list[str] = []

    async def follow(url: str) -> None:
        async with httpx2.AsyncClient(transport=transport) as browser:
            redirected.append((await browser.get(url)).headers["location"])

    async def callback() -> AuthorizationCodeResult:
        query = dict(parse_qsl(urlsplit(redirected[-1]).query))
        return AuthorizationCodeResult(code=query["code"], state=query["state"])

    metadata = OAuthClientMetadata(
        redirect_uris=[AnyUrl(REDIRECT)],
        client_name="SDK client",
        grant_types=["authorization_code", "refresh_token"],
        scope="integration:read",
    )
    storage = Memory()
    url = f"http://testserver{INTEGRATIONS}"
    provider = OAuthClientProvider(url, metadata, storage, follow, callback)
    async with httpx2.AsyncClient(transport=transport, auth=provider) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert storage.tokens is not None
    assert storage.tokens.access_token.startswith("pha_")
    assert fake.requests[-1].authorization == f"Bearer {storage.tokens.access_token}"
    assert [request.path for request in fake.requests if request.path.startswith("/oauth/")] == [
        "/oauth/register/",
        "/oauth/authorize/",
        "/oauth/token/",
    ]
