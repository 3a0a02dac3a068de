"""Project integrations: /api/projects/{project_id}/integrations/."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tools.arguments import Id, Limit, ProjectArguments, Skip
from tools.results import NULLABLE_STRING, CursorPage, Deleted, OffsetPage, Record
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

INTEGRATION = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "display_name": NULLABLE_STRING},
}


class ListArguments(ProjectArguments):
    kind: ListedKind | None = Field(None, description="Only integrations of this kind.")
    limit: Limit = None
    offset: Skip = None


class ItemArguments(ProjectArguments):
    id: Id = Field(description="The integration's id (from integrations-list).")


class CreateArguments(ProjectArguments):
    kind: Kind = Field(description="The kind of integration.")
    config: dict[str, Any] = Field(
        description="The kind's credentials and settings, e.g. anthropic {api_key, workspace_label?}; twilio "
        "{account_sid, auth_token}; databricks {server_hostname, client_id, client_secret}; azure-blob "
        "{connection_string}; gitlab {hostname, project_id, project_access_token}; email {email, name, provider}. "
        'Any value may be {"$env": "NAME"}: the server fills in environment variable NAME.'
    )


class AnthropicListArguments(ItemArguments):
    limit: Limit = None
    after: str | None = Field(None, min_length=1, description="Cursor: next_cursor of the previous page.")
    force_refresh: bool | None = Field(None, description="Bypass PostHog's 5-minute cache of the first page.")


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


def anthropic_list(items: str, noun: str, action: str, item: dict[str, Any]) -> ToolSpec[AnthropicListArguments]:
    return ToolSpec(
        name=f"integrations-anthropic-{items}-list",
        toolset="anthropic",
        title=f"List Anthropic {noun}",
        description=f"List the {noun} of an Anthropic integration of the project (id: an integration of kind "
        "anthropic). Pages by cursor: while has_more, call again with after=next_cursor. Needs integration:read. "
        f"Returns {{next_cursor, has_more, {items}}}.",
        method="GET",
        path=ITEM + action + "/",
        scope="integration:read",
        arguments=AnthropicListArguments,
        result=CursorPage(items=items, item=item),
    )


def _item(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"id": {"type": "string"}, **properties}}


SPECS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="integrations-list",
        toolset="integrations",
        title="List integrations",
        description="List the project's integrations (Slack, GitHub, Anthropic, Twilio, …), optionally of one "
        "kind, 100 a page. Use it to find an integration's id. Needs integration:read. Returns {count, next, "
        "previous, results, next_offset}; each row as integrations-get returns it.",
        method="GET",
        path=PATH,
        scope="integration:read",
        arguments=ListArguments,
        result=OffsetPage(item=INTEGRATION),
    ),
    ToolSpec(
        name="integrations-get",
        toolset="integrations",
        title="Get an integration",
        description="Get one project integration by id: kind, display_name, config, errors, created_at, "
        "created_by. Needs integration:read.",
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
        description="Connect a credential-based integration (anthropic, twilio, databricks, snowflake, "
        "azure-blob, aws-s3, postgresql, gitlab, email, …) to the project; PostHog checks the credentials. "
        "Kinds that need a browser (OAuth kinds such as slack or hubspot, github, google-pubsub, "
        "google-cloud-storage) are refused without sending anything: the user connects them in PostHog. "
        "Creating the same kind and account again overwrites it. A credential can stay out of the conversation: "
        'write it as {"$env": "NAME"} and the server reads environment variable NAME, if its operator allows that '
        "variable. Needs integration:write. Returns the new integration.",
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
        description="Disconnect and delete a project integration. PostHog revokes its tokens at the provider, so "
        "this cannot be undone and whatever uses it stops working; PostHog refuses while active workflows use it. "
        "Needs integration:write. Returns {deleted, id}.",
        loss="PostHog revokes its tokens at the provider, so this cannot be undone, and whatever uses it (alerts, "
        "destinations, workflows) stops working.",
        method="DELETE",
        path=ITEM,
        scope="integration:write",
        arguments=ItemArguments,
        result=Deleted(id_schema={"type": "integer"}),
    ),
    anthropic_list(
        "agents",
        "managed agents",
        "anthropic_managed_agents",
        _item(name=NULLABLE_STRING, version={"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ),
    anthropic_list(
        "environments",
        "managed-agent environments",
        "anthropic_managed_agent_environments",
        _item(name=NULLABLE_STRING),
    ),
    anthropic_list(
        "vaults", "managed-agent vaults", "anthropic_managed_agent_vaults", _item(display_name=NULLABLE_STRING)
    ),
)
