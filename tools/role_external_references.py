"""Role external references: /api/organizations/{organization_id}/role_external_references/.

A reference maps a role in an external system (a GitHub team, a Slack channel) to a PostHog role.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self
from uuid import UUID

from pydantic import Field, model_validator

from tools.arguments import Limit, OrganizationArguments, Skip
from tools.results import STRING, Deleted, Lookup, OffsetPage, Record, fields
from tools.spec import ToolSpec

PATH = "/api/organizations/{organization_id}/role_external_references/"

PROVIDER = "The external system, e.g. github, slack."
PROVIDER_ORGANIZATION_ID = "e.g. a GitHub org or Slack workspace id."
PROVIDER_ROLE_ID = "e.g. a GitHub team id or Slack channel id."
PROVIDER_ROLE_SLUG = "e.g. frontend-team."


class ListArguments(OrganizationArguments):
    limit: Limit = None
    offset: Skip = None
    provider: str | None = Field(None, min_length=1)
    provider_organization_id: str | None = Field(None, min_length=1)
    role_id: UUID | None = None


class CreateArguments(OrganizationArguments):
    nullable: ClassVar[frozenset[str]] = frozenset({"provider_role_slug"})

    provider: str = Field(min_length=1, max_length=32, description=PROVIDER)
    provider_organization_id: str = Field(min_length=1, max_length=255, description=PROVIDER_ORGANIZATION_ID)
    provider_role_id: str = Field(min_length=1, max_length=255, description=PROVIDER_ROLE_ID)
    provider_role_slug: str | None = Field(None, max_length=255, description=PROVIDER_ROLE_SLUG)
    provider_role_name: str = Field(min_length=1, max_length=255, description="e.g. Frontend Team.")
    role: UUID = Field(description="The PostHog role to map it to.")


class ItemArguments(OrganizationArguments):
    id: UUID


class LookupArguments(OrganizationArguments):
    provider: str = Field(min_length=1, description=PROVIDER)
    provider_organization_id: str = Field(min_length=1, description=PROVIDER_ORGANIZATION_ID)
    provider_role_id: str | None = Field(None, min_length=1, description=PROVIDER_ROLE_ID)
    provider_role_slug: str | None = Field(None, min_length=1, description=PROVIDER_ROLE_SLUG)

    @model_validator(mode="after")
    def _role_named(self) -> Self:
        if self.provider_role_id is None and self.provider_role_slug is None:
            raise ValueError("give provider_role_id or provider_role_slug (or both)")
        return self


SPECS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="role-external-references-list",
        toolset="role-external-references",
        title="List role external references",
        description="List role external references: mappings from an external role (a GitHub team, a Slack channel) "
        "to a PostHog role.",
        method="GET",
        path=PATH,
        scope="organization:read",
        arguments=ListArguments,
        result=OffsetPage(item=fields(id=STRING)),
    ),
    ToolSpec(
        name="role-external-references-create",
        toolset="role-external-references",
        title="Create a role external reference",
        description="Map an external role to a PostHog role; a duplicate is refused. Returns the reference.",
        method="POST",
        path=PATH,
        scope="organization:write",
        arguments=CreateArguments,
        result=Record(),
    ),
    ToolSpec(
        name="role-external-references-delete",
        toolset="role-external-references",
        title="Delete a role external reference",
        description="Delete a role external reference: the external role stops mapping to its PostHog role.",
        loss="The external role stops mapping to its PostHog role.",
        method="DELETE",
        path=PATH + "{id}/",
        scope="organization:write",
        arguments=ItemArguments,
        result=Deleted(id_schema={"type": "string"}),
    ),
    ToolSpec(
        name="role-external-references-lookup",
        toolset="role-external-references",
        title="Look up a role external reference",
        description="Find the reference of one external role, by provider_role_id or provider_role_slug, ignoring "
        "case; reference is null when none matches.",
        method="GET",
        path=PATH + "lookup/",
        scope="organization:read",
        arguments=LookupArguments,
        result=Lookup(noun="role external reference"),
    ),
)
