"""The package as a user gets it: the sdist rebuilds, and its wheel, installed alone in a bare venv, serves stdio.

One build per module: hatchling (the build backend, in the dev extra) makes the sdist from this tree, pip rebuilds the
wheel from that sdist as an installer would, and pip installs the wheel and its dependencies (from the index, as
configured) into a venv without the dev extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from server import __version__
from tests.fake_posthog import FULL_KEY, FakePostHog, running
from tools import TOOLS

ROOT = Path(__file__).parents[1]
NAME = f"posthog_integrations_mcp-{__version__}"
SHIPPED = sorted(str(path.relative_to(ROOT)) for path in [*ROOT.glob("server/*.py"), *ROOT.glob("tools/*.py")])
DEV_ONLY = ["pytest", "hypothesis", "ruff", "mypy", "mutmut", "hatchling"]

pytestmark = pytest.mark.slow  # 12-16 s, nearly all of it pip installing the dependencies into the bare venv


@dataclass(frozen=True)
class Built:
    """The sdist's and the wheel's file lists, and the bare venv the wheel went into."""

    sdist: list[str]
    wheel: list[str]
    venv: Path

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "posthog-integrations-mcp"


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "hatchling", "build", "--target", "sdist", "--directory", dist, cwd=ROOT)
    (sdist,) = dist.glob("*.tar.gz")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, sdist)
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", wheel)
    with tarfile.open(sdist) as archive:
        in_sdist = [str(PurePosixPath(name).relative_to(NAME)) for name in archive.getnames()]
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = archive.namelist()
    return Built(sorted(in_sdist), sorted(in_wheel), venv)


@pytest.mark.parametrize("path", ["pyproject.toml", "README.md", "PKG-INFO", *SHIPPED])
def test_the_sdist_holds_what_a_rebuild_needs(built: Built, path: str) -> None:
    assert path in built.sdist


def test_the_wheel_ships_only_server_and_tools(built: Built) -> None:
    metadata = [f"{NAME}.dist-info/{name}" for name in ("METADATA", "RECORD", "WHEEL", "entry_points.txt")]
    assert built.wheel == sorted(SHIPPED + metadata)


def test_the_installed_wheel_prints_its_version_without_the_dev_extra(built: Built, tmp_path: Path) -> None:
    assert run(built.script, "--version", cwd=tmp_path) == f"posthog-integrations-mcp {__version__}\n"
    listing = "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    installed = {name.lower() for name in json.loads(run(built.venv / "bin" / "python", "-c", listing, cwd=tmp_path))}
    assert "posthog-integrations-mcp" in installed
    assert installed.isdisjoint(DEV_ONLY)


async def test_the_installed_wheel_lists_every_tool_over_stdio(built: Built, fake: FakePostHog, tmp_path: Path) -> None:
    async with running(fake) as url:
        env = {"PATH": os.environ["PATH"], "POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url}
        server = StdioServerParameters(command=str(built.script), env=env, cwd=tmp_path)
        async with Client(server) as client:
            listed = [tool.name for tool in (await client.list_tools()).tools]
    assert listed == [spec.name for spec in TOOLS]
    assert len(listed) == 13
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/personal_api_keys/@current/")]
