"""On the real broker: an admission on hospital.encounters.v1 becomes a hot-onboarding event."""

import asyncio
import dataclasses
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING
from ensemble_devkit import synthetic
from ensemble_runtime.service import ServiceRuntime, build_service
from ensemble_runtime.unit_of_work import UnitOfWork
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.config import Settings
from scoring.service import DEFINITION

from ..support import encounter, high_risk, profiles

pytestmark = pytest.mark.kafka


@pytest.fixture
async def runtime(
    tmp_path: Path, kafka_bootstrap: str
) -> AsyncIterator[ServiceRuntime[Settings, ScoringUnitOfWork]]:
    url = f"sqlite:///{tmp_path / 'scoring.db'}"
    settings = Settings(
        database_url=url, kafka_bootstrap_servers=kafka_bootstrap, outbox_poll_seconds=0.05
    )
    # Groups of their own: the e2e tests' scoring process uses `scoring.*` on this broker.
    definition = dataclasses.replace(
        DEFINITION,
        subscriptions=[
            dataclasses.replace(s, group=f"{s.group}-tests-{uuid4()}")
            for s in DEFINITION.subscriptions
        ],
    )
    runtime = build_service(definition, settings).runtime
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.engine.dispose()


async def test_an_emergency_admission_reaches_kafka_as_one_trigger(
    runtime: ServiceRuntime[Settings, ScoringUnitOfWork], kafka_bootstrap: str
) -> None:
    # The broker keeps what earlier runs published: a patient of this run only.
    nhs = next(synthetic.test_nhs_numbers(random.randrange(900_000)))
    await runtime.execute(profiles(high_risk(nhs)))
    admission = encounter(nhs, visit_number=f"KV-{nhs}")
    resent = encounter(nhs, visit_number=f"KV-{nhs}")

    def stage(uow: UnitOfWork[Settings]) -> None:
        uow.publish(HOSPITAL_ENCOUNTERS, admission)
        uow.publish(HOSPITAL_ENCOUNTERS, resent)
        uow.commit()

    await runtime.transact(stage)

    consumer = AIOKafkaConsumer(
        HOT_ONBOARDING.name,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"scoring-tests-reader-{uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict[str, object]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key == nhs.encode():
                        found.append(json.loads(record.value or b"{}"))
            if found:
                await asyncio.sleep(1.0)  # anything duplicated would arrive now
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [
                        json.loads(r.value or b"{}") for r in records if r.key == nhs.encode()
                    ]
                break
    finally:
        await consumer.stop()

    assert len(found) == 1
    assert found[0]["event_type"] == "hot_onboarding.triggered"
    assert found[0]["trigger_event_id"] == str(admission.event_id)
    assert found[0]["preferred_language"] == "pa"
