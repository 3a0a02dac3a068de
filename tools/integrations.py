"""Project integrations: /api/projects/{project_id}/integrations/."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.arguments import Id, Limit, ProjectArguments, Skip
from tools.results import INTEGER, STRING, CursorPage, Deleted, OffsetPage, Record, fields
from tools.spec import CURRENT, Target, ToolSpec

KINDS = (
    "anthropic", "apns", "azure-blob", "bing-ads", "clickup", "customerio-app", "customerio-track",
    "customerio-webhook", "databricks", "email", "firebase", "github", "gitlab", "google-ads",
    "google-cloud-service-account", "google-cloud-storage", "google-pubsub", "google-sheets", "hubspot", "intercom",
    "jira", "linear", "linkedin-ads", "meta-ads", "pinterest-ads", "postgresql", "reddit-ads", "salesforce", "slack",
    "slack-posthog-code", "snapchat", "stripe", "tiktok-ads", "twilio", "vercel",
    "aws-redshift", "aws-s3", "google-analytics", "google-calendar", "google-search-console",
    "instagram", "pardot", "posthog", "resend", "s3-compatible", "snowflake", "youtube-analytics",
)  # fmt: skip
"""The kinds of PostHog's reference page, then those the backend also creates (api-behaviour.md): what an
operator's `--secret-env NAME=kind` entry is checked against. A tool call's kind is not: PostHog judges it."""

OAUTH_KINDS = frozenset({
    "slack", "posthog", "salesforce", "hubspot", "google-ads", "google-analytics", "google-calendar",
    "google-search-console", "google-sheets", "snapchat", "linkedin-ads", "reddit-ads", "tiktok-ads", "bing-ads",
    "meta-ads", "instagram", "intercom", "linear", "clickup", "jira", "pardot", "pinterest-ads", "stripe", "resend",
    "youtube-analytics",
})  # fmt: skip
"""Kinds connected through a browser OAuth flow; the backend needs the flow's `code`."""

FILE_UPLOAD_KINDS = frozenset({"google-pubsub", "google-cloud-storage"})
"""Kinds that want a service-account JSON file uploaded (multipart), which this server never sends.

Not firebase: PostHog's `IntegrationSerializer._build_integration` (posthog/api/integration.py) takes its key as an
uploaded file or as JSON, `config.key_info`, and answers 400 "Firebase service account key must be provided" without
either; older PostHog wanted the file only.
"""

FIXED_HOST_KINDS = frozenset({"anthropic", "apns", "aws-s3", "firebase", "google-cloud-service-account", "twilio"})
"""Kinds whose credentials PostHog sends only to its provider's own host, which no config field can change: a bare
`--secret-env NAME` may fill these, and every other kind must be named (`NAME=postgresql`).

From PostHog's source, `_build_integration` in posthog/api/integration.py and the classes it calls in
posthog/models/integration/:
- anthropic: anthropic.py `validate_key` and later calls use `Anthropic(api_key=...)` without a base URL.
- twilio: products/workflows/backend/providers/twilio.py sends to `TWILIO_API_BASE_URL`
  (https://api.twilio.com/2010-04-01); account_sid is only a path segment and the Basic-auth user.
- aws-s3: aws.py `validate_aws_credentials` calls STS GetCallerIdentity with no endpoint from the config ("no
  user-controlled endpoint"), and `AWSCredentialsIntegration` holds no endpoint_url by design.
- google-cloud-service-account (google_cloud.py) and firebase (push.py): the key signs a grant posted to `token_uri`,
  which `require_google_token_uri` limits to Google's two token endpoints.
- apns: push.py keeps the .p8 signing key to sign tokens for Apple's push service; the config names no host, and
  `environment` is only production or sandbox.
Not here, because the config picks where the credentials go: postgresql and aws-redshift (`host`, postgres.py),
databricks (`server_hostname`, a TCP check), gitlab (`hostname`, gitlab.py), s3-compatible (`endpoint_url`),
azure-blob (the connection string's endpoints, azure_blob.py), snowflake (`account`, the host's first label); email
takes no credential, so a value put there would be shown as a sender name.
"""

PATH = "/api/projects/{project_id}/integrations/"
ITEM = "/api/projects/{project_id}/integrations/{id}/"


class ListArguments(ProjectArguments):
    kind: str | None = Field(None, min_length=1, description="Only this kind, e.g. slack.")
    limit: Limit = None
    offset: Skip = None


class ItemArguments(ProjectArguments):
    id: Id


class CreateArguments(ProjectArguments):
    kind: str = Field(min_length=1, description="e.g. anthropic, twilio, databricks, snowflake, postgresql, email.")
    config: dict[str, Any] = Field(
        description="Credentials, e.g. anthropic {api_key}, twilio {account_sid, auth_token}, databricks "
        '{server_hostname, client_id, client_secret}. Any value may be {"$env": "NAME"}: the server reads NAME from '
        "its environment, keeping the secret out of the chat."
    )


class AnthropicListArguments(ItemArguments):
    limit: Limit = None
    after: str | None = Field(None, min_length=1)
    force_refresh: bool | None = Field(None, description="Skip PostHog's 5-minute cache.")


def refuse_browser_flows(arguments: CreateArguments, target: Target) -> str | None:
    """Refuse the kinds that only a person in a browser can connect, before PostHog fails on them."""
    project = target.project_id if target.project_id != CURRENT else "<project id>"
    where = f"Ask the user to connect it in PostHog: {target.host}/project/{project}/settings/integrations"
    kind = arguments.kind
    if kind in FILE_UPLOAD_KINDS:
        return f"'{kind}' needs a service-account key file uploaded, and this server sends no files. {where}."
    if kind in OAUTH_KINDS and "code" not in arguments.config:
        return (
            f"'{kind}' is connected through a browser sign-in (OAuth) that an assistant cannot complete. {where}. "
            "(A config carrying the code from PostHog's OAuth callback is sent as is.)"
        )
    if kind == "github" and "installation_id" not in arguments.config:
        return (
            f"'github' is connected by installing PostHog's GitHub App in a browser. {where}. "
            "(A config carrying the installation_id from that install is sent as is.)"
        )
    return None


def anthropic_list(items: str, noun: str, action: str) -> ToolSpec[AnthropicListArguments]:
    return ToolSpec(
        name=f"integrations-anthropic-{items}-list",
        toolset="anthropic",
        title=f"List Anthropic {noun}",
        description=f"List the {noun} of an Anthropic integration.",
        method="GET",
        path=ITEM + action + "/",
        scope="integration:read",
        arguments=AnthropicListArguments,
        result=CursorPage(items=items, item=fields(id=STRING)),
    )


SPECS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="integrations-list",
        toolset="integrations",
        title="List integrations",
        description="List the project's integrations, 100 a page, to find one.",
        method="GET",
        path=PATH,
        scope="integration:read",
        arguments=ListArguments,
        result=OffsetPage(item=fields(id=INTEGER), leave_out=("config",)),
    ),
    ToolSpec(
        name="integrations-get",
        toolset="integrations",
        title="Get an integration",
        description="Get one project integration in full; secrets in config are redacted.",
        method="GET",
        path=ITEM,
        scope="integration:read",
        arguments=ItemArguments,
        result=Record(),
    ),
    ToolSpec(
        name="integrations-create",
        toolset="integrations",
        title="Create an integration",
        description="Connect a credential integration to the project; PostHog checks the credentials and "
        "overwrites one of the same kind and account. OAuth and file-upload kinds are refused: the user connects "
        "those in PostHog.",
        method="POST",
        path=PATH,
        scope="integration:write",
        arguments=CreateArguments,
        result=Record(),
        refuse=refuse_browser_flows,
    ),
    ToolSpec(
        name="integrations-delete",
        toolset="integrations",
        title="Delete an integration",
        description="Delete a project integration. PostHog revokes its tokens at the provider: this cannot be undone, "
        "and whatever uses it stops working.",
        loss="PostHog revokes its tokens at the provider, so this cannot be undone, and whatever uses it (alerts, "
        "destinations, workflows) stops working.",
        method="DELETE",
        path=ITEM,
        scope="integration:write",
        arguments=ItemArguments,
        result=Deleted(id_schema={"type": "integer"}),
    ),
    anthropic_list("agents", "managed agents", "anthropic_managed_agents"),
    anthropic_list("environments", "managed-agent environments", "anthropic_managed_agent_environments"),
    anthropic_list("vaults", "managed-agent vaults", "anthropic_managed_agent_vaults"),
)
