"""A tiny service for the runtime's own tests: one table, one repository, one subscription."""

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID, uuid4

from fastapi import APIRouter
from sqlmodel import Field, Session, SQLModel, col, select

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.definition import Command, Component, ServiceDefinition, Subscription
from ensemble_runtime.service import ServiceRuntime
from ensemble_runtime.unit_of_work import UnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
PRODUCER = "runtime-tests"


class SeenEncounter(SQLModel, table=True):
    """What the test consumer did: one row per handled event, in handling order."""

    __tablename__ = "runtime_test_seen"

    id: int | None = Field(default=None, primary_key=True)
    correlation_id: UUID = Field(index=True)
    nhs_number: str = Field(max_length=10)
    sequence: int


class RuntimeTestSettings(ServiceSettings):
    service_name: str = PRODUCER
    http_port: int = 0
    practice_tokens: str = "{}"


class SeenRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, correlation_id: UUID, nhs_number: str, sequence: int) -> None:
        self._session.add(
            SeenEncounter(correlation_id=correlation_id, nhs_number=nhs_number, sequence=sequence)
        )

    def of(self, correlation_id: UUID) -> list["Seen"]:
        return seen_of(self._session, correlation_id)


class Seen(NamedTuple):
    nhs_number: str
    sequence: int


def seen_of(session: Session, correlation_id: UUID) -> list[Seen]:
    """The read model: what the consumer recorded for one correlation, in handling order."""
    rows = session.exec(
        select(SeenEncounter)
        .where(col(SeenEncounter.correlation_id) == correlation_id)
        .order_by(col(SeenEncounter.id))
    )
    return [Seen(row.nhs_number, row.sequence) for row in rows]


class RuntimeTestUnitOfWork(UnitOfWork[RuntimeTestSettings]):
    def open_repositories(self, session: Session) -> None:
        self.seen = SeenRepository(session)


Runtime = ServiceRuntime[RuntimeTestSettings, RuntimeTestUnitOfWork]
Kit = ServiceKit[RuntimeTestSettings, RuntimeTestUnitOfWork]


STARTED = datetime.now(UTC) - timedelta(seconds=5)  # this test run (a new group reads history)
FAILING_SEQUENCE = 666  # the handler fails on this one while it is in FAILING
FAILING = {FAILING_SEQUENCE}


def record_encounter(uow: RuntimeTestUnitOfWork, event: EncounterEvent) -> None:
    if event.producer != PRODUCER or event.occurred_at < STARTED:
        return  # the topic is shared with other tests, runs and the demo: only count this run
    if int(event.source_message_id) in FAILING:
        raise RuntimeError("handler failed")
    uow.seen.add(event.correlation_id, event.nhs_number, int(event.source_message_id))


@dataclass(frozen=True)
class RecordSeen(Command[int]):
    """Record one row directly; returns how many rows the correlation has."""

    correlation_id: UUID
    sequence: int


@dataclass(frozen=True)
class RecordSeenOnce(RecordSeen):
    rerun_on_conflict = True


def record_seen(uow: RuntimeTestUnitOfWork, command: RecordSeen) -> int:
    uow.seen.add(command.correlation_id, "9990000018", command.sequence)
    uow.commit()
    return len(uow.seen.of(command.correlation_id))


def definition(
    group: str | None = None,
    handlers: Mapping[str, Callable[[RuntimeTestUnitOfWork, Any], None]] | None = None,
    commands: Mapping[type[Any], Callable[[RuntimeTestUnitOfWork, Any], Any]] | None = None,
    components: Iterable[Callable[[Runtime], Iterable[Component]]] = (),
    routers: Iterable[APIRouter] = (),
) -> ServiceDefinition[RuntimeTestSettings, RuntimeTestUnitOfWork]:
    """The test service; each Kafka test takes a fresh group so it reads only its own run."""
    return ServiceDefinition(
        name=PRODUCER,
        title="Runtime tests",
        settings=RuntimeTestSettings,
        unit_of_work=RuntimeTestUnitOfWork,
        migrations=MIGRATIONS,
        publishes=[HOSPITAL_ENCOUNTERS],
        subscriptions=[
            Subscription(
                topic=HOSPITAL_ENCOUNTERS,
                group=group or f"runtime-tests-{uuid4()}",
                handlers=handlers or {"encounter.admitted": record_encounter},
            )
        ],
        commands=commands or {RecordSeen: record_seen, RecordSeenOnce: record_seen},
        routers=list(routers),
        components=list(components),
    )


def encounter(nhs_number: str, sequence: int, correlation_id: UUID | None = None) -> EncounterEvent:
    return EncounterEvent(
        event_type=EncounterEventType.ADMITTED,
        producer=PRODUCER,
        **({"correlation_id": correlation_id} if correlation_id else {}),
        nhs_number=nhs_number,
        sending_facility="RCB",
        trigger_event="A01",
        source_message_id=str(sequence),
    )


def settings(
    database_url: str, bootstrap: str = "127.0.0.1:1", **values: Any
) -> RuntimeTestSettings:
    return RuntimeTestSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        consumer_retry_base_seconds=0.01,
        outbox_poll_seconds=0.05,
        **values,
    )


def kit_fixture(
    service: ServiceDefinition[RuntimeTestSettings, RuntimeTestUnitOfWork],
    database_url: str,
    **settings: Any,
) -> Iterator[Kit]:
    """The body of a `kit` fixture (`yield from` it): `service` on a store, disposed after."""
    kit = ServiceKit(service, database_url, **settings)
    yield kit
    kit.dispose()


async def wait_for_seen(
    runtime: Runtime, correlation_id: UUID, count: int, settle: float = 0.0
) -> list[Seen]:
    """What the consumer recorded for a correlation once `count` rows are in (at most ~30 s).

    With `settle`, it waits that much longer and reads again, so that rows that should not
    have come would show.
    """
    for _ in range(300):
        rows = await runtime.read(seen_of, correlation_id)
        if len(rows) >= count:
            if settle:
                await asyncio.sleep(settle)
                return await runtime.read(seen_of, correlation_id)
            return rows
        await asyncio.sleep(0.1)
    return await runtime.read(seen_of, correlation_id)
