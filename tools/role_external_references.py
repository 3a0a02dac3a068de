"""Role external references: /api/organizations/{organization_id}/role_external_references/.

A reference maps a role in an external system (a GitHub team, a Slack channel) to a PostHog role.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self
from uuid import UUID

from pydantic import Field, model_validator

from tools.arguments import Limit, OrganizationArguments, Skip
from tools.results import NULLABLE_STRING, Deleted, Lookup, OffsetPage, Record
from tools.spec import ToolSpec

PATH = "/api/organizations/{organization_id}/role_external_references/"

REFERENCE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "provider": {"type": "string"},
        "provider_organization_id": {"type": "string"},
        "provider_role_id": {"type": "string"},
        "provider_role_slug": NULLABLE_STRING,
        "provider_role_name": {"type": "string"},
        "role": {"type": "string"},
    },
}

PROVIDER = "The external system, e.g. github or slack."
PROVIDER_ORGANIZATION_ID = "The organization in that system, e.g. a GitHub org login or a Slack workspace id."
PROVIDER_ROLE_ID = "The role's id in that system, e.g. a GitHub team id or a Slack channel id."
PROVIDER_ROLE_SLUG = "The role's slug in that system, e.g. frontend-team."


class ListArguments(OrganizationArguments):
    limit: Limit = None
    offset: Skip = None
    provider: str | None = Field(None, min_length=1, description="Only references of this provider.")
    provider_organization_id: str | None = Field(None, min_length=1, description="Only this external organization.")
    role_id: UUID | None = Field(None, description="Only references to this PostHog role.")


class CreateArguments(OrganizationArguments):
    nullable: ClassVar[frozenset[str]] = frozenset({"provider_role_slug"})

    provider: str = Field(min_length=1, max_length=32, description=PROVIDER)
    provider_organization_id: str = Field(min_length=1, max_length=255, description=PROVIDER_ORGANIZATION_ID)
    provider_role_id: str = Field(min_length=1, max_length=255, description=PROVIDER_ROLE_ID)
    provider_role_slug: str | None = Field(None, max_length=255, description=PROVIDER_ROLE_SLUG)
    provider_role_name: str = Field(min_length=1, max_length=255, description="The role's display name there.")
    role: UUID = Field(description="The PostHog role (UUID) of the same organization to map it to.")


class ItemArguments(OrganizationArguments):
    id: UUID = Field(description="The reference's id (UUID), from the list or lookup tool.")


class LookupArguments(OrganizationArguments):
    provider: str = Field(min_length=1, description=PROVIDER)
    provider_organization_id: str = Field(min_length=1, description=PROVIDER_ORGANIZATION_ID)
    provider_role_id: str | None = Field(None, min_length=1, description=PROVIDER_ROLE_ID + " This or the slug.")
    provider_role_slug: str | None = Field(None, min_length=1, description=PROVIDER_ROLE_SLUG + " This or the id.")

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
        description="List the organization's role external references: mappings from a role in an external "
        "system (a GitHub team, a Slack channel) to a PostHog role; filter by provider, external organization or "
        "role. Needs organization:read. Returns {count, next, previous, results, next_offset}.",
        method="GET",
        path=PATH,
        scope="organization:read",
        arguments=ListArguments,
        result=OffsetPage(item=REFERENCE),
    ),
    ToolSpec(
        name="role-external-references-create",
        toolset="role-external-references",
        title="Create a role external reference",
        description="Map an external role to a PostHog role. For a GitHub team: provider=github, "
        "provider_organization_id=posthog, provider_role_id=12345, provider_role_slug=frontend-team, "
        "provider_role_name=Frontend Team. A mapping of the same external role already present is refused. "
        "Needs organization:write and organization admin. Returns the new reference.",
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
        description="Delete a role external reference: the external role stops mapping to its PostHog role. "
        "Needs organization:write and organization admin. Returns {deleted, id}.",
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
        description="Find the reference of one external role by provider, provider_organization_id and "
        "provider_role_id or provider_role_slug (at least one); matching ignores case. Needs organization:read. "
        "Returns {reference}, null when nothing matches.",
        method="GET",
        path=PATH + "lookup/",
        scope="organization:read",
        arguments=LookupArguments,
        result=Lookup(noun="role external reference", item=REFERENCE),
    ),
)
