"""`UnitOfWork.apply_here`: a consumer group's handler run in the transaction that publishes
the event, remembered in the group's inbox; a failing handler is undone alone and left to the
consumer."""

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS

from ..support import Kit, RuntimeTestUnitOfWork, definition, encounter, kit_fixture, seen_of

GROUP = "runtime-tests.here"


def record(uow: RuntimeTestUnitOfWork, event: EncounterEvent) -> None:
    uow.seen.add(event.correlation_id, event.nhs_number, int(event.source_message_id))


def broken(uow: RuntimeTestUnitOfWork, event: EncounterEvent) -> None:
    uow.seen.add(event.correlation_id, event.nhs_number, -1)  # written, then undone
    uow.after_commit(lambda: ran.append("broken"))
    raise ValueError("a bug in the projection")


ran: list[str] = []


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    ran.clear()
    service = definition(group=GROUP, handlers={"encounter.admitted": record})
    yield from kit_fixture(service, f"sqlite:///{tmp_path / 'here.db'}")


def publish_and_apply(kit: Kit, event: EncounterEvent, handler: object) -> bool:
    with kit.unit_of_work() as uow:
        uow.seen.add(event.correlation_id, event.nhs_number, 0)  # the change that publishes
        uow.publish(HOSPITAL_ENCOUNTERS, event)
        applied = uow.apply_here(GROUP, handler, event)  # type: ignore[arg-type]
        uow.after_commit(lambda: ran.append("committed"))
        uow.commit()
    return applied


def test_the_handler_commits_with_the_change_and_the_consumer_skips_it(kit: Kit) -> None:
    correlation = uuid4()
    event = encounter("9990000018", 7, correlation)
    assert publish_and_apply(kit, event, record)
    assert [s.sequence for s in kit.read(seen_of, correlation)] == [0, 7]
    assert [e.event_id for e in kit.published(HOSPITAL_ENCOUNTERS)] == [event.event_id]
    assert kit.consume(event) == ["duplicate"]
    assert [s.sequence for s in kit.read(seen_of, correlation)] == [0, 7]


def test_a_type_the_group_ignores_is_still_remembered(kit: Kit) -> None:
    event = encounter("9990000018", 8)
    assert publish_and_apply(kit, event, None)
    with kit.unit_of_work() as uow:
        assert uow.inbox.seen(GROUP, event.event_id)
    assert kit.consume(event) == ["duplicate"]


def test_a_failing_handler_is_undone_alone_and_left_to_the_consumer(kit: Kit) -> None:
    correlation = uuid4()
    event = encounter("9990000018", 9, correlation)
    assert not publish_and_apply(kit, event, broken)
    # The publishing change and its event stand; nothing of the handler does.
    assert [s.sequence for s in kit.read(seen_of, correlation)] == [0]
    assert ran == ["committed"]  # the handler's after-commit action went with it
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    assert kit.consume(event) == ["processed"]  # the consumer applies it
    assert [s.sequence for s in kit.read(seen_of, correlation)] == [0, 9]
