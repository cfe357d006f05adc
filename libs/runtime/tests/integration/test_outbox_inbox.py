"""Outbox and inbox against a real store (SQLite and PostgreSQL)."""

from uuid import uuid4

import pytest
from sqlmodel import Session, col, select

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, SCORE_CHANGES
from ensemble_runtime.consumer import EventConsumers, Subscription
from ensemble_runtime.db import create_db_engine, create_schema
from ensemble_runtime.kafka import create_broker
from ensemble_runtime.outbox import OutboxMessage, mark_published, pending
from ensemble_runtime.unit_of_work import UnitOfWork

from ..support import SeenEncounter, encounter, record_encounter


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def test_events_are_stored_only_when_the_state_change_commits(engine) -> None:  # type: ignore[no-untyped-def]
    with UnitOfWork(engine, "tests") as uow:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", 1))
        # no commit: rolled back with the state change
    with UnitOfWork(engine, "tests") as uow:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", 2))
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000026", 3))
        uow.commit()
    with Session(engine) as session:
        rows = pending(session, 10)
        assert [r.key for r in rows] == ["9990000018", "9990000026"]
        mark_published(session, [rows[0].id or 0])
        session.commit()
        assert [r.key for r in pending(session, 10)] == ["9990000026"]


def test_an_event_cannot_go_to_a_topic_of_another_type(engine) -> None:  # type: ignore[no-untyped-def]
    with UnitOfWork(engine, "tests") as uow, pytest.raises(TypeError):
        uow.publish(SCORE_CHANGES, encounter("9990000018", 1))


def test_a_redelivered_event_has_its_effect_once(engine) -> None:  # type: ignore[no-untyped-def]
    consumers = EventConsumers(create_broker("127.0.0.1:1", "t", 1), engine, "tests", lambda: None)
    subscription = Subscription(
        topic=HOSPITAL_ENCOUNTERS,
        group=f"tests-{uuid4()}",
        handlers={"encounter.admitted": record_encounter},
    )
    event = encounter("9990000018", 7)
    outcomes = [consumers.apply(subscription, event) for _ in range(3)]
    assert outcomes == ["processed", "duplicate", "duplicate"]
    with Session(engine) as session:
        seen = session.exec(
            select(SeenEncounter).where(col(SeenEncounter.correlation_id) == event.correlation_id)
        ).all()
    assert len(seen) == 1


def test_a_failing_handler_leaves_no_trace(engine) -> None:  # type: ignore[no-untyped-def]
    def explode(uow: UnitOfWork, event: object) -> None:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", 9))
        raise RuntimeError("boom")

    consumers = EventConsumers(create_broker("127.0.0.1:1", "t", 1), engine, "tests", lambda: None)
    subscription = Subscription(
        topic=HOSPITAL_ENCOUNTERS, group="tests", handlers={"encounter.admitted": explode}
    )
    with pytest.raises(RuntimeError):
        consumers.apply(subscription, encounter("9990000018", 8))
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []
