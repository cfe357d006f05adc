from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduling.domain.localtime import ImpossibleLocalTime, utc_instant

LONDON, KOLKATA = ZoneInfo("Europe/London"), ZoneInfo("Asia/Kolkata")


def test_a_wall_time_in_the_spring_gap_is_refused() -> None:
    with pytest.raises(ImpossibleLocalTime, match="does not exist in Europe/London"):
        utc_instant(datetime(2027, 3, 28, 1, 30), LONDON)


def test_a_wall_time_in_the_autumn_overlap_needs_an_offset() -> None:
    with pytest.raises(ImpossibleLocalTime, match="happens twice"):
        utc_instant(datetime(2027, 10, 31, 1, 30), LONDON)
    aware = datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert utc_instant(aware, LONDON) == aware


@pytest.mark.parametrize(
    ("wall", "zone", "expected"),
    [
        (datetime(2027, 3, 28, 2, 0), LONDON, datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),
        (datetime(2027, 3, 28, 0, 59), LONDON, datetime(2027, 3, 28, 0, 59, tzinfo=UTC)),
        (datetime(2027, 3, 28, 10, 0), KOLKATA, datetime(2027, 3, 28, 4, 30, tzinfo=UTC)),
        (datetime(2027, 10, 31, 10, 0), KOLKATA, datetime(2027, 10, 31, 4, 30, tzinfo=UTC)),
    ],
)
def test_ordinary_wall_times_map_to_one_instant(
    wall: datetime, zone: ZoneInfo, expected: datetime
) -> None:
    assert utc_instant(wall, zone) == expected
