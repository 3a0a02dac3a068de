"""A scripted stand-in for Anthropic's Messages API, to drive `claude -p` without a model.

The conversation whose first message holds `PROMPT` follows the script: turn k asks for the tool calls `script[k]`
(several `tool_use` blocks in one message when the turn has several), and once every turn's calls are in the
conversation it answers with text and ends. Which turn is next is read from the request itself (the ids of the
calls it already holds), so a retried request gets the same answer. Any other request (a title, a quota check, a
side question) gets a short text; count_tokens gets a count.

What Claude Code sends back for each call, its `tool_result` block, is kept under the call's id: that block is all
a model ever sees of the tool's answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

PROMPT = "Run the scripted PostHog tool calls."
DONE = "Done."
USAGE = {"input_tokens": 100, "output_tokens": 10}


@dataclass(frozen=True)
class Call:
    """One tool call the script asks for: the tool's name as Claude Code offers it (`mcp__server__tool`)."""

    tool: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    body: str


@dataclass
class FakeAnthropic:
    script: Sequence[Sequence[Call]]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    """tool_use id -> the tool_result block Claude Code sent back for it."""
    received: list[Received] = field(default_factory=list)
    """Every request, side requests included, with its body as sent."""

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "HEAD", "POST"])])

    @staticmethod
    def call_id(turn: int, index: int) -> str:
        return f"toolu_{turn:02d}_{index:02d}"

    def result(self, turn: int, index: int = 0) -> dict[str, Any]:
        """The tool_result block of call `index` of turn `turn`."""
        return self.results[self.call_id(turn, index)]

    async def _endpoint(self, request: Request) -> Response:
        raw = (await request.body()).decode()
        self.received.append(Received(request.method, request.url.path, raw))
        if request.url.path.endswith("/v1/messages/count_tokens"):
            return JSONResponse({"input_tokens": USAGE["input_tokens"]})
        if request.method != "POST" or not request.url.path.endswith("/v1/messages"):
            return JSONResponse({"type": "error", "error": {"type": "not_found_error", "message": "not here"}}, 404)
        body = json.loads(raw)
        messages = body.get("messages", [])
        if not messages or PROMPT not in _text(messages[0]):
            return _reply(body, [{"type": "text", "text": "ok"}], "end_turn")
        asked = set()
        for message in messages:
            for block in message["content"] if isinstance(message.get("content"), list) else []:
                if block.get("type") == "tool_result":
                    self.results[block["tool_use_id"]] = block
                elif block.get("type") == "tool_use":
                    asked.add(block["id"])
        turn = next((k for k in range(len(self.script)) if self.call_id(k, 0) not in asked), None)
        if turn is None:
            return _reply(body, [{"type": "text", "text": DONE}], "end_turn")
        calls = [
            {"type": "tool_use", "id": self.call_id(turn, index), "name": call.tool, "input": call.input}
            for index, call in enumerate(self.script[turn])
        ]
        return _reply(body, calls, "tool_use")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(str(block.get("text", "")) for block in content or [] if isinstance(block, dict))


def _reply(body: dict[str, Any], blocks: list[dict[str, Any]], stop_reason: str) -> Response:
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-fake"),
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": USAGE,
    }
    if body.get("stream"):
        return StreamingResponse(_events(message), media_type="text/event-stream")
    return JSONResponse(message)


async def _events(message: dict[str, Any]) -> AsyncIterator[str]:
    """The message as the Messages API streams it: a tool's input as input_json_delta, text as text_delta."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**USAGE, "output_tokens": 1}}
    yield _event("message_start", {"message": start})
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opened = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            opened = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        yield _event("content_block_start", {"index": index, "content_block": opened})
        yield _event("content_block_delta", {"index": index, "delta": delta})
        yield _event("content_block_stop", {"index": index})
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield _event("message_delta", {"delta": stop, "usage": {"output_tokens": USAGE["output_tokens"]}})
    yield _event("message_stop", {})


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"
