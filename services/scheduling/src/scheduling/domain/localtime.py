"""Wall-clock times in a named zone, read strictly: a time the clocks skip (the spring gap)
or repeat (the autumn overlap) is refused with a reason instead of being guessed."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class ImpossibleLocalTime(ValueError):
    """A wall time that does not exist, or exists twice, in the zone."""


def utc_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall time in `zone`; an aware time is taken as it is."""
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # zoneinfo gives both folds an offset; a gap round-trips to another wall time.
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            raise ImpossibleLocalTime(
                f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward"
            )
        raise ImpossibleLocalTime(
            f"{wall:%Y-%m-%d %H:%M} happens twice in {zone.key}: give the UTC offset"
        )
    return first.astimezone(UTC)


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """What a clock in `zone` shows at `instant` (aware, in `zone`)."""
    return instant.astimezone(zone)
