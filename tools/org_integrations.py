"""Organization integrations: /api/organizations/{organization_id}/integrations/ (today only Vercel)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from tools.arguments import Id, OrganizationArguments
from tools.results import Deleted, Record
from tools.spec import ToolSpec

ITEM = "/api/organizations/{organization_id}/integrations/{id}/"


class ItemArguments(OrganizationArguments):
    id: UUID = Field(description="The organization integration's id (UUID).")


class EnvironmentMappingArguments(ItemArguments):
    production: Id = Field(description="Project id that receives the production environment.")
    preview: Id | None = Field(None, description="Project id for preview (default: production's).")
    development: Id | None = Field(None, description="Project id for development (default: production's).")


SPECS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="org-integrations-delete",
        toolset="org-integrations",
        title="Delete an organization integration",
        description="Disconnect an organization integration (Vercel). This uninstalls the Vercel marketplace "
        "installation and deletes every project-level Vercel integration of the organization; it cannot be undone. "
        "Refused while invoices are unpaid. Needs organization_integration:write and organization admin. "
        "Returns {deleted, id}.",
        loss="This uninstalls the Vercel marketplace installation and deletes every project-level Vercel "
        "integration of the organization; it cannot be undone.",
        method="DELETE",
        path=ITEM,
        scope="organization_integration:write",
        arguments=ItemArguments,
        result=Deleted(id_schema={"type": "string"}),
    ),
    ToolSpec(
        name="org-integrations-environment-mapping-update",
        toolset="org-integrations",
        title="Map Vercel environments to projects",
        description="Set which PostHog project each Vercel environment of an organization integration sends to "
        "(projects of this organization). Needs organization_integration:write; PostHog may refuse personal API "
        "keys for this action, and then the user changes it in PostHog's web app. Returns the updated organization "
        "integration.",
        method="PATCH",
        path=ITEM + "environment-mapping/",
        scope="organization_integration:write",
        arguments=EnvironmentMappingArguments,
        result=Record(),
    ),
)
