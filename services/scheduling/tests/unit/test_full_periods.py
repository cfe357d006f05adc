"""A working period booked from end to end is passed over whole (booking.period_is_full):
the same slot is found as by trying every slot, on diaries of every shape."""

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest

from scheduling.domain.booking import (
    Booking,
    Need,
    earliest_free_slot,
    month_of,
    period_is_full,
)
from scheduling.domain.coach import Coach
from scheduling.domain.slots import Slot, SlotPolicy, candidate_slots

from ..support import coach, utc

MONDAY = utc(2027, 3, 22, 6, 0)  # the week of the UK clock change (28 March)
LENGTH = timedelta(minutes=20)
OPENING, CLOSING = utc(2027, 3, 22, 9), utc(2027, 3, 22, 10)  # three 20-minute slots


def at(minute: int, minutes: int = 20) -> Booking:
    start = OPENING + timedelta(minutes=minute)
    return Booking("A", start, start + timedelta(minutes=minutes))


def full(*taken: Booking, closing: datetime = CLOSING) -> bool:
    ordered = sorted(taken, key=lambda b: b.starts_at)
    starts = [b.starts_at for b in ordered]
    return period_is_full(ordered, starts, OPENING, closing, LENGTH)


def test_a_period_is_full_only_when_its_bookings_leave_no_slot_free() -> None:
    assert full(at(0), at(20), at(40))
    # Off the grid in 09:00-10:10 (still three slots): no 20 minutes free on the grid.
    assert full(at(5), at(25), at(45), closing=CLOSING + timedelta(minutes=10))
    assert not full(at(0), at(20))
    assert not full(at(0), at(20), at(40, minutes=10))  # too short to prove 09:40 taken
    assert not full(at(0), at(10), at(20), at(40, minutes=10))  # overlapping: counted once
    assert not full(at(-10), at(20), at(40))  # starts before the period: not inside it
    assert not full(at(0), at(20), at(45))  # ends after the period
    assert not full()
    assert full(closing=OPENING + timedelta(minutes=15))  # too short for any slot


def london_coach() -> Coach:
    hours = {d: [["09:00", "12:30"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "fri")}
    return Coach.from_json(coach("A", ["en"], "Europe/London", hours) | {"monthly_target": 60})


def tried_one_by_one(
    who: Coach, taken: list[Booking], policy: SlotPolicy, now: datetime
) -> Slot | None:
    """The walk without passing over any period: every slot, in order."""
    per_month = Counter(month_of(who, b.starts_at) for b in taken)
    for slot in candidate_slots(who, policy, now, None, None):
        if per_month[month_of(who, slot.starts_at)] >= who.target:
            continue
        if not any(b.starts_at < slot.ends_at and slot.starts_at < b.ends_at for b in taken):
            return slot
    return None


@pytest.mark.parametrize("seed", range(15))
def test_passing_over_full_periods_finds_the_slot_trying_each_would(seed: int) -> None:
    draw = random.Random(seed)
    who = london_coach()
    policy = SlotPolicy(appointment_minutes=20, lead_time=timedelta(0), horizon=timedelta(21))
    grid = list(candidate_slots(who, policy, MONDAY, None, None))
    taken: list[Booking] = []
    fill = draw.random()  # how full the diary is, up to every slot
    for slot in grid:
        if draw.random() < fill:
            shift = timedelta(minutes=draw.choice([0, 0, 0, 5, -5]))  # a few off the grid
            taken.append(Booking("A", slot.starts_at + shift, slot.ends_at + shift))
    # Non-overlapping, as a coach's diary is: drop any that would overlap the one before.
    taken.sort(key=lambda b: b.starts_at)
    diary = [b for i, b in enumerate(taken) if i == 0 or taken[i - 1].ends_at <= b.starts_at]
    found = earliest_free_slot(who, diary, policy, MONDAY, Need())
    assert found == tried_one_by_one(who, diary, policy, MONDAY)
