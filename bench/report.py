"""The markdown table and the target checks, from the numbers of one run."""

from __future__ import annotations

from typing import Any

NAMES = ("ours", "untraced", "floor", "fastmcp")
SCOPED = "ours_scoped"
"""Ours with the scope check on and the key's record answered late: a cold-start row of its own, not a column."""
SAME = 1.10
"""Within this ratio of untraced counts as no slower: one server measured as two contenders in one run came out up
to 1.06x apart on this machine (BENCHMARKS.md)."""
UNTRACED = "untraced"
"""Ours with server/telemetry.py swapped for bench/untraced_telemetry.py: what ours would be without telemetry."""


def ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom > 0 else None


def times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def render(results: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    servers: dict[str, dict[str, Any]] = results["servers"]
    names = [name for name in NAMES if name in servers]
    ours, floor, peer, scoped = servers["ours"], servers["floor"], servers.get("fastmcp"), servers[SCOPED]
    untraced = servers[UNTRACED]
    settings = results["settings"]

    def row(label: str, value: Any) -> str:
        cells = [value(servers[name]) if callable(value) else value for name in names]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        row("cold start: spawn → initialize → tools/list, median (s)", lambda s: f"{s['cold_start_s']['median']:.3f}"),
        row("cold start ÷ floor", lambda s: times(ratio(s["cold_start_s"]["median"], floor["cold_start_s"]["median"]))),
        row("integrations-list, tools/call round trip, median (ms)", lambda s: f"{s['call_ms']['median']:.2f}"),
        row("integrations-list, tools/call round trip, p95 (ms)", lambda s: f"{s['call_ms']['p95']:.2f}"),
        row("overhead over the raw GET, median (ms)", lambda s: f"{s['overhead_ms']:.2f}"),
        row("ours' overhead ÷ this one's", lambda s: times(ratio(ours["overhead_ms"], s["overhead_ms"]))),
        row("integrations-list via Client.call_tool, median (ms)", lambda s: f"{s['sdk_call_ms']['median']:.2f}"),
        row("integrations-list via Client.call_tool, p95 (ms)", lambda s: f"{s['sdk_call_ms']['p95']:.2f}"),
        row(
            f"{settings['concurrent']} concurrent calls, PostHog +{settings['delay_s']} s each: wall, median (s)",
            lambda s: f"{s['concurrent_wall_s']['median']:.3f}",
        ),
        row("tools listed", lambda s: str(s["tools"])),
        row("tools/list (bytes)", lambda s: f"{s['tools_list_bytes']:,}"),
        row("tools/list (~tokens, bytes/4)", lambda s: f"{s['tools_list_bytes'] // 4:,}"),
        row(f"{ours['list_rows']}-row list, text (bytes)", lambda s: f"{s['list_text_bytes']:,}"),
        row(f"{ours['list_rows']}-row list, text (~tokens)", lambda s: f"{s['list_text_bytes'] // 4:,}"),
        row("ours' list text ÷ this one's", lambda s: times(ratio(ours["list_text_bytes"], s["list_text_bytes"]))),
        row("peak RSS, VmHWM (MB)", lambda s: f"{s['peak_rss_mb']:.1f}"),
        row("peak RSS - floor's (MB)", lambda s: f"{s['peak_rss_mb'] - floor['peak_rss_mb']:+.1f}"),
    ]
    raw, rates = results["raw_ms"], results["remote"]
    late = scoped["cold_start_s"]["median"]
    lines += [
        "",
        "Telemetry without the `otel` extra (opentelemetry-api's no-op tracer and meter), ours ÷ untraced: cold start "
        f"{times(ratio(ours['cold_start_s']['median'], untraced['cold_start_s']['median']))}, per-call overhead "
        f"{times(ratio(ours['overhead_ms'], untraced['overhead_ms']))}, "
        f"{settings['concurrent']} concurrent calls {times(ratio(*walls(ours, untraced)))}, "
        f"peak RSS {ours['peak_rss_mb'] - untraced['peak_rss_mb']:+.1f} MB.",
        "",
        f"Ours with the scope check on (the default), PostHog answering the key's record "
        f"{scoped['key_record_delay_s']} s late: cold start median {late:.3f} s, "
        f"{times(ratio(late, floor['cold_start_s']['median']))} the floor's.",
    ]
    lines += [
        "",
        f"Remote mode (`uvicorn --factory server.http:create_app`), {settings['concurrent']} concurrent clients over "
        "streamable HTTP, integrations-get: "
        f"{rates['1_workers_calls_per_s']:,.0f} calls/s with 1 worker, {rates['2_workers_calls_per_s']:,.0f} with 2.",
    ]
    lines += [
        "",
        f"Raw GET: the same request with one httpx.AsyncClient, median {raw['median']:.2f} ms, p95 {raw['p95']:.2f} "
        f"ms ({settings['calls']} calls). Overhead = a server's round-trip median minus that. A round trip is the bare "
        "tools/call request and its parsed result; Client.call_tool also validates structuredContent against the "
        "tool's output schema in the client (ours and FastMCP declare one, the floor none).",
    ]
    return "\n".join(lines), targets(ours, floor, peer, scoped, untraced)


def walls(*servers: dict[str, Any]) -> list[float]:
    return [server["concurrent_wall_s"]["median"] for server in servers]


def target(name: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    shown = "n/a" if value is None else f"{value:,.0f}{unit}" if isinstance(value, int) else f"{value:,.2f}{unit}"
    return {"target": name, "value": shown, "pass": None if value is None else value <= limit}


def targets(
    ours: dict[str, Any],
    floor: dict[str, Any],
    peer: dict[str, Any] | None,
    scoped: dict[str, Any],
    untraced: dict[str, Any],
) -> list[dict[str, Any]]:
    checks = [
        target(
            "cold start ≤ 1.10x floor",
            ratio(ours["cold_start_s"]["median"], floor["cold_start_s"]["median"]),
            1.10,
            "x",
        ),
        target(
            f"cold start, scope check on, key record {scoped['key_record_delay_s']} s late ≤ 1.05x floor",
            ratio(scoped["cold_start_s"]["median"], floor["cold_start_s"]["median"]),
            1.05,
            "x",
        ),
        target("per-call overhead ≤ 1.5x floor's", ratio(ours["overhead_ms"], floor["overhead_ms"]), 1.5, "x"),
        target(
            "per-call overhead ≤ 0.6x FastMCP's",
            ratio(ours["overhead_ms"], peer["overhead_ms"]) if peer else None,
            0.6,
            "x",
        ),
        target("tools/list ≤ 12,000 bytes", ours["tools_list_bytes"], 12_000, " bytes"),
        target(
            f"{ours['list_rows']}-row list text ≤ 50 % of FastMCP's",
            100 * ours["list_text_bytes"] / peer["list_text_bytes"] if peer else None,
            50,
            " %",
        ),
        target("peak RSS ≤ floor + 10 MB", ours["peak_rss_mb"] - floor["peak_rss_mb"], 10, " MB over the floor"),
        target(
            f"telemetry without the extra: cold start ≤ {SAME:.2f}x untraced",
            ratio(ours["cold_start_s"]["median"], untraced["cold_start_s"]["median"]),
            SAME,
            "x",
        ),
        target(
            f"telemetry without the extra: per-call overhead ≤ {SAME:.2f}x untraced",
            ratio(ours["overhead_ms"], untraced["overhead_ms"]),
            SAME,
            "x",
        ),
    ]
    if peer is None:
        for check in checks:
            if "FastMCP" in check["target"]:
                check["value"] = "skipped (--no-peer)"
    return checks
