from typing import Any

import pytest

from scheduling.domain.coach import Coach, InvalidCoach, Period

from ..support import coach


def test_a_coach_is_read_from_the_published_format_and_written_back() -> None:
    data = coach(
        "C01", ["EN", "pa-IN", "en"], hours={"tue": [["13:00", "17:00"], ["09:00", "12:00"]]}
    )
    parsed = Coach.from_json(data)
    assert parsed.languages == ("en", "pa-in")
    assert parsed.periods_on(1) == (Period(9 * 60, 12 * 60), Period(13 * 60, 17 * 60))
    assert parsed.periods_on(0) == ()
    assert parsed.to_json()["weekly_hours"] == {"tue": [["09:00", "12:00"], ["13:00", "17:00"]]}
    assert Coach.from_json(parsed.to_json()) == parsed


def test_a_period_may_run_to_midnight() -> None:
    parsed = Coach.from_json(coach("C01", ["en"], hours={"sat": [["20:00", "24:00"]]}))
    assert parsed.periods_on(5) == (Period(20 * 60, 24 * 60),)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "time zone"),
        ({"timezone": "../../etc/passwd"}, "time zone"),
        ({"weekly_hours": {"monday": [["09:00", "17:00"]]}}, "weekday"),
        ({"weekly_hours": {"mon": [["17:00", "09:00"]]}}, "start before"),
        ({"weekly_hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "overlap"),
        ({"weekly_hours": {"mon": [["09:00", "25:00"]]}}, "time of day"),
        ({"weekly_hours": {"mon": [["24:00", "24:00"]]}}, "time of day"),
        ({"weekly_hours": {"mon": [["9am", "5pm"]]}}, "HH:MM"),
        ({"weekly_hours": {"mon": ["09:00-17:00"]}}, "working period"),
        ({"languages": []}, "at least one language"),
        ({"languages": ["english!"]}, "BCP 47"),
        ({"coach_id": "has space"}, "coach_id"),
        ({"coach_id": "C01\n"}, "coach_id"),
        ({"coach_id": "C" * 51}, "coach_id"),
        ({"languages": ["en-" + "a" * 33]}, "longer than 35"),
        ({"languages": ["en\n-x"]}, "BCP 47"),
        ({"timezone": "Europe/" + "a" * 58}, "1-64 characters"),
        ({"timezone": "Europe/London\x00"}, "time zone"),
        ({"timezone": ""}, "time zone"),
        ({"weekly_hours": {"mon": [["09:00\n", "17:00"]]}}, "HH:MM"),
        ({"display_name": "  "}, "display_name"),
    ],
)
def test_coaches_that_cannot_be_scheduled_are_refused(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidCoach, match=reason):
        Coach.from_json({**coach("C01", ["en"]), **change})


def test_a_missing_field_is_named() -> None:
    data = coach("C01", ["en"])
    del data["timezone"]
    with pytest.raises(InvalidCoach, match="timezone"):
        Coach.from_json(data)
