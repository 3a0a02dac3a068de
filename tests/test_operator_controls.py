"""What the operator decides: read-only mode, tool filters, the key's scopes, and flags against variables."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from starlette.responses import Response

from server import __version__
from server.options import Options, parse_options
from tests.conftest import connected
from tests.fake_posthog import (
    FULL_KEY,
    INTEGRATION_KEY,
    NO_TOOL_KEY,
    PROJECT_SCOPED_KEY,
    READ_ONLY_KEY,
    FakePostHog,
    Recorded,
    running,
)
from tools import TOOLS

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
READS = [spec.name for spec in TOOLS if spec.method == "GET"]
INTEGRATION_TOOLS = [spec.name for spec in TOOLS if spec.toolset in ("integrations", "anthropic")]
KEY_RECORD = ("GET", "/api/personal_api_keys/@current/")


async def listed(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]


def text(result: types.CallToolResult) -> str:
    return str(result.content[0].model_dump()["text"])


# Flags and variables


def test_no_flags_and_no_variables_offer_every_tool() -> None:
    assert parse_options([], {}) == Options()


def test_a_flag_wins_over_its_variable() -> None:
    environ = {"POSTHOG_MCP_READ_ONLY": "0", "POSTHOG_MCP_CONFIRM": "never", "POSTHOG_MCP_TOOLS": "integrations-get"}
    options = parse_options(["--read-only", "--confirm", "always", "--tools", "integrations-list"], environ)
    assert (options.read_only, options.confirm, options.enabled) == (True, "always", frozenset({"integrations-list"}))


def test_variables_alone_configure_everything() -> None:
    environ = {
        "POSTHOG_MCP_READ_ONLY": "true",
        "POSTHOG_MCP_TOOLSETS": "anthropic, org-integrations",
        "POSTHOG_MCP_TOOLS": "integrations-get",
        "POSTHOG_MCP_EXCLUDE_TOOLS": "org-integrations-delete",
        "POSTHOG_MCP_SCOPE_CHECK": "0",
        "POSTHOG_MCP_CONFIRM": "always",
        "POSTHOG_MCP_SECRET_ENV": "ANTHROPIC_KEY,WAREHOUSE_PASSWORD=postgresql",
    }
    assert parse_options([], environ) == Options(
        read_only=True,
        enabled=frozenset(
            {
                "integrations-anthropic-agents-list",
                "integrations-anthropic-environments-list",
                "integrations-anthropic-vaults-list",
                "org-integrations-environment-mapping-update",
                "integrations-get",
            }
        ),
        scope_check=False,
        confirm="always",
        secret_env={"ANTHROPIC_KEY": None, "WAREHOUSE_PASSWORD": frozenset({"postgresql"})},
    )


@pytest.mark.parametrize(
    ("argv", "environ", "words"),
    [
        (["--toolsets", "integrations,billing"], {}, "unknown toolset billing; the toolsets are: integrations, "),
        ([], {"POSTHOG_MCP_TOOLS": "integrations-frobnicate"}, "unknown tool integrations-frobnicate; the tools are"),
        (["--exclude-tools", "x"], {}, "unknown tool x; the tools are: integrations-list, integrations-get"),
        ([], {"POSTHOG_MCP_CONFIRM": "sometimes"}, "POSTHOG_MCP_CONFIRM='sometimes': use one of auto, always, never"),
        ([], {"POSTHOG_MCP_READ_ONLY": "maybe"}, "POSTHOG_MCP_READ_ONLY='maybe': use 1 or 0"),
        ([], {"POSTHOG_MCP_PORT": "²"}, "POSTHOG_MCP_PORT='²': use a port number"),
        (["--port", "\uff18\uff10\uff18\uff10"], {}, "POSTHOG_MCP_PORT='\uff18\uff10\uff18\uff10': use a port number"),
        ([], {"POSTHOG_MCP_PORT": "65536"}, "POSTHOG_MCP_PORT='65536': use a port number"),
    ],
)
def test_unknown_names_stop_start_up_listing_the_valid_ones(
    argv: list[str], environ: dict[str, str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_options(argv, environ)
    assert stopped.value.code == 2
    assert words in capsys.readouterr().err


def test_help_documents_every_flag_with_its_variable_and_version_prints_the_version() -> None:
    shown = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=True).stdout
    for flag, variable in [
        ("--read-only", "POSTHOG_MCP_READ_ONLY"),
        ("--toolsets", "POSTHOG_MCP_TOOLSETS"),
        ("--tools", "POSTHOG_MCP_TOOLS"),
        ("--exclude-tools", "POSTHOG_MCP_EXCLUDE_TOOLS"),
        ("--no-scope-check", "POSTHOG_MCP_SCOPE_CHECK"),
        ("--confirm", "POSTHOG_MCP_CONFIRM"),
        ("--secret-env", "POSTHOG_MCP_SECRET_ENV"),
    ]:
        assert flag in shown
        assert variable in shown.replace("\n", " ").replace("  ", "")
    version = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"posthog-integrations-mcp {__version__}"


# Read-only mode and filters


async def test_read_only_lists_only_reads_and_refuses_writes_without_a_request(fake: FakePostHog, mode: str) -> None:
    options = Options(read_only=True, scope_check=False, enabled=frozenset({"integrations-delete", "integrations-get"}))
    async with connected(fake, mode=mode, options=options) as client:
        assert await listed(client) == ["integrations-get"]
        result = await client.call_tool("integrations-delete", {"id": 104})
    assert result.is_error is True
    assert text(result) == (
        "integrations-delete is not available here: the server runs in read-only mode (--read-only or "
        "POSTHOG_MCP_READ_ONLY). Nothing was sent to PostHog."
    )
    assert fake.requests == []


async def test_toolsets_and_tools_add_up_and_the_rest_is_refused(fake: FakePostHog, mode: str) -> None:
    options = parse_options(["--toolsets", "anthropic", "--tools", "integrations-get", "--no-scope-check"], {})
    async with connected(fake, mode=mode, options=options) as client:
        assert await listed(client) == [
            "integrations-get",
            "integrations-anthropic-agents-list",
            "integrations-anthropic-environments-list",
            "integrations-anthropic-vaults-list",
        ]
        result = await client.call_tool("role-external-references-list", {})
    assert text(result).startswith("role-external-references-list is not available here: the operator's tool filter")
    assert fake.requests == []


# The key's scopes


@pytest.mark.parametrize(
    ("key", "offered"),
    [
        (READ_ONLY_KEY, READS),
        (INTEGRATION_KEY, INTEGRATION_TOOLS),
        (PROJECT_SCOPED_KEY, INTEGRATION_TOOLS),
        (NO_TOOL_KEY, []),
    ],
    ids=["read-only key", "integration scopes", "project-scoped key", "no usable scope"],
)
async def test_tools_the_key_cannot_use_are_not_listed(
    fake: FakePostHog, mode: str, key: str, offered: list[str]
) -> None:
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": key}, mode, options=Options()) as client:
        assert await listed(client) == offered
    assert [(request.method, request.path) for request in fake.requests] == [KEY_RECORD]


async def test_a_call_to_a_tool_the_key_cannot_use_names_the_missing_scope(fake: FakePostHog, mode: str) -> None:
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": READ_ONLY_KEY}, mode, options=Options()) as client:
        await listed(client)
        result = await client.call_tool("integrations-delete", {"id": 104})
    assert text(result) == (
        "integrations-delete is not available here: the API key lacks the scope integration:write. "
        "Nothing was sent to PostHog."
    )
    assert [(request.method, request.path) for request in fake.requests] == [KEY_RECORD]


async def test_when_the_scopes_cannot_be_read_every_tool_stays_listed(
    fake: FakePostHog, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(403, json={"detail": "This action does not support Personal API Key access"})
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": READ_ONLY_KEY}, mode, options=Options()) as client:
        assert len(await listed(client)) == 13
    assert "Could not read the API key's scopes, so every tool stays listed" in caplog.text


async def test_no_scope_check_asks_nothing(fake: FakePostHog, mode: str) -> None:
    options = parse_options(["--no-scope-check"], {})
    async with connected(fake, {"POSTHOG_PERSONAL_API_KEY": NO_TOOL_KEY}, mode, options=options) as client:
        assert len(await listed(client)) == 13
    assert fake.requests == []


async def test_a_late_answer_updates_the_list_and_tells_the_client(fake: FakePostHog) -> None:
    """PostHog takes longer than 2 s: tools/list answers with every tool, then the list shrinks and says so."""
    release, changed = anyio.Event(), anyio.Event()

    async def slow_key_record(request: Recorded) -> Response | None:
        if request.path == KEY_RECORD[1]:
            await release.wait()
        return None

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    fake.intercept = slow_key_record
    env = {"POSTHOG_PERSONAL_API_KEY": READ_ONLY_KEY}
    async with connected(fake, env, "legacy", options=Options(), message_handler=on_message) as client:
        with anyio.fail_after(10):
            assert len(await listed(client)) == 13
            release.set()
            await changed.wait()
        assert await listed(client) == READS


# Logging of the scope check stays quiet for a good key.


async def test_a_good_key_logs_no_warning(fake: FakePostHog, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with connected(fake, options=Options()) as client:
        await listed(client)
    assert caplog.records == []


async def test_the_installed_server_takes_flags_over_variables(fake: FakePostHog) -> None:
    async with running(fake) as url:
        env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url, "POSTHOG_MCP_READ_ONLY": "0"}
        server = StdioServerParameters(
            command=str(SCRIPT), args=["--read-only", "--exclude-tools", "integrations-get"], env=env
        )
        async with Client(server, mode="legacy") as client:
            assert client.server_capabilities.tools is not None
            assert client.server_capabilities.tools.list_changed is True
            assert await listed(client) == [name for name in READS if name != "integrations-get"]
