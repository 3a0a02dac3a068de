"""Project integrations: /api/projects/{project_id}/integrations/."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tools.arguments import Id, Limit, ProjectArguments, Skip
from tools.results import CursorPage, Deleted, OffsetPage, Record
from tools.spec import CURRENT, Target, ToolSpec

ListedKind = Literal[
    "anthropic", "apns", "azure-blob", "bing-ads", "clickup", "customerio-app", "customerio-track",
    "customerio-webhook", "databricks", "email", "firebase", "github", "gitlab", "google-ads",
    "google-cloud-service-account", "google-cloud-storage", "google-pubsub", "google-sheets", "hubspot", "intercom",
    "jira", "linear", "linkedin-ads", "meta-ads", "pinterest-ads", "postgresql", "reddit-ads", "salesforce", "slack",
    "slack-posthog-code", "snapchat", "stripe", "tiktok-ads", "twilio", "vercel",
]  # fmt: skip
"""The kinds of PostHog's reference page."""

Kind = Literal[
    ListedKind, "aws-redshift", "aws-s3", "google-analytics", "google-calendar", "google-search-console",
    "instagram", "pardot", "posthog", "resend", "s3-compatible", "snowflake", "youtube-analytics",
]  # fmt: skip
"""The reference page's kinds and those the backend also creates (api-behaviour.md)."""

OAUTH_KINDS = frozenset({
    "slack", "posthog", "salesforce", "hubspot", "google-ads", "google-analytics", "google-calendar",
    "google-search-console", "google-sheets", "snapchat", "linkedin-ads", "reddit-ads", "tiktok-ads", "bing-ads",
    "meta-ads", "instagram", "intercom", "linear", "clickup", "jira", "pardot", "pinterest-ads", "stripe", "resend",
    "youtube-analytics",
})  # fmt: skip
"""Kinds connected through a browser OAuth flow; the backend needs the flow's `code`."""

FILE_UPLOAD_KINDS = frozenset({"google-pubsub", "google-cloud-storage"})
"""Kinds that want a service-account JSON file uploaded (multipart), which this server never sends."""

PATH = "/api/projects/{project_id}/integrations/"
ITEM = "/api/projects/{project_id}/integrations/{id}/"

ROW = {"type": "object"}


class ListArguments(ProjectArguments):
    kind: str | None = Field(None, min_length=1, description="Only this kind, e.g. slack.")
    limit: Limit = None
    offset: Skip = None


class ItemArguments(ProjectArguments):
    id: Id = Field(description="Integration id (integrations-list).")


class CreateArguments(ProjectArguments):
    kind: Kind = Field(description="The kind of integration.")
    config: dict[str, Any] = Field(
        description="Credentials, e.g. anthropic {api_key}, twilio {account_sid, auth_token}, databricks "
        "{server_hostname, client_id, client_secret}, azure-blob {connection_string}. Any value may be "
        '{"$env": "NAME"}: the server reads NAME from its environment, keeping the secret out of the chat.'
    )


class AnthropicListArguments(ItemArguments):
    limit: Limit = None
    after: str | None = Field(None, min_length=1, description="next_cursor of the previous page.")
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
        description=f"List the {noun} of an Anthropic integration. While has_more, call again with "
        "after=next_cursor. Needs integration:read.",
        method="GET",
        path=ITEM + action + "/",
        scope="integration:read",
        arguments=AnthropicListArguments,
        result=CursorPage(items=items, item=ROW),
    )


SPECS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="integrations-list",
        toolset="integrations",
        title="List integrations",
        description="List the project's integrations, 100 a page, to find one. Rows leave out config and empty "
        "fields, and give created_by as {id, email}: integrations-get returns the full record. Needs "
        "integration:read.",
        method="GET",
        path=PATH,
        scope="integration:read",
        arguments=ListArguments,
        result=OffsetPage(item=ROW, leave_out=("config",)),
    ),
    ToolSpec(
        name="integrations-get",
        toolset="integrations",
        title="Get an integration",
        description="Get one project integration in full; secrets in config are redacted. Needs integration:read.",
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
        description="Connect a credential integration (anthropic, twilio, databricks, postgresql, …) to the project; "
        "PostHog checks the credentials and overwrites an existing kind and account. OAuth and file-upload kinds are "
        "refused: the user connects those in PostHog. Returns the new integration. Needs integration:write.",
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
        "and whatever uses it stops working. Needs integration:write.",
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
