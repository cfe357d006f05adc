from dataclasses import replace
from datetime import timedelta

import pytest

from scheduling.domain.appointment import AppointmentStatus, InvalidTransition, transition
from scheduling.domain.booking import (
    Booking,
    Choice,
    WaitingReason,
    choose,
    language_preferences,
)
from scheduling.domain.coach import Coach
from scheduling.domain.slots import SlotPolicy

from ..support import coach, utc

MONDAY_EARLY = utc(2026, 11, 23, 6, 0)
POLICY = SlotPolicy(lead_time=timedelta(0), horizon=timedelta(days=21))


def london(coach_id: str, languages: list[str], opening: str = "09:00") -> Coach:
    hours = {d: [[opening, "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    return Coach.from_json(coach(coach_id, languages, "Europe/London", hours))


def booked(coach_id: str, start_hour: int, minutes: int = 30, day: int = 23) -> Booking:
    start = utc(2026, 11, day, start_hour)
    return Booking(coach_id, start, start + timedelta(minutes=minutes))


def chosen(*args: object) -> Choice:
    decision = choose(*args)  # type: ignore[arg-type]
    assert isinstance(decision, Choice), decision
    return decision


def test_the_patients_language_comes_before_an_earlier_slot() -> None:
    english, punjabi = london("E", ["en"]), london("P", ["en", "pa"], opening="10:00")
    choice = chosen([english, punjabi], "pa", [], POLICY, MONDAY_EARLY)
    assert (choice.coach_id, choice.language, choice.slot.starts_at) == (
        "P",
        "pa",
        utc(2026, 11, 23, 10),
    )


@pytest.mark.parametrize(
    ("preferred", "language"),
    [("pa-IN", "pa"), ("PA", "pa"), ("sw", "en"), (None, "en"), ("", "en")],
)
def test_a_regional_tag_finds_its_language_and_otherwise_english(
    preferred: str | None, language: str
) -> None:
    coaches = [london("E", ["en"]), london("P", ["pa"])]
    assert chosen(coaches, preferred, [], POLICY, MONDAY_EARLY).language == language
    assert language_preferences(preferred)[-1] == "en"


def test_nobody_speaking_the_language_or_english_means_waiting() -> None:
    assert choose([london("H", ["hi"])], "pa", [], POLICY, MONDAY_EARLY) == (
        WaitingReason.NO_COACH_FOR_LANGUAGE
    )
    assert choose([], "en", [], POLICY, MONDAY_EARLY) == WaitingReason.NO_COACH_FOR_LANGUAGE


def test_an_inactive_coach_takes_no_one() -> None:
    resting = replace(london("P", ["pa"]), active=False)
    choice = chosen([resting, london("E", ["en"])], "pa", [], POLICY, MONDAY_EARLY)
    assert (choice.coach_id, choice.language) == ("E", "en")


def test_the_earliest_slot_wins_across_time_zones() -> None:
    mumbai = Coach.from_json(coach("M", ["en"], "Asia/Kolkata", {"mon": [["09:00", "17:00"]]}))
    choice = chosen([london("L", ["en"]), mumbai], "en", [], POLICY, MONDAY_EARLY)
    assert (choice.coach_id, choice.slot.starts_at) == ("M", utc(2026, 11, 23, 6, 0))


def test_a_tie_goes_to_the_coach_with_fewer_bookings_that_week() -> None:
    a, b = london("A", ["en"]), london("B", ["en"])
    # Both are free at 09:00 Monday. A has 2 bookings later this week, B has 1 this week
    # and 5 the week after (which do not count).
    taken = [booked("A", 9, day=25), booked("A", 10, day=26), booked("B", 9, day=27)]
    taken += [booked("B", h, day=30) for h in range(9, 14)]
    choice = chosen([a, b], "en", taken, POLICY, MONDAY_EARLY)
    assert (choice.coach_id, choice.slot.starts_at) == ("B", utc(2026, 11, 23, 9))


def test_a_taken_time_of_any_shape_is_never_offered() -> None:
    # A 45-minute follow-up at 09:15 blocks the 09:00 and 09:30 slots.
    only = london("A", ["en"])
    choice = chosen([only], "en", [booked("A", 9, 45)], POLICY, MONDAY_EARLY)
    assert choice.slot.starts_at == utc(2026, 11, 23, 10)
    shifted = Booking("A", utc(2026, 11, 23, 9, 15), utc(2026, 11, 23, 10, 0))
    assert chosen([only], "en", [shifted], POLICY, MONDAY_EARLY).slot.starts_at == utc(
        2026, 11, 23, 10
    )


def test_a_fully_booked_horizon_means_waiting() -> None:
    whole_horizon = Booking("A", MONDAY_EARLY, MONDAY_EARLY + timedelta(days=30))
    assert choose([london("A", ["en"])], "en", [whole_horizon], POLICY, MONDAY_EARLY) == (
        WaitingReason.NO_FREE_SLOT
    )


def test_only_a_booked_appointment_changes_and_only_once() -> None:
    assert transition("booked", AppointmentStatus.ATTENDED) == AppointmentStatus.ATTENDED
    for final in ("cancelled", "attended", "did_not_attend"):
        with pytest.raises(InvalidTransition):
            transition(final, AppointmentStatus.CANCELLED)
    with pytest.raises(InvalidTransition):
        transition("booked", AppointmentStatus.BOOKED)
