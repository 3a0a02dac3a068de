"""A contract-faithful fake of PostHog's integrations API: the 13 endpoints of the public reference page.

It follows ../shared/reference/api-behaviour.md and, where that page is silent, PostHog's public source
(DRF viewsets, DRF's LimitOffsetPagination, drf-exceptions-hog's error shape). Every `FakePostHog()` starts
from the same seeded state, named by the module constants below, and records every request it receives.

Besides the 13 endpoints it answers four that tell a key's reach: the key's own record
(/api/personal_api_keys/@current/), its owner (/api/users/@me/), a project (/api/projects/{id}/) and an
organization (/api/organizations/{id}/).

It is also PostHog's OAuth 2.1 authorization server (tests.fake_oauth: metadata, /oauth/register/, an auto-approving
/oauth/authorize/, /oauth/token/, /oauth/introspect/, /oauth/revoke/). Its `pha_` access tokens are `Key`s with
`oauth=True`, honoured by every API endpoint like personal keys; `consent`, `access_token_lifetime`, `mint_token`,
`expire` and `revoke` control them.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fake_oauth import Consent, OAuthServer

# --- Keys -------------------------------------------------------------------------------------------------------

FULL_KEY = "phx_fake_full_access_0000000000000000000000000000"
READ_KEY = "phx_fake_read_only_00000000000000000000000000000"
INTEGRATION_KEY = "phx_fake_integration_only_000000000000000000000"
PROJECT_SCOPED_KEY = "phx_fake_project_scoped_0000000000000000000000"
MEMBER_KEY = "phx_fake_org_member_00000000000000000000000000000"
INVALID_KEY = "phx_fake_revoked_000000000000000000000000000000"  # well-formed, but no such key: 401
READ_ONLY_KEY = "phx_fake_read_everything_0000000000000000000000"  # every read scope the tools and doctor use
INTEGRATION_ONLY_KEY = INTEGRATION_KEY  # integration:read and integration:write, nothing else
ORG_SCOPED_KEY = "phx_fake_org_scoped_0000000000000000000000000000"  # "*", limited to OTHER_ORG_ID
NO_TOOL_KEY = "phx_fake_feature_flags_only_00000000000000000000"  # feature_flag:read: allows none of the tools

# --- Organizations, projects, users, roles ---------------------------------------------------------------------

ORG_ID = "0192f5a8-7c1e-7000-8000-00000000a001"  # the key owner's current organization (@current)
OTHER_ORG_ID = "0192f5a8-7c1e-7000-8000-00000000a002"  # owns FOREIGN_PROJECT_ID; the key owner is not a member
ORG_NAME = "Acme"
OTHER_ORG_NAME = "Globex"
PROJECT_ID = 1  # the key owner's current project (@current), in ORG_ID
OTHER_PROJECT_ID = 2  # also in ORG_ID
FOREIGN_PROJECT_ID = 3  # in OTHER_ORG_ID: 404 on its endpoints, refused by environment mapping
PROJECT_NAME = "Acme Web"
OTHER_PROJECT_NAME = "Acme Mobile"
FOREIGN_PROJECT_NAME = "Globex Web"
ROLE_ID = "0192f5a8-7c1e-7000-8000-00000000b001"  # "Engineering", in ORG_ID
OTHER_ROLE_ID = "0192f5a8-7c1e-7000-8000-00000000b002"  # "Design", in ORG_ID
FOREIGN_ROLE_ID = "0192f5a8-7c1e-7000-8000-00000000b003"  # a role of OTHER_ORG_ID

USER: dict[str, Any] = {
    "id": 1,
    "uuid": "0192f5a8-7c1e-7000-8000-00000000c001",
    "distinct_id": "ada-distinct-id",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "is_email_verified": True,
    "hedgehog_config": {},
    "role_at_organization": "engineering",
}
MEMBER_USER: dict[str, Any] = {
    **USER,
    "id": 2,
    "uuid": "0192f5a8-7c1e-7000-8000-00000000c002",
    "distinct_id": "grace-distinct-id",
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.com",
}

# --- Seeded project integrations (ids are in creation order) ---------------------------------------------------

SLACK_INTEGRATION_ID = 101  # an old Slack row whose config still holds credentials
ANTHROPIC_INTEGRATION_ID = 102  # 3 agents, 2 environments, 2 vaults; workspace label "Production"
GITHUB_INTEGRATION_ID = 103
TWILIO_INTEGRATION_ID = 104  # an old row with auth_token still in config
IN_USE_INTEGRATION_ID = 105  # an email sender used by active workflows: delete answers 400
REVOKED_ANTHROPIC_INTEGRATION_ID = 106  # Anthropic rejects its stored key: the list actions answer 400
PROJECT_VERCEL_INTEGRATION_ID = 107  # project-level Vercel row in PROJECT_ID
OTHER_PROJECT_VERCEL_INTEGRATION_ID = 108  # project-level Vercel row in OTHER_PROJECT_ID
OTHER_PROJECT_INTEGRATION_ID = 109  # a Linear row in OTHER_PROJECT_ID: 404 through PROJECT_ID

SLACK_SECRETS = (
    "xoxb-fake-bot-token-1111",
    "xoxp-fake-user-token-2222",
    "fake-refresh-token-3333",
    "fake-account-api-key-4444",
    "fake-account-api-key-5555",
)
TWILIO_AUTH_TOKEN = "fake-twilio-auth-token-6666"
IN_USE_WORKFLOWS = ("Onboarding drip", "Welcome series")
IN_USE_MESSAGE = (
    "This integration is used by active workflows: Onboarding drip, Welcome series. "
    "Update them to use a different integration before disconnecting it."
)
ANTHROPIC_WORKSPACE_LABEL = "Production"
INVALID_ANTHROPIC_API_KEY = "sk-ant-invalid"  # the simulated live check rejects it
BAD_OAUTH_CODE = "bad"  # the simulated provider rejects it

# --- Seeded organization integrations and role external references --------------------------------------------

VERCEL_ORG_INTEGRATION_ID = "0192f5a8-7c1e-7000-8000-00000000d001"  # connectable: environment mapping works
NON_CONNECTABLE_ORG_INTEGRATION_ID = "0192f5a8-7c1e-7000-8000-00000000d002"  # marketplace install: mapping 400
UNPAID_ORG_INTEGRATION_ID = "0192f5a8-7c1e-7000-8000-00000000d003"  # unpaid invoices: delete answers 409
UNPAID_INVOICES_MESSAGE = (
    "This Vercel installation has unpaid invoices. Settle them in Vercel before disconnecting the integration."
)

GITHUB_ROLE_REFERENCE_ID = "0192f5a8-7c1e-7000-8000-00000000e001"  # github / posthog / 12345 / frontend-team
SLACK_ROLE_REFERENCE_ID = "0192f5a8-7c1e-7000-8000-00000000e002"  # slack / T01234567 / C01234567 / frontend
FOREIGN_ROLE_REFERENCE_ID = "0192f5a8-7c1e-7000-8000-00000000e003"  # belongs to OTHER_ORG_ID

# --- Behaviour constants ----------------------------------------------------------------------------------------

PAGE_SIZE = 100  # default and maximum page size of the list endpoints
MEMBER_LEVEL, ADMIN_LEVEL = 1, 8  # PostHog's OrganizationMembership.Level for a Key's `admin` False / True
ANTHROPIC_PAGE_LIMIT = 100
TOKEN_REFRESH_FAILED = "TOKEN_REFRESH_FAILED"  # the `errors` value PostHog stores when a credential stops working

OAUTH_KINDS = frozenset(
    (
        *("slack", "posthog", "salesforce", "hubspot", "stripe", "resend", "intercom", "linear", "clickup", "jira"),
        *("google-ads", "google-analytics", "google-calendar", "google-search-console", "google-sheets"),
        *("snapchat", "linkedin-ads", "reddit-ads", "tiktok-ads", "bing-ads", "meta-ads", "instagram"),
        *("pardot", "pinterest-ads", "youtube-analytics"),
    )
)
FILE_UPLOAD_KINDS = {"google-pubsub": "Key file not provided", "google-cloud-storage": "Key file not provided"}
# kind -> (fields that must all be present, message when one is missing). The live checks always pass.
CREDENTIAL_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "twilio": (("account_sid", "auth_token"), "Account SID and auth token must be provided"),
    "databricks": (
        ("server_hostname", "client_id", "client_secret"),
        "Server hostname, client ID, and client secret must be provided",
    ),
    "google-cloud-service-account": (
        ("service_account_email", "project_id"),
        "Service account email and project ID must be provided",
    ),
    "azure-blob": (("connection_string",), "Connection string must be provided"),
    # an uploaded key file or JSON config.key_info; this fake receives only JSON
    "firebase": (("key_info",), "Firebase service account key must be provided"),
    "aws-s3": (
        ("name", "aws_access_key_id", "aws_secret_access_key"),
        "Name, access key ID, and secret access key must be provided",
    ),
    "s3-compatible": (
        ("name", "endpoint_url", "aws_access_key_id", "aws_secret_access_key"),
        "Name, endpoint URL, access key ID, and secret access key must be provided",
    ),
    "postgresql": (("host", "user", "password"), "Host, port, user, and password must be provided"),
    "gitlab": (
        ("hostname", "project_id", "project_access_token"),
        "Hostname, project ID, and project access token must be provided",
    ),
    "apns": ((), ""),
    "snowflake": ((), ""),
    "aws-redshift": ((), ""),
}
UNSUPPORTED_KINDS = frozenset({"vercel", "customerio-app", "customerio-track", "customerio-webhook"})
DEPRECATED_KINDS = frozenset({"slack-posthog-code"})
KINDS = (
    frozenset({"anthropic", "github", "email"} | OAUTH_KINDS | FILE_UPLOAD_KINDS.keys() | CREDENTIAL_KINDS.keys())
    | UNSUPPORTED_KINDS
    | DEPRECATED_KINDS
)
_ANTHROPIC_RESOURCES = {
    "anthropic_managed_agents": "agents",
    "anthropic_managed_agent_environments": "environments",
    "anthropic_managed_agent_vaults": "vaults",
}

_SECRET_WORDS = (
    *("secret", "password", "token", "api_key", "private_key", "signing_key", "connection_string"),
    "key_info",  # firebase's service-account key, kept whole in sensitive_config
)
_DJANGO_500_PAGE = """<!doctype html>
<html lang="en">
<head>
  <title>Server Error (500)</title>
</head>
<body>
  <h1>Server Error (500)</h1><p></p>
</body>
</html>
"""


# --- Public record types ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A personal API key, or an OAuth access token (`oauth`). Its owner is USER when `admin`, else MEMBER_USER."""

    scopes: frozenset[str]  # e.g. {"*"} or {"integration:read"}; ":write" implies ":read"; "*" is all
    admin: bool = True  # organization admin; writes on organizations (and project integration deletes) need it
    # Limited to these projects (403 elsewhere and on every /api/organizations/ endpoint) or organizations.
    # Empty means not limited, answered as [] (keys made in PostHog's UI); None is the same, answered as null
    # (keys made before key scoping existed).
    scoped_teams: tuple[int, ...] | None = ()
    scoped_organizations: tuple[str, ...] | None = ()
    label: str = "MCP server"
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # the key record's id (not its secret value)
    oauth: bool = False  # a `pha_` OAuth access token: never "*", and refused on /api/personal_api_keys/
    expires_at: float | None = None  # wall-clock unix seconds; None: never expires
    revoked: bool = False

    @property
    def project_scoped(self) -> bool:
        return bool(self.scoped_teams)

    def live(self, now: float) -> bool:
        """Neither revoked nor expired at `now` (unix seconds)."""
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # exactly as received, without the query string
    query: dict[str, str]  # query parameters as received (the last value of a repeated one)
    body: Any  # parsed JSON body; the raw text when it was not JSON; None when there was none
    authorization: str | None  # the raw Authorization header
    user_agent: str | None = None


@dataclass
class Integration:
    """A project integration. `sensitive_config` and the fields after it are never returned."""

    id: int
    project_id: int
    kind: str
    config: dict[str, Any]
    created_at: str
    created_by: dict[str, Any]
    display_name: str
    errors: str = ""
    sensitive_config: dict[str, Any] = field(default_factory=dict)
    integration_id: str | None = None
    used_by_workflows: tuple[str, ...] = ()
    key_rejected: bool = False  # Anthropic: the stored key no longer works

    def public(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "id": self.id,
                "kind": self.kind,
                "config": self.config,
                "created_at": self.created_at,
                "created_by": self.created_by,
                "errors": self.errors,
                "display_name": self.display_name,
            }
        )


@dataclass
class OrganizationIntegration:
    id: str
    organization_id: str
    kind: str
    integration_id: str
    config: dict[str, Any]
    created_at: str
    updated_at: str
    created_by: dict[str, Any]
    has_unpaid_invoices: bool = False

    def public(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "id": self.id,
                "kind": self.kind,
                "integration_id": self.integration_id,
                "config": self.config,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
                "created_by": self.created_by,
            }
        )


@dataclass
class RoleExternalReference:
    id: str
    organization_id: str
    provider: str
    provider_organization_id: str
    provider_role_id: str
    provider_role_slug: str | None
    provider_role_name: str
    role: str
    created_at: str
    created_by: dict[str, Any]

    def public(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "id": self.id,
                "provider": self.provider,
                "provider_organization_id": self.provider_organization_id,
                "provider_role_id": self.provider_role_id,
                "provider_role_slug": self.provider_role_slug,
                "provider_role_name": self.provider_role_name,
                "role": self.role,
                "created_at": self.created_at,
                "created_by": self.created_by,
            }
        )


# --- Error bodies -----------------------------------------------------------------------------------------------


class _Fail(Exception):
    """Raised by a handler to answer with `response` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _error(status: int, type_: str, code: str, detail: str, attr: str | None = None) -> JSONResponse:
    return JSONResponse({"type": type_, "code": code, "detail": detail, "attr": attr}, status_code=status)


def _not_found() -> _Fail:
    return _Fail(_error(404, "invalid_request", "not_found", "Not found."))


def _invalid(detail: str, attr: str | None = None, code: str = "invalid") -> _Fail:
    return _Fail(_error(400, "validation_error", code, detail, attr))


def _forbidden(detail: str) -> _Fail:
    return _Fail(_error(403, "authentication_error", "permission_denied", detail))


def _bare(status: int, detail: str) -> _Fail:
    return _Fail(JSONResponse({"detail": detail}, status_code=status))


def _server_error() -> _Fail:
    return _Fail(HTMLResponse(_DJANGO_500_PAGE, status_code=500))


# --- Small helpers ----------------------------------------------------------------------------------------------


def _now() -> str:
    return _timestamp(datetime.now(UTC))


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _uuid(value: Any) -> str | None:
    """The canonical form of a UUID string, or None."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _path_int(segment: str) -> int | None:
    """An integer id from a URL segment (ASCII digits only), or None."""
    return int(segment) if re.fullmatch(r"[0-9]+", segment) else None


def _as_int(value: Any) -> int | None:
    """An integer the way DRF's IntegerField reads one (5, "5", 5.0), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _is_secret(name: str) -> bool:
    return any(word in name for word in _SECRET_WORDS)


def _positive_int(text: str | None, *, strict: bool = False, cutoff: int | None = None) -> int:
    """DRF's pagination `_positive_int`: raises ValueError on anything else."""
    if text is None:
        raise ValueError(text)
    number = int(text)
    if number < 0 or (number == 0 and strict):
        raise ValueError(text)
    return min(number, cutoff) if cutoff else number


def _replace_query_param(url: str, key: str, value: int | None) -> str:
    """DRF's replace_query_param / remove_query_param (value None): the query comes back sorted."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params.pop(key, None)
    if value is not None:
        params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def _paginate(url: str, query: dict[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """DRF's LimitOffsetPagination with a default and maximum page size of 100."""
    try:
        limit = _positive_int(query.get("limit"), strict=True, cutoff=PAGE_SIZE)
    except ValueError:
        limit = PAGE_SIZE
    try:
        offset = _positive_int(query.get("offset"))
    except ValueError:
        offset = 0
    count = len(rows)
    next_url = None
    if offset + limit < count:
        next_url = _replace_query_param(_replace_query_param(url, "limit", limit), "offset", offset + limit)
    previous_url = None
    if offset > 0:
        previous_url = _replace_query_param(url, "limit", limit)
        previous_url = _replace_query_param(previous_url, "offset", offset - limit if offset > limit else None)
    return {"count": count, "next": next_url, "previous": previous_url, "results": rows[offset : offset + limit]}


def _char_field(
    data: dict[str, Any],
    name: str,
    *,
    max_length: int | None = None,
    required: bool = True,
    allow_null: bool = False,
    allow_blank: bool = False,
) -> str | None:
    """DRF's CharField: trims whitespace; None when the field is absent (and optional) or null (and allowed)."""
    if name not in data:
        if required:
            raise _invalid("This field is required.", name, "required")
        return None
    value = data[name]
    if value is None:
        if allow_null:
            return None
        raise _invalid("This field may not be null.", name, "null")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _invalid("Not a valid string.", name)
    text = str(value).strip()
    if not text and not allow_blank:
        raise _invalid("This field may not be blank.", name, "blank")
    if max_length is not None and len(text) > max_length:
        raise _invalid(f"Ensure this field has no more than {max_length} characters.", name, "max_length")
    return text


def _integer_field(data: dict[str, Any], name: str, *, required: bool) -> int | None:
    if name not in data:
        if required:
            raise _invalid("This field is required.", name, "required")
        return None
    if data[name] is None:
        raise _invalid("This field may not be null.", name, "null")
    number = _as_int(data[name])
    if number is None:
        raise _invalid("A valid integer is required.", name)
    return number


# --- Routing ----------------------------------------------------------------------------------------------------


@dataclass
class _Call:
    request: Request
    key: Key
    path_params: dict[str, str]
    query: dict[str, str]
    raw_body: bytes
    key_value: str = ""  # the personal API key as sent

    def json_object(self) -> dict[str, Any]:
        """The body as DRF's JSON parser and a serializer would read it."""
        content_type = self.request.headers.get("content-type", "")
        if not self.raw_body.strip() or not content_type:
            return {}
        media_type = content_type.split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            detail = f'Unsupported media type "{content_type}" in request.'
            raise _Fail(_error(415, "invalid_request", "unsupported_media_type", detail))
        try:
            data = json.loads(self.raw_body)
        except ValueError as exc:
            raise _Fail(_error(400, "invalid_request", "parse_error", f"JSON parse error - {exc}")) from exc
        if not isinstance(data, dict):
            raise _invalid(f"Invalid data. Expected a dictionary, but got {type(data).__name__}.")
        return data


_Handler = Callable[[_Call], Response]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    # method -> (required scope, handler); scope None: PostHog runs no API-scope check (a key's own record)
    methods: dict[str, tuple[str | None, _Handler]]
    # The lookup itself leaves out what the key's scoped organizations exclude: 404 there rather than 403.
    filters_scoped_organizations: bool = False

    @property
    def on_organization(self) -> bool:
        return self.pattern.pattern.startswith("^/api/organizations/")

    @property
    def on_project(self) -> bool:
        return self.pattern.pattern.startswith("^/api/projects/(?P<project>")


def _seed_time(minute: int) -> str:
    return f"2025-03-01T09:{minute:02d}:00.000000Z"


class FakePostHog:
    """PostHog's integrations API in memory. A new instance is a fresh, fully seeded PostHog."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        read_scopes = frozenset({"integration:read", "organization:read", "user:read", "project:read"})
        self.keys: dict[str, Key] = {
            FULL_KEY: Key(frozenset({"*"}), label="Full access", id="fake0key0full0access"),
            READ_KEY: Key(frozenset({"integration:read", "organization:read"}), label="Read", id="fake0key0read"),
            INTEGRATION_KEY: Key(
                frozenset({"integration:read", "integration:write"}), label="Integrations", id="fake0key0integration"
            ),
            PROJECT_SCOPED_KEY: Key(
                frozenset({"*"}), scoped_teams=(PROJECT_ID,), label="Acme Web only", id="fake0key0project0scoped"
            ),
            MEMBER_KEY: Key(frozenset({"*"}), admin=False, label="Grace's key", id="fake0key0member"),
            READ_ONLY_KEY: Key(read_scopes, label="Read only", id="fake0key0read0only"),
            ORG_SCOPED_KEY: Key(
                frozenset({"*"}), scoped_organizations=(OTHER_ORG_ID,), label="Globex only", id="fake0key0org0scoped"
            ),
            NO_TOOL_KEY: Key(frozenset({"feature_flag:read"}), label="Flags", id="fake0key0flags"),
        }
        self.key_last_used: dict[str, datetime] = {}  # key value -> when PostHog last recorded a use
        self.projects: dict[int, str] = {PROJECT_ID: ORG_ID, OTHER_PROJECT_ID: ORG_ID, FOREIGN_PROJECT_ID: OTHER_ORG_ID}
        self.project_names: dict[int, str] = {
            PROJECT_ID: PROJECT_NAME,
            OTHER_PROJECT_ID: OTHER_PROJECT_NAME,
            FOREIGN_PROJECT_ID: FOREIGN_PROJECT_NAME,
        }
        self.organization_names: dict[str, str] = {ORG_ID: ORG_NAME, OTHER_ORG_ID: OTHER_ORG_NAME}
        self.member_organizations: set[str] = {ORG_ID}
        self.roles: dict[str, str] = {ROLE_ID: ORG_ID, OTHER_ROLE_ID: ORG_ID, FOREIGN_ROLE_ID: OTHER_ORG_ID}
        self.integrations: dict[int, Integration] = {}
        self.organization_integrations: dict[str, OrganizationIntegration] = {}
        self.role_external_references: dict[str, RoleExternalReference] = {}
        # integration id -> {"agents": [...], "environments": [...], "vaults": [...]}, as Anthropic would list them
        self.anthropic_resources: dict[int, dict[str, list[dict[str, Any]]]] = {}
        self._failures: list[Response] = []
        self.intercept: Callable[[Recorded], Awaitable[Response | None]] | None = None
        """Runs on every request after it is recorded: may wait (a slow PostHog) or answer in place of the API."""
        self.consent = Consent()
        """What the test user grants on /oauth/authorize/ (read when the code is issued)."""
        self.access_token_lifetime = 3600
        """Seconds an access token from /oauth/token/ lives (PostHog: 1 hour; 7 days for registered clients)."""
        self.oauth = OAuthServer(self)
        self._next_id = itertools.count(1000)
        self._seed()
        # An ASGI endpoint (not a function) so that Starlette passes every method through to the recorder.
        self.app = Starlette(routes=[Route("/{path:path}", _Endpoint(self))])
        self._routes = self._build_routes()

    # --- Test controls ------------------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        json: Any = None,
        text: str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next request (any route, after recording it) with this response instead.

        Calls queue up: two calls fail the next two requests. With neither `json` nor `text` the body is empty.
        """
        response: Response
        if json is not None:
            response = JSONResponse(json, status_code=status, headers=headers)
        else:
            response = Response(text or b"", status_code=status, headers=headers, media_type="text/plain")
        if content_type is not None:
            response.headers["content-type"] = content_type
        self._failures.append(response)

    def throttle_next(self, seconds: int = 3) -> None:
        """Answer the next request with PostHog's 429, `Retry-After: seconds`."""
        detail = f"Request was throttled. Expected available in {seconds} seconds."
        body = {"type": "throttled_error", "code": "throttled", "detail": detail, "attr": None}
        self.fail_next(429, json=body, headers={"Retry-After": str(seconds)})

    def mint_token(
        self,
        scopes: Iterable[str],
        *,
        scoped_teams: Iterable[int] = (),
        scoped_organizations: Iterable[str] = (),
        lifetime: float = 3600,
        admin: bool = True,
    ) -> str:
        """A `pha_` access token as if a user had granted these, without the flow (introspection names the test
        client, tests.fake_oauth.TEST_CLIENT_ID, unless /oauth/token/ issued it)."""
        granted = frozenset(scopes)
        if "*" in granted:
            raise ValueError("PostHog never grants '*' through OAuth")
        value = f"pha_{secrets.token_urlsafe(30)}"
        self.keys[value] = Key(
            granted,
            admin=admin,
            scoped_teams=tuple(scoped_teams),
            scoped_organizations=tuple(scoped_organizations),
            label="OAuth access token",
            oauth=True,
            expires_at=time.time() + lifetime,
        )
        return value

    def expire(self, token: str) -> None:
        """Let an access token run out: its exp becomes a second ago."""
        self.keys[token] = replace(self.keys[token], expires_at=time.time() - 1)

    def revoke(self, token: str) -> None:
        """Revoke an access token, or a refresh token and the access token issued with it."""
        self.oauth.revoke(token)

    def add_integration(
        self,
        kind: str,
        config: dict[str, Any] | None = None,
        *,
        project_id: int = PROJECT_ID,
        display_name: str | None = None,
        used_by_workflows: Iterable[str] = (),
        integration_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a project integration as if PostHog had created it (listed after every earlier row)."""
        row = Integration(
            id=next(self._next_id),
            project_id=project_id,
            kind=kind,
            config=copy.deepcopy(config or {}),
            created_at=_now(),
            created_by=USER,
            display_name=display_name if display_name is not None else kind,
            integration_id=integration_id,
            used_by_workflows=tuple(used_by_workflows),
        )
        self.integrations[row.id] = row
        return row.public()

    def add_role_external_reference(
        self,
        provider: str,
        provider_organization_id: str,
        provider_role_id: str,
        *,
        provider_role_slug: str | None = None,
        provider_role_name: str = "A role",
        role: str = ROLE_ID,
        organization_id: str = ORG_ID,
    ) -> dict[str, Any]:
        """Store a role external reference as if PostHog had created it; returns its public row."""
        ref = RoleExternalReference(
            id=str(uuid.uuid4()),
            organization_id=organization_id,
            provider=provider,
            provider_organization_id=provider_organization_id,
            provider_role_id=provider_role_id,
            provider_role_slug=provider_role_slug,
            provider_role_name=provider_role_name,
            role=role,
            created_at=_now(),
            created_by=USER,
        )
        self.role_external_references[ref.id] = ref
        return ref.public()

    # --- Seed ---------------------------------------------------------------------------------------------------

    def _seed(self) -> None:
        def integration(id_: int, project_id: int, kind: str, config: dict[str, Any], name: str, **extra: Any) -> None:
            self.integrations[id_] = Integration(
                id=id_,
                project_id=project_id,
                kind=kind,
                config=config,
                created_at=_seed_time(id_ - 100),
                created_by=USER,
                display_name=name,
                **extra,
            )

        slack_config = {
            "access_token": SLACK_SECRETS[0],
            "team": {"id": "T01234567", "name": "Acme"},
            "authed_user": {"id": "U01234567", "access_token": SLACK_SECRETS[1]},
            "oauth": {"refresh_token": SLACK_SECRETS[2], "expires_in": 43200},
            "scopes": ["channels:read", "chat:write"],
            "accounts": [
                {"name": "alerts", "api_key": SLACK_SECRETS[3]},
                {"name": "digest", "api_key": SLACK_SECRETS[4]},
            ],
        }
        integration(SLACK_INTEGRATION_ID, PROJECT_ID, "slack", slack_config, "Acme")
        integration(
            ANTHROPIC_INTEGRATION_ID,
            PROJECT_ID,
            "anthropic",
            {"workspace_label": ANTHROPIC_WORKSPACE_LABEL},
            ANTHROPIC_WORKSPACE_LABEL,
            sensitive_config={"api_key": "sk-ant-fake-stored-key"},
            integration_id=ANTHROPIC_WORKSPACE_LABEL,
        )
        github_config = {
            "installation_id": "48151623",
            "account": {"type": "Organization", "name": "acme-inc"},
            "repository_selection": "all",
            "expires_in": 3600,
            "refreshed_at": 1740819600,
        }
        integration(GITHUB_INTEGRATION_ID, PROJECT_ID, "github", github_config, "acme-inc")
        twilio_config = {"account_sid": "AC00000000000000000000000000000001", "auth_token": TWILIO_AUTH_TOKEN}
        integration(TWILIO_INTEGRATION_ID, PROJECT_ID, "twilio", twilio_config, twilio_config["account_sid"])
        email_config = {"email": "hello@acme.example", "name": "Acme", "domain": "acme.example", "verified": True}
        integration(
            IN_USE_INTEGRATION_ID,
            PROJECT_ID,
            "email",
            email_config,
            "hello@acme.example",
            used_by_workflows=IN_USE_WORKFLOWS,
        )
        integration(
            REVOKED_ANTHROPIC_INTEGRATION_ID,
            PROJECT_ID,
            "anthropic",
            {"workspace_label": "Legacy"},
            "Legacy",
            sensitive_config={"api_key": "sk-ant-fake-revoked-key"},
            integration_id="Legacy",
            key_rejected=True,
        )
        for id_, project_id in (
            (PROJECT_VERCEL_INTEGRATION_ID, PROJECT_ID),
            (OTHER_PROJECT_VERCEL_INTEGRATION_ID, OTHER_PROJECT_ID),
        ):
            integration(id_, project_id, "vercel", {"type": "connectable"}, "Vercel", integration_id=str(project_id))
        linear_config = {"url_key": "acme", "name": "Acme"}
        integration(OTHER_PROJECT_INTEGRATION_ID, OTHER_PROJECT_ID, "linear", linear_config, "Acme")

        self.anthropic_resources[ANTHROPIC_INTEGRATION_ID] = {
            "agents": [
                {"id": "agent_011", "name": "Triage bot", "version": 3},
                {"id": "agent_012", "name": "Release notes writer", "version": 1},
                {"id": "agent_013", "name": "Support helper", "version": 2},
            ],
            "environments": [{"id": "env_011", "name": "default"}, {"id": "env_012", "name": "staging"}],
            "vaults": [{"id": "vlt_011", "display_name": "Shared secrets"}, {"id": "vlt_012", "display_name": "CI"}],
        }

        def org_integration(id_: int, key: str, type_: str, minute: int, **extra: Any) -> None:
            self.organization_integrations[key] = OrganizationIntegration(
                id=key,
                organization_id=ORG_ID,
                kind="vercel",
                integration_id=f"icfg_fake{id_}",
                config={"type": type_, "account": {"name": "acme-vercel"}},
                created_at=_seed_time(minute),
                updated_at=_seed_time(minute),
                created_by=USER,
                **extra,
            )

        org_integration(1, VERCEL_ORG_INTEGRATION_ID, "connectable", 20)
        mapping = {"production": PROJECT_ID, "preview": PROJECT_ID, "development": PROJECT_ID}
        self.organization_integrations[VERCEL_ORG_INTEGRATION_ID].config["environment_mapping"] = mapping
        org_integration(2, NON_CONNECTABLE_ORG_INTEGRATION_ID, "marketplace", 21)
        org_integration(3, UNPAID_ORG_INTEGRATION_ID, "marketplace", 22, has_unpaid_invoices=True)

        refs = (
            (GITHUB_ROLE_REFERENCE_ID, ORG_ID, "github", "posthog", "12345", "frontend-team", "Frontend Team", ROLE_ID),
            (
                SLACK_ROLE_REFERENCE_ID,
                ORG_ID,
                "slack",
                "T01234567",
                "C01234567",
                "frontend",
                "#frontend",
                OTHER_ROLE_ID,
            ),
            (FOREIGN_ROLE_REFERENCE_ID, OTHER_ORG_ID, "github", "other-co", "999", "ops", "Ops", FOREIGN_ROLE_ID),
        )
        for minute, (ref_id, org, provider, provider_org, role_id, slug, name, role) in enumerate(refs, start=30):
            self.role_external_references[ref_id] = RoleExternalReference(
                ref_id, org, provider, provider_org, role_id, slug, name, role, _seed_time(minute), USER
            )

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        project = r"^/api/projects/(?P<project>[^/]+)/integrations"
        org = r"^/api/organizations/(?P<org>[^/]+)"
        anthropic = "(?P<resource>" + "|".join(_ANTHROPIC_RESOURCES) + ")"
        project_detail = r"^/api/projects/(?P<project>[^/]+)/?$"
        org_detail = org + r"/?$"
        refused = (None, self._personal_api_key_refused)  # a personal API key may only read its own record
        table: list[tuple[str, dict[str, tuple[str | None, _Handler]]]] = [
            (r"^/api/personal_api_keys/?$", {"GET": refused, "POST": refused}),
            (
                r"^/api/personal_api_keys/(?P<id>[^/]+)/?$",
                {"GET": (None, self._retrieve_personal_api_key), "PUT": refused, "PATCH": refused, "DELETE": refused},
            ),
            (r"^/api/users/(?P<user>[^/]+)/?$", {"GET": ("user:read", self._retrieve_user)}),
            (project_detail, {"GET": ("project:read", self._retrieve_project)}),
            (org_detail, {"GET": ("organization:read", self._retrieve_organization)}),
            (
                project + r"/?$",
                {
                    "GET": ("integration:read", self._list_integrations),
                    "POST": ("integration:write", self._create_integration),
                },
            ),
            (
                project + r"/(?P<id>[^/]+)/?$",
                {
                    "GET": ("integration:read", self._retrieve_integration),
                    "DELETE": ("integration:write", self._delete_integration),
                },
            ),
            (project + r"/(?P<id>[^/]+)/" + anthropic + r"/?$", {"GET": ("integration:read", self._anthropic_list)}),
            (
                org + r"/integrations/(?P<id>[^/]+)/?$",
                {"DELETE": ("organization_integration:write", self._delete_org_integration)},
            ),
            (
                org + r"/integrations/(?P<id>[^/]+)/environment-mapping/?$",
                {"PATCH": ("organization_integration:write", self._environment_mapping)},
            ),
            (
                org + r"/role_external_references/?$",
                {
                    "GET": ("organization:read", self._list_role_references),
                    "POST": ("organization:write", self._create_role_reference),
                },
            ),
            (
                org + r"/role_external_references/lookup/?$",
                {"GET": ("organization:read", self._lookup_role_reference)},
            ),
            (
                org + r"/role_external_references/(?P<id>[^/]+)/?$",
                {"DELETE": ("organization:write", self._delete_role_reference)},
            ),
        ]
        return [
            _Route(re.compile(pattern), methods, filters_scoped_organizations=pattern in (project_detail, org_detail))
            for pattern, methods in table
        ]

    async def _respond(self, request: Request) -> Response:
        raw_body = await request.body()
        query = dict(request.query_params)
        recorded = Recorded(
            method=request.method,
            path=request.scope.get("raw_path", request.url.path.encode()).split(b"?")[0].decode("latin-1"),
            query=query,
            body=_recorded_body(raw_body),
            authorization=request.headers.get("authorization"),
            user_agent=request.headers.get("user-agent"),
        )
        self.requests.append(recorded)
        if self.intercept is not None and (response := await self.intercept(recorded)) is not None:
            return response
        if self._failures:
            return self._failures.pop(0)
        try:
            return self._handle(request, query, raw_body)
        except _Fail as fail:
            return fail.response

    def _handle(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        if self.oauth.serves(request.url.path):
            return self.oauth.respond(request, query, raw_body)  # before API authentication, as in PostHog
        for route in self._routes:
            match = route.pattern.match(request.url.path)
            if match:
                break
        else:
            raise _not_found()
        value, key = self._authenticate(request.headers.get("authorization"))
        method = "GET" if request.method == "HEAD" else request.method
        if method not in route.methods:
            detail = f'Method "{request.method}" not allowed.'
            raise _Fail(_error(405, "invalid_request", "method_not_allowed", detail))
        scope, handler = route.methods[method]
        call = _Call(request, key, match.groupdict(), query, raw_body, value)
        if scope is not None:
            self._check_reach(call, route, scope)
            if not _has_scope(key, scope):
                raise _forbidden(f"API key missing required scope '{scope}'")
        return handler(call)

    def _authenticate(self, header: str | None) -> tuple[str, Key]:
        match = re.match(r"^Bearer\s+(\S.+)$", header or "")
        if not match:
            detail = "Authentication credentials were not provided."
            raise _Fail(_error(401, "authentication_error", "not_authenticated", detail))
        value = match.group(1).strip()
        key = self.keys.get(value)
        if value.startswith("pha_") and (key is None or not key.live(time.time())):
            # Inferred: PostHog's OAuth authentication refuses an unknown, expired or revoked token with this text.
            raise _Fail(_error(401, "authentication_error", "authentication_failed", "Invalid access token."))
        if key is None:
            detail = "Personal API key found in request Authorization header is invalid."
            raise _Fail(_error(401, "authentication_error", "authentication_failed", detail))
        now = datetime.now(UTC)
        last_used = self.key_last_used.get(value)
        if last_used is None or now - last_used > timedelta(hours=1):  # PostHog saves a use at most hourly
            self.key_last_used[value] = now
        return value, key

    def _check_reach(self, call: _Call, route: _Route, scope: str) -> None:
        """PostHog's check of a key limited to some projects or organizations (before its scope check)."""
        key = call.key
        if scope.startswith("user:"):
            return  # /api/users/@me/ is exempt from project and organization limits
        if route.on_organization:
            if key.scoped_teams:
                raise _forbidden("API keys with scoped projects are only supported on project-based endpoints.")
            if key.scoped_organizations:
                org_id = self._organization(call)
                if org_id not in key.scoped_organizations:
                    # The organization viewset filters by the key's organizations, except for @current.
                    if route.filters_scoped_organizations and call.path_params["org"] != "@current":
                        raise _not_found()
                    raise _forbidden(f"API key does not have access to the requested organization: ID {org_id}.")
        elif route.on_project and (key.scoped_teams or key.scoped_organizations):
            project_id = self._project(call)
            org_id = self.projects[project_id]
            outside_orgs = bool(key.scoped_organizations) and org_id not in (key.scoped_organizations or ())
            if outside_orgs and route.filters_scoped_organizations:
                raise _not_found()  # the project viewset filters by the key's organizations, @current too
            if key.scoped_teams and project_id not in key.scoped_teams:
                raise _forbidden(f"API key does not have access to the requested project: ID {project_id}.")
            if outside_orgs:
                raise _forbidden(f"API key does not have access to the requested organization: ID {org_id}.")

    # --- Lookups shared by the handlers -------------------------------------------------------------------------

    def _project(self, call: _Call) -> int:
        raw = call.path_params["project"]
        project_id = PROJECT_ID if raw == "@current" else _path_int(raw)
        if project_id is None or self.projects.get(project_id) not in self.member_organizations:
            raise _not_found()
        return project_id

    def _organization(self, call: _Call, *, write: bool = False) -> str:
        raw = call.path_params["org"]
        org_id = ORG_ID if raw == "@current" else _uuid(raw)
        if org_id not in self.member_organizations:
            raise _not_found()
        if write and not call.key.admin:
            raise _forbidden("Your organization access level is insufficient.")
        return org_id

    def _integration(self, call: _Call, project_id: int) -> Integration:
        integration_id = _path_int(call.path_params["id"])
        row = None if integration_id is None else self.integrations.get(integration_id)
        if row is None or row.project_id != project_id:
            raise _not_found()
        return row

    def _org_integration(self, call: _Call, org_id: str) -> OrganizationIntegration:
        row = self.organization_integrations.get(_uuid(call.path_params["id"]) or "")
        if row is None or row.organization_id != org_id:
            raise _not_found()
        return row

    def _creator(self, call: _Call) -> dict[str, Any]:
        return USER if call.key.admin else MEMBER_USER

    # --- The key's reach: its own record, its owner, a project, an organization ---------------------------------

    def _personal_api_key_refused(self, call: _Call) -> Response:
        _refuse_oauth(call.key)
        raise _forbidden("This action does not support Personal API Key access")

    def _retrieve_personal_api_key(self, call: _Call) -> Response:
        """PostHog's PersonalAPIKeySerializer of the calling key; any valid key may read it, whatever its scopes."""
        _refuse_oauth(call.key)
        lookup, key = call.path_params["id"], call.key
        if lookup not in ("@current", key.id):
            if any(other.id == lookup and other.admin == key.admin for other in self.keys.values()):
                raise _forbidden("This action does not support Personal API Key access")  # the owner's other key
            raise _not_found()
        last_used = self.key_last_used.get(call.key_value)
        record = {
            "id": key.id,
            "label": key.label,
            "description": None,
            "value": None,  # only ever shown when the key is created or rolled
            "mask_value": f"{call.key_value[:4]}...{call.key_value[-4:]}",
            "created_at": _seed_time(0),
            "last_used_at": _timestamp(last_used) if last_used else None,
            "last_rolled_at": None,
            "user_id": self._creator(call)["id"],
            "is_legacy_hashing": False,
            "scopes": sorted(key.scopes) or ["*"],
            "scoped_teams": None if key.scoped_teams is None else list(key.scoped_teams),
            "scoped_organizations": None if key.scoped_organizations is None else list(key.scoped_organizations),
            "local_dev_value": None,
        }
        return JSONResponse(record)

    def _retrieve_user(self, call: _Call) -> Response:
        """A subset of PostHog's UserSerializer for the key's owner."""
        if call.path_params["user"] != "@me":
            raise _forbidden("As a non-staff user you're only allowed to access the `@me` user instance.")
        user = self._creator(call)
        level = self._membership_level(call.key)
        record = {
            "date_joined": _seed_time(0),
            **{name: user[name] for name in ("uuid", "distinct_id", "first_name", "last_name", "email")},
            "pending_email": None,
            "is_email_verified": user["is_email_verified"],
            "has_password": True,
            "id": user["id"],
            "is_staff": False,
            "is_impersonated": False,
            "team": self._team_basic(PROJECT_ID),
            "organization": self._organization_record(ORG_ID, level),
            "organizations": [self._organization_basic(org_id, level) for org_id in sorted(self.member_organizations)],
            "is_2fa_enabled": False,
            "has_social_auth": False,
            "theme_mode": None,
            "hedgehog_config": copy.deepcopy(user["hedgehog_config"]),
            "role_at_organization": user["role_at_organization"],
        }
        return JSONResponse(record)

    def _retrieve_project(self, call: _Call) -> Response:
        """A subset of PostHog's ProjectBackwardCompatSerializer."""
        project_id = self._project(call)
        record = {
            **self._team_basic(project_id),
            "product_description": None,
            "created_at": _seed_time(project_id),
            "updated_at": _seed_time(project_id),
            "effective_membership_level": self._membership_level(call.key),
            "has_group_types": False,
            "group_types": [],
            "app_urls": [],
            "week_start_day": None,
        }
        del record["project_id"]  # only in the basic (list) shape
        return JSONResponse(record)

    def _retrieve_organization(self, call: _Call) -> Response:
        return JSONResponse(self._organization_record(self._organization(call), self._membership_level(call.key)))

    @staticmethod
    def _membership_level(key: Key) -> int:
        return ADMIN_LEVEL if key.admin else MEMBER_LEVEL

    def _team_basic(self, project_id: int) -> dict[str, Any]:
        """PostHog's TeamBasicSerializer (the `team` of a user, the `teams` of an organization)."""
        return {
            "id": project_id,
            "uuid": f"0192f5a8-7c1e-7000-8000-{project_id:012x}",
            "organization": self.projects[project_id],
            "project_id": project_id,
            "api_token": f"phc_fake_project_token_{project_id:04d}",  # the public capture token, not a secret
            "name": self.project_names[project_id],
            "completed_snippet_onboarding": True,
            "has_completed_onboarding_for": {"product_analytics": True},
            "ingested_event": True,
            "is_demo": False,
            "timezone": "UTC",
            "access_control": False,
        }

    def _organization_basic(self, org_id: str, level: int) -> dict[str, Any]:
        """PostHog's OrganizationBasicSerializer (a user's `organizations`)."""
        name = self.organization_names[org_id]
        return {
            "id": org_id,
            "name": name,
            "slug": name.lower(),
            "logo_media_id": None,
            "membership_level": level,
            "members_can_use_personal_api_keys": True,
            "is_active": True,
            "is_not_active_reason": None,
            "is_pending_deletion": False,
        }

    def _organization_record(self, org_id: str, level: int) -> dict[str, Any]:
        """A subset of PostHog's OrganizationSerializer."""
        projects = sorted(project for project, owner in self.projects.items() if owner == org_id)
        return {
            "id": org_id,
            "name": self.organization_names[org_id],
            "slug": self.organization_names[org_id].lower(),
            "logo_media_id": None,
            "created_at": _seed_time(0),
            "updated_at": _seed_time(0),
            "membership_level": level,
            "teams": [self._team_basic(project) for project in projects],
            "projects": [
                {"id": project, "organization_id": org_id, "name": self.project_names[project]} for project in projects
            ],
            "available_product_features": [],
            "metadata": {"instance_tag": "none"},
            "customer_id": None,
            "enforce_2fa": None,
            "members_can_invite": True,
            "members_can_use_personal_api_keys": True,
            "member_count": 2,
        }

    # --- Project integrations -----------------------------------------------------------------------------------

    def _list_integrations(self, call: _Call) -> Response:
        project_id = self._project(call)
        kind = call.query.get("kind", "")
        if kind and kind not in KINDS:
            detail = f"Select a valid choice. {kind} is not one of the available choices."
            raise _invalid(detail, "kind", "invalid_choice")
        rows = [
            row.public()
            for row in sorted(self.integrations.values(), key=lambda row: row.id)
            if row.project_id == project_id and (not kind or row.kind == kind)
        ]
        return JSONResponse(_paginate(str(call.request.url), call.query, rows))

    def _retrieve_integration(self, call: _Call) -> Response:
        return JSONResponse(self._integration(call, self._project(call)).public())

    def _delete_integration(self, call: _Call) -> Response:
        project_id = self._project(call)
        if not call.key.admin:
            raise _forbidden("You don't have sufficient permissions in the project.")
        row = self._integration(call, project_id)
        if row.used_by_workflows:
            names = ", ".join(sorted(row.used_by_workflows))
            raise _invalid(
                f"This integration is used by active workflows: {names}. "
                "Update them to use a different integration before disconnecting it."
            )
        del self.integrations[row.id]
        self.anthropic_resources.pop(row.id, None)
        return Response(status_code=204)

    def _create_integration(self, call: _Call) -> Response:
        project_id = self._project(call)
        body = call.json_object()
        if "kind" not in body:
            raise _invalid("This field is required.", "kind", "required")
        kind = body["kind"]
        if kind is None:
            raise _invalid("This field may not be null.", "kind", "null")
        if not isinstance(kind, str) or kind not in KINDS:
            raise _invalid(f'"{kind}" is not a valid choice.', "kind", "invalid_choice")
        if kind in DEPRECATED_KINDS:
            raise _invalid("This integration kind is deprecated and can no longer be created.", "kind")
        if "config" in body and body["config"] is None:
            raise _invalid("This field may not be null.", "config", "null")
        if kind in FILE_UPLOAD_KINDS:
            raise _invalid(FILE_UPLOAD_KINDS[kind])
        config = body.get("config", {})
        if kind in UNSUPPORTED_KINDS:
            raise _invalid("Kind not supported")
        if not isinstance(config, dict):
            raise _server_error()  # PostHog calls config.get(...) on it
        creator = self._creator(call)
        if kind == "anthropic":
            return self._create_anthropic(project_id, config, creator)
        row = Integration(
            id=next(self._next_id),
            project_id=project_id,
            kind=kind,
            config={},
            created_at=_now(),
            created_by=creator,
            display_name=kind,
        )
        if kind == "email":
            row.config = _email_config(config)
        elif kind == "github":
            for name, what in (("installation_id", "An installation_id"), ("state", "A state token")):
                if not config.get(name):
                    raise _invalid(f"{what} must be provided")
            if not config.get("code"):
                raise _invalid("An OAuth code must be provided")
            row.config = {"installation_id": str(config["installation_id"]), "account": {"type": "Organization"}}
        elif kind in CREDENTIAL_KINDS:
            required, message = CREDENTIAL_KINDS[kind]
            if not all(config.get(name) for name in required):
                raise _invalid(message)
            row.config = {name: value for name, value in config.items() if not _is_secret(name)}
            row.sensitive_config = {name: value for name, value in config.items() if _is_secret(name)}
        else:  # OAuth kinds: the code comes from a browser flow
            if "code" not in config:
                raise _server_error()
            if config["code"] == BAD_OAUTH_CODE:
                raise _invalid(f"{kind} OAuth failed: invalid_grant")
            kept = {name: value for name, value in config.items() if name not in ("code", "state", "next")}
            row.config = {**kept, "expires_in": 3600, "refreshed_at": int(datetime.now(UTC).timestamp())}
            row.sensitive_config = {"access_token": f"fake-{kind}-access-token"}
        row.display_name = _display_name(row.config) or kind
        self.integrations[row.id] = row
        return JSONResponse(row.public(), status_code=201)

    def _create_anthropic(self, project_id: int, config: dict[str, Any], creator: dict[str, Any]) -> Response:
        api_key = config.get("api_key")
        if not isinstance(api_key, str) or not api_key.strip():
            raise _invalid("An Anthropic API key must be provided")
        api_key = api_key.strip()
        if any(char.isspace() or ord(char) < 0x20 for char in api_key):
            raise _invalid("Anthropic API key must not contain whitespace or control characters")
        label = config.get("workspace_label")
        if label is not None:
            if not isinstance(label, str):
                raise _invalid("Workspace label must be a string")
            label = label.strip() or None
            if label and len(label) > 100:
                raise _invalid("Workspace label must be 100 characters or fewer")
            if label and label.startswith("workspace-"):
                raise _invalid("Workspace label cannot start with 'workspace-'")
        if api_key == INVALID_ANTHROPIC_API_KEY:
            raise _invalid("Invalid Anthropic API key", "api_key")
        integration_id = label or f"workspace-{project_id}"
        existing = next(
            (
                row
                for row in self.integrations.values()
                if row.project_id == project_id and row.kind == "anthropic" and row.integration_id == integration_id
            ),
            None,
        )
        if existing is not None and not config.get("force"):
            raise _invalid(
                f"An integration with id '{integration_id}' already exists for this team. Choose a different "
                "workspace label, delete the existing integration and try again, or set 'force' to true to "
                "overwrite the existing integration.",
                "config",
            )
        row = existing or Integration(
            id=next(self._next_id),
            project_id=project_id,
            kind="anthropic",
            config={},
            created_at=_now(),
            created_by=creator,
            display_name=integration_id,
            integration_id=integration_id,
        )
        row.config = {"workspace_label": label} if label else {}
        row.sensitive_config = {"api_key": api_key}
        row.errors, row.key_rejected, row.created_by = "", False, creator
        self.integrations[row.id] = row
        self.anthropic_resources.setdefault(row.id, {"agents": [], "environments": [], "vaults": []})
        return JSONResponse(row.public(), status_code=201)

    def _anthropic_list(self, call: _Call) -> Response:
        row = self._integration(call, self._project(call))
        if row.kind != "anthropic":
            raise _invalid(f"Integration {row.id} is not an Anthropic integration (kind={row.kind!r})")
        try:
            limit = int(call.query.get("limit", ANTHROPIC_PAGE_LIMIT))
        except ValueError:
            raise _invalid("`limit` must be an integer") from None
        limit = min(max(limit, 1), ANTHROPIC_PAGE_LIMIT)  # PostHog clamps rather than refuses
        if row.key_rejected:
            row.errors = TOKEN_REFRESH_FAILED
            raise _invalid("Anthropic API key is no longer valid. Please reconnect the integration.")
        name = _ANTHROPIC_RESOURCES[call.path_params["resource"]]
        items = self.anthropic_resources.get(row.id, {}).get(name, [])
        start = 0
        if after := call.query.get("after"):
            ids = [item["id"] for item in items]
            if after not in ids:
                raise _invalid("Anthropic returned an error (HTTP 400). Please try again.")
            start = ids.index(after) + 1
        page = items[start : start + limit]
        next_cursor = page[-1]["id"] if page and start + limit < len(items) else None
        return JSONResponse({"next_cursor": next_cursor, "has_more": next_cursor is not None, name: page})

    # --- Organization integrations ------------------------------------------------------------------------------

    def _delete_org_integration(self, call: _Call) -> Response:
        org_id = self._organization(call, write=True)
        row = self._org_integration(call, org_id)
        if row.has_unpaid_invoices:
            raise _Fail(_error(409, "invalid_request", "conflict", UNPAID_INVOICES_MESSAGE))
        org_projects = {project for project, owner in self.projects.items() if owner == org_id}
        for integration in list(self.integrations.values()):
            if integration.kind == "vercel" and integration.project_id in org_projects:
                del self.integrations[integration.id]
        del self.organization_integrations[row.id]
        return Response(status_code=204)

    def _environment_mapping(self, call: _Call) -> Response:
        org_id = self._organization(call, write=True)
        row = self._org_integration(call, org_id)
        if row.config.get("type") != "connectable":
            raise _bare(400, "Environment mapping is only supported for connectable integrations.")
        body = call.json_object()
        production = _integer_field(body, "production", required=True)
        assert production is not None
        preview = _integer_field(body, "preview", required=False)
        development = _integer_field(body, "development", required=False)
        mapping = {
            "production": production,
            "preview": production if preview is None else preview,
            "development": production if development is None else development,
        }
        for project_id in sorted(set(mapping.values())):
            if self.projects.get(project_id) != org_id:
                raise _bare(400, f"Project {project_id} does not belong to this organization.")
        for project_id in sorted(set(mapping.values())):
            if not any(
                row.kind == "vercel" and row.project_id == project_id and row.integration_id == str(project_id)
                for row in self.integrations.values()
            ):
                config = {"type": "connectable"}
                self.add_integration(
                    "vercel", config, project_id=project_id, display_name="Vercel", integration_id=str(project_id)
                )
        row.config["environment_mapping"] = mapping  # PostHog saves only `config`: updated_at stays
        return JSONResponse(row.public())

    # --- Role external references -------------------------------------------------------------------------------

    def _references_in(self, org_id: str) -> list[RoleExternalReference]:
        refs = [ref for ref in self.role_external_references.values() if ref.organization_id == org_id]
        # PostHog orders by provider, provider_organization_id, provider_role_slug (NULLs last), then creation.
        return sorted(
            refs,
            key=lambda ref: (
                ref.provider,
                ref.provider_organization_id,
                ref.provider_role_slug is None,
                ref.provider_role_slug or "",
                ref.created_at,
            ),
        )

    def _list_role_references(self, call: _Call) -> Response:
        refs = self._references_in(self._organization(call))
        if provider := call.query.get("provider"):
            refs = [ref for ref in refs if ref.provider == provider]
        if provider_org := call.query.get("provider_organization_id"):
            refs = [ref for ref in refs if ref.provider_organization_id.lower() == provider_org.lower()]
        if role_id := call.query.get("role_id"):
            if _uuid(role_id) is None:
                raise _server_error()  # Django refuses to filter a UUID column by a non-UUID
            refs = [ref for ref in refs if ref.role == _uuid(role_id)]
        rows = [ref.public() for ref in refs]
        return JSONResponse(_paginate(str(call.request.url), call.query, rows))

    def _create_role_reference(self, call: _Call) -> Response:
        org_id = self._organization(call, write=True)
        body = call.json_object()
        provider = _char_field(body, "provider", max_length=32)
        provider_org = _char_field(body, "provider_organization_id", max_length=255)
        role_id = _char_field(body, "provider_role_id", max_length=255)
        slug = _char_field(
            body, "provider_role_slug", max_length=255, required=False, allow_null=True, allow_blank=True
        )
        name = _char_field(body, "provider_role_name", max_length=255)
        role = self._role(body, org_id)
        assert provider is not None
        assert provider_org is not None
        assert role_id is not None
        assert name is not None
        same_org = [
            ref
            for ref in self._references_in(org_id)
            if ref.provider == provider and ref.provider_organization_id.lower() == provider_org.lower()
        ]
        if slug and any((ref.provider_role_slug or "").lower() == slug.lower() for ref in same_org):
            raise _invalid("A role external reference with this provider, organization, and role slug already exists.")
        if any(ref.provider_role_id.lower() == role_id.lower() for ref in same_org):
            raise _invalid("A role external reference with this provider, organization, and role ID already exists.")
        ref = RoleExternalReference(
            str(uuid.uuid4()), org_id, provider, provider_org, role_id, slug, name, role, _now(), self._creator(call)
        )
        self.role_external_references[ref.id] = ref
        return JSONResponse(ref.public(), status_code=201)

    def _role(self, body: dict[str, Any], org_id: str) -> str:
        """DRF's PrimaryKeyRelatedField over the organization's roles."""
        if "role" not in body:
            raise _invalid("This field is required.", "role", "required")
        value = body["role"]
        if value is None:
            raise _invalid("This field may not be null.", "role", "null")
        if isinstance(value, bool) or not isinstance(value, str | int):
            detail = f"Incorrect type. Expected pk value, received {type(value).__name__}."
            raise _invalid(detail, "role", "incorrect_type")
        if isinstance(value, str):
            role = _uuid(value)
            if role is None:
                raise _invalid(f"“{value}” is not a valid UUID.", "role")
            if self.roles.get(role) == org_id:
                return role
        raise _invalid(f'Invalid pk "{value}" - object does not exist.', "role", "does_not_exist")

    def _delete_role_reference(self, call: _Call) -> Response:
        org_id = self._organization(call, write=True)
        ref = self.role_external_references.get(_uuid(call.path_params["id"]) or "")
        if ref is None or ref.organization_id != org_id:
            raise _not_found()
        del self.role_external_references[ref.id]
        return Response(status_code=204)

    def _lookup_role_reference(self, call: _Call) -> Response:
        org_id = self._organization(call)
        query: dict[str, Any] = call.query
        provider = _char_field(query, "provider")
        provider_org = _char_field(query, "provider_organization_id")
        slug = _char_field(query, "provider_role_slug", required=False)
        role_id = _char_field(query, "provider_role_id", required=False)
        if not slug and not role_id:
            raise _invalid("Either provider_role_slug or provider_role_id must be provided.")
        assert provider is not None
        assert provider_org is not None
        for ref in sorted(self._references_in(org_id), key=lambda ref: ref.created_at):
            if ref.provider != provider or ref.provider_organization_id.lower() != provider_org.lower():
                continue
            if (slug and (ref.provider_role_slug or "").lower() == slug.lower()) or (
                role_id and ref.provider_role_id.lower() == role_id.lower()
            ):
                return JSONResponse({"reference": ref.public()})
        return JSONResponse({"reference": None})


def _refuse_oauth(key: Key) -> None:
    """An OAuth access token has no personal API key record to read (inferred wording)."""
    if key.oauth:
        raise _forbidden("This action does not support OAuth access token access")


def _has_scope(key: Key, scope: str) -> bool:
    resource, _, level = scope.partition(":")
    return "*" in key.scopes or scope in key.scopes or (level == "read" and f"{resource}:write" in key.scopes)


def _recorded_body(raw_body: bytes) -> Any:
    if not raw_body:
        return None
    try:
        return json.loads(raw_body)
    except ValueError:
        return raw_body.decode("utf-8", errors="replace")


def _email_config(config: dict[str, Any]) -> dict[str, Any]:
    email = _char_field(config, "email", max_length=254)
    assert email is not None
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise _invalid("Enter a valid email address.", "email")
    name = _char_field(config, "name")
    provider = config.get("provider")
    if provider is None:
        raise _invalid("This field is required.", "provider", "required")
    if provider != "ses":
        raise _invalid(f'"{provider}" is not a valid choice.', "provider", "invalid_choice")
    domain = email.lower().split("@")[1]
    return {"email": email.lower(), "name": name, "provider": "ses", "domain": domain, "verified": False}


def _display_name(config: dict[str, Any]) -> str | None:
    for name in ("workspace_label", "email", "account_sid", "server_hostname", "hostname", "host", "name"):
        if isinstance(config.get(name), str):
            return str(config[name])
    return None


# --- Serving over a real socket ---------------------------------------------------------------------------------


class _Endpoint:
    """The fake's single ASGI endpoint: every method and path reaches `FakePostHog._respond`."""

    def __init__(self, fake: FakePostHog) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.fake._respond(Request(scope, receive))
        await response(scope, receive, send)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the test runner keeps Ctrl-C), announcing when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = anyio.Event()

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()


def running(fake: FakePostHog) -> AbstractAsyncContextManager[str]:
    """Serve `fake` with uvicorn on 127.0.0.1 (a free port); yields its base URL, e.g. "http://127.0.0.1:54321"."""
    return serving(fake.app)


@asynccontextmanager
async def serving(app: Any, port: int = 0) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (`port`, or a free one); yields its base URL.

    The socket is made with IPPROTO_TCP: asyncio sets TCP_NODELAY only on accepted sockets of that protocol, and
    without it every answer (headers and body written apart) waits ~40 ms for the client's delayed ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="auto")
    server = _Server(config)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            with anyio.fail_after(5):
                await server.listening.wait()
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server the test starts as a process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until_healthy(url: str) -> None:
    """Wait until a server started as a process answers GET /healthz."""
    async with httpx.AsyncClient() as http:
        with anyio.fail_after(30):
            while True:
                try:
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await anyio.sleep(0.1)
