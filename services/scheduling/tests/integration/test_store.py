"""The store's own guarantees, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters.orm import Appointment
from scheduling.adapters.repository import utc as as_utc

from ..support import Harness, coach, follow_on, referral_event, service_on, utc

START = utc(2026, 12, 1, 9, 0)


def now() -> datetime:
    return utc(2026, 11, 30, 6, 0)


@pytest.fixture
def harness(database_url: str) -> Iterator[Harness]:
    harness = service_on(database_url, [coach("C01", ["en"]), coach("C02", ["en"], "UTC")], now)
    yield harness
    harness.engine.dispose()


def appointment(**fields: Any) -> Appointment:
    values: dict[str, Any] = {
        "referral_id": uuid4(),
        "nhs_number": "9990000018",
        "coach_id": "C01",
        "coach_timezone": "Asia/Kolkata",
        "language": "en",
        "starts_at": START,
        "ends_at": START + timedelta(minutes=30),
        **fields,
    }
    return Appointment(**values)


def add(harness: Harness, row: Appointment) -> None:
    with UnitOfWork(harness.engine, "scheduling") as uow:
        uow.session.add(row)
        uow.commit()


def test_a_coach_has_one_live_appointment_per_start_time(harness: Harness) -> None:
    add(harness, appointment(status="cancelled"))
    add(harness, appointment())  # a cancelled appointment frees its slot
    with pytest.raises(IntegrityError):
        add(harness, appointment())
    add(harness, appointment(coach_id="C02"))  # another coach at that time is fine


def test_a_referral_has_one_first_appointment(harness: Harness) -> None:
    referral = uuid4()
    add(harness, appointment(referral_id=referral))
    add(
        harness, appointment(referral_id=referral, kind="follow_up", starts_at=START + timedelta(1))
    )
    add(
        harness, appointment(referral_id=referral, kind="follow_up", starts_at=START + timedelta(2))
    )
    with pytest.raises(IntegrityError):
        add(harness, appointment(referral_id=referral, starts_at=START + timedelta(3)))


def test_bookings_round_trip_in_utc_without_overlaps(harness: Harness) -> None:
    events = [referral_event() for _ in range(12)]
    harness.consume(*events)
    harness.consume(follow_on(events[0], "referral.withdrawn"))
    with Session(harness.engine) as session:
        rows = list(session.exec(select(Appointment).order_by(col(Appointment.starts_at))))
    assert len(rows) == 12
    assert {r.referral_id for r in rows} == {e.referral_id for e in events}
    live = [r for r in rows if r.status == "booked"]
    assert len(live) == 11
    for a, b in combinations(live, 2):
        if a.coach_id == b.coach_id:
            assert as_utc(a.ends_at) <= as_utc(b.starts_at) or as_utc(b.ends_at) <= as_utc(
                a.starts_at
            )
    published = harness.published()
    assert [e.event_type for e in published].count("appointment.booked") == 12
    by_id: dict[UUID, Appointment] = {r.appointment_id: r for r in rows}
    for event in published:
        assert event.starts_at == as_utc(by_id[event.appointment_id].starts_at)
        assert event.starts_at >= now() + timedelta(hours=1)


def test_concurrent_bookings_never_overlap(harness: Harness) -> None:
    # On PostgreSQL these run truly in parallel; the per-coach row lock serialises them.
    events = [referral_event() for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda e: harness.consume(e)[0], events))
    assert outcomes == ["processed"] * 40
    with Session(harness.engine) as session:
        rows = list(session.exec(select(Appointment)))
    assert len(rows) == 40
    for a, b in combinations(rows, 2):
        if a.coach_id == b.coach_id:
            assert as_utc(a.ends_at) <= as_utc(b.starts_at) or as_utc(b.ends_at) <= as_utc(
                a.starts_at
            )
