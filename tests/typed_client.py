"""A typed client's view of our server: fastmcp's Client calls tools and reports what its `.data` kept.

Runs in fastmcp's own virtual environment (bench/.venv-fastmcp), never imports this project, and is started by
tests/test_typed_clients.py with a plan on stdin: {"command": the server's script, "sessions": [{"env": {...},
"args": [...], "calls": [{"label", "tool", "arguments"}]}]}. It prints one JSON list: per call, its label, whether
it was an error, `structured_content` as it arrived, and `.data` (the object fastmcp built from the tool's output
schema) turned back into plain JSON under the names the schema gave.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import Any

from fastmcp import Client  # type: ignore[import-not-found]  # in fastmcp's venv only
from fastmcp.client.transports import StdioTransport  # type: ignore[import-not-found]
from pydantic import BaseModel


def plain(value: Any) -> Any:
    """`value` as JSON: a model by its fields' aliases and its extra fields, a dataclass by its fields' aliases."""
    if isinstance(value, BaseModel):
        fields = {info.alias or name: getattr(value, name) for name, info in type(value).model_fields.items()}
        return {key: plain(item) for key, item in {**fields, **(value.model_extra or {})}.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.metadata.get("alias", field.name): plain(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


async def session(command: str, plan: dict[str, Any]) -> list[dict[str, Any]]:
    transport = StdioTransport(command, plan["args"], env=plan["env"], keep_alive=False)
    seen = []
    async with Client(transport) as client:
        for call in plan["calls"]:
            result = await client.call_tool(call["tool"], call["arguments"], raise_on_error=False)
            seen.append(
                {
                    "label": call["label"],
                    "is_error": result.is_error,
                    "text": [getattr(block, "text", None) for block in result.content],
                    "structured": result.structured_content,
                    "data": plain(result.data),
                }
            )
    return seen


async def main() -> None:
    plan = json.load(sys.stdin)
    seen = [call for each in plan["sessions"] for call in await session(plan["command"], each)]
    json.dump(seen, sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(main())
