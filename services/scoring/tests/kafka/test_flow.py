"""On the real broker: an admission on hospital.encounters.v1 becomes a hot-onboarding event."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING
from ensemble_runtime.consumer import Subscription
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.service import ServiceRuntime
from ensemble_runtime.unit_of_work import UnitOfWork
from scoring.config import Settings
from scoring.service_layer.handlers import HotOnboardingPolicy, event_handlers

from ..support import encounter, high_risk, load, new_nhs_number

pytestmark = pytest.mark.kafka


@pytest.fixture
async def runtime(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[ServiceRuntime]:
    url = f"sqlite:///{tmp_path / 'scoring.db'}"
    settings = Settings(
        database_url=url, kafka_bootstrap_servers=kafka_bootstrap, outbox_poll_seconds=0.05
    )
    # A group of its own: the e2e tests' scoring process uses `scoring.encounters` on this broker.
    subscription = Subscription(
        topic=HOSPITAL_ENCOUNTERS,
        group=f"scoring-tests-{uuid4()}",
        handlers=event_handlers(HotOnboardingPolicy()),
    )
    runtime = ServiceRuntime(settings, create_db_engine(url), [subscription])
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_an_emergency_admission_reaches_kafka_as_one_trigger(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    nhs = new_nhs_number()
    load(runtime.engine, high_risk(nhs))
    admission = encounter(nhs, visit_number=f"KV-{nhs}")
    resent = encounter(nhs, visit_number=f"KV-{nhs}")

    def stage(uow: UnitOfWork) -> None:
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
