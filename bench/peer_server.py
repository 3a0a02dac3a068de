"""The generic peer: FastMCP.from_openapi over bench/openapi.py, served on stdio.

Runs under the benchmark's own FastMCP virtual environment (bench/.venv-fastmcp), not the project's: the benchmark
starts it as `<that venv>/bin/python bench/peer_server.py` with POSTHOG_HOST and POSTHOG_PERSONAL_API_KEY set.
"""

from __future__ import annotations

import os

import httpx2
from fastmcp import FastMCP
from openapi import SPEC  # this script's own folder is first on sys.path

client = httpx2.AsyncClient(
    base_url=os.environ["POSTHOG_HOST"],
    headers={"Authorization": f"Bearer {os.environ['POSTHOG_PERSONAL_API_KEY']}"},
)
FastMCP.from_openapi(openapi_spec=SPEC, client=client, name="posthog-integrations-fastmcp").run(
    "stdio", show_banner=False
)
