"""OpenTelemetry: a span and a duration per tool call, a CLIENT span and a duration per request sent to PostHog.

Only opentelemetry-api is used here (the MCP SDK depends on it, and makes a SERVER span per inbound message): until
an SDK is set up its tracer and meter do nothing. `configure` sets one up from OpenTelemetry's own OTEL_* variables
when the `otel` extra is installed. Nothing recorded holds the key, a header, a query value, a body or a filled-in
path: a request is known by its method and path template, a call by its tool's name, and a failed call by the
message the model got (which has had `$env` values scrubbed and secrets cleaned).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from server import __version__
from tools.request import ApiRequest

logger = logging.getLogger(__name__)

NAME = "posthog-integrations-mcp"
ASKED_BY = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
)
"""Any of these set asks for telemetry; with none, the SDK is not even imported."""
OUTCOME = "posthog_mcp.outcome"
"""success, input_required (a confirmation asked for), tool_error, or PostHog's status class (4xx, 5xx)."""
DEFAULT_EXPORTER = "otlp_proto_http"
"""The exporter of a signal whose OTEL_*_EXPORTER is unset: OTLP over http/protobuf, OpenTelemetry's defaults, and
the exporter that the extra installs."""

_tracer = trace.get_tracer(NAME, __version__)
_meter = metrics.get_meter(NAME, __version__)
_call_duration = _meter.create_histogram(
    "mcp.server.operation.duration", unit="s", description="Duration of tools/call, per tool and outcome."
)
_request_duration = _meter.create_histogram(
    "http.client.request.duration", unit="s", description="Duration of each request to PostHog, per status and retry."
)


@dataclass
class ToolCall:
    """The tool call being served: its span, and the last status PostHog answered it with."""

    name: str
    span: Span
    status: int | None = None
    outcome: str = "success"

    def failed(self, message: str) -> None:
        """An error result: an error span with the model's message, and PostHog's status class when it refused."""
        status = self.status
        self.outcome = f"{status // 100}xx" if status is not None and status >= 400 else "tool_error"
        self.span.set_attribute("error.type", self.outcome)
        self.span.set_status(StatusCode.ERROR, message)


_serving: ContextVar[ToolCall | None] = ContextVar("posthog_mcp_tool_call", default=None)


@contextmanager
def tool_call(name: str) -> Iterator[ToolCall]:
    """An INTERNAL `execute_tool` span (GenAI's conventions) under the SDK's SERVER span, and the call's duration.

    Its own span because the SDK's marks a tool error without a description, after the handler returns."""
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    started = time.perf_counter()
    with _tracer.start_as_current_span(f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes=attributes) as span:
        call = ToolCall(name, span)
        token = _serving.set(call)
        try:
            yield call
        finally:
            _serving.reset(token)
            measured = {"mcp.method.name": "tools/call", **attributes, OUTCOME: call.outcome}
            if call.outcome not in ("success", "input_required"):
                measured["error.type"] = call.outcome
            _call_duration.record(time.perf_counter() - started, measured)


@dataclass
class Attempt:
    """One try of a request to PostHog; told the status when PostHog answers."""

    span: Span
    status: int | None = None

    def answered(self, status: int) -> None:
        self.status = status
        self.span.set_attribute("http.response.status_code", status)
        if (call := _serving.get()) is not None:
            call.status = status


def server_of(host: str) -> dict[str, Any]:
    """`server.address` and `server.port` of PostHog's base URL."""
    parts = urlsplit(host)
    return {
        "server.address": parts.hostname or "",
        "server.port": parts.port or (80 if parts.scheme == "http" else 443),
    }


@contextmanager
def attempt(request: ApiRequest, resend: int, server: Mapping[str, Any]) -> Iterator[Attempt]:
    """A CLIENT span named by method and path template, child of the tool call's span, and the try's duration."""
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "url.template": request.template or request.path,
        **server,
    }
    if resend:
        attributes["http.request.resend_count"] = resend
    call = _serving.get()
    named = {**attributes, "gen_ai.tool.name": call.name} if call is not None else attributes
    started = time.perf_counter()
    with _tracer.start_as_current_span(
        f"{request.method} {attributes['url.template']}",
        kind=SpanKind.CLIENT,
        attributes=named,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        sent = Attempt(span)
        try:
            yield sent
        except BaseException as failure:
            error = str(sent.status) if sent.status is not None else type(failure.__cause__ or failure).__qualname__
            attributes["error.type"] = error
            span.set_attribute("error.type", error)
            span.set_status(StatusCode.ERROR)
            raise
        finally:
            if sent.status is not None:
                attributes["http.response.status_code"] = sent.status
            _request_duration.record(time.perf_counter() - started, attributes)


def exporters(environ: Mapping[str, str]) -> dict[str, list[str]] | None:
    """The exporters to name to the SDK's configurator when the OTEL_* variables ask for telemetry, else None.

    The configurator adds the exporters that OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER name; a signal whose
    variable is unset gets OTLP over http/protobuf, as OpenTelemetry's own defaults say."""
    if not any(environ.get(name) for name in ASKED_BY) or environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    return {
        "trace_exporter_names": [] if environ.get("OTEL_TRACES_EXPORTER") else [DEFAULT_EXPORTER],
        "metric_exporter_names": [] if environ.get("OTEL_METRICS_EXPORTER") else [DEFAULT_EXPORTER],
    }


def configure(environ: Mapping[str, str] = os.environ) -> None:
    """Set up the OpenTelemetry SDK from the OTEL_* variables, when they ask for it and no one has set it up yet.

    The SDK's own configurator reads them, as `opentelemetry-instrument` does: its class is private, and is the one
    that distros (opentelemetry-distro among them) subclass, as its docstring asks; the `otel` extra pins the SDK
    below 2, and a test exports to a collector through it. It is imported only here, so a server without the
    variables starts without the SDK. A set-up that fails (say, an exporter that is not installed) is logged, and
    the server serves without telemetry.
    """
    asked = exporters(environ)
    if asked is None or not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    try:
        from opentelemetry.sdk._configuration import _OTelSDKConfigurator
    except ImportError:
        logger.warning(
            "OTEL_* variables ask for telemetry, but the OpenTelemetry SDK is not installed (pip install "
            "'posthog-integrations-mcp[otel]'); serving without telemetry."
        )
        return

    class Configurator(_OTelSDKConfigurator):
        """Ours, as a distro's."""

    try:
        Configurator().configure(**asked)  # type: ignore[no-untyped-call]
    except Exception as failure:
        logger.warning("OpenTelemetry could not be set up from the OTEL_* variables (%s); serving without it.", failure)
