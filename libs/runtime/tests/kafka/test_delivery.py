"""Outbox → Kafka → inbox on the real broker: order per patient, dedupe, dead letters."""

import asyncio
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.ops_cli import Registry, build_app

from ..support import (
    FAILING,
    FAILING_SEQUENCE,
    Runtime,
    RuntimeTestUnitOfWork,
    encounter,
    wait_for_seen,
)
from .dlq import find_letters

pytestmark = pytest.mark.kafka
runner = CliRunner()
PATIENTS = ["9990000018", "9990000026", "9990000034", "9990000042", "9990000050"]


async def test_outbox_events_arrive_once_each_and_in_order_per_patient(
    runtime: Runtime,
) -> None:
    correlation = uuid4()
    for start in range(0, 300, 50):

        def stage(uow: RuntimeTestUnitOfWork, start: int = start) -> None:
            for sequence in range(start, start + 50):
                event = encounter(PATIENTS[sequence % 5], sequence, correlation)
                uow.publish(HOSPITAL_ENCOUNTERS, event)
            uow.commit()

        await runtime.transact(stage)

    rows = await wait_for_seen(runtime, correlation, 300)
    assert len(rows) == 300
    assert sorted(r.sequence for r in rows) == list(range(300))
    for patient in PATIENTS:
        sequences = [r.sequence for r in rows if r.nhs_number == patient]
        assert sequences == sorted(sequences), "per-patient order must hold"


async def test_a_duplicate_delivery_has_one_effect(runtime: Runtime, kafka_bootstrap: str) -> None:
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
    rows = await wait_for_seen(runtime, correlation, 2)
    assert [r.sequence for r in rows] == [1, 2]


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_carries_on(
    runtime: Runtime, kafka_bootstrap: str
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

    assert [r.sequence for r in await wait_for_seen(runtime, correlation, 1)] == [1]
    letter = await find_dead_letter(kafka_bootstrap, str(correlation))
    assert letter.source_topic == HOSPITAL_ENCOUNTERS.name
    assert letter.error_type == "ValidationError"
    assert "nhs_number: Field required" in letter.error
    assert letter.source_offset >= 0
    assert json.loads(letter.payload)["marker"] == str(correlation)


async def test_an_event_that_keeps_failing_is_dead_lettered_and_its_batch_goes_through(
    runtime: Runtime, kafka_bootstrap: str
) -> None:
    correlation = uuid4()
    sequences = [*range(50), FAILING_SEQUENCE, *range(50, 100)]

    def stage(uow: RuntimeTestUnitOfWork) -> None:
        for sequence in sequences:  # one commit: the consumer polls them as one batch
            uow.publish(
                HOSPITAL_ENCOUNTERS, encounter(PATIENTS[sequence % 5], sequence, correlation)
            )
        uow.commit()

    await runtime.transact(stage)

    rows = await wait_for_seen(runtime, correlation, 100)
    assert sorted(r.sequence for r in rows) == list(range(100))
    for patient in PATIENTS:
        in_order = [r.sequence for r in rows if r.nhs_number == patient]
        assert in_order == sorted(in_order), "per-patient order must hold"
    letter = await find_dead_letter(kafka_bootstrap, str(correlation))
    assert letter.error_type == "RuntimeError"
    assert letter.attempts == runtime.settings.consumer_max_attempts
    failed = json.loads(letter.payload)
    assert failed["source_message_id"] == str(FAILING_SEQUENCE)
    assert letter.causation_id == UUID(failed["event_id"])  # the failed event, by its id
    assert letter.error == "RuntimeError: handler failed"

    # Once the cause is fixed, the operator replays the dead letter (`ensemble dlq replay`)
    # and the running consumer processes it, once.
    FAILING.discard(FAILING_SEQUENCE)
    try:
        dlq = HOSPITAL_ENCOUNTERS.dead_letter.name
        replay = ["dlq", "replay", "--event-id", str(letter.event_id), "--json"]
        code, done, err = await ensemble(runtime, replay)
        assert code == 0, err
        assert [line.split(":")[0] for line in done["replayed"]] == [f"{dlq} {letter.event_id}"]
        rows = await wait_for_seen(runtime, correlation, 101)
        code, again, _ = await ensemble(runtime, replay)  # once: the replay is remembered
        assert (code, again["replayed"]) == (0, [])
        assert again["skipped"] == [f"{dlq} {letter.event_id}: replayed before"]
        code, listed, _ = await ensemble(runtime, ["dlq", "list", "--json"])
        assert str(letter.event_id) not in {e["letter"]["event_id"] for e in listed["letters"]}
        assert sorted(r.sequence for r in rows) == [*range(100), FAILING_SEQUENCE]

        # Forced again (--again), it is delivered twice, and the inbox keeps one effect: a
        # marker sent after it, on the patient's partition, shows the duplicate was handled.
        code, forced, _ = await ensemble(runtime, [*replay, "--again"])
        assert (code, len(forced["replayed"])) == (0, 1)
        await runtime.transact(publish_marker(PATIENTS[FAILING_SEQUENCE % 5], correlation))
        rows = await wait_for_seen(runtime, correlation, 102)
    finally:
        FAILING.add(FAILING_SEQUENCE)
    assert sorted(r.sequence for r in rows) == [*range(100), FAILING_SEQUENCE, MARKER_SEQUENCE]


MARKER_SEQUENCE = 1000


def publish_marker(patient: str, correlation: UUID) -> Callable[[RuntimeTestUnitOfWork], None]:
    def stage(uow: RuntimeTestUnitOfWork) -> None:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter(patient, MARKER_SEQUENCE, correlation))
        uow.commit()

    return stage


async def ensemble(runtime: Runtime, args: list[str]) -> tuple[int, Any, str]:
    """The ops CLI on the running test service, as an operator runs it (in a thread: the
    CLI runs its own event loop, and this one keeps the consumer going)."""
    app = build_app(Registry.of([runtime.definition]))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": runtime.settings.kafka_bootstrap_servers,
        "DATABASE_URL": runtime.settings.database_url,
    }
    result = await asyncio.to_thread(runner.invoke, app, args, env=env)
    out = json.loads(result.stdout) if result.exit_code == 0 else result.stdout
    return result.exit_code, out, result.stderr


async def find_dead_letter(bootstrap: str, marker: str) -> DeadLetter:
    (letter,) = await find_letters(
        bootstrap, HOSPITAL_ENCOUNTERS.dead_letter.name, lambda letter: marker in letter.payload
    )
    return letter
