"""Outbox → Kafka → inbox on the real broker: order per patient, dedupe, dead letters."""

import asyncio
import json
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlmodel import Session, col, select

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.consumer import Subscription
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.dead_letters import replay
from ensemble_runtime.service import ServiceRuntime

from ..support import (
    FAILING,
    FAILING_SEQUENCE,
    SeenEncounter,
    encounter,
    record_encounter,
    settings,
)

pytestmark = pytest.mark.kafka
PATIENTS = ["9990000018", "9990000026", "9990000034", "9990000042", "9990000050"]


@pytest.fixture
async def runtime(tmp_path, kafka_bootstrap: str) -> AsyncIterator[ServiceRuntime]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    subscription = Subscription(
        topic=HOSPITAL_ENCOUNTERS,
        group=f"runtime-tests-{uuid4()}",
        handlers={"encounter.admitted": record_encounter},
    )
    runtime = ServiceRuntime(settings(url, kafka_bootstrap), create_db_engine(url), [subscription])
    await runtime.start()
    yield runtime
    await runtime.stop()


async def seen(runtime: ServiceRuntime, correlation_id: UUID, count: int) -> list[SeenEncounter]:
    def query(session: Session) -> list[SeenEncounter]:
        statement = (
            select(SeenEncounter)
            .where(col(SeenEncounter.correlation_id) == correlation_id)
            .order_by(col(SeenEncounter.id))
        )
        return list(session.exec(statement))

    for _ in range(300):
        rows = await runtime.read(query)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    return await runtime.read(query)


async def test_outbox_events_arrive_once_each_and_in_order_per_patient(
    runtime: ServiceRuntime,
) -> None:
    correlation = uuid4()
    for start in range(0, 300, 50):

        def stage(uow, start=start):  # type: ignore[no-untyped-def]
            for sequence in range(start, start + 50):
                event = encounter(PATIENTS[sequence % 5], sequence, correlation)
                uow.publish(HOSPITAL_ENCOUNTERS, event)
            uow.commit()

        await runtime.transact(stage)

    rows = await seen(runtime, correlation, 300)
    assert len(rows) == 300
    assert sorted(r.sequence for r in rows) == list(range(300))
    for patient in PATIENTS:
        sequences = [r.sequence for r in rows if r.nhs_number == patient]
        assert sequences == sorted(sequences), "per-patient order must hold"


async def test_a_duplicate_delivery_has_one_effect(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    correlation = uuid4()
    event = encounter(PATIENTS[0], 1, correlation)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(
                HOSPITAL_ENCOUNTERS.name, event.model_dump_json().encode(), key=b"9990000018"
            )
        marker = encounter(PATIENTS[0], 2, correlation)  # after the duplicates, same partition
        await producer.send_and_wait(
            HOSPITAL_ENCOUNTERS.name, marker.model_dump_json().encode(), key=b"9990000018"
        )
    finally:
        await producer.stop()
    rows = await seen(runtime, correlation, 2)
    assert [r.sequence for r in rows] == [1, 2]


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_carries_on(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    correlation = uuid4()
    poison = json.dumps({"event_type": "encounter.admitted", "marker": str(correlation)})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(HOSPITAL_ENCOUNTERS.name, poison.encode(), key=b"9990000018")
        good = encounter(PATIENTS[0], 1, correlation)
        await producer.send_and_wait(
            HOSPITAL_ENCOUNTERS.name, good.model_dump_json().encode(), key=b"9990000018"
        )
    finally:
        await producer.stop()

    assert [r.sequence for r in await seen(runtime, correlation, 1)] == [1]
    letter = await find_dead_letter(kafka_bootstrap, str(correlation))
    assert letter.source_topic == HOSPITAL_ENCOUNTERS.name
    assert letter.error_type == "ValidationError"
    assert "nhs_number: Field required" in letter.error
    assert letter.source_offset >= 0
    assert json.loads(letter.payload)["marker"] == str(correlation)


async def test_an_event_that_keeps_failing_is_dead_lettered_and_its_batch_goes_through(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    correlation = uuid4()
    sequences = [*range(50), FAILING_SEQUENCE, *range(50, 100)]

    def stage(uow):  # type: ignore[no-untyped-def]
        for sequence in sequences:  # one commit: the consumer polls them as one batch
            uow.publish(
                HOSPITAL_ENCOUNTERS, encounter(PATIENTS[sequence % 5], sequence, correlation)
            )
        uow.commit()

    await runtime.transact(stage)

    rows = await seen(runtime, correlation, 100)
    assert sorted(r.sequence for r in rows) == list(range(100))
    for patient in PATIENTS:
        in_order = [r.sequence for r in rows if r.nhs_number == patient]
        assert in_order == sorted(in_order), "per-patient order must hold"
    letter = await find_dead_letter(kafka_bootstrap, str(correlation))
    assert letter.error_type == "RuntimeError"
    assert letter.attempts == runtime.settings.consumer_max_attempts
    assert json.loads(letter.payload)["source_message_id"] == str(FAILING_SEQUENCE)

    # Once the cause is fixed, the dead letter is replayed and processed, once.
    FAILING.discard(FAILING_SEQUENCE)
    try:
        dlq = HOSPITAL_ENCOUNTERS.dead_letter.name
        assert await replay(kafka_bootstrap, dlq, str(letter.event_id)) == 1
        rows = await seen(runtime, correlation, 101)
    finally:
        FAILING.add(FAILING_SEQUENCE)
    assert sorted(r.sequence for r in rows) == [*range(100), FAILING_SEQUENCE]


async def find_dead_letter(bootstrap: str, marker: str) -> DeadLetter:
    consumer = AIOKafkaConsumer(
        HOSPITAL_ENCOUNTERS.dead_letter.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    letter = DeadLetter.model_validate_json(record.value or b"")
                    if marker in letter.payload:
                        return letter
    finally:
        await consumer.stop()
    raise AssertionError("no dead letter arrived")
