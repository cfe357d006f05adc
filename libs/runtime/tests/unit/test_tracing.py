"""Traces through the runtime without a broker: HTTP → outbox row → relay header → consumer
span → its own outbox row, one trace; no NHS number in any span; off means no spans at all."""

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any
from uuid import uuid4

import pytest
import structlog
from fastapi import APIRouter, Depends
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.span_checks import in_memory_tracing, one_span, span_texts, trace_ids
from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.correlation import correlation_scope
from ensemble_runtime.definition import Command
from ensemble_runtime.logging import configure_logging, redact_pii
from ensemble_runtime.outbox import OutboxMessage, PendingRow
from ensemble_runtime.service import ServiceRuntime, runtime_of
from ensemble_runtime.tracing import Tracing, current_traceparent, trace_id_of

from ..support import RuntimeTestUnitOfWork, definition, encounter

NHS = "9990000018"
LATER = "9990000026"  # what the consumer's handler publishes about
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Admit(Command[None]):
    nhs_number: str


def admit(uow: RuntimeTestUnitOfWork, command: Admit) -> None:
    log.info("admitting")  # a line written inside the unit of work
    # No correlation id given: publishing inside the request gives the event the request's.
    uow.publish(HOSPITAL_ENCOUNTERS, encounter(command.nhs_number, 1))
    uow.commit()


def pass_on(uow: RuntimeTestUnitOfWork, event: EncounterEvent) -> None:
    """A consumer that publishes in turn (as scoring does after an encounter)."""
    log.info("passing on")
    uow.publish(HOSPITAL_ENCOUNTERS, encounter(LATER, 2, event.correlation_id))


router = APIRouter()
Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]


@router.post("/v1/patients/{nhs_number}/admit")
async def admit_route(nhs_number: str, runtime: Runtime) -> dict[str, str]:
    await runtime.execute(Admit(nhs_number))
    return {"status": "admitted"}


Kit = ServiceKit[Any, RuntimeTestUnitOfWork]


def kit_with(tmp_path: Path, tracing: Tracing | None, **settings: Any) -> Kit:
    """The test service; `tracing` None: as its settings say (off unless configured)."""
    service = definition(
        handlers={"encounter.admitted": pass_on}, commands={Admit: admit}, routers=[router]
    )
    return ServiceKit(service, f"sqlite:///{tmp_path / 's.db'}", tracing=tracing, **settings)


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[Kit, InMemorySpanExporter]]:
    tracing, spans = in_memory_tracing("runtime-tests")
    kit = kit_with(tmp_path, tracing)
    yield kit, spans
    kit.dispose()


def assert_no_nhs_number(spans: InMemorySpanExporter) -> None:
    finished = spans.get_finished_spans()
    assert finished
    texts = list(span_texts(finished))
    assert not [t for t in texts if NHS in t or LATER in t], texts


async def test_http_intake_outbox_relay_and_consumer_are_one_trace(
    traced: tuple[Kit, InMemorySpanExporter],
) -> None:
    kit, spans = traced
    async with kit.client() as http:
        answer = await http.post(f"/v1/patients/{NHS}/admit")
    assert answer.status_code == 200
    server = one_span(spans, "POST /v1/patients/{nhs_number}/admit")  # the template, not the path
    assert server.kind is SpanKind.SERVER
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 200
    (row,) = kit.outbox_rows()
    assert row.traceparent is not None
    assert trace_id_of(row.traceparent) == f"{server.context.trace_id:032x}"
    # The event carries the request's correlation id, echoed to the caller.
    assert answer.headers["x-correlation-id"] == row.correlation_id

    # The relay sends the row in a span of its own, its traceparent as the header.
    sent = await relay_headers(kit, row)
    publish = one_span(spans, f"send {HOSPITAL_ENCOUNTERS.name}")
    assert publish.kind is SpanKind.PRODUCER and publish.parent is not None
    assert publish.parent.span_id == server.context.span_id
    ids = f"{publish.context.trace_id:032x}-{publish.context.span_id:016x}"
    assert sent["traceparent"].startswith(f"00-{ids}-")

    # The consumer continues it, and what its handler stages carries the trace on.
    subscription = kit.subscription(HOSPITAL_ENCOUNTERS)
    event = HOSPITAL_ENCOUNTERS.value.model_validate_json(row.payload)
    assert kit.runtime.consumers.apply(subscription, event, sent["traceparent"]) == "processed"
    consumed = one_span(spans, f"process {HOSPITAL_ENCOUNTERS.name}")
    assert consumed.kind is SpanKind.CONSUMER and consumed.parent is not None
    assert consumed.parent.span_id == publish.context.span_id
    assert consumed.attributes is not None
    assert consumed.attributes["messaging.consumer.group.name"] == subscription.group
    _, passed_on = kit.outbox_rows()
    assert trace_id_of(passed_on.traceparent) == f"{server.context.trace_id:032x}"

    assert len(trace_ids(spans.get_finished_spans())) == 1
    assert_no_nhs_number(spans)


async def relay_headers(kit: Kit, row: OutboxMessage) -> dict[str, str]:
    """What the relay sends for `row`, through a producer that only records."""
    relay = kit.runtime.relay
    pending = PendingRow(
        row.id or 0,
        row.topic,
        row.key,
        row.event_id,
        row.event_type,
        row.correlation_id,
        row.payload,
        row.traceparent,
    )
    producer = RecordingProducer()
    assert await relay._send_all(producer, [pending]) == [None]
    (headers,) = producer.headers
    return {name: value.decode() for name, value in headers}


class RecordingProducer:
    def __init__(self) -> None:
        self.headers: list[list[tuple[str, bytes]]] = []

    async def send(self, topic: str, value: bytes, key: Any, headers: Any) -> Any:
        self.headers.append(headers)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


async def test_each_event_of_a_batch_continues_its_own_trace(
    traced: tuple[Kit, InMemorySpanExporter],
) -> None:
    kit, spans = traced
    tracing = kit.runtime.tracing
    parents = []
    for name in ("first", "second"):
        with tracing.span(name):
            parents.append(current_traceparent())
    events = [encounter(NHS, 1), encounter(NHS, 2)]
    records = [
        SimpleNamespace(
            topic=HOSPITAL_ENCOUNTERS.name,
            partition=0,
            offset=offset,
            key=NHS.encode(),
            value=event.model_dump_json().encode(),
            headers=[("traceparent", (parent or "").encode())],
        )
        for offset, (event, parent) in enumerate(zip(events, parents, strict=True))
    ]
    message = SimpleNamespace(raw_message=tuple(records), ack=_no_ack)
    await kit.runtime.consumers.process_batch(kit.subscription(HOSPITAL_ENCOUNTERS), message)  # type: ignore[arg-type]

    consumed = [s for s in spans.get_finished_spans() if s.name.startswith("process ")]
    assert [trace_id_of(p) for p in parents] == [f"{s.context.trace_id:032x}" for s in consumed]
    rows = kit.outbox_rows()
    assert [trace_id_of(r.traceparent) for r in rows] == [trace_id_of(p) for p in parents]
    assert_no_nhs_number(spans)


async def _no_ack() -> None:
    return None


async def test_tracing_off_records_nothing_and_stores_no_traceparent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    kit = kit_with(tmp_path, None)  # no endpoint configured: off
    try:
        assert not kit.runtime.tracing.enabled
        with kit.runtime.tracing.span("ignored") as span:
            assert span is None and current_traceparent() is None
        async with kit.client() as http:
            answer = await http.post(f"/v1/patients/{NHS}/admit")
        assert answer.status_code == 200 and answer.headers["x-correlation-id"]
        (row,) = kit.outbox_rows()
        assert row.traceparent is None
        assert "traceparent" not in await relay_headers(kit, row)
    finally:
        kit.dispose()


async def test_a_caller_s_correlation_id_is_kept_and_a_bad_one_replaced(
    traced: tuple[Kit, InMemorySpanExporter],
) -> None:
    kit, _ = traced
    given = str(uuid4())
    async with kit.client() as http:
        kept = await http.post(f"/v1/patients/{NHS}/admit", headers={"X-Correlation-ID": given})
        replaced = await http.post(
            f"/v1/patients/{LATER}/admit", headers={"X-Correlation-ID": "not-a-uuid"}
        )
    assert kept.headers["x-correlation-id"] == given
    assert replaced.headers["x-correlation-id"] not in (given, "not-a-uuid")
    assert [r.correlation_id for r in kit.outbox_rows()] == [
        given,
        replaced.headers["x-correlation-id"],
    ]


def test_inside_an_intake_an_event_keeps_a_correlation_id_of_its_own(tmp_path: Path) -> None:
    kit = kit_with(tmp_path, None)
    own = uuid4()
    try:
        with correlation_scope() as intake, kit.unit_of_work() as uow:
            uow.publish(HOSPITAL_ENCOUNTERS, encounter(NHS, 1))  # none: the intake's
            uow.publish(HOSPITAL_ENCOUNTERS, encounter(NHS, 2, own))  # its own: kept
            uow.commit()
        assert [r.correlation_id for r in kit.outbox_rows()] == [str(intake), str(own)]
    finally:
        kit.dispose()


async def test_probes_and_scrapes_are_not_traced(traced: tuple[Kit, InMemorySpanExporter]) -> None:
    kit, spans = traced
    async with kit.client() as http:
        for path in ("/healthz", "/metrics"):
            answer = await http.get(path)
            assert answer.status_code == 200 and answer.headers["x-correlation-id"]
    assert spans.get_finished_spans() == ()


async def test_log_lines_of_intake_and_consumption_carry_trace_and_correlation_ids(
    traced: tuple[Kit, InMemorySpanExporter], capsys: pytest.CaptureFixture[str]
) -> None:
    kit, _ = traced
    configure_logging("unit", "INFO", json=True)
    # Not cached: a module's logger bound now would skip later tests' capture_logs.
    structlog.configure(cache_logger_on_first_use=False)
    try:
        async with kit.client() as http:
            answer = await http.post(f"/v1/patients/{NHS}/admit")
        (row,) = kit.outbox_rows()
        event = HOSPITAL_ENCOUNTERS.value.model_validate_json(row.payload)
        kit.runtime.consumers.apply(kit.subscription(HOSPITAL_ENCOUNTERS), event, row.traceparent)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    lines = {
        line["event"]: line
        for line in map(json.loads, capsys.readouterr().err.splitlines())
        if line["event"] in ("admitting", "passing on")
    }
    trace_id = trace_id_of(row.traceparent)
    assert lines["admitting"]["trace_id"] == lines["passing on"]["trace_id"] == trace_id
    assert lines["admitting"]["correlation_id"] == answer.headers["x-correlation-id"]
    assert lines["passing on"]["correlation_id"] == row.correlation_id


def test_an_error_is_recorded_by_its_type_only(traced: tuple[Kit, InMemorySpanExporter]) -> None:
    kit, spans = traced
    with pytest.raises(ValueError), kit.runtime.tracing.span("failing"):
        raise ValueError(f"bad NHS number {NHS}")
    failing = one_span(spans, "failing")
    assert failing.status.description == "ValueError" and not failing.events
    assert_no_nhs_number(spans)


def test_ids_with_runs_of_digits_are_not_masked_but_an_nhs_number_is() -> None:
    trace_id, span_id = "9990000018abcdef0123456789abcdef", "9990000018abcdef"
    correlation_id = "d5907899-539f-4e8b-bd67-158ef63afeec"  # "5907899-539" reads as 4-3-3
    ids = {"trace_id": trace_id, "span_id": span_id, "correlation_id": correlation_id}
    line = redact_pii(None, "info", {"event": f"about {NHS}", **ids})
    assert line == {"event": "about [nhs-number]", **ids}
    # Only in their own shape: anything else under those keys is redacted as usual.
    assert redact_pii(None, "info", {"trace_id": NHS})["trace_id"] == "[nhs-number]"
    assert redact_pii(None, "info", {"correlation_id": NHS})["correlation_id"] == "[nhs-number]"
