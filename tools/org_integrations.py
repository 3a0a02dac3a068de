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
    id: UUID


class EnvironmentMappingArguments(ItemArguments):
    production: Id = Field(description="A project id.")
    preview: Id | None = Field(None, description="A project id; default: production's.")
    development: Id | None = Field(None, description="A project id; default: production's.")


SPECS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="org-integrations-delete",
        toolset="org-integrations",
        title="Delete an organization integration",
        description="Delete the organization's Vercel integration: uninstalls it and deletes every project-level "
        "Vercel integration; it cannot be undone (refused while invoices are unpaid).",
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
        description="Set which project of this organization each Vercel environment sends to; returns the "
        "integration. PostHog may refuse personal API keys here: then the user does it in PostHog.",
        method="PATCH",
        path=ITEM + "environment-mapping/",
        scope="organization_integration:write",
        arguments=EnvironmentMappingArguments,
        result=Record(),
    ),
)
