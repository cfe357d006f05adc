"""Exporting spans: off unless configured, and a collector that fails costs one warning,
never the service's work."""

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ensemble_runtime.service import serve
from ensemble_runtime.tracing import QuietExporter, Tracing, TracingSettingError

from ..support import RuntimeTestSettings, definition
from .test_tracing import NHS, kit_with

FAILING = "trace export failing, spans dropped until the collector answers"
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in OTEL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def endpoint(**settings: Any) -> str | None:
    return RuntimeTestSettings(database_url="sqlite://", **settings).otlp_traces_endpoint()


def test_tracing_is_off_unless_a_collector_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert endpoint() is None
    assert not Tracing.otlp("unit", None).enabled
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318/")
    assert endpoint() == "http://base:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://full:4318/spans")
    assert endpoint() == "http://full:4318/spans"  # the traces-only variable is a full URL
    # The service's own setting wins; OTEL_SDK_DISABLED turns every one of them off.
    assert endpoint(tracing_otlp_endpoint="http://ours:4318") == "http://ours:4318/v1/traces"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert endpoint(tracing_otlp_endpoint="http://ours:4318") is None


def test_a_malformed_endpoint_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="tracing_otlp_endpoint"):
        endpoint(tracing_otlp_endpoint="collector:4318")


class Failing(SpanExporter):
    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.calls += 1
        if self.down:
            raise ConnectionError("collector away")
        return SpanExportResult.SUCCESS


def export_one(tracing: Tracing) -> None:
    with tracing.span("work"):
        pass
    tracing.flush()


def test_a_failing_collector_warns_once_and_says_when_it_is_back() -> None:
    inner = Failing()
    url = "http://user:secret@collector:4318/v1/traces"
    tracing = Tracing("unit", QuietExporter(inner, url, retry_seconds=0))
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            export_one(tracing)
        inner.down = False
        export_one(tracing)
    tracing.shutdown()
    said = [(line["log_level"], line["event"]) for line in logs]
    assert said == [("warning", FAILING), ("info", "trace export works again")]
    assert all(line["collector"] == "http://collector:4318" for line in logs)  # no credentials


def test_while_the_collector_fails_batches_are_dropped_without_trying_it() -> None:
    inner = Failing()
    tracing = Tracing("unit", QuietExporter(inner, "http://collector:4318", retry_seconds=3600))
    for _ in range(5):
        export_one(tracing)
    tracing.shutdown()
    assert inner.calls == 1  # the next try is an hour away: no thread stuck in retries


async def test_a_service_with_an_unreachable_collector_serves_and_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("ensemble_runtime.tracing.EXPORT_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")  # full at once: drops, not log lines
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1")
    # The discard port: connections are refused.
    kit = kit_with(tmp_path, None, tracing_otlp_endpoint="http://127.0.0.1:9")
    try:
        tracing = kit.runtime.tracing
        assert tracing.enabled
        with structlog.testing.capture_logs() as logs, caplog.at_level(logging.DEBUG):
            async with kit.client() as http:
                for _ in range(4):
                    answer = await http.post(f"/v1/patients/{NHS}/admit")
                    assert answer.status_code == 200
            for _ in range(200):  # faster than the export thread drains a queue of two
                with tracing.span("work"):
                    pass
            tracing.flush(2)
    finally:
        kit.dispose()
        kit.runtime.tracing.shutdown()
    assert [line["event"] for line in logs if line["log_level"] == "warning"] == [FAILING]
    otel = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")]
    assert otel == []


def test_a_bad_span_batch_setting_stops_the_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    with pytest.raises(
        TracingSettingError, match=r"^OTEL_BSP_MAX_QUEUE_SIZE: 'lots' is not a positive"
    ):
        Tracing.otlp("unit", endpoint())

    class StoreHere(RuntimeTestSettings):
        database_url: str = f"sqlite:///{tmp_path}/store.db"

    test_service = dataclasses.replace(definition(), settings=StoreHere)
    with pytest.raises(SystemExit) as stopped:
        serve(test_service)
    assert str(stopped.value).startswith("runtime-tests: OTEL_BSP_MAX_QUEUE_SIZE: 'lots' is not")
    assert "\n" not in str(stopped.value)
