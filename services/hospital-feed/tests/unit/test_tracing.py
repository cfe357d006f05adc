"""Intake is traced (HTTP, FHIR and MLLP) and carries one correlation id: the outbox row holds
the intake span's traceparent, the alert consumer continues it, and no span names the patient.
"""

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.span_checks import in_memory_tracing, one_span, span_texts, trace_ids
from ensemble_devkit.testkit import token
from ensemble_runtime.logging import configure_logging
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.tracing import trace_id_of
from hospital_feed.entrypoints.mllp import MllpListener, frame

from ..fhir_samples import encounter
from ..samples import RCB_A01
from ..support import FeedKit, alerts, feed_kit

NHS = "9990000018"  # the samples' patient, TEST^PATIENT
PATIENT_TEXTS = (NHS, "PATIENT", "TEST STREET", "19410302")
SENDER = {"Authorization": f"Bearer {token('sender', 'RCB')}"}
ORIGINAL_MODE_A01 = RCB_A01.replace("|||AL|NE", "")


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[FeedKit, InMemorySpanExporter]]:
    tracing, spans = in_memory_tracing("hospital-feed")
    # The alerts consumer projects (not intake): these tests follow the trace across its hop.
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", tracing=tracing, alerts_at_intake=False)
    yield kit, spans
    kit.dispose()


def trace_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def alert_the_practice(kit: FeedKit, row: OutboxMessage) -> None:
    """hospital-feed's own alert consumer takes the event, continuing the row's trace (as
    from the relay's header)."""
    event = HOSPITAL_ENCOUNTERS.value.model_validate_json(row.payload)
    subscription = kit.subscription(HOSPITAL_ENCOUNTERS, "hospital-feed.alerts")
    assert kit.runtime.consumers.apply(subscription, event, row.traceparent) == "processed"


def assert_nothing_of_the_patient(spans: InMemorySpanExporter) -> None:
    texts = list(span_texts(spans.get_finished_spans()))
    assert texts
    assert not [t for t in texts if any(p in t for p in PATIENT_TEXTS)], texts


async def test_http_hl7_intake_to_the_alert_is_one_trace_without_the_patient(
    traced: tuple[FeedKit, InMemorySpanExporter],
) -> None:
    kit, spans = traced
    async with kit.client() as http:
        answer = await http.post("/v1/hl7v2", content=RCB_A01, headers=SENDER)
    assert "MSA|AA|" in answer.text
    server, intake = one_span(spans, "POST /v1/hl7v2"), one_span(spans, "hl7v2 intake")
    assert server.kind is SpanKind.SERVER
    assert intake.parent is not None and server.context is not None
    assert intake.parent.span_id == server.context.span_id
    assert intake.attributes is not None and intake.attributes["ensemble.sender"] == "RCB"
    (row,) = kit.outbox_rows()
    assert trace_id_of(row.traceparent) == trace_of(intake)
    assert row.correlation_id == answer.headers["x-correlation-id"]  # the request's

    alert_the_practice(kit, row)
    assert [a.kind for a in alerts(kit)] == ["admitted"]
    consumed = one_span(spans, f"process {HOSPITAL_ENCOUNTERS.name}")
    assert consumed.kind is SpanKind.CONSUMER and trace_of(consumed) == trace_of(intake)
    assert len(trace_ids(spans.get_finished_spans())) == 1
    assert_nothing_of_the_patient(spans)


async def test_fhir_intake_is_traced_like_hl7(
    traced: tuple[FeedKit, InMemorySpanExporter],
) -> None:
    kit, spans = traced
    async with kit.client() as http:
        answer = await http.post(
            "/v1/fhir/Encounter",
            content=json.dumps(encounter()),
            headers={**SENDER, "content-type": "application/fhir+json"},
        )
    assert answer.status_code == 200
    intake = one_span(spans, "fhir intake")
    (row,) = kit.outbox_rows()
    assert trace_id_of(row.traceparent) == trace_of(intake)
    assert row.correlation_id == answer.headers["x-correlation-id"]
    assert_nothing_of_the_patient(spans)


async def test_each_mllp_frame_is_its_own_trace_and_correlation(
    traced: tuple[FeedKit, InMemorySpanExporter],
) -> None:
    kit, spans = traced
    second = ORIGINAL_MODE_A01.replace("RCB0000001", "RCB0000002").replace("V00123", "V00124")
    listener = MllpListener(kit.runtime, "RCB", "127.0.0.1", 0)
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(frame(ORIGINAL_MODE_A01) + frame(second))
        await writer.drain()
        for _ in range(2):
            await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 10)
        writer.close()
    finally:
        await listener.stop()
    intakes = [s for s in spans.get_finished_spans() if s.name == "hl7v2 intake"]
    assert [(s.kind, s.parent) for s in intakes] == [(SpanKind.SERVER, None)] * 2  # roots
    staged = kit.outbox_rows()
    assert {trace_id_of(r.traceparent) for r in staged} == {trace_of(s) for s in intakes}
    assert len({r.correlation_id for r in staged}) == 2
    assert_nothing_of_the_patient(spans)


async def test_intake_and_consumer_log_lines_carry_trace_and_correlation_ids(
    traced: tuple[FeedKit, InMemorySpanExporter], capsys: pytest.CaptureFixture[str]
) -> None:
    kit, _ = traced
    configure_logging("hospital-feed", "INFO", json=True)
    # Not cached: a module's logger bound now would skip later tests' capture_logs.
    structlog.configure(cache_logger_on_first_use=False)
    try:
        async with kit.client() as http:
            answer = await http.post("/v1/hl7v2", content=RCB_A01, headers=SENDER)
        (row,) = kit.outbox_rows()
        alert_the_practice(kit, row)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    written = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    lines = [line for line in written if line["logger"] != "httpx"]  # the test's own client
    received = [line for line in lines if line["event"] == "hl7 message received"]
    assert received, lines
    trace_id = trace_id_of(row.traceparent)
    assert received[0]["trace_id"] == trace_id
    assert received[0]["correlation_id"] == answer.headers["x-correlation-id"]
    # Every line written while the message was taken in and projected carries both ids.
    assert all(line.get("trace_id") == trace_id for line in lines), lines
    assert all(line.get("correlation_id") == row.correlation_id for line in lines), lines
