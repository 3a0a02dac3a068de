"""Measure our server against a bare MCP floor, FastMCP's OpenAPI peer and itself with its telemetry taken out, side
by side, on the tests' fake PostHog.

Run from the repository root, in the project's venv: `python -m bench` (see BENCHMARKS.md). Each round takes the
servers in a rotated order, so that drift on a shared machine spreads over all of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from bench import peer_venv, remote
from bench.report import render
from bench.seed import seed_33_rows
from server.access import KEY_RECORD
from tests.fake_posthog import FULL_KEY, PROJECT_ID, SLACK_INTEGRATION_ID, FakePostHog, Recorded, running

BENCH = Path(__file__).parent
OURS = Path(sys.executable).with_name("posthog-integrations-mcp")
CALL_TIMEOUT = 60.0
WARM_UP_CALLS = 3
CONCURRENT_ROUNDS = 3
LIST_PATH = f"/api/projects/{PROJECT_ID}/integrations/"
RECORD_DELAY = 0.3
"""Seconds the fake holds the key's record during cold starts: PostHog answering it late."""
SCOPED = "ours_scoped"
UNTRACED = "untraced"
T = TypeVar("T")
Action = Callable[[], Awaitable[object]]


@dataclass
class Contender:
    """One server under test: how to start it, and the arguments its own tools take for the same requests."""

    name: str
    params: StdioServerParameters
    list_tool: str
    list_arguments: dict[str, Any]
    get_tool: str
    get_arguments: dict[str, Any]
    cold_starts: list[float] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)
    sdk_calls: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    server: Contender
    client: Client
    pid: int

    async def call(self, tool: str, arguments: dict[str, Any], *, sdk: bool = False) -> types.CallToolResult:
        """tools/call. sdk=True goes through Client.call_tool, which also validates structuredContent against the
        tool's output schema on this side; otherwise the bare request and its parsed result, the server's share."""
        if sdk:
            result = await self.client.call_tool(tool, arguments)
        else:
            request = types.CallToolRequest(params=types.CallToolRequestParams(name=tool, arguments=arguments))
            result = await self.client.session.send_request(request, types.CallToolResult)
        if result.is_error:
            raise RuntimeError(f"{self.server.name}: {tool} failed: {result.content}")
        return result


@contextmanager
def untraced_copy() -> Iterator[Path]:
    """A folder holding `server/` and `tools/` as they are here, with bench/untraced_telemetry.py as
    `server/telemetry.py`: first on PYTHONPATH, it has the installed script run ours with the telemetry taken out."""
    with tempfile.TemporaryDirectory(prefix="posthog-mcp-untraced-") as folder:
        copy = Path(folder)
        for package in ("server", "tools"):
            shutil.copytree(BENCH.parent / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(BENCH / "untraced_telemetry.py", copy / "server" / "telemetry.py")
        yield copy
        if not any((copy / "server" / "__pycache__").glob("telemetry.*.pyc")):
            raise RuntimeError(f"bench: the untraced server imported server.telemetry from elsewhere than {copy}")


def contenders(url: str, peer: Path | None, untraced: Path) -> list[Contender]:
    env = _env(url)
    listing = {"project_id": PROJECT_ID}
    one = {"project_id": PROJECT_ID, "id": SLACK_INTEGRATION_ID}
    # --no-scope-check: our start-up then sends no request (the key-record read), like the other two.
    ours = StdioServerParameters(command=str(OURS), args=["--no-scope-check"], env=env)
    bare = StdioServerParameters(command=str(OURS), args=["--no-scope-check"], env=env | {"PYTHONPATH": str(untraced)})
    floor = StdioServerParameters(command=sys.executable, args=[str(BENCH / "floor_server.py")], env=env)
    found = [
        Contender("ours", ours, "integrations-list", listing, "integrations-get", one),
        Contender(UNTRACED, bare, "integrations-list", listing, "integrations-get", one),
        # The floor has one tool, so its concurrent calls are list calls: one GET each, as a get is.
        Contender("floor", floor, "integrations-list", listing, "integrations-list", listing),
    ]
    if peer is not None:
        quiet = {
            "FASTMCP_LOG_LEVEL": "WARNING",
            "FASTMCP_SHOW_SERVER_BANNER": "false",
            "FASTMCP_CHECK_FOR_UPDATES": "off",
        }
        fastmcp = StdioServerParameters(command=str(peer), args=[str(BENCH / "peer_server.py")], env=env | quiet)
        # FastMCP names tools by operationId with "-" made "_", and types project_id as the spec does: a string.
        peer_listing = {"project_id": str(PROJECT_ID)}
        peer_one = peer_listing | {"id": SLACK_INTEGRATION_ID}
        found.append(Contender("fastmcp", fastmcp, "integrations_list", peer_listing, "integrations_get", peer_one))
    return found


def _env(url: str) -> dict[str, str]:
    return {"POSTHOG_PERSONAL_API_KEY": FULL_KEY, "POSTHOG_HOST": url}


def scoped(url: str) -> Contender:
    """Ours as installed, scope check on (the default): its start-up reads the key's record, which PostHog answers
    RECORD_DELAY late during cold starts. Only cold starts: its calls are ours'."""
    params = StdioServerParameters(command=str(OURS), args=[], env=_env(url))
    return Contender(SCOPED, params, "integrations-list", {}, "integrations-get", {})


def connect(server: Contender) -> Client:
    return Client(server.params, mode="legacy", cache=None, read_timeout_seconds=CALL_TIMEOUT)


def rotated(items: Sequence[T], round_: int) -> list[T]:
    shift = round_ % len(items)
    return [*items[shift:], *items[:shift]]


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def timed(action: Action) -> float:
    started = time.perf_counter()
    with anyio.fail_after(CALL_TIMEOUT):
        await action()
    return time.perf_counter() - started


def our_children() -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                children.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return children


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for {pid}")


async def cold_start(server: Contender) -> float:
    """Spawn → initialize → tools/list answered. Closing the process is not counted."""
    started = time.perf_counter()
    with anyio.fail_after(CALL_TIMEOUT):
        async with connect(server) as client:
            await client.list_tools()
            elapsed = time.perf_counter() - started
    return elapsed


async def measure_cold_starts(fake: FakePostHog, servers: list[Contender], starts: int) -> None:
    async def late_key_record(request: Recorded) -> None:
        if request.path == KEY_RECORD:
            await anyio.sleep(RECORD_DELAY)

    fake.intercept = late_key_record
    try:
        for server in servers:  # warm-up: page cache, .pyc files
            await cold_start(server)
        for round_ in range(starts):
            for server in rotated(servers, round_):
                server.cold_starts.append(await cold_start(server))
    finally:
        fake.intercept = None


async def measure_calls(raw: httpx.AsyncClient, sessions: list[Session], calls: int) -> list[float]:
    """`calls` rounds of: the raw GET and each server's integrations-list both ways, in a new order each round.

    Shuffled rather than rotated: in a fixed cycle each call always follows the same one (a server just called is
    still warm, one that just answered may still be busy), and that bias would not average out."""

    async def raw_get() -> None:
        (await raw.get(LIST_PATH)).raise_for_status()

    def list_call(session: Session, sdk: bool) -> Action:
        return lambda: session.call(session.server.list_tool, session.server.list_arguments, sdk=sdk)

    raw_calls: list[float] = []
    runs: list[tuple[list[float], Action]] = [(raw_calls, raw_get)]
    for session in sessions:
        runs += [
            (session.server.calls, list_call(session, False)),
            (session.server.sdk_calls, list_call(session, True)),
        ]
    for _, action in runs * WARM_UP_CALLS:
        await action()
    for round_ in range(calls):
        for samples, action in random.Random(round_).sample(runs, len(runs)):
            samples.append(await timed(action))
    return raw_calls


async def measure_concurrency(fake: FakePostHog, sessions: list[Session], count: int, delay: float) -> None:
    async def slow(_: Recorded) -> None:
        await anyio.sleep(delay)

    def burst(session: Session) -> Action:
        async def run() -> None:
            async with anyio.create_task_group() as tasks:
                for _ in range(count):
                    tasks.start_soon(session.call, session.server.get_tool, session.server.get_arguments)

        return run

    fake.intercept = slow
    try:
        for round_ in range(CONCURRENT_ROUNDS):
            for session in rotated(sessions, round_):
                session.server.concurrent.append(await timed(burst(session)))
    finally:
        fake.intercept = None


async def measure_context(fake: FakePostHog, sessions: list[Session]) -> None:
    """tools/list as it travels (its tools, compact JSON) and the text of one page of 33 rows; then peak RSS."""
    rows = seed_33_rows(fake)
    for session in sessions:
        server = session.server
        tools = (await session.client.list_tools()).tools
        listed = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]
        wire = json.dumps(listed, separators=(",", ":"), ensure_ascii=False).encode()
        page = await session.call(server.list_tool, server.list_arguments | {"limit": 100})
        text = sum(len(item.text.encode()) for item in page.content if isinstance(item, types.TextContent))
        server.numbers = {
            "tools": len(tools),
            "tools_list_bytes": len(wire),
            "list_rows": rows,
            "list_text_bytes": text,
            "peak_rss_mb": peak_rss_mb(session.pid),  # the last thing before the process is closed
        }


async def measure(args: argparse.Namespace, peer: Path | None) -> dict[str, Any]:
    fake = FakePostHog()
    async with (
        running(fake) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {FULL_KEY}"}) as raw,
        AsyncExitStack() as stack,
    ):
        servers = contenders(url, peer, stack.enter_context(untraced_copy()))
        late = scoped(url)
        print(f"bench: cold starts ({args.starts} each, after one warm-up)", file=sys.stderr)
        await measure_cold_starts(fake, [*servers, late], args.starts)

        sessions = []
        for server in servers:
            before = our_children()
            client = await stack.enter_async_context(connect(server))
            (pid,) = our_children() - before
            sessions.append(Session(server, client, pid))
        print(f"bench: {args.calls} sequential integrations-list calls each, two ways", file=sys.stderr)
        raw_calls = await measure_calls(raw, sessions, args.calls)
        print(f"bench: {args.concurrent} concurrent calls, PostHog {args.delay} s a request", file=sys.stderr)
        await measure_concurrency(fake, sessions, args.concurrent, args.delay)
        await measure_context(fake, sessions)
        print(
            f"bench: remote mode, {args.concurrent} clients, {args.remote_calls} calls each, 1 and 2 workers",
            file=sys.stderr,
        )
        rates = {
            workers: await remote.calls_per_second(url, workers, args.concurrent, args.remote_calls)
            for workers in (1, 2)
        }
    return summarize(args, servers, late, raw_calls) | {"remote": remote.summary(rates)}


def summarize(
    args: argparse.Namespace, servers: list[Contender], late: Contender, raw_calls: list[float]
) -> dict[str, Any]:
    def ms(samples: list[float]) -> dict[str, float]:
        return {"median": statistics.median(samples) * 1000, "p95": percentile(samples, 0.95) * 1000}

    raw = ms(raw_calls)
    summary: dict[str, Any] = {}
    for server in servers:
        summary[server.name] = {
            "command": _command(server),
            "cold_start_s": {"median": statistics.median(server.cold_starts), "samples": server.cold_starts},
            "call_ms": ms(server.calls),
            "overhead_ms": ms(server.calls)["median"] - raw["median"],
            "sdk_call_ms": ms(server.sdk_calls),
            "concurrent_wall_s": {"median": statistics.median(server.concurrent), "samples": server.concurrent},
            **server.numbers,
        }
    summary[late.name] = {
        "command": _command(late),
        "cold_start_s": {"median": statistics.median(late.cold_starts), "samples": late.cold_starts},
        "key_record_delay_s": RECORD_DELAY,
    }
    settings = {"calls": args.calls, "starts": args.starts, "concurrent": args.concurrent, "delay_s": args.delay}
    return {"settings": settings | {"concurrent_rounds": CONCURRENT_ROUNDS}, "raw_ms": raw, "servers": summary}


def _command(server: Contender) -> str:
    path = (server.params.env or {}).get("PYTHONPATH")
    return " ".join([*([f"PYTHONPATH={path}"] if path else []), server.params.command, *server.params.args])


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    return {"nproc": os.cpu_count(), "arch": os.uname().machine, "python": sys.version.split()[0], "cpu": cpu}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="sequential integrations-list calls (default 200)")
    parser.add_argument("--starts", type=int, default=7, help="cold starts after one warm-up (default 7)")
    parser.add_argument("--concurrent", type=int, default=50, help="concurrent integrations-get calls (default 50)")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the fake adds per request then (0.2)")
    parser.add_argument("--remote-calls", type=int, default=10, help="calls per client in remote mode (default 10)")
    parser.add_argument("--no-peer", action="store_true", help="skip FastMCP (e.g. offline: it installs from PyPI)")
    parser.add_argument("--json", type=Path, default=BENCH / "last-run.json", help="where to write the JSON")
    args = parser.parse_args(argv)
    if min(args.calls, args.starts, args.concurrent) < 1:
        parser.error("--calls, --starts and --concurrent must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if not OURS.exists():
        sys.exit(f"bench: {OURS} not found: run inside the project's venv after `pip install -e .`")
    peer = None if args.no_peer else peer_venv.peer_python()
    started = time.perf_counter()
    measured = anyio.run(measure, args, peer)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "fastmcp": None if peer is None else peer_venv.FASTMCP,
        **measured,
        "seconds": round(time.perf_counter() - started, 1),
    }
    table, targets = render(results)
    results["targets"] = targets
    document = json.dumps(results, indent=2, ensure_ascii=False)
    args.json.write_text(document + "\n")
    print(table, end="\n\n")
    print(document, end="\n\n")
    for target in targets:
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[target["pass"]]
        print(f"{verdict}  {target['target']}: {target['value']}")
