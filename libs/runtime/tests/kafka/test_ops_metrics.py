"""Ops metrics and readiness on the real broker: consumer lag, dead-letter depth, and /readyz
following the consumers' connection to the broker (the broker is stopped and started)."""

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.kafka import KafkaBroker
from ensemble_runtime.ops_metrics import OpsMetrics
from ensemble_runtime.service import Service, build_service

from ..support import (
    RuntimeTestSettings,
    RuntimeTestUnitOfWork,
    definition,
    encounter,
    record_encounter,
    settings,
    wait_for_seen,
)

pytestmark = pytest.mark.kafka
T = TypeVar("T")
PATIENTS = ["9990000018", "9990000026", "9990000034"]
DLQ = f"{HOSPITAL_ENCOUNTERS.name}.dlq"


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], seconds: float = 60
) -> T:
    """Probe until `done` holds (or the time is up): the last value, for the test to assert."""
    deadline = asyncio.get_running_loop().time() + seconds
    value = await probe()
    while not done(value) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        value = await probe()
    return value


class Gate:
    """Holds the handler of this test's events while closed: a consumer falls behind."""

    def __init__(self) -> None:
        self.correlation = uuid4()
        self.open = threading.Event()
        self.open.set()

    def handle(self, uow: RuntimeTestUnitOfWork, event: EncounterEvent) -> None:
        if event.correlation_id == self.correlation:
            self.open.wait(120)
        record_encounter(uow, event)


@pytest.fixture
async def gated(
    tmp_path: Path, kafka_bootstrap: str
) -> AsyncIterator[tuple[Service[RuntimeTestSettings, RuntimeTestUnitOfWork], Gate]]:
    gate = Gate()
    service = build_service(
        definition(handlers={"encounter.admitted": gate.handle}),
        # Sampled by hand in the tests: the component's own round stays out of the way.
        settings(f"sqlite:///{tmp_path / 'store.db'}", kafka_bootstrap, ops_sample_seconds=3600),
    )
    await service.runtime.start()
    try:
        yield service, gate
    finally:
        gate.open.set()
        await service.runtime.stop()
        service.engine.dispose()


def lag_gauge(group: str) -> float:
    """The group's lag summed over the partitions, as /metrics shows it."""
    total = 0.0
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "ensemble_consumer_lag" and sample.labels["group"] == group:
                total += sample.value
    return total


async def test_lag_shows_a_consumer_behind_and_clears_when_it_catches_up(
    gated: tuple[Service[RuntimeTestSettings, RuntimeTestUnitOfWork], Gate],
) -> None:
    service, gate = gated
    runtime = service.runtime
    group = runtime.definition.subscriptions[0].group
    sampler = OpsMetrics(runtime)

    async def lag() -> int:
        return sum((await sampler.sample_lag()).values())

    try:
        # A new group reads the topic's history first: wait until it has committed all of it.
        assert await eventually(lag, lambda total: total == 0) == 0
        gate.open.clear()

        def stage(uow: RuntimeTestUnitOfWork) -> None:
            for sequence, patient in enumerate(PATIENTS):
                uow.publish(HOSPITAL_ENCOUNTERS, encounter(patient, sequence, gate.correlation))
            uow.commit()

        await runtime.transact(stage)
        # The handler holds the first of them: nothing is committed, all three are lag.
        assert await eventually(lag, lambda total: total >= len(PATIENTS)) == len(PATIENTS)
        assert lag_gauge(group) == len(PATIENTS)
        sampled = await sampler.sample_lag()
        assert {topic for _, topic, _ in sampled} == {HOSPITAL_ENCOUNTERS.name}
        assert len(sampled) == HOSPITAL_ENCOUNTERS.partitions  # every partition has a sample

        gate.open.set()
        assert await eventually(lag, lambda total: total == 0) == 0
        assert lag_gauge(group) == 0
        assert len(await wait_for_seen(runtime, gate.correlation, len(PATIENTS))) == 3
    finally:
        gate.open.set()
        await sampler.offsets.close()


async def test_dead_letter_depth_counts_what_the_dlq_keeps(
    gated: tuple[Service[RuntimeTestSettings, RuntimeTestUnitOfWork], Gate], kafka_bootstrap: str
) -> None:
    service, _gate = gated
    sampler = OpsMetrics(service.runtime)

    async def depth() -> int:
        return (await sampler.sample_dead_letters())[DLQ]

    async def lag() -> int:
        return sum((await sampler.sample_lag()).values())

    try:
        # The new group first replays the topic's history, whose failing events other tests
        # left there are dead-lettered too: count from once it has caught up.
        assert await eventually(lag, lambda total: total == 0) == 0
        before = await depth()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:  # a poison message: this service's consumer dead-letters it
            await producer.send_and_wait(HOSPITAL_ENCOUNTERS.name, b"{not json", key=b"9990000018")
        finally:
            await producer.stop()
        after = await eventually(depth, lambda value: value > before)
        assert after == before + 1
        labels = {"topic": DLQ}
        assert REGISTRY.get_sample_value("ensemble_dead_letter_depth", labels) == after
    finally:
        await sampler.offsets.close()


async def test_readyz_goes_not_ready_while_the_consumers_lose_the_broker(
    gated: tuple[Service[RuntimeTestSettings, RuntimeTestUnitOfWork], Gate],
    kafka_broker: KafkaBroker,
) -> None:
    if not kafka_broker.restartable:
        pytest.skip("needs a broker this test can stop and start (the local one)")
    service, _gate = gated
    transport = httpx.ASGITransport(app=service.app)

    async def readyz() -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/readyz")
        return answer.status_code, answer.json()["checks"]

    status, checks = await eventually(readyz, lambda answer: answer[0] == 200)
    assert (status, checks["kafka_consumers"]) == (200, True)
    await asyncio.to_thread(kafka_broker.stop)
    try:
        status, checks = await eventually(readyz, lambda answer: not answer[1]["kafka_consumers"])
        assert status == 503
        assert checks["kafka_consumers"] is False
        assert checks["database"] is True  # only the broker went away
    finally:
        await asyncio.to_thread(kafka_broker.start)
    status, checks = await eventually(readyz, lambda answer: answer[0] == 200, seconds=120)
    assert (status, checks["kafka_consumers"]) == (200, True)
