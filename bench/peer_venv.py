"""fastmcp's own virtual environment, shared by the benchmark's generic peer and the typed-client test
(tests/test_typed_clients.py): fastmcp and its dependencies stay out of the project's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FASTMCP = "4.2.3"
"""The fastmcp release the benchmark and the typed-client test run (the one issue 10 was found with)."""
VENV = Path(__file__).with_name(".venv-fastmcp")
PYTHON = VENV / "bin" / "python"


def installed_version() -> str | None:
    if not PYTHON.exists():
        return None
    probe = [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('fastmcp'))"]
    answer = subprocess.run(probe, capture_output=True, text=True, check=False)
    return answer.stdout.strip() if answer.returncode == 0 else None


def install() -> bool:
    """Whether the venv has fastmcp==FASTMCP, after making it (python -m venv, pip install) if it had not."""
    if installed_version() == FASTMCP:
        return True
    print(f"installing fastmcp=={FASTMCP} into {VENV} (once)", file=sys.stderr)
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"fastmcp=={FASTMCP}"]
    return subprocess.run(pip, check=False).returncode == 0 and installed_version() == FASTMCP


def peer_python() -> Path:
    """The venv's python with fastmcp==FASTMCP, for the benchmark's peer; exits when it cannot be installed."""
    if not install():
        sys.exit(f"bench: could not install fastmcp=={FASTMCP} from PyPI; run with --no-peer to skip the peer")
    return PYTHON
