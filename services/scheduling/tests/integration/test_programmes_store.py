"""Programmes under concurrency, on SQLite and PostgreSQL: never two live appointments of a
coach at one time, whoever wins."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ensemble_devkit.testkit import FrozenClock
from scheduling.adapters.orm import Appointment
from scheduling.domain.appointment import ChangedBy
from scheduling.service_layer.commands import RescheduleAppointment
from scheduling.service_layer.handlers import SlotTaken

from ..support import SchedulingKit, coach, referral_event, scheduling_kit, utc

NOW = utc(2027, 1, 4, 0, 0)
DOUBLE_BOOKINGS = text(
    "SELECT count(*) FROM appointments a JOIN appointments b ON a.coach_id = b.coach_id "
    "AND a.appointment_id < b.appointment_id AND a.status <> 'cancelled' "
    "AND b.status <> 'cancelled' AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
)


@pytest.fixture
def kit(database_url: str) -> Iterator[SchedulingKit]:
    roster = [
        coach("P1", ["pa", "en"], "Asia/Kolkata"),
        coach("P2", ["pa"], "Asia/Kolkata"),
        {**coach("K1", ["en"], "Europe/London"), "team": "complex_care"},
    ]
    settings: dict[str, Any] = {
        "follow_ups": 2,
        "follow_up_interval_days": 7,
        "review_after_days": 14,
    }
    kit = scheduling_kit(database_url, roster, FrozenClock(NOW), **settings)
    yield kit
    kit.dispose()


def live(kit: SchedulingKit) -> list[Appointment]:
    with Session(kit.service.engine) as session:
        return [a for a in session.exec(select(Appointment)) if a.status != "cancelled"]


def test_concurrent_programmes_book_every_session_once_and_never_double_book(
    kit: SchedulingKit,
) -> None:
    events = [referral_event(language="pa") for _ in range(24)]
    events += [referral_event(service="complex_care") for _ in range(6)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda e: kit.consume(e)[0], events))
    assert outcomes == ["processed"] * 30
    rows = live(kit)
    assert len(rows) == 30 * 4  # first, two follow-ups and the review of each
    assert {(a.service, a.coach_id == "K1") for a in rows} == {
        ("health_coaching", False),
        ("complex_care", True),
    }
    for a, b in combinations(rows, 2):
        if a.coach_id == b.coach_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at
    with kit.service.engine.connect() as connection:
        assert connection.execute(DOUBLE_BOOKINGS).scalar_one() == 0


def test_two_reschedules_racing_for_one_slot_leave_one_winner(kit: SchedulingKit) -> None:
    kit.consume(*[referral_event(service="complex_care") for _ in range(2)])
    a, b = sorted((r for r in live(kit) if r.session_number == 1), key=lambda r: r.starts_at)
    target = utc(2027, 1, 8, 10, 0)

    def move(appointment: Appointment) -> str:
        try:
            kit.execute(
                RescheduleAppointment(appointment.appointment_id, ChangedBy.PATIENT, None, target)
            )
        except (SlotTaken, IntegrityError):  # the check, or the store's index, refuses it
            return "refused"
        return "moved"

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(move, [a, b]))
    assert results == ["moved", "refused"]
    at_target = [r for r in live(kit) if r.starts_at == target]
    assert len(at_target) == 1
    with kit.service.engine.connect() as connection:
        assert connection.execute(DOUBLE_BOOKINGS).scalar_one() == 0
