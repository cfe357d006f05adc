"""Consumers: transient store errors are waited out (and counted); others are dead-lettered."""

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from ensemble_contracts import Envelope
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.consumer import EventConsumers, RejectedEvent
from ensemble_runtime.dead_letters import dead_letter_for
from ensemble_runtime.definition import Subscription
from ensemble_runtime.kafka import create_broker

from ..support import RuntimeTestUnitOfWork, encounter

GROUP = "runtime-tests.retries"
SUBSCRIPTION: Subscription[Any, RuntimeTestUnitOfWork] = Subscription(
    topic=HOSPITAL_ENCOUNTERS, group=GROUP, handlers={}
)
NHS = "9990000018"


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"DETAIL: Key (nhs_number)=({NHS}) already exists")
        self.sqlstate = sqlstate


def store_error(kind: type[Exception], sqlstate: str | None = None) -> Exception:
    statement = "INSERT INTO t (nhs_number) VALUES (%(nhs)s)"
    error: Exception = kind(statement, {"nhs": NHS}, DriverError(sqlstate))
    return error


class FailingStore:
    """A store whose work fails with the given errors, in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ["processed"] if work.__name__ == "apply_all" else "processed"


class Record:
    topic, partition, offset, key = HOSPITAL_ENCOUNTERS.name, 0, 42, NHS.encode()
    value = encounter(NHS, 1).model_dump_json().encode()


def consumers(store: FailingStore, letters: list[Any]) -> EventConsumers[RuntimeTestUnitOfWork]:
    consumers: EventConsumers[RuntimeTestUnitOfWork] = EventConsumers(
        create_broker("127.0.0.1:1", "t", 1),
        lambda: None,  # type: ignore[arg-type, return-value]
        "runtime-tests",
        store,  # type: ignore[arg-type]
        max_attempts=3,
        retry_base_seconds=0.001,
        retry_max_seconds=0.002,
    )

    async def dead_letter(_s: Any, record: Any, error: Any, attempts: int) -> None:
        letters.append(dead_letter_for(record, GROUP, error, attempts, "runtime-tests"))

    consumers._dead_letter = dead_letter  # type: ignore[method-assign, assignment]
    return consumers


def sample(name: str) -> float:
    labels = {"topic": HOSPITAL_ENCOUNTERS.name, "consumer": GROUP}
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_transient_store_errors_are_waited_out_and_counted() -> None:
    lost = store_error(OperationalError, None)  # no SQLSTATE: the connection failed
    deadlock = store_error(OperationalError, "40P01")
    busy = OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    busy.orig.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[union-attr]
    store = FailingStore(*[lost, deadlock, busy] * 3)  # more than max_attempts
    letters: list[Any] = []
    before = sample("ensemble_consumer_store_retries_total")
    outcome = await consumers(store, letters)._apply_with_retries(
        SUBSCRIPTION, Record(), encounter(NHS, 1)
    )
    assert outcome == "processed" and letters == []
    assert sample("ensemble_consumer_store_retries_total") - before == 9
    assert sample("ensemble_consumer_store_retrying") == 0  # flowing again


@pytest.mark.parametrize(
    "error",
    [
        store_error(IntegrityError, "23505"),
        store_error(DataError, "22021"),
        store_error(OperationalError, "42P01"),  # undefined table: the same every time
    ],
    ids=["integrity", "data", "operational-permanent"],
)
async def test_other_store_errors_are_dead_lettered_after_the_attempts(error: Exception) -> None:
    store = FailingStore(*[error] * 10)
    letters: list[Any] = []
    outcome = await consumers(store, letters)._apply_with_retries(
        SUBSCRIPTION, Record(), encounter(NHS, 1)
    )
    assert outcome == "dead_lettered" and store.calls == 3
    (letter,) = letters
    assert letter.error_type == type(error).__name__
    assert NHS not in letter.error and "parameters" not in letter.error
    assert "INSERT" not in letter.error
    assert letter.attempts == 3


async def test_a_rejected_event_is_dead_lettered_at_once() -> None:
    store = FailingStore(RejectedEvent("placeholder NHS number"))
    letters: list[Any] = []
    outcome = await consumers(store, letters)._apply_with_retries(
        SUBSCRIPTION, Record(), encounter(NHS, 1)
    )
    assert outcome == "dead_lettered" and store.calls == 1
    assert letters[0].error == "RejectedEvent: placeholder NHS number"


async def test_a_batch_waits_for_the_store_then_applies_as_one() -> None:
    store = FailingStore(store_error(OperationalError, "08006"))
    letters: list[Any] = []
    batch: list[tuple[Any, Envelope]] = [(Record(), encounter(NHS, 1))]
    assert await consumers(store, letters)._apply_batch(SUBSCRIPTION, batch) == ["processed"]
    assert store.calls == 2
