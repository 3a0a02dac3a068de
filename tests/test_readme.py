"""The README's tool reference is the registry's, row for row."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from server.options import argument_parser
from tools import TOOLS

README = Path(__file__).parents[1] / "README.md"


def tool_reference() -> str:
    rows = ["| Tool | What it does | Scope | Access |", "|---|---|---|---|"]
    for spec in TOOLS:
        hints = spec.annotations
        access = "read" if hints.read_only else "write, destructive" if hints.destructive else "write"
        rows.append(f"| `{spec.name}` | {spec.summary} | `{spec.scope}` | {access} |")
    return "\n".join(rows)


def test_readme_tool_reference_matches_the_registry() -> None:
    assert tool_reference() in README.read_text(), "README's tool table drifted; paste this:\n" + tool_reference()


@pytest.mark.parametrize(
    ("description", "summary"),
    [
        ("Delete it. It cannot be undone.", "Delete it."),
        ("Map a role, e.g. provider=github. A duplicate is refused.", "Map a role, e.g. provider=github."),
        ("Only this kind, e.g. Slack. Needs a scope.", "Only this kind, e.g. Slack."),
        ("One thing, i.e. This one. More.", "One thing, i.e. This one."),
        ("Ask first! Then act.", "Ask first!"),
        ("Is it there? Check it.", "Is it there?"),
        (
            "Connect one (anthropic, …) to the project; PostHog checks it. OAuth kinds are refused.",
            "Connect one (anthropic, …) to the project; PostHog checks it.",
        ),
        ("Pass next_cursor as after. while has_more.", "Pass next_cursor as after. while has_more."),
        ("Version 2.5 is out. Upgrade.", "Version 2.5 is out."),
        ("One sentence only.", "One sentence only."),
        ("Ends without a stop", "Ends without a stop"),
        ("Spaces twice.  Then more.", "Spaces twice."),
        ("A line.\nAnother.", "A line."),
    ],
)
def test_a_summary_is_the_whole_first_sentence(description: str, summary: str) -> None:
    spec = replace(TOOLS[0], description=description)
    assert spec.summary == summary


def test_every_tool_summary_is_a_sentence_of_its_description() -> None:
    for spec in TOOLS:
        assert spec.description.startswith(spec.summary)
        assert spec.summary.endswith(".")
        assert "e.g." not in spec.summary[-5:]


def test_readme_documents_every_flag_and_its_variable() -> None:
    readme = README.read_text()
    for action in argument_parser()._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag not in ("--help", "--version"):
                assert f"`{flag}" in readme, flag
        for variable in re.findall(r"\[(POSTHOG_MCP_[A-Z_]+)", action.help or ""):
            assert f"`{variable}" in readme, variable


def test_every_json_example_in_the_readme_parses() -> None:
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 3
    for block in blocks:
        json.loads(block)
    json.loads((README.parent / "mcp.json.example").read_text())
