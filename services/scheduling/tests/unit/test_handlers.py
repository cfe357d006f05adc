from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import combinations
from pathlib import Path
from uuid import uuid4

import pytest
from sqlmodel import Session, col, select

from ensemble_contracts.scheduling import AppointmentEvent
from ensemble_contracts.topics import APPOINTMENTS
from ensemble_devkit.testkit import FrozenClock
from ensemble_runtime.outbox import OutboxMessage
from scheduling.adapters.orm import Appointment, WaitingListEntry
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.appointment import InvalidTransition
from scheduling.service_layer.commands import CancelAppointment, MarkAttended, MarkDidNotAttend
from scheduling.service_layer.handlers import AppointmentNotFound

from ..support import (
    SchedulingKit,
    coach,
    follow_on,
    referral_event,
    scheduling_kit,
    started,
    utc,
)

NOW = utc(2026, 11, 23, 6, 0)  # a Monday


@pytest.fixture
def kit(tmp_path: Path) -> SchedulingKit:
    coaches = [coach("C01", ["en", "hi", "pa"]), coach("C02", ["en", "ur"], "Europe/London")]
    return scheduling_kit(f"sqlite:///{tmp_path / 'scheduling.db'}", coaches, FrozenClock(NOW))


def appointments(kit: SchedulingKit) -> list[Appointment]:
    with Session(kit.service.engine) as session:
        return list(session.exec(select(Appointment).order_by(col(Appointment.starts_at))))


def waiting(kit: SchedulingKit) -> list[WaitingListEntry]:
    with Session(kit.service.engine) as session:
        return list(session.exec(select(WaitingListEntry)))


def published(kit: SchedulingKit) -> list[AppointmentEvent]:
    return kit.published(APPOINTMENTS)


def test_an_accepted_referral_books_a_first_appointment_in_the_patients_language(
    kit: SchedulingKit,
) -> None:
    event = referral_event(language="pa")
    assert kit.consume(event) == ["processed"]
    (booked,) = published(kit)
    assert (booked.event_type, booked.coach_id, booked.language) == (
        "appointment.booked",
        "C01",
        "pa",
    )
    assert (booked.causation_id, booked.correlation_id) == (event.event_id, event.correlation_id)
    assert (booked.producer, booked.referral_id, booked.nhs_number) == (
        "scheduling",
        event.referral_id,
        event.nhs_number,
    )
    assert booked.coach_timezone == "Asia/Kolkata"
    assert booked.starts_at >= NOW + timedelta(hours=1)  # the default lead time
    assert booked.ends_at - booked.starts_at == timedelta(minutes=30)
    (row,) = appointments(kit)
    assert (row.appointment_id, row.kind, row.status) == (booked.appointment_id, "first", "booked")
    with Session(kit.service.engine) as session:
        (outbox,) = session.exec(select(OutboxMessage)).all()
    assert (outbox.topic, outbox.key) == ("scheduling.appointments.v1", event.nhs_number)


def test_the_same_acceptance_twice_books_once(kit: SchedulingKit) -> None:
    event = referral_event()
    resent = follow_on(event, "referral.accepted")  # same referral, new event id
    assert kit.consume(event, event, resent) == ["processed", "duplicate", "processed"]
    assert len(appointments(kit)) == 1
    assert [e.event_type for e in published(kit)] == ["appointment.booked"]


def test_fifty_acceptances_for_two_coaches_never_overlap_and_share_the_load(
    kit: SchedulingKit,
) -> None:
    kit.consume(*[referral_event() for _ in range(50)])
    booked = published(kit)
    assert len(booked) == 50 and len({e.appointment_id for e in booked}) == 50
    assert len({(e.coach_id, e.starts_at) for e in booked}) == 50
    for a, b in combinations(booked, 2):
        if a.coach_id == b.coach_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at
    assert Counter(e.coach_id for e in booked) == {"C01": 25, "C02": 25}


def test_concurrent_acceptances_never_double_book(kit: SchedulingKit) -> None:
    events = [referral_event() for _ in range(50)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda e: kit.consume(e)[0], events))
    assert outcomes == ["processed"] * 50
    rows = appointments(kit)
    assert len(rows) == 50
    for a, b in combinations(rows, 2):
        if a.coach_id == b.coach_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at


def test_an_existing_appointment_of_another_length_is_respected(tmp_path: Path) -> None:
    kit = scheduling_kit(
        f"sqlite:///{tmp_path / 's.db'}",
        [coach("C01", ["en"], "UTC")],
        FrozenClock(NOW),
    )

    def follow_up(uow: SchedulingUnitOfWork) -> None:  # a 45' follow-up from 07:15
        uow.appointments.add(
            Appointment(
                referral_id=uuid4(),
                nhs_number="9990000018",
                coach_id="C01",
                coach_timezone="UTC",
                language="en",
                starts_at=utc(2026, 11, 23, 7, 15),
                ends_at=utc(2026, 11, 23, 8, 0),
                kind="follow_up",
            )
        )
        uow.commit()

    kit.run(follow_up)
    kit.consume(referral_event())
    (booked,) = published(kit)
    assert booked.starts_at == utc(2026, 11, 23, 8, 0)  # 07:00 and 07:30 overlap the follow-up


def test_a_cancelled_slot_is_free_again(kit: SchedulingKit) -> None:
    kit.consume(referral_event("referral.accepted", "ur"))
    (first,) = appointments(kit)
    kit.execute(CancelAppointment(first.appointment_id))
    kit.consume(referral_event("referral.accepted", "ur"))
    rows = appointments(kit)
    assert [(r.starts_at, r.status) for r in rows] == [
        (first.starts_at, "cancelled"),
        (first.starts_at, "booked"),
    ]


@pytest.mark.parametrize("closing", ["referral.withdrawn", "referral.declined"])
def test_a_closed_referral_cancels_its_booked_appointment(kit: SchedulingKit, closing: str) -> None:
    event = referral_event()
    closed = follow_on(event, closing)
    kit.consume(event, closed, closed)
    booked, cancelled = published(kit)
    assert cancelled.event_type == "appointment.cancelled"
    assert cancelled.appointment_id == booked.appointment_id
    assert cancelled.causation_id == closed.event_id
    assert [r.status for r in appointments(kit)] == ["cancelled"]


def test_closing_a_referral_without_appointment_publishes_nothing(kit: SchedulingKit) -> None:
    assert kit.consume(referral_event("referral.withdrawn")) == ["processed"]
    assert published(kit) == []


def test_nobody_who_can_take_it_means_the_waiting_list(tmp_path: Path) -> None:
    kit = scheduling_kit(f"sqlite:///{tmp_path / 's.db'}", [coach("H", ["hi"])])
    event = referral_event(language="pa")
    kit.consume(event, follow_on(event, "referral.accepted"))
    assert published(kit) == []
    (entry,) = waiting(kit)
    assert (entry.referral_id, entry.language, entry.reason) == (
        event.referral_id,
        "pa",
        "no_coach_for_language",
    )
    kit.consume(follow_on(event, "referral.withdrawn"))
    assert waiting(kit) == []  # a withdrawn referral leaves the list


def test_no_slot_within_the_horizon_means_the_waiting_list(tmp_path: Path) -> None:
    sundays_only = coach("S", ["en"], "UTC", {"sun": [["09:00", "17:00"]]})
    kit = scheduling_kit(
        f"sqlite:///{tmp_path / 's.db'}",
        [sundays_only],
        FrozenClock(NOW),
        horizon_days=2,  # Monday to Wednesday
    )
    kit.consume(referral_event())
    assert [e.reason for e in waiting(kit)] == ["no_free_slot_in_horizon"]
    assert appointments(kit) == []


def test_outcomes_publish_their_event_once(kit: SchedulingKit) -> None:
    kit.consume(*[referral_event() for _ in range(3)])
    first, second, third = appointments(kit)
    with pytest.raises(InvalidTransition, match="only once it has started"):
        kit.execute(MarkAttended(first.appointment_id))  # before the session: refused
    started(kit, second.starts_at)
    for command in (
        MarkAttended(first.appointment_id),
        MarkDidNotAttend(second.appointment_id),
        CancelAppointment(third.appointment_id),
    ):
        kit.execute(command)
    with pytest.raises(InvalidTransition):
        kit.execute(MarkDidNotAttend(first.appointment_id))
    with pytest.raises(AppointmentNotFound):
        kit.execute(CancelAppointment(uuid4()))
    outcomes = [(e.appointment_id, e.event_type) for e in published(kit)[3:]]
    reoffer = [a for a in appointments(kit) if a.referral_id == second.referral_id][-1]
    assert outcomes == [
        (first.appointment_id, "appointment.attended"),
        (second.appointment_id, "appointment.did_not_attend"),
        (reoffer.appointment_id, "appointment.booked"),  # a first DNA is offered again
        (third.appointment_id, "appointment.cancelled"),
    ]
    assert [a.status for a in appointments(kit)][:3] == ["attended", "did_not_attend", "cancelled"]
