from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from scheduling.domain.coach import Coach
from scheduling.domain.slots import PatientDay, SlotPolicy, candidate_slots

from ..support import coach, utc

WEEKDAYS_9_TO_5 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
POLICY = SlotPolicy(lead_time=timedelta(0), horizon=timedelta(days=1))


def make(zone: str, hours: dict[str, list[list[str]]] = WEEKDAYS_9_TO_5) -> Coach:
    return Coach.from_json(coach("C", ["en"], zone, hours))


def starts(c: Coach, policy: SlotPolicy, now_: datetime) -> list[str]:
    return [s.starts_at.strftime("%m-%d %H:%M") for s in candidate_slots(c, policy, now_)]


def test_a_mumbai_day_is_converted_to_utc() -> None:
    slots = list(candidate_slots(make("Asia/Kolkata"), POLICY, utc(2026, 11, 23)))
    assert len(slots) == 16
    assert slots[0].starts_at == utc(2026, 11, 23, 3, 30)  # 09:00 IST
    assert slots[-1].ends_at == utc(2026, 11, 23, 11, 30)  # 17:00 IST
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(slots))


def test_a_london_day_moves_in_utc_when_the_clocks_go_forward() -> None:
    # UK clocks go forward on Sunday 2026-03-29: 09:00 is 09:00 UTC on Friday, 08:00 UTC on Monday.
    policy = SlotPolicy(lead_time=timedelta(0), horizon=timedelta(days=4))
    found = starts(make("Europe/London"), policy, utc(2026, 3, 27))
    assert found[0] == "03-27 09:00" and found[15] == "03-27 16:30"
    assert found[16] == "03-30 08:00" and found[-1] == "03-30 15:30"
    assert len(found) == 32
    # Mumbai has no summer time: its 09:00 stays 03:30 UTC on both days.
    mumbai = starts(make("Asia/Kolkata"), policy, utc(2026, 3, 27))
    assert (mumbai[0], mumbai[16]) == ("03-27 03:30", "03-30 03:30")


@pytest.mark.parametrize(
    ("day", "expected_first", "expected_count"),
    [
        # 00:00-04:00 local on the day the clocks go forward is three real hours ...
        (utc(2026, 3, 29), "03-29 00:00", 6),
        # ... and on the day they go back it is five (00:00 BST is 23:00 UTC the day before).
        (utc(2026, 10, 24, 22), "10-24 23:00", 10),
    ],
)
def test_a_period_across_the_change_holds_the_hours_really_worked(
    day: datetime, expected_first: str, expected_count: int
) -> None:
    night = make("Europe/London", {"sun": [["00:00", "04:00"]]})
    found = starts(night, POLICY, day)
    assert (found[0], len(found)) == (expected_first, expected_count)
    assert len(set(found)) == len(found)


def test_nothing_before_the_lead_time() -> None:
    london = make("Europe/London")
    now = utc(2026, 11, 23, 10, 10)  # Monday, GMT
    first = next(candidate_slots(london, SlotPolicy(), now))
    assert first.starts_at == utc(2026, 11, 23, 11, 30)  # 11:10 is the earliest, on a 30' grid
    soon = SlotPolicy(lead_time=timedelta(minutes=5))
    assert next(candidate_slots(london, soon, now)).starts_at == utc(2026, 11, 23, 10, 30)


def test_nothing_beyond_the_horizon() -> None:
    every_day = make("UTC", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu")})
    now = utc(2026, 11, 23, 12, 0)
    policy = SlotPolicy(lead_time=timedelta(0), horizon=timedelta(days=2))
    slots = list(candidate_slots(every_day, policy, now))
    assert slots[0].starts_at == now
    assert slots[-1].starts_at == utc(2026, 11, 25, 11, 30)  # before now + 2 days
    assert len(slots) == 8 + 16 + 8


def test_appointments_keep_to_the_patients_day() -> None:
    # Mumbai 09:00-17:00 is 03:30-11:30 in London in winter: only 08:00-11:30 suits a patient.
    uk_day = SlotPolicy(
        lead_time=timedelta(0),
        horizon=timedelta(days=1),
        patient_day=PatientDay("Europe/London", 8 * 60, 20 * 60),
    )
    winter = list(candidate_slots(make("Asia/Kolkata"), uk_day, utc(2026, 11, 23)))
    assert (winter[0].starts_at, len(winter)) == (utc(2026, 11, 23, 8, 0), 7)
    summer = list(candidate_slots(make("Asia/Kolkata"), uk_day, utc(2026, 6, 22)))
    assert (summer[0].starts_at, len(summer)) == (utc(2026, 6, 22, 7, 0), 9)  # 08:00 BST


def test_the_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="horizon"):
        SlotPolicy(horizon=timedelta(minutes=30), lead_time=timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        next(candidate_slots(make("UTC"), POLICY, utc(2026, 1, 1).replace(tzinfo=None)))
