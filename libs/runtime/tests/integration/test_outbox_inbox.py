"""Outbox and inbox against a real store (SQLite and PostgreSQL)."""

import pytest
from sqlmodel import Session, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, SCORE_CHANGES
from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.inbox import ProcessedEvent
from ensemble_runtime.outbox import OutboxMessage, mark_published, pending

from ..support import Kit, RuntimeTestUnitOfWork, definition, encounter


def test_events_are_stored_only_when_the_state_change_commits(kit: Kit) -> None:
    with kit.unit_of_work() as uow:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", 1))
        # no commit: rolled back with the state change
    with kit.unit_of_work() as uow:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", 2))
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000026", 3))
        uow.commit()
    with Session(kit.service.engine) as session:
        rows = pending(session, 10)
        assert [r.key for r in rows] == ["9990000018", "9990000026"]
        mark_published(session, [rows[0].id or 0])
        session.commit()
        assert [r.key for r in pending(session, 10)] == ["9990000026"]
    assert [e.source_message_id for e in kit.published(HOSPITAL_ENCOUNTERS)] == ["2", "3"]


def test_an_event_cannot_go_to_a_topic_of_another_type(kit: Kit) -> None:
    with kit.unit_of_work() as uow, pytest.raises(TypeError):
        uow.publish(SCORE_CHANGES, encounter("9990000018", 1))


def test_a_redelivered_event_has_its_effect_once(kit: Kit) -> None:
    event = encounter("9990000018", 7)
    assert kit.consume(event, event, event) == ["processed", "duplicate", "duplicate"]
    rows = kit.run(lambda uow: uow.seen.of(event.correlation_id))
    assert [r.sequence for r in rows] == [7]


def test_a_failing_handler_leaves_no_trace(database_url: str) -> None:
    def explode(uow: RuntimeTestUnitOfWork, event: EncounterEvent) -> None:
        uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", 9))
        uow.seen.add(event.correlation_id, event.nhs_number, 9)
        raise RuntimeError("boom")

    kit = ServiceKit(definition("tests", {"encounter.admitted": explode}), database_url)
    event = encounter("9990000018", 8)
    with pytest.raises(RuntimeError):
        kit.consume(event)
    with Session(kit.service.engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []
        assert session.exec(select(ProcessedEvent)).all() == []
    assert kit.run(lambda uow: uow.seen.of(event.correlation_id)) == []
    kit.dispose()
