"""26 more integrations for the fake's project 1, which is seeded with 7: a 33-row project, as a busy one looks.

Configs are shaped like PostHog's: OAuth rows keep the provider's account details (a few old ones still hold a
token, as old rows do), credential rows their non-secret settings. Every kind is one of the reference page's enum:
a row of another kind (aws-s3, snowflake, which PostHog also stores) fails the output schema FastMCP derives
from that enum, and the client rejects the peer's whole page.
"""

from __future__ import annotations

from typing import Any

from tests.fake_posthog import PROJECT_ID, FakePostHog

ROWS: list[tuple[str, str, dict[str, Any]]] = [
    ("slack", "Acme Support", {
        "team": {"id": "T09876543", "name": "Acme Support"}, "authed_user": {"id": "U0555"},
        "scopes": ["channels:read", "chat:write", "groups:read"], "bot_user_id": "U0BOT01",
    }),
    ("github", "acme-labs", {
        "installation_id": "51234987", "account": {"type": "Organization", "name": "acme-labs"},
        "repository_selection": "selected", "expires_in": 3600, "refreshed_at": 1740823200,
    }),
    ("hubspot", "acme.example", {
        "hub_domain": "acme.example", "hub_id": 24681357, "user": "ops@acme.example",
        "scopes": ["crm.objects.contacts.read", "crm.objects.contacts.write"], "expires_in": 1800,
    }),
    ("salesforce", "acme.my.salesforce.com", {
        "instance_url": "https://acme.my.salesforce.com", "id": "https://login.salesforce.com/id/00D5g/0055g",
        "token_type": "Bearer", "refresh_token": "5Aep861fake.refresh.token.000000000000000000",
    }),
    ("google-ads", "Acme Ads (123-456-7890)", {
        "customer_id": "1234567890", "login_customer_id": "9876543210", "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/adwords", "refreshed_at": 1740826800,
    }),
    ("linear", "acme", {"url_key": "acme", "name": "Acme", "organization_id": "9c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"}),
    ("jira", "acme.atlassian.net", {
        "cloud_id": "4d5e6f70-8192-a3b4-c5d6-e7f8091a2b3c", "site_url": "https://acme.atlassian.net",
        "scopes": ["read:jira-work", "write:jira-work"], "expires_in": 3600,
    }),
    ("stripe", "Acme Inc (acct_1Nfake)", {
        "stripe_user_id": "acct_1NfakeAcme000", "livemode": True, "scope": "read_only",
        "stripe_publishable_key": "pk_live_51Nfake00000000000000000000",
    }),
    ("databricks", "dbc-a1b2c3d4-e5f6.cloud.databricks.com", {
        "server_hostname": "dbc-a1b2c3d4-e5f6.cloud.databricks.com",
        "client_id": "8f3b2a1c-0d9e-4f7a-b6c5-d4e3f2a1b0c9",
    }),
    ("tiktok-ads", "Acme TikTok", {
        "advertiser_id": "7012345678901234567", "advertiser_name": "Acme", "expires_in": 86400,
        "refresh_token_expires_in": 31536000,
    }),
    ("postgresql", "db.acme.internal", {
        "host": "db.acme.internal", "port": 5432, "database": "warehouse", "user": "posthog", "schema": "public",
    }),
    ("google-cloud-service-account", "posthog-export@acme-prod.iam.gserviceaccount.com", {
        "service_account_email": "posthog-export@acme-prod.iam.gserviceaccount.com", "project_id": "acme-prod",
    }),
    ("azure-blob", "acmeexports", {"account_name": "acmeexports", "container": "posthog"}),
    ("twilio", "AC00000000000000000000000000000042", {"account_sid": "AC00000000000000000000000000000042"}),
    ("email", "billing@acme.example", {
        "email": "billing@acme.example", "name": "Acme Billing", "domain": "acme.example", "verified": True,
    }),
    ("anthropic", "Research", {"workspace_label": "Research"}),
    ("gitlab", "gitlab.acme.example", {
        "hostname": "gitlab.acme.example", "project_id": "4821", "project_path": "platform/web",
    }),
    ("linkedin-ads", "Acme Marketing", {
        "account_id": "508123456", "account_name": "Acme Marketing", "expires_in": 5183999,
        "refresh_token_expires_in": 31536059, "scope": "r_ads,r_ads_reporting",
    }),
    ("meta-ads", "Acme (act_1234567890)", {
        "ad_account_id": "act_1234567890", "business_id": "112233445566", "expires_in": 5183944,
    }),
    ("intercom", "Acme Help", {"app_id": "abc123de", "region": "US", "admin_email": "help@acme.example"}),
    ("clickup", "Acme Workspace", {"team_id": "9012345678", "team_name": "Acme Workspace"}),
    ("bing-ads", "Acme Bing", {"customer_id": "251234567", "account_id": "180123456", "expires_in": 3599}),
    ("reddit-ads", "acme_official", {"account_id": "t2_fake1234", "username": "acme_official", "expires_in": 86399}),
    ("google-sheets", "ops@acme.example", {
        "email": "ops@acme.example", "scope": "https://www.googleapis.com/auth/spreadsheets", "expires_in": 3599,
        "access_token": "ya29.fake-access-token-0000000000000000000000000000",
    }),
    ("pinterest-ads", "Acme Pins", {"ad_account_id": "549755885175", "expires_in": 2592000}),
    ("apns", "com.acme.app", {"bundle_id": "com.acme.app", "team_id": "ABCDE12345", "key_id": "XYZ987WVUT"}),
]  # fmt: skip


def seed_33_rows(fake: FakePostHog) -> int:
    """Add the 26 rows to project 1; returns how many rows project 1 then has (33 on the fake's seed)."""
    for kind, name, config in ROWS:
        fake.add_integration(kind, config, display_name=name)
    return sum(1 for row in fake.integrations.values() if row.project_id == PROJECT_ID)
