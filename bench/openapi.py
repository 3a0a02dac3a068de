"""An OpenAPI 3 description of the 13 endpoints, as PostHog's public reference page describes them.

Written by hand from ../shared/reference/posthog-integrations-api.txt: the same paths, methods, path and query
parameters, request bodies and response shapes, nothing more (no per-choice enum prose, no filters the page does
not list), so that the generic peer gets what PostHog publishes. One exception: the page lists no body for the
environment mapping; the body PostHog's backend reads (production, preview, development) is given so the tool works.
operationIds are our tool names, so FastMCP.from_openapi names its tools as we do.

Imported by the benchmark (bench.openapi) and by bench/peer_server.py (as `openapi`, from its own folder); it
imports nothing but the standard library.
"""

from __future__ import annotations

from typing import Any

KINDS = [
    "anthropic", "apns", "azure-blob", "bing-ads", "clickup", "customerio-app", "customerio-track",
    "customerio-webhook", "databricks", "email", "firebase", "github", "gitlab", "google-ads",
    "google-cloud-service-account", "google-cloud-storage", "google-pubsub", "google-sheets", "hubspot", "intercom",
    "jira", "linear", "linkedin-ads", "meta-ads", "pinterest-ads", "postgresql", "reddit-ads", "salesforce", "slack",
    "slack-posthog-code", "snapchat", "stripe", "tiktok-ads", "twilio", "vercel",
]  # fmt: skip
"""The kinds the reference page lists for the list filter."""

ORG_INTEGRATION_DOC = (
    "ViewSet for organization-level integrations.\n\nProvides access to integrations that are scoped to the entire "
    "organization (vs. project-level integrations). Examples include Vercel, AWS Marketplace, etc.\n\nCreation is "
    "handled by the integration installation flows (e.g., Vercel marketplace installation). Users can disconnect "
    "integrations via the DELETE endpoint."
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def path_param(name: str, schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        param["description"] = description
    return param


def query_param(name: str, schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


PROJECT_ID = path_param(
    "project_id",
    {"type": "string"},
    "Project ID of the project you're trying to access. To find the ID of the project, make a call to /api/projects/.",
)
ORGANIZATION_ID = path_param("organization_id", {"type": "string", "format": "uuid"})
INTEGRATION_ID = path_param("id", {"type": "integer"}, "A unique integer value identifying this integration.")
LIMIT = query_param("limit", {"type": "integer"}, "Number of results to return per page.")
OFFSET = query_param("offset", {"type": "integer"}, "The initial index from which to return the results.")


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def answer(status: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {status: {"description": "No response body"}}
    return {status: {"description": "", "content": {"application/json": {"schema": schema}}}}


def operation(
    operation_id: str,
    summary: str,
    parameters: list[dict[str, Any]],
    responses: dict[str, Any],
    *,
    scope: str | None = None,
    description: str | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "parameters": parameters}
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = body
    op["responses"] = responses
    if scope:
        op["x-required-scopes"] = [scope]
    return op


def anthropic_action(operation_id: str, summary: str) -> dict[str, Any]:
    return {
        "get": operation(operation_id, summary, [PROJECT_ID, INTEGRATION_ID], answer("200"), scope="integration:read")
    }


USER_BASIC: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "uuid": {"type": "string", "format": "uuid", "readOnly": True},
        "distinct_id": {"type": "string", "nullable": True, "maxLength": 200},
        "first_name": {"type": "string", "maxLength": 150},
        "last_name": {"type": "string", "maxLength": 150},
        "email": {"type": "string", "format": "email", "title": "Email address", "maxLength": 254},
        "is_email_verified": {"type": "boolean", "nullable": True},
        "hedgehog_config": {"type": "object", "additionalProperties": {}, "nullable": True, "readOnly": True},
        "role_at_organization": {"type": "string", "nullable": True},
    },
    "required": ["email", "hedgehog_config", "id", "uuid"],
}
INTEGRATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "kind": {"type": "string", "enum": KINDS},
        "config": {"nullable": True},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "created_by": {"allOf": [ref("UserBasic")], "readOnly": True},
        "errors": {"type": "string", "readOnly": True},
        "display_name": {"type": "string", "readOnly": True},
    },
    "required": ["created_at", "created_by", "display_name", "errors", "id", "kind"],
}
ROLE_EXTERNAL_REFERENCE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "provider": {"type": "string", "maxLength": 32},
        "provider_organization_id": {"type": "string", "maxLength": 255},
        "provider_role_id": {"type": "string", "maxLength": 255},
        "provider_role_slug": {"type": "string", "nullable": True, "maxLength": 255},
        "provider_role_name": {"type": "string", "maxLength": 255},
        "role": {"type": "string", "format": "uuid"},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "created_by": {"allOf": [ref("UserBasic")], "readOnly": True},
    },
    "required": [
        "created_at", "created_by", "id", "provider", "provider_organization_id", "provider_role_id",
        "provider_role_name", "role",
    ],
}  # fmt: skip
ORGANIZATION_INTEGRATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "kind": {"type": "string", "enum": ["vercel"], "readOnly": True},
        "integration_id": {"type": "string", "nullable": True, "readOnly": True},
        "config": {"readOnly": True},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
        "created_by": {"allOf": [ref("UserBasic")], "readOnly": True},
    },
    "required": ["config", "created_at", "created_by", "id", "integration_id", "kind", "updated_at"],
}


def paginated(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer", "example": 123},
            "next": {"type": "string", "nullable": True, "format": "uri"},
            "previous": {"type": "string", "nullable": True, "format": "uri"},
            "results": {"type": "array", "items": ref(item)},
        },
    }


INTEGRATIONS = "/api/projects/{project_id}/integrations/"
INTEGRATION_ITEM = INTEGRATIONS + "{id}/"
ORG_INTEGRATION_ITEM = "/api/organizations/{organization_id}/integrations/{id}/"
REFERENCES = "/api/organizations/{organization_id}/role_external_references/"
ORG_INTEGRATION_ID = path_param(
    "id", {"type": "string", "format": "uuid"}, "A UUID string identifying this organization integration."
)
REFERENCE_ID = path_param(
    "id", {"type": "string", "format": "uuid"}, "A UUID string identifying this role external reference."
)

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "PostHog integrations API", "version": "1.0.0"},
    "servers": [{"url": "https://us.posthog.com"}],
    "security": [{"PersonalAPIKeyAuth": []}],
    "paths": {
        INTEGRATIONS: {
            "get": operation(
                "integrations-list",
                "List all integrations",
                [PROJECT_ID, query_param("kind", {"type": "string", "enum": KINDS}), LIMIT, OFFSET],
                answer("200", ref("PaginatedIntegrationList")),
                scope="integration:read",
            ),
            "post": operation(
                "integrations-create",
                "Create integrations",
                [PROJECT_ID],
                answer("201", ref("Integration")),
                scope="integration:write",
                body=json_body(
                    {
                        "type": "object",
                        "properties": {"kind": {"type": "string", "enum": KINDS}, "config": {}},
                        "required": ["kind"],
                    }
                ),
            ),
        },
        INTEGRATION_ITEM: {
            "get": operation(
                "integrations-get",
                "Retrieve integrations",
                [PROJECT_ID, INTEGRATION_ID],
                answer("200", ref("Integration")),
                scope="integration:read",
            ),
            "delete": operation(
                "integrations-delete",
                "Delete integrations",
                [PROJECT_ID, INTEGRATION_ID],
                answer("204"),
                scope="integration:write",
            ),
        },
        INTEGRATION_ITEM + "anthropic_managed_agents/": anthropic_action(
            "integrations-anthropic-agents-list", "Retrieve integrations anthropic managed agents"
        ),
        INTEGRATION_ITEM + "anthropic_managed_agent_environments/": anthropic_action(
            "integrations-anthropic-environments-list", "Retrieve integrations anthropic managed agent envs"
        ),
        INTEGRATION_ITEM + "anthropic_managed_agent_vaults/": anthropic_action(
            "integrations-anthropic-vaults-list", "Retrieve integrations anthropic managed agent vaults"
        ),
        ORG_INTEGRATION_ITEM: {
            "delete": operation(
                "org-integrations-delete",
                "Delete org organization integrations",
                [ORGANIZATION_ID, ORG_INTEGRATION_ID],
                answer("204"),
                scope="organization_integration:write",
                description=ORG_INTEGRATION_DOC,
            ),
        },
        ORG_INTEGRATION_ITEM + "environment-mapping/": {
            "patch": operation(
                "org-integrations-environment-mapping-update",
                "Update integrations environment mapping",
                [ORGANIZATION_ID, ORG_INTEGRATION_ID],
                answer("200", ref("OrganizationIntegration")),
                description=ORG_INTEGRATION_DOC,
                body=json_body(
                    {
                        "type": "object",
                        "properties": {
                            "production": {"type": "integer"},
                            "preview": {"type": "integer"},
                            "development": {"type": "integer"},
                        },
                        "required": ["production"],
                    }
                ),
            ),
        },
        REFERENCES: {
            "get": operation(
                "role-external-references-list",
                "List all role external references",
                [ORGANIZATION_ID, LIMIT, OFFSET],
                answer("200", ref("PaginatedRoleExternalReferenceList")),
                scope="organization:read",
            ),
            "post": operation(
                "role-external-references-create",
                "Create role external references",
                [ORGANIZATION_ID],
                answer("201", ref("RoleExternalReference")),
                scope="organization:write",
                body=json_body(
                    {
                        "type": "object",
                        "properties": {
                            name: schema
                            for name, schema in ROLE_EXTERNAL_REFERENCE["properties"].items()
                            if not schema.get("readOnly")
                        },
                        "required": [
                            "provider",
                            "provider_organization_id",
                            "provider_role_id",
                            "provider_role_name",
                            "role",
                        ],
                    }
                ),
            ),
        },
        REFERENCES + "{id}/": {
            "delete": operation(
                "role-external-references-delete",
                "Delete role external references",
                [ORGANIZATION_ID, REFERENCE_ID],
                answer("204"),
                scope="organization:write",
            ),
        },
        REFERENCES + "lookup/": {
            "get": operation(
                "role-external-references-lookup",
                "Retrieve role external references lookup",
                [
                    ORGANIZATION_ID,
                    *(
                        query_param(name, {"type": "string"})
                        for name in ("provider", "provider_organization_id", "provider_role_id", "provider_role_slug")
                    ),
                ],
                answer(
                    "200",
                    {
                        "type": "object",
                        "properties": {"reference": {"allOf": [ref("RoleExternalReference")], "nullable": True}},
                    },
                ),
            ),
        },
    },
    "components": {
        "schemas": {
            "UserBasic": USER_BASIC,
            "Integration": INTEGRATION,
            "PaginatedIntegrationList": paginated("Integration"),
            "RoleExternalReference": ROLE_EXTERNAL_REFERENCE,
            "PaginatedRoleExternalReferenceList": paginated("RoleExternalReference"),
            "OrganizationIntegration": ORGANIZATION_INTEGRATION,
        },
        "securitySchemes": {"PersonalAPIKeyAuth": {"type": "http", "scheme": "bearer"}},
    },
}
