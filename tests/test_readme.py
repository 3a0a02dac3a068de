"""The README's tool reference is the registry's, row for row."""

from __future__ import annotations

from pathlib import Path

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
