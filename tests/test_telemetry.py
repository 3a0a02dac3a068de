"""OpenTelemetry: what an operator's collector receives from a tool call, and what it never receives."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SentSpan
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.options import Options
from tests.conftest import FakeClock, connected
from tests.fake_posthog import (
    FULL_KEY,
    SLACK_INTEGRATION_ID,
    SLACK_SECRETS,
    TWILIO_AUTH_TOKEN,
    TWILIO_INTEGRATION_ID,
    FakePostHog,
    running,
    serving,
)
from tests.test_stdio import INITIALIZE, converse, request

TRANSPORTS = ("auto", "legacy", "http")
"""In-process (as over stdio) in both protocol eras, and over streamable HTTP."""
SECRET = "sk-ant-api03-only-in-the-environment"
QUERY_VALUE = 4141
ITEM = "/api/projects/{project_id}/integrations/{id}/"
LIST = "/api/projects/{project_id}/integrations/"
SERVER_ERROR = {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}


class Collector:
    """The SDK's in-memory span exporter and metric reader, as the process's providers (which can be set once)."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracing = TracerProvider()
        self.tracing.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
        self.metering = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def points(self, name: str) -> list[tuple[dict[str, Any], int]]:
        """Each data point of histogram `name` since the last look: its attributes and its count."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = metric.data.data_points if metric.name == name else []
                    found += [(dict(p.attributes or {}), p.count) for p in points if isinstance(p, HistogramDataPoint)]
        return found

    def reset(self) -> None:
        self.exporter.clear()
        self.reader.get_metrics_data()


@functools.cache
def installed() -> Collector:
    """The process's providers, set at the first test that needs them and kept: OpenTelemetry lets a process set
    them once. (A fixture, even a session-scoped one defined here, is set up again after another file's tests run
    between two of this file's, and the second set-up is refused: the later tests then record nothing.)"""
    collector = Collector()
    trace.set_tracer_provider(collector.tracing)
    metrics.set_meter_provider(collector.metering)
    return collector


@pytest.fixture
def collected() -> Collector:
    collector = installed()
    collector.reset()
    return collector


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def lineage(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    """The names of `span`'s ancestors, nearest first."""
    by_id = {each.context.span_id: each for each in spans}
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def canonical(point: tuple[dict[str, Any], int]) -> str:
    return json.dumps(point, sort_keys=True)


def everything(span: ReadableSpan) -> str:
    """All that a span tells a collector: name, attributes, events, links and status."""
    told = {
        "name": span.name,
        "attributes": dict(span.attributes or {}),
        "events": [(event.name, dict(event.attributes or {})) for event in span.events],
        "links": [dict(link.attributes or {}) for link in span.links],
        "status": span.status.description,
        "resource": dict(span.resource.attributes),
    }
    return json.dumps(told, default=str)


async def test_a_tool_call_is_a_server_span_with_the_posthog_request_as_a_client_span_under_it(
    collected: Collector, fake: FakePostHog, transport: str
) -> None:
    async with connected(fake, mode=transport) as client:
        result = await client.call_tool("integrations-get", {"id": TWILIO_INTEGRATION_ID})
    assert result.is_error is False
    spans = collected.spans()
    (request,) = named(spans, f"GET {ITEM}")
    assert request.kind == SpanKind.CLIENT
    assert lineage(request, spans)[:2] == ["execute_tool integrations-get", "tools/call integrations-get"]
    (served,) = named(spans, "tools/call integrations-get")
    assert served.kind == SpanKind.SERVER
    assert served.status.status_code == StatusCode.UNSET
    assert dict(request.attributes or {}) == {
        "http.request.method": "GET",
        "url.template": ITEM,
        "server.address": "us.posthog.com",
        "server.port": 443,
        "http.response.status_code": 200,
        "gen_ai.tool.name": "integrations-get",
    }
    assert request.status.status_code == StatusCode.UNSET
    assert collected.points("mcp.server.operation.duration") == [
        (
            {
                "mcp.method.name": "tools/call",
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "integrations-get",
                "posthog_mcp.outcome": "success",
            },
            1,
        )
    ]


async def test_a_retried_read_is_one_client_span_per_attempt_and_counted_per_status_and_retry(
    collected: Collector, fake: FakePostHog, transport: str
) -> None:
    fake.fail_next(503, json=SERVER_ERROR)
    fake.fail_next(503, json=SERVER_ERROR)
    async with connected(fake, mode=transport, clock=FakeClock()) as client:
        result = await client.call_tool("integrations-list", {"kind": "slack"})
    assert result.is_error is False
    spans = collected.spans()
    attempts = sorted(named(spans, f"GET {LIST}"), key=lambda span: span.start_time or 0)
    assert [
        (
            (span.attributes or {}).get("http.request.resend_count"),
            (span.attributes or {}).get("http.response.status_code"),
            (span.attributes or {}).get("error.type"),
            span.status.status_code,
        )
        for span in attempts
    ] == [
        (None, 503, "503", StatusCode.ERROR),
        (1, 503, "503", StatusCode.ERROR),
        (2, 200, None, StatusCode.UNSET),
    ]
    (tool,) = named(spans, "execute_tool integrations-list")
    assert all(span.parent is not None and span.parent.span_id == tool.context.span_id for span in attempts)
    base = {"http.request.method": "GET", "url.template": LIST, "server.address": "us.posthog.com", "server.port": 443}
    assert sorted(collected.points("http.client.request.duration"), key=canonical) == sorted(
        [
            ({**base, "http.response.status_code": 503, "error.type": "503"}, 1),
            ({**base, "http.response.status_code": 503, "error.type": "503", "http.request.resend_count": 1}, 1),
            ({**base, "http.response.status_code": 200, "http.request.resend_count": 2}, 1),
        ],
        key=canonical,
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "outcome", "request_status"),
    [
        ("integrations-get", {"id": 999_999}, "4xx", 404),
        ("integrations-delete", {"id": 999_999}, "4xx", 404),
        ("integrations-get", {"id": "not a number"}, "tool_error", None),
        ("integrations-list", {"limit": 0}, "tool_error", None),
        ("integrations-create", {"kind": "slack", "config": {}}, "tool_error", None),
    ],
)
async def test_a_failed_call_is_an_error_span_with_the_message_the_model_got(
    collected: Collector,
    fake: FakePostHog,
    transport: str,
    tool: str,
    arguments: dict[str, Any],
    outcome: str,
    request_status: int | None,
) -> None:
    options = Options(scope_check=False, confirm="never")
    async with connected(fake, mode=transport, options=options) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    message = result.content[0].model_dump()["text"]
    spans = collected.spans()
    (executed,) = named(spans, f"execute_tool {tool}")
    assert (executed.status.status_code, executed.status.description) == (StatusCode.ERROR, message)
    assert (executed.attributes or {}).get("error.type") == outcome
    (served,) = named(spans, f"tools/call {tool}")
    assert served.status.status_code == StatusCode.ERROR
    requests = [span for span in spans if span.kind == SpanKind.CLIENT and span.name.startswith(("GET", "DELETE"))]
    assert [(span.attributes or {}).get("http.response.status_code") for span in requests] == (
        [request_status] if request_status else []
    )
    assert all(span.status.status_code == StatusCode.ERROR for span in requests)
    ((measured, count),) = collected.points("mcp.server.operation.duration")
    assert (measured["gen_ai.tool.name"], measured["posthog_mcp.outcome"], measured["error.type"], count) == (
        tool,
        outcome,
        outcome,
        1,
    )


async def test_no_span_holds_the_key_a_secret_from_a_result_an_env_value_or_a_query_value(
    collected: Collector, fake: FakePostHog, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_KEY", SECRET)
    options = Options(scope_check=False, secret_env={"ANTHROPIC_KEY": None}, single_user=True)
    async with connected(fake, mode=transport, options=options) as client:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("integrations-get", {"id": SLACK_INTEGRATION_ID}),
            ("integrations-get", {"id": TWILIO_INTEGRATION_ID}),
            ("integrations-list", {"kind": "twilio", "offset": QUERY_VALUE}),
            ("integrations-create", {"kind": "anthropic", "config": {"api_key": {"$env": "ANTHROPIC_KEY"}}}),
            ("integrations-create", {"kind": "twilio", "config": {"account_sid": "AC1", "auth_token": SECRET}}),
        ]
        for tool, arguments in calls:
            await client.call_tool(tool, arguments)
    spans = collected.spans()
    sent = [span for span in spans if span.kind == SpanKind.CLIENT and "/api/" in span.name]
    assert len(sent) == len(calls)
    assert fake.requests[-2].body["config"]["api_key"] == SECRET  # PostHog got it: the reference was filled in
    assert fake.requests[2].query["offset"] == str(QUERY_VALUE)
    told = "\n".join(everything(span) for span in spans)
    for secret in (FULL_KEY, *SLACK_SECRETS, TWILIO_AUTH_TOKEN, SECRET, str(QUERY_VALUE), "Bearer"):
        assert secret not in told
    assert f"/integrations/{SLACK_INTEGRATION_ID}/" not in told  # the template, never the filled-in path


class OtlpCollector:
    """An OTLP/HTTP endpoint that keeps what it receives: the raw bodies, and the spans and metric names in them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.spans: list[tuple[str, SentSpan]] = []
        self.metrics: set[str] = set()
        self.app = Starlette(routes=[Route("/v1/{signal}", self.receive, methods=["POST"])])

    async def receive(self, http: Request) -> Response:
        body = await http.body()
        self.bodies.append(body)
        if http.path_params["signal"] == "traces":
            traces = ExportTraceServiceRequest.FromString(body)
            for resource in traces.resource_spans:
                service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
                self.spans += [(service, span) for scope in resource.scope_spans for span in scope.spans]
        else:
            sent = ExportMetricsServiceRequest.FromString(body)
            self.metrics |= {m.name for r in sent.resource_metrics for scope in r.scope_metrics for m in scope.metrics}
        return Response(b"", media_type="application/x-protobuf")


async def test_the_installed_server_exports_to_the_otlp_endpoint_that_the_standard_variables_name(
    fake: FakePostHog,
) -> None:
    collector = OtlpCollector()
    async with running(fake) as url, serving(collector.app) as endpoint:
        env = {
            "POSTHOG_PERSONAL_API_KEY": FULL_KEY,
            "POSTHOG_HOST": url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "integrations-mcp-test",
        }
        messages, stderr = await converse(
            env,
            [
                request(1, "initialize", INITIALIZE),
                b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n',
                request(2, "tools/call", {"name": "integrations-get", "arguments": {"id": TWILIO_INTEGRATION_ID}}),
                request(3, "tools/call", {"name": "integrations-get", "arguments": {"id": 999_999}}),
            ],
        )
    answers = {message["id"]: message["result"] for message in messages}
    assert (answers[2]["isError"], answers[3]["isError"]) == (False, True)
    kinds = {span.name: (service, span.kind) for service, span in collector.spans}
    assert {name: kinds.get(name) for name in ("tools/call integrations-get", f"GET {ITEM}")} == {
        "tools/call integrations-get": ("integrations-mcp-test", SentSpan.SPAN_KIND_SERVER),
        f"GET {ITEM}": ("integrations-mcp-test", SentSpan.SPAN_KIND_CLIENT),
    }
    executed = [span for _, span in collector.spans if span.name == "execute_tool integrations-get"]
    (failed,) = [span for span in executed if span.status.message]
    assert failed.status.message == answers[3]["content"][0]["text"]
    assert {"mcp.server.operation.duration", "http.client.request.duration"} <= collector.metrics
    assert not any(FULL_KEY.encode() in body or TWILIO_AUTH_TOKEN.encode() in body for body in collector.bodies)
    assert "OpenTelemetry" not in stderr


def test_without_the_otel_variables_the_sdk_is_not_imported() -> None:
    """The SDK (~100 ms to import) loads only when asked for: a server built without OTEL_* variables never sees it."""
    code = (
        "import sys; from server.app import build_server; from server.config import Settings; "
        "build_server(Settings.from_env({})); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert printed == "[]\n"
