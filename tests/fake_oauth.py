"""PostHog as an OAuth 2.1 authorization server, for the fake PostHog: the endpoints under /oauth/ and the metadata.

It follows ../shared/reference/posthog-oauth.md and, where that page is silent, PostHog's public source
(posthog/api/oauth/: dcr.py, views.py, metadata.py) over django-oauth-toolkit and oauthlib, whose error codes and
statuses it keeps. A test user is signed in and approves at once: /oauth/authorize/ redirects with a code, granting
what `FakePostHog.consent` says. Access tokens are `Key`s in `FakePostHog.keys` (made by `FakePostHog.mint_token`),
so every API endpoint honours them exactly as it does personal keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from tests.fake_posthog import FakePostHog

OIDC_SCOPES = ("openid", "profile", "email")
# PostHog's object:action scopes that an OAuth client may ask for (a subset: every scope the tools and doctor use,
# and a few others). `*` is never grantable through OAuth.
SCOPE_OBJECTS = (
    *("action", "annotation", "cohort", "dashboard", "experiment", "feature_flag", "insight", "integration"),
    *("organization", "organization_integration", "organization_member", "person", "project", "survey", "user"),
)
SCOPES_SUPPORTED = (
    *OIDC_SCOPES,
    "introspection",  # lets a token introspect tokens other than itself
    *(f"{name}:{action}" for name in SCOPE_OBJECTS for action in ("read", "write")),
)
CODE_LIFETIME = 600  # seconds an authorization code stays exchangeable
DCR_DEFAULT_NAME = "MCP Client"  # PostHog's name for a registered client that gives none

# A client registered from the start: introspection names it for tokens made by `FakePostHog.mint_token`, and
# tests may run the flow with it without registering one.
TEST_CLIENT_ID = "fake_test_client_0000000000000000000000000"
TEST_CLIENT_NAME = "Test client"
TEST_REDIRECT_URI = "http://127.0.0.1/callback"

_BLOCKED_NAME_PREFIX = "posthog"
_BLOCKED_NAME_WORDS = ("official", "verified", "trusted")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Consent:
    """What the auto-approving test user grants on /oauth/authorize/; set it before the flow."""

    scopes: frozenset[str] | None = None  # None: exactly the scopes asked; a set: these instead (boxes unticked)
    scoped_teams: tuple[int, ...] = ()  # empty: not limited to some projects
    scoped_organizations: tuple[str, ...] = ()
    admin: bool = True  # the user is an organization admin


@dataclass(frozen=True)
class Client:
    """A registered OAuth application."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    secret: str | None = None  # client_secret_post clients only


@dataclass(frozen=True)
class _Grant:
    """What a user granted a client: the reach of every access token issued from it, refreshed or not."""

    client_id: str
    scopes: frozenset[str]
    consent: Consent


@dataclass(frozen=True)
class _Code:
    grant: _Grant
    redirect_uri: str
    code_challenge: str
    expires_at: float


@dataclass(frozen=True)
class _Refresh:
    grant: _Grant
    access_token: str  # the access token issued beside it, revoked with it


class _Refused(Exception):
    """Raised by an endpoint to answer with `response` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _oauth_error(error: str, description: str, status: int = 400) -> _Refused:
    """RFC 6749 §5.2's error body, as oauthlib writes it (invalid_client is a 401 there)."""
    body = {"error": error, "error_description": description}
    return _Refused(JSONResponse(body, status_code=status, headers=_NO_STORE))


def _posthog_401(code: str, detail: str) -> _Refused:
    body = {"type": "authentication_error", "code": code, "detail": detail, "attr": None}
    return _Refused(JSONResponse(body, status_code=401))


def _metadata_error(field: str, message: str, code: str) -> _Refused:
    """dcr.py's answer to a request its serializer refuses: `str(serializer.errors)`, DRF's repr and all."""
    description = f"{{'{field}': [ErrorDetail(string={message!r}, code={code!r})]}}"
    return _oauth_error("invalid_client_metadata", description)


def s256(code_verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(uri: str, params: dict[str, str]) -> str:
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode(params)}"


def _form(request: Request, raw_body: bytes) -> dict[str, str]:
    """A form-encoded body (Django's request.POST): empty for any other content type."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    return dict(parse_qsl(raw_body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _check_client_metadata(body: dict[str, Any]) -> None:
    """dcr.py's DCRRequestSerializer and OAuthApplication.clean(): what a registration may ask for."""
    redirect_uris = body.get("redirect_uris")
    if redirect_uris is None:
        raise _metadata_error("redirect_uris", "This field is required.", "required")
    if not isinstance(redirect_uris, list) or not redirect_uris:
        raise _metadata_error("redirect_uris", "This list may not be empty.", "min_length")
    for uri in redirect_uris:
        if not isinstance(uri, str) or not uri or any(char.isspace() for char in uri):
            raise _metadata_error("redirect_uris", "Redirect URI cannot contain whitespace", "invalid")
        parts = urlsplit(uri)
        if parts.fragment or (parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS):
            # Inferred wording: OAuthApplication.clean() allows HTTPS, loopback HTTP and custom schemes.
            detail = f"Redirect URI {uri} must use HTTPS, or HTTP on a loopback address, and have no fragment."
            raise _oauth_error("invalid_redirect_uri", detail)
    name = body.get("client_name")
    if name is not None:
        if not isinstance(name, str) or len(name) > 255:
            raise _metadata_error("client_name", "Not a valid string.", "invalid")
        if name.lower().startswith(_BLOCKED_NAME_PREFIX):
            raise _metadata_error("client_name", f"Client name cannot start with '{_BLOCKED_NAME_PREFIX}'", "invalid")
        for word in _BLOCKED_NAME_WORDS:
            if word in name.lower():
                raise _metadata_error("client_name", f"Client name cannot contain '{word}'", "invalid")
    choices = {
        "grant_types": ("authorization_code", "refresh_token"),
        "response_types": ("code",),
    }
    for field, allowed in choices.items():
        for value in body.get(field) or ():
            if value not in allowed:
                raise _metadata_error(field, f'"{value}" is not a valid choice.', "invalid_choice")
    auth_method = body.get("token_endpoint_auth_method", "none")
    if auth_method not in ("none", "client_secret_post"):
        raise _metadata_error("token_endpoint_auth_method", f'"{auth_method}" is not a valid choice.', "invalid_choice")


class OAuthServer:
    """The authorization server of one `FakePostHog`: registered clients, codes and refresh tokens."""

    def __init__(self, fake: FakePostHog) -> None:
        self.fake = fake
        self.clients: dict[str, Client] = {
            TEST_CLIENT_ID: Client(TEST_CLIENT_ID, TEST_CLIENT_NAME, (TEST_REDIRECT_URI,))
        }
        self.codes: dict[str, _Code] = {}
        self.refresh_tokens: dict[str, _Refresh] = {}  # live ones only: rotation and revocation remove them
        self.token_clients: dict[str, str] = {}  # access token -> client id, for tokens issued by the flow

    @staticmethod
    def serves(path: str) -> bool:
        return path.startswith(("/oauth/", "/.well-known/"))

    def respond(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """Answer a request for /oauth/… or /.well-known/… (trailing slash optional, as PostHog's routes)."""
        endpoints = {
            "/.well-known/oauth-authorization-server": ("GET", self._metadata),
            "/.well-known/openid-configuration": ("GET", self._metadata),
            "/oauth/register": ("POST", self._register),
            "/oauth/authorize": ("GET", self._authorize),
            "/oauth/token": ("POST", self._token),
            "/oauth/introspect": ("POST", self._introspect),
            "/oauth/revoke": ("POST", self._revoke),
        }
        endpoint = endpoints.get(request.url.path.rstrip("/"))
        if endpoint is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        method, handler = endpoint
        if request.method != method:
            return JSONResponse({"detail": f'Method "{request.method}" not allowed.'}, status_code=405)
        try:
            return handler(request, query, raw_body)
        except _Refused as refused:
            return refused.response

    # --- Test controls (through FakePostHog) --------------------------------------------------------------------

    def revoke(self, token: str) -> None:
        """Revoke an access token, or a refresh token and the access token issued beside it."""
        refresh = self.refresh_tokens.pop(token, None)
        if refresh is not None:
            token = refresh.access_token
        key = self.fake.keys.get(token)
        if key is not None and key.oauth:
            self.fake.keys[token] = replace(key, revoked=True)

    # --- Endpoints ----------------------------------------------------------------------------------------------

    def _metadata(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """RFC 8414 metadata, served under both well-known names; the issuer is the origin the request came to."""
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse(
            {
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
        )

    def _register(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """RFC 7591 dynamic client registration, as dcr.py validates it (no authentication)."""
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _metadata_error("non_field_errors", "Invalid data. Expected a dictionary.", "invalid")
        _check_client_metadata(body)
        redirect_uris, name = body["redirect_uris"], body.get("client_name")
        auth_method = body.get("token_endpoint_auth_method", "none")
        secret = secrets.token_urlsafe(48) if auth_method == "client_secret_post" else None
        client = Client(secrets.token_urlsafe(30), name or DCR_DEFAULT_NAME, tuple(redirect_uris), secret)
        self.clients[client.client_id] = client
        answer: dict[str, Any] = {
            "client_id": client.client_id,
            "redirect_uris": redirect_uris,
            "grant_types": body.get("grant_types") or ["authorization_code"],
            "response_types": body.get("response_types") or ["code"],
            "token_endpoint_auth_method": auth_method,
            "client_id_issued_at": int(time.time()),
        }
        if secret is not None:
            answer |= {"client_secret": secret, "client_secret_expires_at": 0}
        if name:
            answer["client_name"] = name
        return JSONResponse(answer, status_code=201)

    def _authorize(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """The authorization endpoint, checks in oauthlib's order; the signed-in test user approves at once."""
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            detail = "No OAuth application is registered with this client_id. Check the client_id, or register the "
            raise _oauth_error("invalid_request", detail + "application again.")
        redirect_uri = query.get("redirect_uri")
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            raise _oauth_error("invalid_request", "Mismatching redirect URI.")  # no redirect to an unknown URI

        def refuse(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description}
            if "state" in query:
                params["state"] = query["state"]
            return Response(status_code=302, headers={"location": _with_query(redirect_uri, params)})

        response_type = query.get("response_type")
        if not response_type:
            return refuse("invalid_request", "Missing response_type parameter.")
        if response_type != "code":
            return refuse("unsupported_response_type", "Only response_type=code is supported.")
        if not query.get("code_challenge"):
            return refuse("invalid_request", "Code challenge required.")
        if query.get("code_challenge_method", "plain") != "S256":  # oauthlib's default method is plain
            return refuse("invalid_request", "Transform algorithm not supported.")
        asked = query.get("scope", "").split()
        if not asked or any(scope not in SCOPES_SUPPORTED for scope in asked):
            return refuse("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        consent = self.fake.consent
        granted = frozenset(asked) if consent.scopes is None else consent.scopes
        code = secrets.token_urlsafe(24)
        grant = _Grant(client.client_id, granted, consent)
        self.codes[code] = _Code(grant, redirect_uri, query["code_challenge"], time.time() + CODE_LIFETIME)
        params = {"code": code} | ({"state": query["state"]} if "state" in query else {})
        return Response(status_code=302, headers={"location": _with_query(redirect_uri, params)})

    def _token(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """The token endpoint: form-encoded only (Django's request.POST), as RFC 6749 asks."""
        form = _form(request, raw_body)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        raise _oauth_error(
            "unsupported_grant_type", "Use grant_type authorization_code or refresh_token, form-encoded."
        )

    def _client(self, form: dict[str, str]) -> Client:
        """The authenticating client: its client_id, and its client_secret when it registered with one."""
        client = self.clients.get(form.get("client_id", ""))
        if client is None or (client.secret is not None and form.get("client_secret") != client.secret):
            raise _oauth_error("invalid_client", "Client authentication failed.", status=401)
        return client

    def _exchange_code(self, form: dict[str, str]) -> Response:
        if not form.get("code"):
            raise _oauth_error("invalid_request", "Missing code parameter.")
        client = self._client(form)
        code = self.codes.get(form["code"])
        if code is None or code.grant.client_id != client.client_id or code.expires_at <= time.time():
            raise _oauth_error("invalid_grant", "The code is unknown, used, expired, or another client's.")
        if not form.get("code_verifier"):
            raise _oauth_error("invalid_request", "Code verifier required.")
        if not secrets.compare_digest(s256(form["code_verifier"]), code.code_challenge):
            raise _oauth_error("invalid_grant", "The code verifier does not match the code challenge.")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _oauth_error("invalid_request", "Mismatching redirect URI.")
        del self.codes[form["code"]]  # single use
        return self._issue(code.grant)

    def _refresh(self, form: dict[str, str]) -> Response:
        if not form.get("refresh_token"):
            raise _oauth_error("invalid_request", "Missing refresh token parameter.")
        client = self._client(form)
        refresh = self.refresh_tokens.get(form["refresh_token"])
        if refresh is None or refresh.grant.client_id != client.client_id:
            raise _oauth_error("invalid_grant", "The refresh token is unknown, revoked, or another client's.")
        self.revoke(form["refresh_token"])  # rotation, as django-oauth-toolkit does: the old pair stops working
        return self._issue(refresh.grant)

    def _issue(self, grant: _Grant) -> Response:
        consent = grant.consent
        lifetime = self.fake.access_token_lifetime
        access = self.fake.mint_token(
            grant.scopes,
            scoped_teams=consent.scoped_teams,
            scoped_organizations=consent.scoped_organizations,
            lifetime=lifetime,
            admin=consent.admin,
        )
        self.token_clients[access] = grant.client_id
        refresh = f"phr_{secrets.token_urlsafe(30)}"
        self.refresh_tokens[refresh] = _Refresh(grant, access)
        answer = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
            "scope": " ".join(sorted(grant.scopes)),
            "scoped_teams": list(consent.scoped_teams),  # PostHog's token view adds these two
            "scoped_organizations": list(consent.scoped_organizations),
        }
        return JSONResponse(answer, headers=_NO_STORE)

    def _introspect(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """RFC 7662 with PostHog's rule: the bearer must be a live access token with the `introspection` scope,
        except that an access token may always introspect itself, expired or not."""
        token = _form(request, raw_body).get("token")
        if not token and request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
            token = body.get("token") if isinstance(body, dict) else None
        header = request.headers.get("authorization", "")
        bearer = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not bearer:
            raise _posthog_401("not_authenticated", "Authentication credentials were not provided.")
        now = time.time()
        key = self.fake.keys.get(bearer)
        if key is None or not key.oauth or (bearer != token and not key.live(now)):
            # Inferred: a bearer PostHog does not accept fails the view's verify_request.
            raise _posthog_401("authentication_failed", "Invalid access token.")
        if bearer != token and "introspection" not in key.scopes:
            return Response(status_code=403)  # django-oauth-toolkit's bare HttpResponseForbidden
        target = self.fake.keys.get(token or "")
        if target is None or not target.oauth or not target.live(now):
            return JSONResponse({"active": False})
        assert token is not None
        assert target.expires_at is not None
        client = self.clients[self.token_clients.get(token, TEST_CLIENT_ID)]
        return JSONResponse(
            {
                "active": True,
                "token_type": "access_token",
                "scope": " ".join(sorted(target.scopes)),
                "scoped_teams": list(target.scoped_teams or ()),
                "scoped_organizations": list(target.scoped_organizations or ()),
                "exp": int(target.expires_at),
                "client_id": client.client_id,
                "client_name": client.name,
            }
        )

    def _revoke(self, request: Request, query: dict[str, str], raw_body: bytes) -> Response:
        """RFC 7009: the client authenticates; any token it names is revoked, and an unknown one is no error."""
        form = _form(request, raw_body)
        self._client(form)
        self.revoke(form.get("token", ""))
        return Response(status_code=200)
