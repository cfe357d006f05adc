"""Cross-service fixtures: the four services as separate processes on the real broker."""

import uuid
from collections.abc import Iterator

import pytest

from ensemble_devkit.kafka import KafkaBroker
from ensemble_devkit.pytest_plugin import TEST_STATE
from ensemble_devkit.system import Credentials, LocalSystem

from .flow import Ensemble

SYSTEM_BASE_PORT = 18000


@pytest.fixture(scope="session")
def ensemble(kafka_broker: KafkaBroker) -> Iterator[Ensemble]:
    run_dir = TEST_STATE / f"system-{uuid.uuid4().hex[:8]}"
    credentials = Credentials.generate(kafka_broker.bootstrap_servers, SYSTEM_BASE_PORT)
    system = LocalSystem(
        run_dir,
        credentials,
        extra_env={"SCORING_OUTBOX_POLL_SECONDS": "0.1"},
    )
    system.start()
    try:
        yield Ensemble(system, kafka_broker)
    finally:
        system.stop()
