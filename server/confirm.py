"""Asking the user before a destructive tool runs, in both protocol eras.

2025-11-25: an `elicitation/create` request during the call. 2026-07-28: the call answers `input_required` with
the question, and the client calls again with the user's answer. Either way nothing is deleted before a yes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from server.calls import Prepared, error
from server.errors import PostHogError
from server.state import State
from tools import reader
from tools.request import ApiRequest

logger = logging.getLogger(__name__)

QUESTION = "confirm"
ANSWER: types.ElicitRequestedSchema = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "title": "Yes, delete it", "default": False}},
    "required": ["confirm"],
}

UNATTENDED = (
    "An agent that runs unattended (claude -p, the Agent SDK) dismisses every confirmation, so calling again will "
    "not help: to let it delete, the operator starts this server with --confirm never (POSTHOG_MCP_CONFIRM=never)."
)
"""Said with every dismissal: headless hosts declare elicitation and then cancel each request, so no one was asked."""

Outcome = types.CallToolResult | types.InputRequiredResult | None
"""An error (declined, or cannot ask), the question (2026-07-28), or None: go ahead."""


async def confirm(ctx: ServerRequestContext[State], params: types.CallToolRequestParams, call: Prepared) -> Outcome:
    state = ctx.lifespan_context
    capabilities = ctx.session.client_capabilities
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    if capabilities is None or capabilities.elicitation is None or (state.stateless and not modern):
        if state.options.confirm == "always":
            return error(
                f"{call.spec.name} was refused: this server asks the user before anything is deleted (--confirm "
                "always), and this client cannot ask (it does not support elicitation). Nothing was deleted."
            )
        return None
    if modern and params.input_responses and params.request_state == _digest(call):
        return _verdict(params.input_responses.get(QUESTION), call)
    question = await _question(call, state)
    if isinstance(question, types.CallToolResult):
        return question
    if modern:
        ask = types.ElicitRequest(params=types.ElicitRequestFormParams(message=question, requested_schema=ANSWER))
        return types.InputRequiredResult(input_requests={QUESTION: ask}, request_state=_digest(call))
    try:
        answer = await ctx.session.elicit_form(question, ANSWER, related_request_id=ctx.request_id)
    except Exception as failure:
        logger.warning("could not ask the user to confirm %s: %s", call.spec.name, failure)
        return error(
            f"{call.spec.name} was not run: asking the user to confirm failed ({failure}). Nothing was deleted."
        )
    return _verdict(answer, call)


async def _question(call: Prepared, state: State) -> str | types.CallToolResult:
    """What will be deleted, read from PostHog where a get tool reads the same path, and what is lost."""
    what = call.request.path
    if reader(call.spec.path) is not None:
        try:
            read = ApiRequest("GET", call.request.path, {}, None, template=call.request.template)
            record = await state.posthog.send(read, call.key)
        except PostHogError as failure:
            return error(f"{failure} Nothing was deleted.")
        if isinstance(record, dict):
            named = " ".join(f"{record[key]}" for key in ("kind", "display_name") if record.get(key))
            what = f"{named} ({what})" if named else what
    return f"{call.spec.title}?\n{what}\n{call.spec.loss}"


def _verdict(answer: Any, call: Prepared) -> types.CallToolResult | None:
    if isinstance(answer, types.ElicitResult) and answer.action == "accept" and (answer.content or {}).get(QUESTION):
        return None
    if isinstance(answer, types.ElicitResult) and answer.action == "cancel":
        return error(f"The user dismissed the confirmation of {call.spec.name}. Nothing was deleted. {UNATTENDED}")
    return error(f"The user declined {call.spec.name}. Nothing was deleted; do not try again unless they ask.")


def _digest(call: Prepared) -> str:
    """Binds an answer to the call it was asked for: the same tool with the same arguments."""
    asked = json.dumps([call.spec.name, call.arguments.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(asked.encode()).hexdigest()
