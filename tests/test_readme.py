"""The README's tool reference is the registry's, row for row."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.options import argument_parser
from tools import TOOLS

README = Path(__file__).parents[1] / "README.md"


def tool_reference() -> str:
    rows = ["| Tool | What it does | Scope | Access |", "|---|---|---|---|"]
    for spec in TOOLS:
        summary = spec.description.split(". ")[0].rstrip(".") + "."
        hints = spec.annotations
        access = "read" if hints.read_only else "write, destructive" if hints.destructive else "write"
        rows.append(f"| `{spec.name}` | {summary} | `{spec.scope}` | {access} |")
    return "\n".join(rows)


def test_readme_tool_reference_matches_the_registry() -> None:
    assert tool_reference() in README.read_text(), "README's tool table drifted; paste this:\n" + tool_reference()


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
