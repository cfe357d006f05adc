"""A row Kafka refuses is parked on its dead-letter topic; the rows behind it flow on."""

import base64
import json
import os
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID, uuid4

import pytest
from prometheus_client import REGISTRY
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.dlq_cli import Selection, replay
from ensemble_runtime.logging import configure_logging
from ensemble_runtime.outbox import OutboxMessage, pending

from ..support import Runtime, encounter, wait_for_seen
from .dlq import find_letters

pytestmark = pytest.mark.kafka
T = TypeVar("T")
TOPIC = HOSPITAL_ENCOUNTERS.name
A, B = "9990000018", "9990000026"


def oversized(nhs_number: str, sequence: int, correlation: UUID, padding: str) -> OutboxMessage:
    """An outbox row over Kafka's 1 MiB limit (readers ignore the unknown field)."""
    event = encounter(nhs_number, sequence, correlation)
    payload = json.loads(event.model_dump_json()) | {"padding": padding}
    return OutboxMessage(
        topic=TOPIC,
        key=nhs_number,
        event_id=event.event_id,
        event_type=event.event_type,
        correlation_id=str(correlation),
        payload=json.dumps(payload),
    )


def parked_count() -> float:
    return REGISTRY.get_sample_value("ensemble_outbox_parked_total", {"topic": TOPIC}) or 0.0


async def test_a_refused_row_is_parked_and_the_rows_behind_it_flow_on(
    runtime: Runtime, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("runtime-tests", "INFO", json=True)
    correlation = uuid4()
    compressible = oversized(A, 2, correlation, "x" * 1_200_000)
    incompressible = oversized(A, 3, correlation, base64.b64encode(os.urandom(1_200_000)).decode())
    ids = {compressible.event_id: "kept", incompressible.event_id: "omitted"}
    big_payload = compressible.payload
    parked_before = parked_count()

    def stage(session: Session) -> None:  # one transaction: A1, A2 (too big), A3 (too big), A4, B5
        for row in (
            _row(encounter(A, 1, correlation)),
            compressible,
            incompressible,
            _row(encounter(A, 4, correlation)),
            _row(encounter(B, 5, correlation)),
        ):
            session.add(row)
        session.commit()

    await runtime.store.run(_in_session, runtime, stage)
    runtime.relay.notify()

    rows = await wait_for_seen(runtime, correlation, 3, settle=0.5)  # nothing more should come
    assert [r.sequence for r in rows if r.nhs_number == A] == [1, 4]  # the key flowed on
    assert [r.sequence for r in rows if r.nhs_number == B] == [5]
    assert await runtime.store.run(_in_session, runtime, lambda s: pending(s, 10)) == []
    assert parked_count() - parked_before == 2

    letters = await find_letters(
        kafka_bootstrap, f"{TOPIC}.dlq", lambda letter: letter.causation_id in ids, count=2
    )
    by_event = {letter.causation_id: letter for letter in letters}
    kept, omitted = (by_event[event_id] for event_id in ids)
    for letter in letters:
        assert letter.error_type == "MessageSizeTooLargeError"
        assert letter.consumer == "outbox-relay" and letter.producer == "runtime-tests"
        assert letter.source_topic == TOPIC and letter.source_key == A
        assert (letter.source_partition, letter.source_offset) == (-1, -1)
    assert kept.payload == big_payload  # compressed, it fitted
    assert omitted.payload == "" and "omitted (too large)" in omitted.error

    errors = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if '"error"' in line
    ]
    parked_lines = [line for line in errors if line["event"].startswith("outbox row refused")]
    assert len(parked_lines) == 2 and all(line["level"] == "error" for line in parked_lines)
    assert all(
        "xxxxxxxxxx" not in json.dumps(line) and A not in json.dumps(line) for line in errors
    )

    # A replay of the kept letter is refused again: reported, not fatal.
    report = await replay(kafka_bootstrap, f"{TOPIC}.dlq", Selection(event_ids=frozenset(ids)))
    assert report.replayed == [] and len(report.failed) == 1, report.lines()
    assert "MessageSizeTooLargeError" in report.failed[0]
    assert any("no payload kept" in line for line in report.skipped)


def _row(event: EncounterEvent) -> OutboxMessage:
    return OutboxMessage(
        topic=TOPIC,
        key=event.nhs_number,
        event_id=event.event_id,
        event_type=event.event_type,
        correlation_id=str(event.correlation_id),
        payload=event.model_dump_json(),
    )


def _in_session(runtime: Runtime, work: Callable[[Session], T]) -> T:
    with Session(runtime.engine) as session:
        return work(session)
