"""`server/telemetry.py` with the telemetry taken out, for the benchmark's "untraced" contender.

The benchmark runs a copy of our server with this module in that one's place (bench/run.py: `untraced`), so that one run
compares ours as installed, whose telemetry without the `otel` extra meets opentelemetry-api's no-op tracer and
meter, with ours recording nothing and importing no OpenTelemetry of its own. Same names and signatures as the
real module (tests/test_telemetry.py checks them); the context managers stay, so what is measured is what the
spans, attributes and histograms cost.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tools.request import ApiRequest


@dataclass
class ToolCall:
    name: str
    outcome: str = "success"

    def failed(self, message: str) -> None:
        self.outcome = "tool_error"


@contextmanager
def tool_call(name: str) -> Iterator[ToolCall]:
    yield ToolCall(name)


@dataclass
class Attempt:
    status: int | None = None

    def answered(self, status: int) -> None:
        self.status = status


def server_of(host: str) -> dict[str, Any]:
    return {}


@contextmanager
def attempt(request: ApiRequest, resend: int, server: Mapping[str, Any]) -> Iterator[Attempt]:
    yield Attempt()


def configure(environ: Mapping[str, str] = os.environ) -> None:
    return None
