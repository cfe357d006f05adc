"""Fixtures shared by every test tier: a real Kafka broker and a store per test.

Loaded by the root conftest.py. Ports differ from `make run` so both can run at once.
"""

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.kafka import KafkaBroker, find_broker, stop_local_broker
from ensemble_devkit.postgres import create_database, postgres_server
from ensemble_runtime.kafka import ensure_topics

# Overridable so that two test runs on one machine (two checkouts, two developers) each get
# their own broker and server: ENSEMBLE_TEST_STATE, ENSEMBLE_TEST_KAFKA_PORT (its controller
# takes the next port), ENSEMBLE_TEST_POSTGRES_PORT.
TEST_STATE = Path(os.environ.get("ENSEMBLE_TEST_STATE", REPO_ROOT / "run" / "test"))
# Every local port sits below Linux's ephemeral range (32768-60999): a client retrying a port
# in that range while its server is down can be handed that same port and connect to itself,
# and the restarted server then cannot bind it.
TEST_KAFKA_PORT = int(os.environ.get("ENSEMBLE_TEST_KAFKA_PORT", "19092"))
TEST_POSTGRES_PORT = int(os.environ.get("ENSEMBLE_TEST_POSTGRES_PORT", "25433"))


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    data_dir = TEST_STATE / "kafka"
    stop_local_broker(data_dir, TEST_KAFKA_PORT)  # one left over from an interrupted run
    shutil.rmtree(data_dir, ignore_errors=True)  # a fresh cluster: no offsets from older runs
    broker = find_broker(TEST_KAFKA_PORT, data_dir)
    asyncio.run(ensure_topics(broker.bootstrap_servers))
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server(TEST_POSTGRES_PORT, TEST_STATE / "postgres") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server: str = request.getfixturevalue("postgres_server_url")
    return create_database(server)
