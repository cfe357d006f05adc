"""Cross-service fixtures: the four services as separate processes on the real broker.

The system runs on one SQLite file per service, or on one PostgreSQL database per service.
Only one of the two runs at a time: on one broker they would share consumer groups and take
each other's events. Tests on PostgreSQL run last, so the switch happens once.
"""

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from ensemble_devkit.kafka import KafkaBroker
from ensemble_devkit.postgres import create_database
from ensemble_devkit.pytest_plugin import TEST_STATE
from ensemble_devkit.system import SERVICES, Credentials, LocalSystem

from .flow import Ensemble

BASE_PORT = int(os.environ.get("ENSEMBLE_TEST_BASE_PORT", "18000"))  # see pytest_plugin.py
# hospital-feed's MLLP listener for RCB (tests/e2e/test_visits.py); services use offsets 1-4.
MLLP_PORT = BASE_PORT + 10
# Webhooks (tests/e2e/test_webhooks.py): quick retries, dead after three attempts, and an
# attempt that outlasts the tests' waits when a receiver hangs.
WEBHOOK_ENV = {
    "HOSPITAL_FEED_WEBHOOK_MAX_ATTEMPTS": "3",
    "HOSPITAL_FEED_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "HOSPITAL_FEED_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "HOSPITAL_FEED_WEBHOOK_READ_TIMEOUT_SECONDS": "60",
    "HOSPITAL_FEED_WEBHOOK_TOTAL_TIMEOUT_SECONDS": "60",
}


class Systems:
    def __init__(self, broker: KafkaBroker, request: pytest.FixtureRequest) -> None:
        self._broker = broker
        self._request = request
        self._ensembles: dict[str, Ensemble] = {}
        self._running: str | None = None

    def on(self, store: str) -> Ensemble:
        if self._running not in (None, store):
            self.pause()
        if store not in self._ensembles:
            self._ensembles[store] = self._create(store)
        if self._running is None:
            self._ensembles[store].system.start()
            self._running = store
        return self._ensembles[store]

    def pause(self) -> None:
        """Stop the running system, if any, so that other services may join its consumer
        groups alone; the next `on` starts it again."""
        if self._running is not None:
            self._ensembles[self._running].system.stop()
            self._running = None

    def _create(self, store: str) -> Ensemble:
        databases = None
        if store == "postgresql":
            server: str = self._request.getfixturevalue("postgres_server_url")
            databases = {s.name: create_database(server, s.module) for s in SERVICES}
        system = LocalSystem(
            TEST_STATE / f"system-{store}-{uuid.uuid4().hex[:8]}",
            Credentials.generate(self._broker.bootstrap_servers, BASE_PORT),
            databases,
            extra_env={
                "SCORING_OUTBOX_POLL_SECONDS": "0.1",
                "HOSPITAL_FEED_MLLP_LISTENERS": json.dumps({"RCB": MLLP_PORT}),
                **WEBHOOK_ENV,
            },
        )
        return Ensemble(system, self._broker)

    def close(self) -> None:
        for store, ensemble in self._ensembles.items():
            ensemble.close()
            if store == self._running:
                ensemble.system.stop()


@pytest.fixture(scope="session")
def systems(kafka_broker: KafkaBroker, request: pytest.FixtureRequest) -> Iterator[Systems]:
    running = Systems(kafka_broker, request)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def ensemble(systems: Systems) -> Ensemble:
    """The system on the embedded default store: one SQLite file per service."""
    return systems.on("sqlite")


@pytest.fixture
def ensemble_on_postgres(systems: Systems) -> Ensemble:
    """The same system with one PostgreSQL database per service."""
    return systems.on("postgresql")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ensemble_on_each_store(request: pytest.FixtureRequest, systems: Systems) -> Ensemble:
    return systems.on(request.param)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The traced system (tests/e2e/test_traces.py) pauses the shared one: it runs after the
    # other SQLite tests and before those on PostgreSQL, so no system starts twice for it.
    def order(item: pytest.Item) -> int:
        if item.get_closest_marker("postgres") is not None:
            return 2
        return 1 if "traced_ensemble" in getattr(item, "fixturenames", ()) else 0

    items.sort(key=order)
