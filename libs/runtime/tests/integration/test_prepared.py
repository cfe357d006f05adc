"""Prepared statements (ensemble_runtime.prepared) against a real store, SQLite and
PostgreSQL: what they write reads back exactly as through Core and the ORM, they commit and
roll back with the unit of work (savepoints too), and driver errors arrive as SQLAlchemy's,
without the parameters."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import Float, Numeric, bindparam, cast, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ensemble_runtime.db import core_sql
from ensemble_runtime.outbox import OUTBOX, OutboxMessage
from ensemble_runtime.prepared import Prepared

from ..support import Kit

MOMENT = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)
_INSERT = Prepared(insert(OUTBOX), returns_id=OUTBOX.c.id)
_BY_EVENTS = Prepared(
    select(OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.created_at, OUTBOX.c.published_at)
    .where(OUTBOX.c.event_id.in_(bindparam("events", expanding=True)))
    .order_by(OUTBOX.c.id)
)
# Numbers whose conversion depends on the type the driver reports (psycopg's numerics).
_NUMBERS_QUERY = select(
    cast(bindparam("ratio"), Float).label("ratio"),
    cast(bindparam("amount"), Numeric(10, 2)).label("amount"),
    OUTBOX.c.id,
).where(OUTBOX.c.id == bindparam("id"))
_NUMBERS = Prepared(_NUMBERS_QUERY)
_PUBLISH = Prepared(
    update(OUTBOX).where(OUTBOX.c.topic == bindparam("topic")).values(published_at=MOMENT)
)


def row(topic: str = "t", **given: object) -> dict[str, object]:
    values: dict[str, object] = {
        "topic": topic,
        "key": "9990000018",
        "event_id": uuid4(),
        "event_type": "encounter.admitted",
        "correlation_id": "c",
        "payload": "{}",
        "created_at": MOMENT,
        "published_at": None,
    }
    return values | given


def test_what_a_prepared_insert_writes_reads_back_as_core_and_the_orm_read_it(kit: Kit) -> None:
    prepared, through_core = row(), row()
    with kit.unit_of_work() as uow:
        session = uow._session
        first = _INSERT.execute(session, prepared).inserted_id
        second = core_sql(session).execute(insert(OUTBOX), through_core).inserted_primary_key
        assert second is not None and second[0] == first + 1  # the id it gave is the row's
        uow.commit()
    with Session(kit.service.engine) as session:
        for wanted in (prepared, through_core):
            stored = session.exec(
                select(OutboxMessage).where(OUTBOX.c.event_id == wanted["event_id"])  # type: ignore[call-overload]
            ).one()[0]
            assert (stored.event_id, stored.created_at, stored.published_at) == (
                wanted["event_id"],
                MOMENT,
                None,
            )
        events = [prepared["event_id"], through_core["event_id"]]
        found = _BY_EVENTS.execute(session, {"events": events}).rows
        assert found == [(first, events[0], MOMENT, None), (first + 1, events[1], MOMENT, None)]
        # IN lists of other lengths (each shape expanded once), the empty one included
        assert [r[0] for r in _BY_EVENTS.execute(session, {"events": events[1:]}).rows] == [
            first + 1
        ]
        assert _BY_EVENTS.execute(session, {"events": []}).rows == []
        assert len(_BY_EVENTS.execute(session, {"events": [*events, uuid4()]}).rows) == 2


def test_executemany_and_rowcount(kit: Kit) -> None:
    rows = [row("many") for _ in range(3)]
    with kit.unit_of_work() as uow:
        _INSERT.execute(uow._session, rows)
        assert _PUBLISH.execute(uow._session, {"topic": "many"}).rowcount == 3
        assert _PUBLISH.execute(uow._session, {"topic": "none"}).rowcount == 0
        uow.commit()
    with Session(kit.service.engine) as session:
        found = _BY_EVENTS.execute(session, {"events": [r["event_id"] for r in rows]}).rows
        assert [published for *_, published in found] == [MOMENT] * 3


def test_a_column_left_out_takes_its_default_or_null(kit: Kit) -> None:
    values = row()
    del values["published_at"]
    with kit.unit_of_work() as uow:
        _INSERT.execute(uow._session, values)
        uow.commit()
    with Session(kit.service.engine) as session:
        (found,) = _BY_EVENTS.execute(session, {"events": [values["event_id"]]}).rows
        assert found[3] is None


def test_it_commits_and_rolls_back_with_the_unit_of_work_savepoints_too(kit: Kit) -> None:
    dropped, undone, kept = row(), row(), row()
    with kit.unit_of_work() as uow:
        _INSERT.execute(uow._session, dropped)  # no commit: rolled back
    with kit.unit_of_work() as uow:
        outcome = uow.run_item(lambda: _INSERT.execute(uow._session, undone))  # not committed
        assert outcome[0]

        def kept_and_committed() -> None:
            _INSERT.execute(uow._session, kept)
            uow.commit()

        uow.run_item(kept_and_committed)
        uow.commit_group()
    with Session(kit.service.engine) as session:
        events = [dropped["event_id"], undone["event_id"], kept["event_id"]]
        found = _BY_EVENTS.execute(session, {"events": events}).rows
        assert [event for _, event, *_ in found] == [kept["event_id"]]


def test_a_broken_constraint_is_sqlalchemy_s_integrity_error_without_the_values(
    kit: Kit,
) -> None:
    values = row(key="9990000018")
    with kit.unit_of_work() as uow:
        _INSERT.execute(uow._session, values)
        with pytest.raises(IntegrityError) as raised:
            _INSERT.execute(uow._session, values | {"created_at": MOMENT + timedelta(1)})
    # As through Core (hide_parameters): no parameter travels with the error, so no value
    # outside the broken constraint (here the patient's key) can reach a log line.
    assert raised.value.params is None and "9990000018" not in str(raised.value)


def test_a_naive_datetime_is_refused_as_through_core(kit: Kit) -> None:
    with kit.unit_of_work() as uow, pytest.raises(ValueError, match="naive"):
        _INSERT.execute(uow._session, row(created_at=datetime(2026, 1, 1)))


def test_floats_and_decimals_read_back_as_through_core(kit: Kit) -> None:
    with kit.unit_of_work() as uow:
        session = uow._session
        new = _INSERT.execute(session, row()).inserted_id
        values = {"ratio": 0.25, "amount": "12.50", "id": new}
        through_core = core_sql(session).execute(_NUMBERS_QUERY, values).one()
        assert _NUMBERS.execute(session, values).rows == [tuple(through_core)]
