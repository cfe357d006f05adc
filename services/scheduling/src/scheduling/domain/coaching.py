"""Coaches, their working hours in their own time zone, and finding a free slot."""

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Coach:
    coach_id: str
    languages: frozenset[str]
    timezone: str
    # weekday -> [(start, end)] in the coach's local time
    weekly_hours: dict[str, list[tuple[time, time]]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Booking:
    coach_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SlotChoice:
    coach_id: str
    starts_at: datetime
    ends_at: datetime
    language: str


def slots(
    coach: Coach, earliest: datetime, minutes: int, horizon_days: int
) -> Iterator[tuple[datetime, datetime]]:
    """Slot (start, end) pairs in UTC inside the coach's hours, from `earliest` on, in order."""
    zone, length = coach.zone, timedelta(minutes=minutes)
    first_day = earliest.astimezone(zone).date()
    for offset in range(horizon_days + 1):
        day = first_day + timedelta(days=offset)
        for start, end in sorted(coach.weekly_hours.get(WEEKDAYS[day.weekday()], [])):
            yield from _day_slots(day, start, end, zone, length, earliest)


def _day_slots(
    day: date, start: time, end: time, zone: ZoneInfo, length: timedelta, earliest: datetime
) -> Iterator[tuple[datetime, datetime]]:
    # Step in UTC from the local opening time so a DST change never shifts the grid mid-day.
    cursor = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
    closing = datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
    while cursor + length <= closing:
        if cursor >= earliest:
            yield cursor, cursor + length
        cursor += length


def _overlaps(start: datetime, end: datetime, taken: Sequence[Booking]) -> bool:
    """`taken` is sorted by start and free of overlaps, so only the neighbours can clash."""
    index = bisect_left([b.starts_at for b in taken], start)
    neighbours = taken[max(index - 1, 0) : index + 1]
    return any(b.starts_at < end and start < b.ends_at for b in neighbours)


def choose_slot(
    coaches: Sequence[Coach],
    language: str | None,
    booked: Sequence[Booking],
    earliest: datetime,
    minutes: int = 30,
    horizon_days: int = 21,
) -> SlotChoice | None:
    """The earliest free slot with a coach who speaks the patient's language (else English);
    ties go to the coach with fewer bookings, to spread the load."""
    wanted = (language or FALLBACK_LANGUAGE).lower()
    speakers = [c for c in coaches if wanted in c.languages]
    if not speakers:
        wanted = FALLBACK_LANGUAGE
        speakers = [c for c in coaches if wanted in c.languages]
    best: tuple[datetime, int, SlotChoice] | None = None
    for coach in speakers:
        taken = sorted(
            (b for b in booked if b.coach_id == coach.coach_id), key=lambda b: b.starts_at
        )
        for start, end in slots(coach, earliest, minutes, horizon_days):
            if not _overlaps(start, end, taken):
                candidate = (start, len(taken), SlotChoice(coach.coach_id, start, end, wanted))
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
                break
    return best[2] if best else None
