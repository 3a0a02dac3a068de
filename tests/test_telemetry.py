"""OpenTelemetry: what an operator's collector receives from a tool call, and what it never receives."""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

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

import server
from bench import untraced_telemetry
from server import telemetry
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
VALIDATION_ERROR = {"type": "validation_error", "code": "invalid_input", "detail": "Bad request.", "attr": None}
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
    ("tool", "arguments", "answer", "outcome", "request_status"),
    [
        ("integrations-get", {"id": 999_999}, None, "4xx", 404),
        ("integrations-delete", {"id": 999_999}, None, "4xx", 404),
        ("integrations-delete", {"id": SLACK_INTEGRATION_ID}, 400, "4xx", 400),
        ("integrations-delete", {"id": SLACK_INTEGRATION_ID}, 500, "5xx", 500),
        ("integrations-delete", {"id": SLACK_INTEGRATION_ID}, 503, "5xx", 503),
        ("integrations-get", {"id": "not a number"}, None, "tool_error", None),
        ("integrations-list", {"limit": 0}, None, "tool_error", None),
        ("integrations-create", {"kind": "slack", "config": {}}, None, "tool_error", None),
    ],
)
async def test_a_failed_call_is_an_error_span_with_the_message_the_model_got(
    collected: Collector,
    fake: FakePostHog,
    transport: str,
    tool: str,
    arguments: dict[str, Any],
    answer: int | None,
    outcome: str,
    request_status: int | None,
) -> None:
    """`answer`: the status PostHog answers with instead of its own (a write is never retried)."""
    if answer is not None:
        fake.fail_next(answer, json=SERVER_ERROR if answer >= 500 else VALIDATION_ERROR)
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


def test_the_benchmarks_untraced_stand_in_offers_what_the_server_takes_from_telemetry() -> None:
    """bench/untraced_telemetry.py replaces server/telemetry.py in the benchmark's "untraced" contender: a name or a
    parameter the server uses and the stand-in lacks would fail that contender in a benchmark run, not here."""
    imported = {
        alias.name
        for path in Path(server.__file__).parent.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "server.telemetry"
        for alias in node.names
    }
    assert imported == {"configure", "tool_call", "Attempt", "attempt", "server_of"}
    for name in imported - {"Attempt"}:
        assert inspect.signature(getattr(untraced_telemetry, name)) == inspect.signature(getattr(telemetry, name))
    for cls, method in [("Attempt", "answered"), ("ToolCall", "failed")]:
        real, stand_in = getattr(getattr(telemetry, cls), method), getattr(getattr(untraced_telemetry, cls), method)
        assert inspect.signature(stand_in) == inspect.signature(real), f"{cls}.{method}"
    assert {"name", "outcome"} <= set(inspect.signature(untraced_telemetry.ToolCall).parameters)


ENDPOINT = "http://collector.internal:4318"
BOTH = {"trace_exporter_names": ["otlp_proto_http"], "metric_exporter_names": ["otlp_proto_http"]}


@pytest.mark.parametrize(
    ("environ", "exporters"),
    [
        ({}, None),
        ({"OTEL_SERVICE_NAME": "posthog-mcp", "OTEL_RESOURCE_ATTRIBUTES": "team=growth"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, BOTH),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{ENDPOINT}/v1/traces"}, BOTH),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{ENDPOINT}/v1/metrics"}, BOTH),
        ({"OTEL_TRACES_EXPORTER": "console"}, {**BOTH, "trace_exporter_names": []}),
        ({"OTEL_METRICS_EXPORTER": "none"}, {**BOTH, "metric_exporter_names": []}),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp"}, {k: [] for k in BOTH}),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"}, BOTH),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": ""}, BOTH),
    ],
)
def test_the_standard_variables_decide_whether_and_where_telemetry_is_exported(
    environ: dict[str, str], exporters: dict[str, list[str]] | None
) -> None:
    assert telemetry.exporters(environ) == exporters


class Configurations:
    """Stands in for the SDK's configurator, which sets the process's providers (once a process): what it was asked."""

    asked: ClassVar[list[dict[str, Any]]] = []
    failure: ClassVar[Exception | None] = None

    def configure(self, **asked: Any) -> None:
        Configurations.asked.append(asked)
        if Configurations.failure is not None:
            raise Configurations.failure


@pytest.fixture
def configurations(monkeypatch: pytest.MonkeyPatch) -> type[Configurations]:
    import opentelemetry.sdk._configuration as configuration

    monkeypatch.setattr(configuration, "_OTelSDKConfigurator", Configurations)
    monkeypatch.setattr(Configurations, "asked", [])
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    return Configurations


def test_asked_for_telemetry_the_server_has_the_sdk_set_it_up_once_with_otlp_by_default(
    configurations: type[Configurations], caplog: pytest.LogCaptureFixture
) -> None:
    telemetry.configure({})
    telemetry.configure({"OTEL_SERVICE_NAME": "posthog-mcp"})
    assert configurations.asked == []
    telemetry.configure({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_METRICS_EXPORTER": "console"})
    assert configurations.asked == [{**BOTH, "metric_exporter_names": []}]
    assert caplog.records == []


def test_a_process_whose_providers_are_set_already_keeps_them(
    configurations: type[Configurations], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: installed().tracing)
    telemetry.configure({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT})
    assert configurations.asked == []


def test_without_the_sdk_or_with_a_set_up_that_fails_the_server_says_so_and_serves_without_telemetry(
    configurations: type[Configurations], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    asking = {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}
    monkeypatch.setattr(configurations, "failure", ValueError("no exporter named 'zipkin_json'"))
    telemetry.configure(asking)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk._configuration", None)
    telemetry.configure(asking)
    assert configurations.asked == [BOTH]
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        (
            "WARNING",
            "OpenTelemetry could not be set up from the OTEL_* variables (no exporter named 'zipkin_json'); "
            "serving without it.",
        ),
        (
            "WARNING",
            "OTEL_* variables ask for telemetry, but the OpenTelemetry SDK is not installed (pip install "
            "'posthog-integrations-mcp[otel]'); serving without telemetry.",
        ),
    ]


@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        ("https://us.posthog.com", "us.posthog.com", 443),
        ("https://eu.posthog.com", "eu.posthog.com", 443),
        ("https://posthog.example.com:8443", "posthog.example.com", 8443),
        ("http://localhost", "localhost", 80),
        ("http://127.0.0.1:8010", "127.0.0.1", 8010),
        ("HTTP://PostHog.Internal", "posthog.internal", 80),
        ("http://[::1]", "::1", 80),
        ("https://[2001:db8::1]:8000", "2001:db8::1", 8000),
    ],
)
def test_every_request_span_names_the_posthog_server_and_port_it_went_to(host: str, address: str, port: int) -> None:
    assert telemetry.server_of(host) == {"server.address": address, "server.port": port}
