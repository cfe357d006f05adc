"""Retention on a real store (SQLite and PostgreSQL): old rows go, the right ones stay."""

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert, select
from sqlmodel import Session

from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.ops_metrics import OpsMetrics
from ensemble_runtime.outbox import OUTBOX
from ensemble_runtime.retention import (
    INBOX,
    InboxRetention,
    OutboxRetention,
    Retention,
    runtime_retention,
)

from ..support import Kit, definition, kit_fixture

DAY = timedelta(days=1)


@pytest.fixture
def kit(database_url: str) -> Iterator[Kit]:
    yield from kit_fixture(definition(group="tests"), database_url)


def add_outbox_row(kit: Kit, created_days_ago: float, published_days_ago: float | None) -> int:
    now = kit.clock()
    row = {
        "topic": "hospital.encounters.v1",
        "key": "9990000018",
        "event_id": uuid4(),
        "event_type": "encounter.admitted",
        "correlation_id": str(uuid4()),
        "payload": "{}",
        "created_at": now - created_days_ago * DAY,
        "published_at": None if published_days_ago is None else now - published_days_ago * DAY,
    }
    with Session(kit.service.engine) as session:
        found = session.execute(insert(OUTBOX).returning(OUTBOX.c.id), row).scalar_one()
        session.commit()
    return int(found)


def add_inbox_rows(kit: Kit, consumer: str, days_ago: float, count: int) -> set[UUID]:
    ids = {uuid4() for _ in range(count)}
    at = kit.clock() - days_ago * DAY
    with Session(kit.service.engine) as session:
        session.execute(
            insert(INBOX), [{"consumer": consumer, "event_id": i, "processed_at": at} for i in ids]
        )
        session.commit()
    return ids


def outbox_ids(kit: Kit) -> set[int]:
    with Session(kit.service.engine) as session:
        return set(session.execute(select(OUTBOX.c.id)).scalars())


def inbox_keys(kit: Kit) -> set[tuple[str, UUID]]:
    with Session(kit.service.engine) as session:
        rows = session.execute(select(INBOX.c.consumer, INBOX.c.event_id)).all()
    return {(consumer, event_id) for consumer, event_id in rows}


def retention(kit: Kit, outbox_days: float | None, inbox_days: float | None) -> Retention:
    return Retention(
        kit.runtime,
        [
            OutboxRetention(outbox_days * DAY if outbox_days else None),
            InboxRetention(inbox_days * DAY if inbox_days else None),
        ],
        batch_size=3,  # several batches per table
    )


def pruned(table: str) -> float:
    return REGISTRY.get_sample_value("ensemble_retention_pruned_rows_total", {"table": table}) or 0


async def test_published_outbox_rows_past_their_age_go_and_the_rest_stay(kit: Kit) -> None:
    old = [add_outbox_row(kit, 10, 9) for _ in range(7)]
    recent = [add_outbox_row(kit, 10, 2) for _ in range(2)]
    unpublished_old = add_outbox_row(kit, 30, None)  # never published: never pruned
    before = pruned("outbox")
    assert await retention(kit, 7, None).sweep() == {"outbox": 7}
    assert outbox_ids(kit) == {*recent, unpublished_old}
    assert set(old).isdisjoint(outbox_ids(kit))
    assert pruned("outbox") == before + 7
    assert await retention(kit, 7, None).sweep() == {"outbox": 0}  # nothing left to do


async def test_inbox_rows_past_their_age_go_across_consumers_and_batches(kit: Kit) -> None:
    old_a = add_inbox_rows(kit, "group-a", 30, 5)
    new_a = add_inbox_rows(kit, "group-a", 1, 4)
    old_b = add_inbox_rows(kit, "group-b", 22, 2)
    new_b = add_inbox_rows(kit, "group-b", 20.5, 3)  # a day inside a 21-day age
    assert await retention(kit, None, 21).sweep() == {"inbox": len(old_a) + len(old_b)}
    kept = {("group-a", i) for i in new_a} | {("group-b", i) for i in new_b}
    assert inbox_keys(kit) == kept
    # What the inbox still holds still drops a redelivery.
    with kit.unit_of_work() as uow:
        assert uow.inbox.seen_among("group-a", list(new_a)) == new_a
        assert uow.inbox.seen_among("group-a", list(old_a)) == set()


async def test_a_table_kept_for_ever_or_retention_switched_off_prunes_nothing(kit: Kit) -> None:
    outbox = {add_outbox_row(kit, 400, 399) for _ in range(2)}
    inbox = add_inbox_rows(kit, "group-a", 400, 2)
    assert await retention(kit, None, None).sweep() == {}
    off = retention(kit, 1, 1)
    off.enabled = False
    assert await off.sweep() == {}
    assert outbox_ids(kit) == outbox
    assert inbox_keys(kit) == {("group-a", i) for i in inbox}


async def test_table_rows_are_counted_into_the_gauge(kit: Kit) -> None:
    for _ in range(3):
        add_outbox_row(kit, 1, None)
    add_inbox_rows(kit, "group-a", 1, 5)
    assert await retention(kit, 7, 21).count() == {"outbox": 3, "inbox": 5}
    assert REGISTRY.get_sample_value("ensemble_table_rows", {"table": "inbox"}) == 5


async def test_the_runtime_component_takes_its_ages_from_the_settings(database_url: str) -> None:
    kit = ServiceKit(
        definition(group="tests"),
        database_url,
        outbox_retention_hours=48,
        inbox_retention_hours=0,
        retention_batch_size=2,
    )
    try:
        add_outbox_row(kit, 5, 3)
        add_inbox_rows(kit, "tests", 400, 1)
        component = runtime_retention(kit.runtime)
        assert component.batch_size == 2
        assert await component.sweep() == {"outbox": 1}  # the inbox is kept for ever (0 hours)
        assert len(inbox_keys(kit)) == 1
    finally:
        kit.dispose()


async def test_the_outbox_backlog_and_its_oldest_age(kit: Kit) -> None:
    sampler = OpsMetrics(kit.runtime)
    assert await sampler.sample_outbox() == (0, None)
    assert REGISTRY.get_sample_value("ensemble_outbox_oldest_unpublished_age_seconds") == 0
    add_outbox_row(kit, 2, 1)  # published: not in the backlog
    add_outbox_row(kit, 0.5, None)
    add_outbox_row(kit, 0.25, None)
    backlog = await sampler.sample_outbox()
    assert backlog.rows == 2
    assert REGISTRY.get_sample_value("ensemble_outbox_backlog") == 2
    age = REGISTRY.get_sample_value("ensemble_outbox_oldest_unpublished_age_seconds")
    assert age == pytest.approx(DAY.total_seconds() / 2)
    await sampler.offsets.close()
