"""A typed client (fastmcp's, which builds types from outputSchema) keeps every field of every tool's result.

fastmcp's `CallToolResult.data` is made from the tool's output schema: an object with properties and no
`additionalProperties: true` becomes a dataclass that drops every field the schema does not name. One script,
tests/typed_client.py, runs in fastmcp's own virtual environment (the benchmark's) and drives the installed server
over stdio against the fake PostHog over real HTTP.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from bench import peer_venv
from tests.fake_posthog import ANTHROPIC_INTEGRATION_ID, FULL_KEY, FakePostHog, running
from tests.test_schemas import A_CALL_THAT_WORKS
from tools import TOOLS

SCRIPT = Path(sys.executable).with_name("posthog-integrations-mcp")
CLIENT = Path(__file__).with_name("typed_client.py")
NO_MATCH = {"provider": "github", "provider_organization_id": "posthog", "provider_role_id": "404"}


@pytest.fixture
def fastmcp_python() -> Path:
    """The benchmark's fastmcp venv, made if it is missing: skipped without PyPI, except in CI, where it must work."""
    if peer_venv.install():
        return peer_venv.PYTHON
    if os.environ.get("CI"):
        pytest.fail(f"could not install fastmcp=={peer_venv.FASTMCP} into {peer_venv.VENV}")
    pytest.skip(f"fastmcp=={peer_venv.FASTMCP} cannot be installed here (no PyPI?)")


def kept(structured: Any, data: Any, where: str = "") -> list[str]:
    """Where `data` lost or changed what `structured` holds: every key at every level, every row of every list."""
    if isinstance(structured, dict):
        if not isinstance(data, dict):
            return [f"{where or '.'}: {data!r} in place of an object"]
        return [
            lost
            for key, value in structured.items()
            for lost in (kept(value, data[key], f"{where}.{key}") if key in data else [f"{where}.{key} dropped"])
        ]
    if isinstance(structured, list):
        if not isinstance(data, list) or len(data) != len(structured):
            return [f"{where}: {data!r} in place of {len(structured)} items"]
        return [lost for index, item in enumerate(structured) for lost in kept(item, data[index], f"{where}[{index}]")]
    return [] if structured == data else [f"{where}: {data!r} in place of {structured!r}"]


def calls(*rows: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": label, "tool": tool, "arguments": arguments} for label, tool, arguments in rows]


def plan(url: str, big: int) -> dict[str, Any]:
    """Every tool once (deletes last, so that nothing a later call reads is gone), a lookup without a match, then
    under a small result budget: cut pages of each kind, and records too long to keep whole."""
    env = {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url, "PATH": os.environ["PATH"]}
    ordered = sorted(TOOLS, key=lambda spec: spec.method == "DELETE")
    every_tool = calls(*((spec.name, spec.name, A_CALL_THAT_WORKS[spec.name]) for spec in ordered))
    small = calls(
        ("a cut integrations page", "integrations-list", {}),
        ("a cut references page", "role-external-references-list", {}),
        ("a cut agents page", "integrations-anthropic-agents-list", {"id": ANTHROPIC_INTEGRATION_ID}),
        ("a page of one shortened row", "integrations-list", {"kind": "postgresql"}),
        ("a shortened record", "integrations-get", {"id": big}),
        ("a shortened lookup", "role-external-references-lookup", {**NO_MATCH, "provider_role_id": "x" * 3_000}),
    )
    return {
        "command": str(SCRIPT),
        "sessions": [
            {
                "env": env,
                "args": ["--confirm", "never"],
                "calls": every_tool + calls(("a lookup without a match", "role-external-references-lookup", NO_MATCH)),
            },
            {"env": {**env, "POSTHOG_MCP_MAX_RESULT_TOKENS": "500"}, "args": [], "calls": small},
        ],
    }


def seed(fake: FakePostHog) -> int:
    """Enough rows to cut every kind of page at 500 tokens, and one row too long for it on its own: its id."""
    for index in range(40):
        fake.add_integration("twilio", {"account_sid": f"AC{index:032d}"}, display_name=f"Support line {index}")
        fake.add_role_external_reference("okta", "acme", f"role-{index}", provider_role_name=f"Team {index}" * 9)
    agents = [{"id": f"agent_{index:03d}", "name": f"Agent {index}" * 9, "version": 1} for index in range(40)]
    fake.anthropic_resources[ANTHROPIC_INTEGRATION_ID]["agents"] = agents
    return int(fake.add_integration("postgresql", {"host": "db"}, display_name="N" * 10_000)["id"])


async def test_fastmcps_typed_data_keeps_every_field_of_every_result(fake: FakePostHog, fastmcp_python: Path) -> None:
    big = seed(fake)
    async with running(fake) as url:
        with anyio.fail_after(120):
            done = await anyio.run_process(
                [str(fastmcp_python), str(CLIENT)], input=json.dumps(plan(url, big)).encode()
            )
    seen = {call["label"]: call for call in json.loads(done.stdout)}
    assert {spec.name for spec in TOOLS} <= set(seen)
    assert [(label, call["text"]) for label, call in seen.items() if call["is_error"] or not call["structured"]] == []
    lost = {label: kept(call["structured"], call["data"]) for label, call in seen.items()}
    assert lost == {label: [] for label in seen}
    shown = {label: call["structured"] for label, call in seen.items()}
    assert shown["a lookup without a match"]["note"].startswith("No role external reference matches")
    assert all(shown[label]["_truncated"]["omitted"] > 0 for label in seen if label.startswith("a cut "))
    assert "_shortened" in shown["a page of one shortened row"]["results"][0]
    assert "_shortened" in shown["a shortened record"]
    assert "_shortened" in shown["a shortened lookup"]
