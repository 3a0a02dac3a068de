"""Arguments a model made up: each call ends in an error naming a field, or in one request on the tool's own path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from tests.conftest import connected
from tests.fake_posthog import FakePostHog
from tools import TOOLS, ToolSpec

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SEGMENTS = {"project_id": "(?:[0-9]+|@current)", "organization_id": f"(?:{UUID}|@current)", "id": f"(?:[0-9]+|{UUID})"}
HOSTILE = [
    "../",
    "..%2f",
    "%2e%2e/",
    "%2e%2e%2f",
    "/api/users/@me/",
    "1/../../users",
    "1?limit=1",
    "1#x",
    "1%00",
    "\x00",
    "@current",
    "@current/../2",
    "٣",
    "1e3",
    "0x1F",
    "+7",
    " 8 ",
    "\u202e1",
    "https://evil.example/",
    "x" * 10_000,
]


@pytest.fixture
def mode() -> str:
    """Validation happens before anything era-specific, so one protocol era is enough here."""
    return "auto"


def template(spec: ToolSpec[Any]) -> re.Pattern[str]:
    """The only paths this tool may reach, its placeholders filled with well-formed ids."""
    pattern = re.escape(spec.path)
    for name, segment in SEGMENTS.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), segment)
    return re.compile(pattern)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
values = st.one_of(
    json_values,
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
)


def arguments(spec: ToolSpec[Any]) -> st.SearchStrategy[dict[str, Any]]:
    names = [*spec.input_schema["properties"], "extra", "__proto__", "id/../x"]
    return st.dictionaries(st.sampled_from(names), values, max_size=len(names))


def names_a_field(problem: str, raw: dict[str, Any], spec: ToolSpec[Any]) -> bool:
    """The problem starts with a field the call sent or a required one it left out (`config.url: ...` counts for
    config), or, for a rule across fields, names a field the call left out."""
    sent_or_required = {*raw, *spec.input_schema.get("required", [])}
    if any(problem.startswith((f"{name}: ", f"{name}.")) for name in sent_or_required):
        return True
    return any(re.search(rf"\b{name}\b", problem) for name in spec.input_schema["properties"] if name not in raw)


def posthogs_answer(text: str) -> bool:
    """An error PostHog gave for a request it received, as this server words one."""
    return text.startswith(("PostHog ", "Not found (404)"))


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_arguments_end_in_an_error_naming_a_field_or_in_one_request_on_the_tools_own_path(
    mode: str, spec: ToolSpec[Any], data: st.DataObject
) -> None:
    raw = data.draw(arguments(spec))
    fake = FakePostHog()
    async with connected(fake, mode=mode) as client:
        result = await client.call_tool(spec.name, raw)
    text = result.content[0].model_dump()["text"]
    if not fake.requests:
        assert result.is_error is True
        heading, *problems = text.split("\n")
        assert heading == f"Invalid arguments for {spec.name}; nothing was sent to PostHog:"
        assert problems
        for problem in problems:
            assert problem.startswith("- ")
            assert names_a_field(problem.removeprefix("- "), raw, spec), problem
        return
    (request,) = fake.requests
    assert request.method == spec.method
    assert template(spec).fullmatch(request.path), request.path
    if result.is_error:
        assert posthogs_answer(text), text
    else:
        assert result.structured_content is not None


def printable(payload: str) -> str:
    """A test id in printable ASCII: an escaped id cannot be passed back to pytest, which mutmut does."""
    return "".join(char if " " <= char <= "~" and char != "\\" else f"U+{ord(char):04X}" for char in payload)


PATH_PARAMETERS = [
    (spec, name) for spec in TOOLS for name in ("project_id", "organization_id", "id") if "{" + name + "}" in spec.path
]


@pytest.mark.parametrize(("spec", "name"), PATH_PARAMETERS, ids=lambda value: getattr(value, "name", value))
@pytest.mark.parametrize("payload", [*HOSTILE[:-4], "https://evil.example/"], ids=printable)
async def test_a_path_parameter_cannot_carry_a_path(
    client: Client, fake: FakePostHog, spec: ToolSpec[Any], name: str, payload: str
) -> None:
    properties = spec.input_schema["properties"]
    valid = {key: REQUIRED_EXAMPLES[key] for key in spec.input_schema.get("required", []) if key != "id"}
    if "id" in properties:
        valid["id"] = 1 if properties["id"]["type"] == "integer" else UUID_EXAMPLE
    result = await client.call_tool(spec.name, {**valid, name: payload})
    digits = payload.strip().removeprefix("+")
    if properties[name].get("type") == "integer" and digits.isascii() and digits.isdigit():
        (request,) = fake.requests
        assert template(spec).fullmatch(request.path)
        assert f"/{int(payload)}/" in request.path
    else:
        assert result.is_error is True
        assert f"- {name}: " in result.content[0].model_dump()["text"]
        assert fake.requests == []


UUID_EXAMPLE = "0192f5a8-7c1e-7000-8000-00000000d001"
REQUIRED_EXAMPLES: dict[str, Any] = {
    "kind": "twilio",
    "config": {"account_sid": "AC1", "auth_token": "t"},
    "provider": "github",
    "provider_organization_id": "posthog",
    "provider_role_id": "1",
    "provider_role_name": "Team",
    "role": "0192f5a8-7c1e-7000-8000-00000000b001",
    "production": 1,
}
