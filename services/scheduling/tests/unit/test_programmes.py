"""Programmes, matching by team and continuity, capacity, reschedules, the DNA policy."""

from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from ensemble_contracts.scheduling import AppointmentEvent
from ensemble_contracts.topics import APPOINTMENTS
from ensemble_devkit.testkit import FrozenClock
from scheduling.adapters.orm import Appointment, AppointmentChange, Programme, WaitingListEntry
from scheduling.domain.appointment import ChangedBy, ImpossibleTime, InvalidTransition
from scheduling.domain.coach import Coach
from scheduling.service_layer.commands import (
    CancelAppointment,
    MarkAttended,
    MarkDidNotAttend,
    PutPatientPreference,
    RescheduleAppointment,
    UpsertCoaches,
)
from scheduling.service_layer.handlers import SlotTaken

from ..support import (
    SchedulingKit,
    coach,
    follow_on,
    referral_event,
    scheduling_kit,
    started,
    utc,
)

NOW = utc(2027, 1, 4, 0, 0)  # a Monday
LONDON, KOLKATA = ZoneInfo("Europe/London"), ZoneInfo("Asia/Kolkata")
TEN_IST = {d: [["10:00", "10:30"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
PROGRAMME: dict[str, Any] = {"follow_ups": 2, "follow_up_interval_days": 7, "review_after_days": 14}


def make_kit(
    tmp_path: Path,
    roster: list[dict[str, Any]],
    now: Any = NOW,
    store: str = "scheduling",
    **settings: Any,
) -> SchedulingKit:
    return scheduling_kit(f"sqlite:///{tmp_path / store}.db", roster, FrozenClock(now), **settings)


def rows(kit: SchedulingKit) -> list[Appointment]:
    with Session(kit.service.engine) as session:
        return list(session.exec(select(Appointment).order_by(col(Appointment.starts_at))))


def published(kit: SchedulingKit) -> list[AppointmentEvent]:
    return kit.published(APPOINTMENTS)


def test_a_programme_is_booked_ahead_with_the_same_coach(tmp_path: Path) -> None:
    roster = [coach("P1", ["pa", "en"]), coach("P2", ["pa"]), coach("E1", ["en"])]
    kit = make_kit(tmp_path, roster, **PROGRAMME)
    kit.consume(referral_event(language="pa"))
    booked = rows(kit)
    assert [(a.kind, a.session_number) for a in booked] == [
        ("first", 1),
        ("follow_up", 2),
        ("follow_up", 3),
        ("review", 4),
    ]
    assert len({a.coach_id for a in booked}) == 1 and booked[0].coach_id in {"P1", "P2"}
    gaps = [b.starts_at - a.starts_at for a, b in pairwise(booked)]
    assert all(gap >= timedelta(days=7) for gap in gaps[:2]) and gaps[2] >= timedelta(days=14)
    events = published(kit)
    assert {(e.practice_ods, e.service, e.schema_version) for e in events} == {
        ("L85001", "health_coaching", 2)
    }


def test_complex_care_goes_to_the_complex_care_team(tmp_path: Path) -> None:
    roster = [coach("HC", ["en"]), {**coach("KW", ["en"]), "team": "complex_care"}]
    kit = make_kit(tmp_path, roster)
    kit.consume(referral_event(service="complex_care"), referral_event())
    by_service = {(a.service, a.coach_id) for a in rows(kit)}
    assert by_service == {("complex_care", "KW"), ("health_coaching", "HC")}


def test_a_team_without_a_coach_waits_rather_than_borrowing_the_other_team(
    tmp_path: Path,
) -> None:
    kit = make_kit(tmp_path, [coach("HC", ["en"])])
    kit.consume(referral_event(service="complex_care"))
    assert rows(kit) == []
    with Session(kit.service.engine) as session:
        (entry,) = session.exec(select(WaitingListEntry)).all()
    assert entry.reason == "no_coach_for_language"


def test_continuity_keeps_the_patients_coach_unless_they_ask_for_another(
    tmp_path: Path,
) -> None:
    kit = make_kit(tmp_path, [coach("A", ["en"]), coach("B", ["en"])])
    kit.consume(referral_event(nhs_number="9990000018"))
    (first,) = rows(kit)
    # B now has the earlier free slot, but the patient's earlier sessions were with A.
    kit.consume(referral_event(nhs_number="9990000026"))
    kit.consume(referral_event(nhs_number="9990000018"))
    mine = [a for a in rows(kit) if a.nhs_number == "9990000018"]
    assert {a.coach_id for a in mine} == {first.coach_id}
    kit.execute(PutPatientPreference("9990000018", "Europe/London", 0, 1440, True))
    kit.consume(referral_event(nhs_number="9990000018"))
    latest = [a for a in rows(kit) if a.nhs_number == "9990000018"][-1]
    assert latest.coach_id != first.coach_id


def test_the_patients_own_hours_in_their_own_zone_are_kept(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, [coach("A", ["en"])])
    kit.execute(PutPatientPreference("9990000018", "America/New_York", 18 * 60, 19 * 60))
    kit.consume(referral_event(nhs_number="9990000018"))
    (booked,) = rows(kit)
    local = booked.starts_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) in {(18, 0), (18, 30)}


def test_leave_and_a_full_month_are_never_booked(tmp_path: Path) -> None:
    away = {**coach("A", ["en"], "UTC", TEN_IST), "leave": [["2027-01-04", "2027-01-10"]]}
    kit = make_kit(tmp_path, [away])
    kit.consume(referral_event())
    (booked,) = rows(kit)
    assert booked.starts_at == utc(2027, 1, 11, 10, 0)  # the first day back
    full = {**coach("B", ["en"], "UTC", TEN_IST), "monthly_target": 2}
    kit2 = make_kit(tmp_path, [full], store="full")
    kit2.consume(*[referral_event() for _ in range(3)])
    starts = [a.starts_at for a in rows(kit2)]
    assert starts == [utc(2027, 1, 4, 10, 0), utc(2027, 1, 5, 10, 0)]  # then January is full


@pytest.mark.parametrize(
    ("now", "london_times"),
    [
        (utc(2027, 3, 22), ["04:30 GMT", "05:30 BST"]),  # the clocks go forward on 28 March
        (utc(2027, 10, 25), ["05:30 BST", "04:30 GMT"]),  # and back on 31 October
    ],
)
def test_a_session_at_ten_in_kolkata_seen_from_london_across_the_clock_change(
    tmp_path: Path, now: Any, london_times: list[str]
) -> None:
    kit = make_kit(
        tmp_path,
        [coach("K", ["pa"], "Asia/Kolkata", TEN_IST)],
        now,
        follow_ups=1,
        follow_up_interval_days=7,
    )
    kit.consume(referral_event(language="pa"))
    booked = rows(kit)
    assert [a.starts_at.astimezone(KOLKATA).strftime("%H:%M") for a in booked] == ["10:00"] * 2
    assert [a.starts_at.astimezone(LONDON).strftime("%H:%M %Z") for a in booked] == london_times


def test_a_reschedule_into_the_london_gap_or_outside_the_pattern_is_refused(
    tmp_path: Path,
) -> None:
    kit = make_kit(tmp_path, [coach("L", ["en"], "Europe/London")], utc(2027, 3, 20))
    kit.consume(referral_event())
    (booked,) = rows(kit)
    gap = RescheduleAppointment(
        booked.appointment_id,
        ChangedBy.PATIENT,
        "work",
        utc(2027, 3, 28, 1, 30).replace(tzinfo=None),
        "Europe/London",
    )
    with pytest.raises(ImpossibleTime, match="does not exist"):
        kit.execute(gap)
    office_hours = {"mon": [["09:00", "17:00"]]}
    office = make_kit(tmp_path, [coach("O", ["en"], "Europe/London", office_hours)], store="o")
    office.consume(referral_event())
    (monday,) = rows(office)
    evening = RescheduleAppointment(
        monday.appointment_id, ChangedBy.COACH, None, utc(2027, 1, 4, 18, 0).replace(tzinfo=None)
    )
    with pytest.raises(ImpossibleTime, match="working pattern"):
        office.execute(evening)
    assert rows(kit)[0].starts_at == booked.starts_at and rows(office)[0].sequence == 0


def test_a_reschedule_moves_the_session_and_says_who_asked(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, [coach("A", ["en"], "UTC")])
    kit.consume(referral_event(), referral_event())
    first, second = rows(kit)
    to_second = RescheduleAppointment(
        first.appointment_id, ChangedBy.PATIENT, None, second.starts_at
    )
    with pytest.raises(SlotTaken):
        kit.execute(to_second)
    moved = kit.execute(
        RescheduleAppointment(
            first.appointment_id, ChangedBy.PATIENT, "school run", utc(2027, 1, 6, 12, 0)
        )
    )
    assert (moved.starts_at, moved.sequence, moved.changed_by) == (
        utc(2027, 1, 6, 12, 0),
        1,
        "patient",
    )
    event = published(kit)[-1]
    assert (event.event_type, event.previous_starts_at, event.changed_by) == (
        "appointment.rescheduled",
        first.starts_at,
        "patient",
    )
    with Session(kit.service.engine) as session:
        (change,) = session.exec(select(AppointmentChange)).all()
    assert (change.action, change.reason) == ("rescheduled", "school run")


def test_past_or_cancelled_appointments_cannot_be_moved_or_cancelled(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    kit = scheduling_kit(f"sqlite:///{tmp_path / 's.db'}", [coach("A", ["en"], "UTC")], clock)
    kit.consume(referral_event(), referral_event())
    first, second = rows(kit)
    kit.execute(CancelAppointment(first.appointment_id, ChangedBy.COACH, "ill"))
    with pytest.raises(InvalidTransition, match="cancelled appointment"):
        kit.execute(RescheduleAppointment(first.appointment_id, ChangedBy.PATIENT))
    clock.advance(days=1)
    with pytest.raises(InvalidTransition, match="past"):
        kit.execute(CancelAppointment(second.appointment_id, ChangedBy.PATIENT))
    assert [a.status for a in rows(kit)] == ["cancelled", "booked"]


def test_a_freed_slot_books_the_waiting_list(tmp_path: Path) -> None:
    one_slot = {"mon": [["10:00", "10:30"]]}
    kit = make_kit(tmp_path, [coach("A", ["en"], "UTC", one_slot)], horizon_days=7)
    kit.consume(referral_event(), waiting := referral_event())
    (booked,) = rows(kit)
    kit.execute(CancelAppointment(booked.appointment_id, ChangedBy.PATIENT, "moved away"))
    rebooked = [a for a in rows(kit) if a.status == "booked"]
    assert [(a.referral_id, a.starts_at) for a in rebooked] == [
        (waiting.referral_id, booked.starts_at)
    ]
    with Session(kit.service.engine) as session:
        assert session.exec(select(WaitingListEntry)).all() == []
    # New hours free capacity too.
    kit.consume(late := referral_event())
    kit.execute(UpsertCoaches((Coach.from_json(coach("B", ["en"], "UTC")),)))
    assert late.referral_id in {a.referral_id for a in rows(kit) if a.status == "booked"}


@pytest.mark.parametrize(("action", "status"), [("close", "closed"), ("pause", "paused")])
def test_a_dna_is_offered_again_once_then_the_referrer_is_told(
    tmp_path: Path, action: str, status: str
) -> None:
    kit = make_kit(tmp_path, [coach("A", ["en"], "UTC")], second_dna_action=action, **PROGRAMME)
    referral = referral_event(practice_ods="L85002")
    kit.consume(referral)
    first = rows(kit)[0]
    started(kit, first.starts_at)
    kit.execute(MarkDidNotAttend(first.appointment_id))
    reoffer = [a for a in rows(kit) if a.session_number == 1 and a.status == "booked"]
    assert len(reoffer) == 1 and reoffer[0].coach_id == "A"
    started(kit, reoffer[0].starts_at)
    kit.execute(MarkAttended(reoffer[0].appointment_id))
    follow_up = next(a for a in rows(kit) if a.session_number == 2)
    started(kit, follow_up.starts_at)
    kit.execute(MarkDidNotAttend(follow_up.appointment_id))
    (escalated,) = [e for e in published(kit) if e.event_type == "appointment.dna_escalated"]
    assert (escalated.practice_ods, escalated.programme_status, escalated.dna_count) == (
        "L85002",
        status,
        2,
    )
    assert escalated.correlation_id is not None
    later = [a for a in rows(kit) if a.session_number > 2]
    assert {(a.status, a.changed_by) for a in later} == {("cancelled", "policy")}
    with Session(kit.service.engine) as session:
        programme = session.get(Programme, referral.referral_id)
    assert programme is not None and programme.status == status


def test_referral_event_types_scheduling_does_not_know_are_skipped(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, [coach("A", ["en"])])
    event = referral_event()
    assert kit.consume(follow_on(event, "referral.triaged")) == ["ignored"]
    assert rows(kit) == []


def test_a_re_offer_that_waited_is_booked_later_without_touching_the_rest(
    tmp_path: Path,
) -> None:
    one_slot = {"mon": [["10:00", "10:30"]]}
    kit = make_kit(
        tmp_path,
        [coach("A", ["en"], "UTC", one_slot)],
        horizon_days=8,
        follow_ups=1,
        follow_up_interval_days=7,
    )
    referral = referral_event()
    kit.consume(referral)
    first, follow_up = rows(kit)
    started(kit, first.starts_at)
    kit.execute(MarkDidNotAttend(first.appointment_id))  # A's only free Monday is taken
    with Session(kit.service.engine) as session:
        (entry,) = session.exec(select(WaitingListEntry)).all()
    assert entry.session_number == 1
    kit.execute(UpsertCoaches((Coach.from_json(coach("B", ["en"], "UTC")),)))
    booked = {(a.session_number, a.coach_id) for a in rows(kit) if a.status == "booked"}
    assert booked == {(1, "B"), (2, follow_up.coach_id)}
    with Session(kit.service.engine) as session:
        assert session.exec(select(WaitingListEntry)).all() == []


def test_a_re_offer_that_lands_after_the_next_session_books_that_one_again_after_it(
    tmp_path: Path,
) -> None:
    one_slot = {"mon": [["10:00", "10:30"]]}
    kit = make_kit(
        tmp_path,
        [coach("A", ["en"], "UTC", one_slot)],
        horizon_days=30,
        follow_ups=1,
        follow_up_interval_days=7,
    )
    kit.consume(referral_event())
    first, follow_up = rows(kit)
    assert (first.starts_at, follow_up.starts_at) == (utc(2027, 1, 4, 10), utc(2027, 1, 11, 10))
    started(kit, first.starts_at)
    kit.execute(MarkDidNotAttend(first.appointment_id))  # the next free Monday is the 18th
    booked = sorted((a.starts_at, a.session_number) for a in rows(kit) if a.status == "booked")
    assert booked == [(utc(2027, 1, 18, 10), 1), (utc(2027, 1, 25, 10), 2)]  # in order again
    moved = next(a for a in rows(kit) if a.appointment_id == follow_up.appointment_id)
    assert (moved.status, moved.changed_by) == ("cancelled", "policy")
    events = [(e.event_type, e.session_number) for e in published(kit)[2:]]
    assert events == [
        ("appointment.did_not_attend", 1),
        ("appointment.booked", 1),
        ("appointment.cancelled", 2),
        ("appointment.booked", 2),
    ]
