"""The generic peer's own virtual environment: FastMCP and its dependencies stay out of the project's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FASTMCP = "4.1.6"
"""The FastMCP release the benchmark runs (the newest on PyPI when it was written)."""
VENV = Path(__file__).with_name(".venv-fastmcp")
PYTHON = VENV / "bin" / "python"


def installed_version() -> str | None:
    if not PYTHON.exists():
        return None
    probe = [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('fastmcp'))"]
    answer = subprocess.run(probe, capture_output=True, text=True, check=False)
    return answer.stdout.strip() if answer.returncode == 0 else None


def peer_python() -> Path:
    """The venv's python with fastmcp==FASTMCP, made (python -m venv, pip install) unless it is already there."""
    if installed_version() == FASTMCP:
        return PYTHON
    print(f"bench: installing fastmcp=={FASTMCP} into {VENV} (once; --no-peer skips the peer)", file=sys.stderr)
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"fastmcp=={FASTMCP}"]
    if subprocess.run(pip, check=False).returncode != 0 or installed_version() != FASTMCP:
        sys.exit(f"bench: could not install fastmcp=={FASTMCP} from PyPI; run with --no-peer to skip the peer")
    return PYTHON
