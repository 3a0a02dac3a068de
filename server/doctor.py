"""`posthog-integrations-mcp doctor`: checks the configuration against PostHog, one line per check, each with a fix.

Exit 0 when the server would work, 1 otherwise. The key is never printed, at most its first 8 characters. The
report goes to stdout: it is a command for a person, and only `serve` speaks MCP there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from server.access import KEY_RECORD, KeyAccess, refusal
from server.config import SHORTHANDS, Settings
from server.options import Options
from server.posthog import http_client
from tools import TOOLS


@dataclass
class Report:
    """The `doctor` command's report. That command never serves MCP (server.main dispatches one or the other), so
    its report is its output, on stdout unless `out` says otherwise."""

    out: TextIO
    failed: bool = False

    def ok(self, line: str) -> None:
        print(f"✓ {line}", file=self.out)

    def fail(self, line: str, fix: str = "") -> None:
        self.failed = True
        print(f"✗ {line}" + (f"\n  → {fix}" if fix else ""), file=self.out)

    def skip(self, line: str) -> None:
        print(f"- {line}", file=self.out)


async def doctor(
    settings: Settings, options: Options, out: TextIO = sys.stdout, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    report = Report(out)
    keys_page = f"{settings.host}/settings/user-api-keys"
    if settings.api_key is not None:
        key = settings.api_key.get_secret_value()
        if key.startswith("phx_"):
            report.ok(f"API key {key[:8]}… is set and looks like a personal API key")
        else:
            report.fail(f"API key {key[:8]}… does not look like a personal API key (phx_…)", f"create one: {keys_page}")
    for problem in settings.problems:
        report.fail(problem)
    if settings.problems:
        return 1
    async with _client(settings, transport) as http:
        try:
            answer = await http.get(KEY_RECORD)
        except httpx.TransportError as error:
            report.fail(f"cannot reach {settings.host} ({error or type(error).__name__})", "check POSTHOG_HOST")
            return 1
        report.ok(f"{settings.host} answers")
        if answer.status_code == 401:
            fix = await _other_region(settings, transport, keys_page)
            report.fail(f"PostHog at {settings.host} rejects the key", fix)
            return 1
        access = _access(answer, report)
        if access is None:
            return 1
        offered = [spec.name for spec in TOOLS if refusal(spec, options, access) is None]
        scopes = ", ".join(sorted(access.scopes)) or "none"
        if not offered:
            report.fail(f"the key's scopes ({scopes}) allow none of the tools", f"add the tools' scopes at {keys_page}")
        else:
            report.ok(f"the key's scopes ({scopes}) allow {len(offered)} of {len(TOOLS)} tools: {', '.join(offered)}")
        project = f"/api/projects/{settings.project_id or '@current'}/"
        await _resolve(http, report, project, "project", "POSTHOG_PROJECT_ID")
        if access.projects:
            report.skip("organization not checked: the key is limited to projects, so organization tools are hidden")
        else:
            where = f"/api/organizations/{settings.organization_id or '@current'}/"
            await _resolve(http, report, where, "organization", "POSTHOG_ORGANIZATION_ID")
    return 1 if report.failed else 0


def _client(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    http = http_client(settings, transport)
    if settings.api_key is not None:
        http.headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    return http


def _access(answer: httpx.Response, report: Report) -> KeyAccess | None:
    try:
        access = KeyAccess.from_record(answer.json())
    except ValueError:
        report.fail(f"PostHog did not say what the key may do (HTTP {answer.status_code})", "run doctor again later")
        return None
    report.ok("PostHog accepts the key")
    return access


async def _other_region(settings: Settings, transport: httpx.AsyncBaseTransport | None, keys_page: str) -> str:
    """The fix for a 401: on PostHog Cloud, whether the key works in the other region."""
    regions = {urlsplit(url).hostname: url for url in SHORTHANDS.values()}
    host = urlsplit(settings.host).hostname
    if host not in regions:
        return f"check the key at {keys_page}: it may be wrong or revoked"
    other = next(url for name, url in regions.items() if name != host)
    async with _client(replace(settings, host=other), transport) as http:
        try:
            works_there = (await http.get(KEY_RECORD)).status_code == 200
        except httpx.TransportError:
            works_there = False
    if works_there:
        return f"the key belongs to the other region: set POSTHOG_HOST={other}"
    return f"the key is wrong or revoked in both regions: create one at {keys_page}"


async def _resolve(http: httpx.AsyncClient, report: Report, path: str, noun: str, variable: str) -> None:
    try:
        answer = await http.get(path)
    except httpx.TransportError as error:
        report.fail(f"could not read the {noun} ({error})", "run doctor again")
        return
    body = _json(answer)
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    if answer.is_success and isinstance(body, dict):
        report.ok(f"the default {noun} is {body.get('name')} ({body.get('id')})")
    elif answer.status_code == 403 and "missing required scope" in detail:
        report.skip(f"{noun} not checked: {detail}")
    else:
        said = detail or ("" if body is not None else f"with {answer.headers.get('Content-Type')} that is not JSON")
        report.fail(
            f"the default {noun} ({path}) does not resolve: HTTP {answer.status_code} {said}".rstrip(),
            f"set {variable} to one this key may use, or unset it to use the current {noun}",
        )


def _json(answer: httpx.Response) -> Any:
    """The answer's JSON; None when it has none, or what it calls JSON is not (a gateway's page, a cut-off body)."""
    try:
        return answer.json()
    except ValueError:
        return None
