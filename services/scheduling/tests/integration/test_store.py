"""The store's own guarantees, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import combinations
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ensemble_contracts import limits
from ensemble_contracts.topics import APPOINTMENTS
from ensemble_devkit.testkit import FrozenClock
from scheduling.adapters.orm import Appointment
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.coach import Coach
from scheduling.service_layer.commands import UpsertCoaches

from ..support import (
    STAFF,
    SchedulingKit,
    coach,
    follow_on,
    referral_event,
    scheduling_kit,
    utc,
)

START = utc(2026, 12, 1, 9, 0)
NOW = utc(2026, 11, 30, 6, 0)


@pytest.fixture
def kit(database_url: str) -> Iterator[SchedulingKit]:
    roster = [coach("C01", ["en"]), coach("C02", ["en"], "UTC")]
    kit = scheduling_kit(database_url, roster, FrozenClock(NOW))
    yield kit
    kit.dispose()


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


def add(kit: SchedulingKit, row: Appointment) -> None:
    def work(uow: SchedulingUnitOfWork) -> None:
        uow.appointments.add(row)
        uow.commit()

    kit.run(work)


def test_a_coach_has_one_live_appointment_per_start_time(kit: SchedulingKit) -> None:
    add(kit, appointment(status="cancelled"))
    add(kit, appointment())  # a cancelled appointment frees its slot
    with pytest.raises(IntegrityError):
        add(kit, appointment())
    add(kit, appointment(coach_id="C02"))  # another coach at that time is fine


def test_each_session_of_a_referral_is_held_once(kit: SchedulingKit) -> None:
    referral = uuid4()
    add(kit, appointment(referral_id=referral))
    for number in (2, 3):
        later = START + timedelta(number)
        add(
            kit,
            appointment(
                referral_id=referral, kind="follow_up", session_number=number, starts_at=later
            ),
        )
    with pytest.raises(IntegrityError):
        add(kit, appointment(referral_id=referral, starts_at=START + timedelta(4)))
    # A missed first session may be offered again; the offer is then the one held.
    missed = uuid4()
    add(
        kit,
        appointment(referral_id=missed, status="did_not_attend", starts_at=START + timedelta(5)),
    )
    add(kit, appointment(referral_id=missed, starts_at=START + timedelta(6)))


def test_bookings_round_trip_in_utc_without_overlaps(kit: SchedulingKit) -> None:
    events = [referral_event() for _ in range(12)]
    kit.consume(*events)
    kit.consume(follow_on(events[0], "referral.withdrawn"))
    with Session(kit.service.engine) as session:
        rows = list(session.exec(select(Appointment).order_by(col(Appointment.starts_at))))
    assert len(rows) == 12
    assert {r.referral_id for r in rows} == {e.referral_id for e in events}
    live = [r for r in rows if r.status == "booked"]
    assert len(live) == 11
    for a, b in combinations(live, 2):
        if a.coach_id == b.coach_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at
    published = kit.published(APPOINTMENTS)
    assert [e.event_type for e in published].count("appointment.booked") == 12
    by_id: dict[UUID, Appointment] = {r.appointment_id: r for r in rows}
    for event in published:
        assert event.starts_at == by_id[event.appointment_id].starts_at  # read back in UTC
        assert event.starts_at >= NOW + timedelta(hours=1)


def test_concurrent_bookings_never_overlap(kit: SchedulingKit) -> None:
    # On PostgreSQL these run truly in parallel; the per-coach row lock serialises them.
    events = [referral_event() for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda e: kit.consume(e)[0], events))
    assert outcomes == ["processed"] * 40
    with Session(kit.service.engine) as session:
        rows = list(session.exec(select(Appointment)))
    assert len(rows) == 40
    for a, b in combinations(rows, 2):
        if a.coach_id == b.coach_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at


async def test_hostile_http_input_is_refused_on_every_store(kit: SchedulingKit) -> None:
    """PostgreSQL refuses NUL characters and numbers past its column types: such input must
    stop at the edge with a 4xx (SQLite would have taken it)."""
    async with kit.client(*STAFF) as staff:
        for params in (
            {"nhs_number": "999000001\x00"},
            {"coach_id": "C01\x00"},
            {"limit": str(2**63)},
            {"limit": str(10**30)},
        ):
            assert (await staff.get("/v1/appointments", params=params)).status_code == 422
        nul = [{**coach("C03", ["en"]), "display_name": "Coach\u0000"}]
        assert (await staff.post("/v1/coaches", json=nul)).status_code == 422
        assert (await staff.post(f"/v1/appointments/{uuid4()}/attended")).status_code == 404


def test_a_coach_and_an_appointment_at_the_contract_maxima_are_stored(kit: SchedulingKit) -> None:
    language = "en-" + "-".join(["abcdefgh"] * 3) + "-abcde"
    assert len(language) == limits.LANGUAGE
    widest = {**coach("C" * 50, [language], "America/Argentina/ComodRivadavia")}
    kit.execute(UpsertCoaches((Coach.from_json(widest),)))
    event = referral_event(language=language)
    kit.consume(event)
    (booked,) = [e for e in kit.published(APPOINTMENTS) if e.referral_id == event.referral_id]
    assert (booked.coach_id, booked.language) == ("C" * 50, language)
    assert booked.coach_timezone == "America/Argentina/ComodRivadavia"
