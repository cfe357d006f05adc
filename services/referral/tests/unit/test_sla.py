"""Working days on the England calendar: weekends and bank holidays do not count, and a
deadline keeps its London time of day across a change of summer time."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from referral.config import Settings
from referral.domain.referral import Referral
from referral.domain.sla import (
    SlaPolicy,
    _bank_holidays,
    add_working_days,
    is_working_day,
    load_calendar,
)


def london_winter(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)  # GMT = UTC


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        # Christmas 2026: Fri 25 Dec, Sat, Sun, Mon 28 (Boxing Day observed) off.
        (london_winter(2026, 12, 24), 1, london_winter(2026, 12, 29)),
        (london_winter(2026, 12, 24), 3, london_winter(2026, 12, 31)),
        # New Year's Day 2027 is a Friday: the next working day is Monday 4 January.
        (london_winter(2026, 12, 24), 4, london_winter(2027, 1, 4)),
        (london_winter(2026, 12, 23), 5, london_winter(2027, 1, 4)),
        # Made on a bank holiday: one working day later is the first working day after it.
        (london_winter(2026, 12, 25), 1, london_winter(2026, 12, 29)),
        (london_winter(2026, 12, 25), 2, london_winter(2026, 12, 30)),
        (london_winter(2026, 12, 24), 0, london_winter(2026, 12, 24)),
    ],
)
def test_christmas_and_new_year_2026_27(start: datetime, days: int, deadline: datetime) -> None:
    assert add_working_days(start, days) == deadline


def test_easter_2027_and_the_change_to_summer_time() -> None:
    # Good Friday 26 March, Easter Monday 29 March; clocks go forward on Sunday 28 March.
    maundy_thursday = datetime(2027, 3, 25, 10, 0, tzinfo=UTC)  # 10:00 GMT
    assert add_working_days(maundy_thursday, 1) == datetime(2027, 3, 30, 9, 0, tzinfo=UTC)
    # 10:00 London time still, which is now BST (UTC+1).
    assert not is_working_day(datetime(2027, 3, 26).date())
    assert not is_working_day(datetime(2027, 3, 29).date())
    assert is_working_day(datetime(2027, 3, 30).date())


def test_late_evening_utc_counts_on_the_london_calendar() -> None:
    # 23:30 UTC on Thursday 1 July 2027 is 00:30 BST on Friday 2 July: a Friday referral.
    late = datetime(2027, 7, 1, 23, 30, tzinfo=UTC)
    assert add_working_days(late, 1) == datetime(2027, 7, 4, 23, 30, tzinfo=UTC)  # Mon 00:30 BST


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 12, 24), 1)


def test_the_policy_is_per_service_source_and_priority() -> None:
    policy = SlaPolicy.from_mapping(
        {
            "triage": {"gp": 3},
            "stages": {"urgent": {"acceptance": 1}},
            "services": {"complex_care": {"triage": {"hot_onboarding": 1}}},
        }
    )
    assert policy.triage_days("health_coaching", "gp") == 3
    assert policy.triage_days("complex_care", "hot_onboarding") == 1
    assert policy.triage_days("health_coaching", "hot_onboarding") == 2  # the default
    assert policy.stage_days("complex_care", "urgent", "acceptance") == 1
    assert policy.stage_days("complex_care", "routine", "activation") == 20
    referral = Referral.request(
        nhs_number="9990000026",
        practice_ods="L85001",
        service="health_coaching",
        now=london_winter(2026, 12, 24),
        sla=policy,
    )
    assert referral.due_by == london_winter(2026, 12, 31)
    referral.triage("urgent", london_winter(2026, 12, 29), policy)
    assert (referral.sla_stage, referral.due_by) == ("acceptance", london_winter(2026, 12, 30))


@pytest.mark.parametrize(
    "raw",
    [
        '{"triage": {"gp": -1}}',
        '{"stages": {"someday": {"acceptance": 1}}}',
        '{"stages": {"urgent": {"acceptance": "two"}}}',
        '{"triage": {"fax": 1}}',
        "[1]",
        "not json",
    ],
)
def test_a_bad_policy_refuses_to_start(raw: str) -> None:
    with pytest.raises(ValidationError):
        Settings(sla_policy=raw)


def test_the_calendar_loaded_at_start_holds_this_year_and_next() -> None:
    _bank_holidays.cache_clear()
    load_calendar(datetime(2026, 12, 31, tzinfo=UTC).date())
    assert _bank_holidays.cache_info().currsize == 2
    assert datetime(2027, 1, 1).date() in _bank_holidays(2027)
    assert _bank_holidays.cache_info().misses == 2  # 2027 was already there
