"""The operator's controls: command-line flags, each with an environment variable; the flag wins.

PostHog itself (key, host, defaults) is configured in the environment only: see `server.config`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from server import __version__
from server.config import is_loopback
from server.secret_env import Allowed, parse_allowed
from tools import TOOLS
from tools.digits import ascii_int
from tools.integrations import FIXED_HOST_KINDS

ConfirmMode = Literal["auto", "always", "never"]
CONFIRM_MODES: tuple[ConfirmMode, ...] = ("auto", "always", "never")
TOOL_NAMES = tuple(spec.name for spec in TOOLS)
TOOLSETS = tuple(dict.fromkeys(spec.toolset for spec in TOOLS))
YES = frozenset({"1", "true", "yes", "on"})
NO = frozenset({"0", "false", "no", "off"})
"""The words of a switch, in variables and in X-PostHog-Read-Only alike."""


@dataclass(frozen=True)
class Options:
    command: Literal["serve", "doctor"] = "serve"
    read_only: bool = False
    enabled: frozenset[str] = frozenset(TOOL_NAMES)
    """The tools the operator's filter keeps (toolsets, tools, exclusions); read-only mode narrows it further."""
    scope_check: bool = True
    confirm: ConfirmMode = "auto"
    secret_env: Allowed = field(default_factory=dict)
    """Environment variables that `{"$env": NAME}` in integrations-create may read, each with the kinds it may fill."""
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    single_user: bool = False
    """HTTP: a private deployment that acts with the process's key when a request brings none."""
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    public_url: str = ""
    """HTTP: the origin clients reach, as OAuth metadata names it; empty: `http://<host>:<port>`."""
    authorization_server: str = ""
    """HTTP: where users sign in (OAuth); empty: the PostHog instance of POSTHOG_HOST, its own authorization server."""

    @property
    def origin(self) -> str:
        """The public URL, or what a client on this machine would reach."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return self.public_url or f"http://{host}:{self.port}"


def parse_options(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Options:
    """The options, or exit with a usage error that lists the valid names."""
    parser = argument_parser()
    flags = parser.parse_args(argv)

    def setting(flag: str | None, variable: str) -> str:
        return flag if flag is not None else environ.get(variable, "").strip()

    def switch(flag: bool | None, variable: str, default: bool) -> bool:
        if flag is not None:
            return flag
        value = environ.get(variable, "").strip().lower()
        if value and value not in YES | NO:
            parser.error(f"{variable}={value!r}: use 1 or 0")
        return value in YES if value else default

    def names(flag: str | None, variable: str, valid: Sequence[str], what: str) -> set[str]:
        chosen = _split(setting(flag, variable))
        if unknown := sorted(chosen - set(valid)):
            parser.error(f"unknown {what} {', '.join(unknown)}; the {what}s are: {', '.join(valid)}")
        return chosen

    toolsets = names(flags.toolsets, "POSTHOG_MCP_TOOLSETS", TOOLSETS, "toolset")
    tools = names(flags.tools, "POSTHOG_MCP_TOOLS", TOOL_NAMES, "tool")
    excluded = names(flags.exclude_tools, "POSTHOG_MCP_EXCLUDE_TOOLS", TOOL_NAMES, "tool")
    chosen = {spec.name for spec in TOOLS if spec.toolset in toolsets} | tools if toolsets or tools else set(TOOL_NAMES)
    asked = setting(flags.confirm, "POSTHOG_MCP_CONFIRM") or "auto"
    confirm = next((mode for mode in CONFIRM_MODES if mode == asked), None)
    if confirm is None:
        parser.error(f"POSTHOG_MCP_CONFIRM={asked!r}: use one of {', '.join(CONFIRM_MODES)}")
    transport = setting(flags.transport, "POSTHOG_MCP_TRANSPORT") or "stdio"
    if transport not in ("stdio", "http"):
        parser.error(f"POSTHOG_MCP_TRANSPORT={transport!r}: use stdio or http")
    port_text = setting(flags.port, "POSTHOG_MCP_PORT") or "8000"
    port = ascii_int(port_text)
    if port is None or not 0 < port < 65536:
        parser.error(f"POSTHOG_MCP_PORT={port_text!r}: use a port number")
    public_url = setting(flags.public_url, "POSTHOG_MCP_PUBLIC_URL")
    authorization_server = setting(flags.authorization_server, "POSTHOG_MCP_AUTHORIZATION_SERVER")
    for value, name, what in (
        (public_url, "--public-url (POSTHOG_MCP_PUBLIC_URL)", "public"),
        (authorization_server, "--authorization-server (POSTHOG_MCP_AUTHORIZATION_SERVER)", "sign-in"),
    ):
        if problem := _url_problem(value, what):
            parser.error(f"{name} {value!r}: {problem}")
    try:
        secret_env = parse_allowed(setting(flags.secret_env, "POSTHOG_MCP_SECRET_ENV"))
    except ValueError as problem:
        parser.error(f"--secret-env (POSTHOG_MCP_SECRET_ENV): {problem}")
    return Options(
        command=flags.command,
        transport="http" if transport == "http" else "stdio",
        host=setting(flags.host, "POSTHOG_MCP_HOST") or "127.0.0.1",
        port=port,
        single_user=switch(flags.single_user, "POSTHOG_MCP_SINGLE_USER", False),
        allowed_hosts=tuple(sorted(_split(setting(flags.allowed_hosts, "POSTHOG_MCP_ALLOWED_HOSTS")))),
        allowed_origins=tuple(sorted(_split(setting(flags.allowed_origins, "POSTHOG_MCP_ALLOWED_ORIGINS")))),
        public_url=public_url.rstrip("/"),
        authorization_server=authorization_server.rstrip("/"),
        read_only=switch(flags.read_only, "POSTHOG_MCP_READ_ONLY", False),
        enabled=frozenset(chosen - excluded),
        scope_check=switch(flags.scope_check, "POSTHOG_MCP_SCOPE_CHECK", True),
        confirm=confirm,
        secret_env=secret_env,
    )


def _url_problem(value: str, what: str) -> str | None:
    """Why `value` cannot be the public origin or the sign-in server, if it cannot. Users' browsers go to both, so
    plain http:// is for this machine only, and the public origin has no path: /mcp and the metadata hang off it."""
    if not value:
        return None
    parts = urlsplit(value.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or parts.username:
        return f"use the https:// URL of the {what} server, such as https://mcp.example.com"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "use https:// (plain http:// is accepted only for 127.0.0.1, ::1 and localhost)"
    if what == "public" and parts.path:
        return "give the origin alone (https://mcp.example.com): the server adds /mcp and the OAuth metadata's paths"
    return None


def _split(names: str) -> set[str]:
    return {name.strip() for name in names.split(",") if name.strip()}


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posthog-integrations-mcp",
        description="MCP server for PostHog's integrations API, over stdio. PostHog itself is configured in the "
        "environment: POSTHOG_PERSONAL_API_KEY, POSTHOG_HOST, POSTHOG_PROJECT_ID, POSTHOG_ORGANIZATION_ID, "
        "POSTHOG_MCP_TIMEOUT, POSTHOG_MCP_LOG_LEVEL, POSTHOG_MCP_MAX_RESULT_TOKENS.",
        epilog="Each flag has an environment variable, shown in brackets; the flag wins.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=("serve", "doctor"),
        default="serve",
        help="serve (default): serve MCP (stdio, or HTTP with --transport http); doctor: check the configuration "
        "against PostHog and exit",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--read-only",
        action="store_const",
        const=True,
        help="only the read tools; wins over every other setting [POSTHOG_MCP_READ_ONLY=1]",
    )
    parser.add_argument(
        "--toolsets", metavar="A,B", help=f"enable whole groups: {', '.join(TOOLSETS)} [POSTHOG_MCP_TOOLSETS]"
    )
    parser.add_argument(
        "--tools",
        metavar="X,Y",
        help="enable single tools; with --toolsets, the union; neither: all tools [POSTHOG_MCP_TOOLS]",
    )
    parser.add_argument("--exclude-tools", metavar="X,Y", help="remove tools [POSTHOG_MCP_EXCLUDE_TOOLS]")
    parser.add_argument(
        "--no-scope-check",
        dest="scope_check",
        action="store_const",
        const=False,
        help="do not ask PostHog for the key's scopes to hide the tools it cannot use [POSTHOG_MCP_SCOPE_CHECK=0]",
    )
    parser.add_argument(
        "--confirm",
        choices=CONFIRM_MODES,
        help="ask the user before a destructive tool runs: auto (when the client can ask; default), always "
        "(refuse when it cannot), never [POSTHOG_MCP_CONFIRM]",
    )
    parser.add_argument(
        "--secret-env",
        metavar="NAME=KIND|KIND,NAME",
        help='environment variables that {"$env": "NAME"} in integrations-create config may read, so credentials '
        "never pass through the model. NAME=kind|kind allows NAME only in those kinds (kind names in any case); a "
        "bare NAME only in kinds whose credentials PostHog sends to the provider's own host: "
        f"{', '.join(sorted(FIXED_HOST_KINDS))}. Other kinds (postgresql, databricks, ...) take the host from the "
        "config, so a prompt-injected call could send the secret anywhere [POSTHOG_MCP_SECRET_ENV]",
    )
    remote = parser.add_argument_group("remote mode (--transport http)")
    remote.add_argument(
        "--transport", choices=("stdio", "http"), help="stdio (default) or http [POSTHOG_MCP_TRANSPORT]"
    )
    remote.add_argument("--host", help="address to bind; default 127.0.0.1 [POSTHOG_MCP_HOST]")
    remote.add_argument("--port", help="port to bind; default 8000 [POSTHOG_MCP_PORT]")
    remote.add_argument(
        "--single-user",
        action="store_const",
        const=True,
        help="a private deployment: requests without a key act with the process's POSTHOG_PERSONAL_API_KEY, and "
        "--secret-env applies [POSTHOG_MCP_SINGLE_USER=1]",
    )
    remote.add_argument(
        "--allowed-hosts",
        metavar="H,H",
        help="Host headers to accept (DNS-rebinding protection), e.g. mcp.example.com; required for a non-loopback "
        "bind [POSTHOG_MCP_ALLOWED_HOSTS]",
    )
    remote.add_argument(
        "--allowed-origins",
        metavar="O,O",
        help="Origin headers to accept, and to allow by CORS, e.g. https://app.example.com "
        "[POSTHOG_MCP_ALLOWED_ORIGINS]",
    )
    remote.add_argument(
        "--public-url",
        metavar="URL",
        help="the origin clients reach, as OAuth metadata names it, e.g. https://mcp.example.com; set it behind a "
        "proxy or load balancer (it is never read from request headers); default http://HOST:PORT "
        "[POSTHOG_MCP_PUBLIC_URL]",
    )
    remote.add_argument(
        "--authorization-server",
        metavar="URL",
        help="where users sign in with OAuth; default the PostHog of POSTHOG_HOST (its own authorization server); "
        "PostHog Cloud may name https://oauth.posthog.com [POSTHOG_MCP_AUTHORIZATION_SERVER]",
    )
    return parser
