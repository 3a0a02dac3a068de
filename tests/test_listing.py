"""Listed where hosts look: server.json for the MCP Registry and manifest.json for an MCP Bundle say what the server
is, run it the way the README does, and name the variables the README's configuration table names, word for word.

The bundle test starts the `.mcpb` that .ci/run packs, the way a host would: unpacked, run as its `mcp_config` says
(uv installs the dependencies from PyPI), with `user_config` values substituted.
"""

from __future__ import annotations

import copy
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from server import __version__
from server.options import argument_parser
from tests.fake_posthog import FULL_KEY, FakePostHog, running
from tools import TOOLS

ROOT = Path(__file__).parents[1]
SERVER_JSON = json.loads((ROOT / "server.json").read_text())
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
README = (ROOT / "README.md").read_text()
SCHEMA = json.loads((Path(__file__).with_name("schemas") / "server.schema.json").read_text())
NAME = "io.github.OWNER/posthog-integrations-mcp"
"""The registry name, with a placeholder owner until the package is published (README, "Registries and bundles")."""


def configuration_table() -> dict[str, tuple[str, str]]:
    """The README's configuration table: each variable (the first one a row names) with its default and meaning."""
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("| Variable | Default | Meaning |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in table.splitlines():
        variable, default, meaning = (cell.strip() for cell in line.strip().strip("|").split(" | "))
        match = re.match(r"`([A-Z_]+)`", variable)
        assert match, f"a row of the configuration table names no variable: {line}"
        rows[match[1]] = (default, meaning)
    return rows


def registry_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [error.message for error in validator.iter_errors(document)]


def variables() -> list[dict[str, Any]]:
    [package] = SERVER_JSON["packages"]
    found: list[dict[str, Any]] = package["environmentVariables"]
    return found


def test_server_json_is_valid_in_the_registry_schema_it_names() -> None:
    assert SCHEMA["$id"] == SERVER_JSON["$schema"]
    assert registry_errors(SERVER_JSON) == []


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (("name",), "posthog-integrations-mcp", "does not match"),
        (("name",), "io.github.OWNER/posthog integrations", "does not match"),
        (("description",), "x" * 101, "is too long"),
        (("version",), None, "'version' is a required property"),
        (("packages", 0, "version"), "latest", "should not be valid"),
        (("packages", 0, "transport"), None, "'transport' is a required property"),
        (("packages", 0, "transport", "type"), "pipe", "is not valid under any of the given schemas"),
        (("packages", 0, "environmentVariables", 0, "isSecret"), "yes", "is not of type 'boolean'"),
    ],
)
def test_the_registry_schema_refuses_a_server_json_gone_wrong(
    path: tuple[str | int, ...], value: Any, complaint: str
) -> None:
    """The schema is really applied: each of these changes to our server.json is refused, with the reason."""
    document = copy.deepcopy(SERVER_JSON)
    *parents, last = path
    holder: Any = document
    for key in parents:
        holder = holder[key]
    if value is None:
        del holder[last]
    else:
        holder[last] = value
    assert any(complaint in message for message in registry_errors(document)), registry_errors(document)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("name", NAME),
        ("version", __version__),
        ("packages", [{"registryType": "pypi", "identifier": "posthog-integrations-mcp", "version": __version__}]),
        ("runtime", [("uvx", {"type": "stdio"})]),
    ],
)
def test_server_json_lists_the_pypi_package_run_with_uvx_over_stdio(field: str, expected: Any) -> None:
    packages = SERVER_JSON["packages"]
    found = {
        "name": SERVER_JSON["name"],
        "version": SERVER_JSON["version"],
        "packages": [{key: package[key] for key in ("registryType", "identifier", "version")} for package in packages],
        "runtime": [(package["runtimeHint"], package["transport"]) for package in packages],
    }
    assert found[field] == expected


def test_server_json_variables_are_the_readme_configuration_table_word_for_word() -> None:
    table = configuration_table()
    assert [variable["name"] for variable in variables()] == list(table)
    for variable in variables():
        default, meaning = table[variable["name"]]
        assert variable["description"] == meaning, variable["name"]
        literal = re.fullmatch(r"`([^`]+)`", default)
        assert variable.get("default") == (literal[1] if literal else None), variable["name"]


@pytest.mark.parametrize(
    ("name", "required", "secret"),
    [
        ("POSTHOG_PERSONAL_API_KEY", True, True),
        ("POSTHOG_HOST", False, False),
        ("POSTHOG_PROJECT_ID", False, False),
        ("POSTHOG_ORGANIZATION_ID", False, False),
        ("POSTHOG_MCP_TIMEOUT", False, False),
        ("POSTHOG_MCP_LOG_LEVEL", False, False),
        ("POSTHOG_MCP_MAX_RESULT_TOKENS", False, False),
    ],
)
def test_only_the_key_is_a_required_secret(name: str, required: bool, secret: bool) -> None:
    [variable] = [variable for variable in variables() if variable["name"] == name]
    assert (variable.get("isRequired", False), variable.get("isSecret", False)) == (required, secret)


def test_help_names_every_variable_the_registry_lists() -> None:
    """`--help` names PostHog's variables in its description; a variable added to the README table and server.json
    without it would be one `--help` never tells of."""
    text = " ".join(argument_parser().format_help().split())
    assert [variable["name"] for variable in variables() if variable["name"] not in text] == []


def test_the_readme_claims_the_registry_name_after_its_first_paragraph() -> None:
    """The registry checks the PyPI package's description (this README) for `mcp-name: <name>`."""
    paragraphs = README.split("\n\n")
    assert paragraphs[2] == f"<!-- mcp-name: {NAME} -->"
    assert README.count("<!-- mcp-name:") == 1


@pytest.mark.parametrize(
    ("key", "variable", "kind", "required", "sensitive"),
    [
        ("api_key", "POSTHOG_PERSONAL_API_KEY", "string", True, True),
        ("host", "POSTHOG_HOST", "string", False, False),
        ("project_id", "POSTHOG_PROJECT_ID", "string", False, False),
        ("read_only", "POSTHOG_MCP_READ_ONLY", "boolean", False, False),
    ],
)
def test_the_bundle_asks_for_each_setting_and_passes_it_in_its_variable(
    key: str, variable: str, kind: str, required: bool, sensitive: bool
) -> None:
    option = MANIFEST["user_config"][key]
    env = MANIFEST["server"]["mcp_config"]["env"]
    assert (option["type"], option["required"], option.get("sensitive", False)) == (kind, required, sensitive)
    assert env[variable] == f"${{user_config.{key}}}"
    assert variable in README


def test_the_bundle_runs_the_console_script_with_uv_at_the_package_version() -> None:
    server = MANIFEST["server"]
    assert (MANIFEST["manifest_version"], MANIFEST["version"], server["type"]) == ("0.4", __version__, "uv")
    assert server["mcp_config"]["command"] == "uv"
    assert server["mcp_config"]["args"] == ["run", "--directory", "${__dirname}", "posthog-integrations-mcp"]
    assert (ROOT / server["entry_point"]).read_text() == "from server.main import main\n\nmain()\n"
    assert sorted(MANIFEST["user_config"]) == sorted(
        re.findall(r"\$\{user_config\.(\w+)\}", json.dumps(MANIFEST["server"]["mcp_config"]))
    )
    assert MANIFEST["description"] == SERVER_JSON["description"]


def tool(variable: str, what: str) -> Path:
    """A file .ci/run made and named in `variable`; skipped without it, except in CI, where that fails."""
    found = os.environ.get(variable)
    if found and Path(found).is_file():
        return Path(found)
    if os.environ.get("CI"):
        pytest.fail(f"no {what}: .ci/run should have made it and set {variable}")
    pytest.skip(f"no {what} (set {variable}, or run .ci/run)")


def substituted(value: str, values: dict[str, str]) -> str:
    """`${name}` replaced as a host does, from `__dirname` and `user_config.<key>`."""
    return re.sub(r"\$\{([\w.]+)\}", lambda match: values[match[1]], value)


async def test_the_packed_bundle_starts_as_its_mcp_config_says_and_lists_the_read_tools(
    fake: FakePostHog, tmp_path: Path
) -> None:
    """Unpacked as a host would, with read-only on: the seven read tools, asked of the host the user chose, with the
    key they gave. The bundle holds the package's source and what builds it, nothing of tests or benchmarks."""
    bundle = tool("MCPB_BUNDLE", "packed .mcpb")
    uv = tool("UV_BIN", "uv")
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path)
        top = sorted({name.split("/")[0] for name in archive.namelist()})
    assert top == ["README.md", "manifest.json", "pyproject.toml", "server", "tools"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == MANIFEST
    config = manifest["server"]["mcp_config"]
    async with running(fake) as url:
        values = {
            "__dirname": str(tmp_path),
            "user_config.api_key": FULL_KEY,
            "user_config.host": url,
            "user_config.project_id": "",
            "user_config.read_only": "true",
        }
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("POSTHOG_")}
        env = inherited | {name: substituted(value, values) for name, value in config["env"].items()}
        args = [substituted(arg, values) for arg in config["args"]]
        command = str(uv) if config["command"] == "uv" else config["command"]
        async with Client(StdioServerParameters(command=command, args=args, env=env, cwd=tmp_path)) as client:
            listed = [listed.name for listed in (await client.list_tools()).tools]
    reads = [spec.name for spec in TOOLS if spec.annotations.read_only]
    assert (len(listed), listed) == (7, reads)
    assert [(r.method, r.path, r.authorization) for r in fake.requests] == [
        ("GET", "/api/personal_api_keys/@current/", f"Bearer {FULL_KEY}")
    ]
