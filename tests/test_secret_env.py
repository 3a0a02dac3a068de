"""`{"$env": NAME}`: a credential goes from the server's environment to PostHog without passing the model, and only
into the kinds the operator allowed it for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.options import Options, parse_options
from tests.conftest import connected
from tests.fake_posthog import FULL_KEY, FakePostHog

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
SECRET = "sk-ant-api03-from-the-environment"
ALLOWED = Options(scope_check=False, secret_env={"ANTHROPIC_KEY": None, "POSTHOG_PERSONAL_API_KEY": None})
FIXED_HOST_KINDS = "anthropic, apns, aws-s3, firebase, google-cloud-service-account, twilio"
REFUSED_IN = "Ask the user to allow"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_KEY", SECRET)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", FULL_KEY)
    monkeypatch.setenv("UNLISTED_KEY", "not-for-you")
    monkeypatch.delenv("UNSET_KEY", raising=False)


def everything(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"))


def text(result: Any) -> str:
    return str(result.content[0].model_dump()["text"])


# Where a secret may go

SECRET_ENV = {"$env": "ANTHROPIC_KEY"}
# kind -> a config with the secret where that kind's credential goes, and the config PostHog must receive
CONFIGS: dict[str, dict[str, Any]] = {
    "anthropic": {"api_key": SECRET_ENV, "workspace_label": "Ops"},
    "twilio": {"account_sid": "AC1", "auth_token": SECRET_ENV},
    "aws-s3": {"name": "exports", "aws_access_key_id": "AKIA1", "aws_secret_access_key": SECRET_ENV},
    "apns": {"signing_key": SECRET_ENV, "key_id": "K1", "team_id_apple": "T1", "bundle_id": "com.example.app"},
    "google-cloud-service-account": {
        "service_account_email": "sa@p.iam.gserviceaccount.com",
        "project_id": "p",
        "private_key": SECRET_ENV,
        "private_key_id": "k1",
        "token_uri": "https://oauth2.googleapis.com/token",
    },
    "firebase": {"key_info": {"project_id": "p", "private_key": SECRET_ENV, "client_email": "fb@p.example"}},
    "postgresql": {"host": "db.attacker.example", "port": 5432, "user": "u", "password": SECRET_ENV},
    "aws-redshift": {"host": "attacker.example", "port": 5439, "user": "u", "password": SECRET_ENV},
    "databricks": {"server_hostname": "attacker.example", "client_id": "c", "client_secret": SECRET_ENV},
    "gitlab": {"hostname": "https://gitlab.attacker.example", "project_id": 1, "project_access_token": SECRET_ENV},
    "snowflake": {"name": "w", "account": "attacker-account", "user": "u", "password": SECRET_ENV},
    "s3-compatible": {
        "name": "r2",
        "endpoint_url": "https://attacker.example",
        "aws_access_key_id": "a",
        "aws_secret_access_key": SECRET_ENV,
    },
    "azure-blob": {"connection_string": SECRET_ENV},
    "email": {"email": "ops@example.com", "name": SECRET_ENV, "provider": "ses"},
}


def case_id(value: object) -> str | None:
    """Test ids: the allowed kinds ("bare" when none are named) and the kind used."""
    if value is None:
        return "bare"
    if isinstance(value, frozenset):
        return "|".join(sorted(value))
    return value if isinstance(value, str) and value in CONFIGS else None


def received(config: Any) -> Any:
    """`config` as PostHog must receive it: every reference replaced by the secret."""
    if config == SECRET_ENV:
        return SECRET
    if isinstance(config, dict):
        return {key: received(value) for key, value in config.items()}
    return config


@pytest.mark.parametrize(
    ("allowed", "kind"),
    [
        *((None, kind) for kind in FIXED_HOST_KINDS.split(", ")),
        (frozenset({"anthropic"}), "anthropic"),
        (frozenset({"postgresql", "databricks"}), "postgresql"),
        (frozenset({"postgresql", "databricks"}), "databricks"),
        (frozenset({"gitlab"}), "gitlab"),
        (frozenset({"s3-compatible", "twilio"}), "twilio"),
    ],
    ids=case_id,
)
async def test_a_variable_fills_the_kinds_it_is_allowed_for_and_never_comes_back(
    fake: FakePostHog, mode: str, allowed: frozenset[str] | None, kind: str
) -> None:
    options = Options(scope_check=False, secret_env={"ANTHROPIC_KEY": allowed})
    async with connected(fake, mode=mode, options=options) as client:
        result = await client.call_tool("integrations-create", {"kind": kind, "config": CONFIGS[kind]})
    assert result.is_error is False, text(result)
    assert [request.body for request in fake.requests] == [{"kind": kind, "config": received(CONFIGS[kind])}]
    assert SECRET not in everything(result)


def bare_refusal(kind: str) -> str:
    return (
        f'{{"$env": "ANTHROPIC_KEY"}} is refused for kind \'{kind}\': ANTHROPIC_KEY is listed without kinds, which '
        f"allows it only where PostHog sends the credentials to the provider's own host ({FIXED_HOST_KINDS}); a "
        f"{kind} config chooses the host its credentials go to. Ask the user to allow ANTHROPIC_KEY for {kind} "
        f"(--secret-env ANTHROPIC_KEY={kind}) if they trust that host, or to give the value directly. "
        "Nothing was sent to PostHog."
    )


@pytest.mark.parametrize(
    ("allowed", "kind", "message"),
    [
        *(
            (None, kind, bare_refusal(kind))
            for kind in (
                "postgresql",
                "aws-redshift",
                "databricks",
                "gitlab",
                "snowflake",
                "s3-compatible",
                "azure-blob",
                "email",
            )
        ),
        (
            frozenset({"postgresql"}),
            "anthropic",
            '{"$env": "ANTHROPIC_KEY"} is refused for kind \'anthropic\': ANTHROPIC_KEY is allowed only for '
            "postgresql. Ask the user to allow ANTHROPIC_KEY for anthropic too (--secret-env "
            "ANTHROPIC_KEY=anthropic|postgresql), or to give the value directly. Nothing was sent to PostHog.",
        ),
        (
            frozenset({"postgresql", "databricks"}),
            "gitlab",
            '{"$env": "ANTHROPIC_KEY"} is refused for kind \'gitlab\': ANTHROPIC_KEY is allowed only for '
            "databricks, postgresql. Ask the user to allow ANTHROPIC_KEY for gitlab too (--secret-env "
            "ANTHROPIC_KEY=databricks|gitlab|postgresql), or to give the value directly. Nothing was sent to PostHog.",
        ),
    ],
    ids=case_id,
)
async def test_a_variable_used_for_a_kind_it_is_not_allowed_for_is_refused_and_nothing_is_sent(
    fake: FakePostHog, mode: str, allowed: frozenset[str] | None, kind: str, message: str
) -> None:
    options = Options(scope_check=False, secret_env={"ANTHROPIC_KEY": allowed})
    async with connected(fake, mode=mode, options=options) as client:
        result = await client.call_tool("integrations-create", {"kind": kind, "config": CONFIGS[kind]})
    assert result.is_error is True
    assert text(result) == message
    assert SECRET not in everything(result)
    assert fake.requests == []


async def test_a_substituted_value_echoed_by_posthog_is_scrubbed_from_the_error(fake: FakePostHog) -> None:
    fake.fail_next(400, json={"detail": f"Anthropic rejected the key {SECRET}", "attr": "api_key"})
    async with connected(fake, options=ALLOWED) as client:
        result = await client.call_tool(
            "integrations-create", {"kind": "anthropic", "config": {"api_key": {"$env": "ANTHROPIC_KEY"}}}
        )
    assert "Anthropic rejected the key [redacted]" in everything(result)
    assert SECRET not in everything(result)


async def test_references_are_replaced_at_any_depth_and_in_lists(fake: FakePostHog) -> None:
    config = {
        "account_sid": "AC1",
        "auth_token": {"$env": "ANTHROPIC_KEY"},
        "extra": [{"deep": {"$env": "ANTHROPIC_KEY"}}],
    }
    async with connected(fake, options=ALLOWED) as client:
        await client.call_tool("integrations-create", {"kind": "twilio", "config": config})
    assert fake.requests[0].body["config"] == {"account_sid": "AC1", "auth_token": SECRET, "extra": [{"deep": SECRET}]}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "UNLISTED_KEY",
            '{"$env": "UNLISTED_KEY"} is refused: UNLISTED_KEY is not among the variables this server may read '
            "(--secret-env or POSTHOG_MCP_SECRET_ENV). Ask the user to allow it, or to give the value directly. "
            "Nothing was sent to PostHog.",
        ),
        (
            "UNSET_KEY",
            '{"$env": "UNSET_KEY"} cannot be used: UNSET_KEY is not set where this server runs. '
            "Nothing was sent to PostHog.",
        ),
        (
            "POSTHOG_PERSONAL_API_KEY",
            '{"$env": "POSTHOG_PERSONAL_API_KEY"} is refused: this server never reads its own API key. '
            "Nothing was sent to PostHog.",
        ),
        (
            "POSTHOG_API_KEY",
            '{"$env": "POSTHOG_API_KEY"} is refused: this server never reads its own API key. '
            "Nothing was sent to PostHog.",
        ),
    ],
    ids=["unlisted", "unset", "the server's own key, even when listed bare", "its alias, even when listed for twilio"],
)
async def test_a_variable_that_may_not_or_cannot_be_read_is_named_and_nothing_is_sent(
    fake: FakePostHog, mode: str, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", FULL_KEY)
    allowed = {**ALLOWED.secret_env, "UNSET_KEY": None, "POSTHOG_API_KEY": frozenset({"twilio"})}
    options = Options(scope_check=False, secret_env=allowed)
    config = {"account_sid": "AC1", "auth_token": {"nested": [{"$env": name}]}}
    async with connected(fake, mode=mode, options=options) as client:
        result = await client.call_tool("integrations-create", {"kind": "twilio", "config": config})
    assert result.is_error is True
    assert text(result) == message
    assert FULL_KEY not in everything(result)
    assert "not-for-you" not in everything(result)
    assert fake.requests == []


async def test_a_substituted_value_echoed_in_a_result_is_scrubbed(fake: FakePostHog) -> None:
    config = {"account_sid": {"$env": "ANTHROPIC_KEY"}, "auth_token": "t"}
    async with connected(fake, options=ALLOWED) as client:
        result = await client.call_tool("integrations-create", {"kind": "twilio", "config": config})
    assert fake.requests[0].body["config"]["account_sid"] == SECRET
    assert result.structured_content is not None
    assert result.structured_content["config"]["account_sid"] == "[redacted]"
    assert SECRET not in everything(result)


# How the operator lists them


@pytest.mark.parametrize(
    ("listed", "allowed"),
    [
        ("", {}),
        ("A", {"A": None}),
        ("A=anthropic", {"A": frozenset({"anthropic"})}),
        ("A=postgresql|databricks", {"A": frozenset({"postgresql", "databricks"})}),
        (" A = postgresql | databricks ,  B ", {"A": frozenset({"postgresql", "databricks"}), "B": None}),
        ("A=Anthropic|TWILIO", {"A": frozenset({"anthropic", "twilio"})}),
        (
            "A=anthropic,B=s3-compatible,C",
            {"A": frozenset({"anthropic"}), "B": frozenset({"s3-compatible"}), "C": None},
        ),
        ("A=twilio|twilio", {"A": frozenset({"twilio"})}),
        ("A,,B,", {"A": None, "B": None}),
    ],
)
def test_each_variable_names_the_kinds_it_may_fill(listed: str, allowed: dict[str, frozenset[str] | None]) -> None:
    assert parse_options(["--secret-env", listed], {}).secret_env == allowed
    assert parse_options([], {"POSTHOG_MCP_SECRET_ENV": listed}).secret_env == allowed


KINDS_ARE = "; the kinds are: anthropic, apns, azure-blob, "


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("A=myspace", "unknown kind myspace for A" + KINDS_ARE),
        ("A=anthropic|myspace|orkut", "unknown kinds myspace, orkut for A" + KINDS_ARE),
        ("A=postgres", "unknown kind postgres for A" + KINDS_ARE),
        ("A,A=postgresql", "A is listed twice: list it once, with all its kinds (A=kind|kind)"),
        ("A=anthropic,A=twilio", "A is listed twice: list it once, with all its kinds (A=kind|kind)"),
        ("A=", "A= names no kind: write A=kind|kind, or A alone for the kinds whose credentials go to the provider's"),
        ("A=anthropic||twilio", "A=anthropic||twilio names an empty kind: write A=kind|kind"),
        ("=anthropic", "'=anthropic' names no variable: write NAME or NAME=kind|kind"),
    ],
)
def test_a_bad_entry_stops_start_up_naming_the_entry(
    listed: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, environ in ((["--secret-env", listed], {}), ([], {"POSTHOG_MCP_SECRET_ENV": listed})):
        with pytest.raises(SystemExit) as stopped:
            parse_options(argv, environ)
        assert stopped.value.code == 2
        assert f"error: --secret-env (POSTHOG_MCP_SECRET_ENV): {message}" in capsys.readouterr().err


def test_the_installed_script_refuses_a_bad_entry_before_serving() -> None:
    done = subprocess.run(
        [SCRIPT, "--secret-env", "WAREHOUSE_PASSWORD=postgres"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert "unknown kind postgres for WAREHOUSE_PASSWORD; the kinds are: anthropic, " in done.stderr


def test_help_says_how_to_name_kinds() -> None:
    wide = {**os.environ, "COLUMNS": "1000"}  # argparse wraps at hyphens too
    shown = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=True, env=wide).stdout
    assert "NAME=kind|kind allows NAME only in those kinds (kind names in any case);" in shown
    assert (
        f"a bare NAME only in kinds whose credentials PostHog sends to the provider's own host: {FIXED_HOST_KINDS}"
        in (shown)
    )
