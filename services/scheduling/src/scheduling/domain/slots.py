"""Candidate appointment slots: a coach's local working hours turned into UTC intervals.

Each working period is cut into equal slots stepping in real (UTC) time from the local opening
time, so a period that spans a clock change yields the hours actually worked, and a day without
a change keeps its local grid (09:00, 09:30, ...) whatever the season.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.domain.coach import MINUTES_PER_DAY, Coach, Period


@dataclass(frozen=True, order=True)
class Slot:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


@dataclass(frozen=True)
class PatientDay:
    """The part of the patient's day an appointment may take (a call at 04:00 is no use)."""

    timezone: str
    start: int  # minutes after local midnight
    end: int

    def allows(self, slot: Slot) -> bool:
        zone = ZoneInfo(self.timezone)
        local_start, local_end = slot.starts_at.astimezone(zone), slot.ends_at.astimezone(zone)
        start = local_start.hour * 60 + local_start.minute
        days = (local_end.date() - local_start.date()).days
        end = days * MINUTES_PER_DAY + local_end.hour * 60 + local_end.minute
        return self.start <= start and end <= self.end


@dataclass(frozen=True)
class SlotPolicy:
    appointment_minutes: int = 30
    lead_time: timedelta = timedelta(hours=1)  # the first appointment should be soon, not now
    horizon: timedelta = timedelta(days=21)
    patient_day: PatientDay | None = None

    def __post_init__(self) -> None:
        if self.appointment_minutes <= 0 or self.horizon <= self.lead_time:
            raise ValueError("appointments need a length and a horizon beyond the lead time")

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.appointment_minutes)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """Slots may start at or after the first moment, and before the second."""
        return now + self.lead_time, now + self.horizon


def candidate_slots(
    coach: Coach,
    policy: SlotPolicy,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
    patient_day: PatientDay | None = None,
    skip_period: Callable[[datetime, datetime], bool] | None = None,
) -> Iterator[Slot]:
    """Every slot the coach works (not on leave) inside the window (the policy's unless
    given), earliest first, inside the patient's day (this one, else the policy's).

    `skip_period(opening, closing)` (UTC) lets a caller who knows a working period has no
    room pass over it whole instead of being handed each of its slots."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    earliest, latest = window or policy.window(now)
    earliest = max(earliest, now + policy.lead_time)
    day_rule = patient_day or policy.patient_day
    zone = coach.zone
    day, last_day = earliest.astimezone(zone).date(), latest.astimezone(zone).date()
    while day <= last_day:
        if coach.on_leave(day):
            day += timedelta(days=1)
            continue
        slots = {
            slot
            for period in coach.periods_on(day.weekday())
            for slot in _period_slots(day, period, zone, policy.length, skip_period)
        }
        for slot in sorted(slots):
            if earliest <= slot.starts_at < latest and (day_rule is None or day_rule.allows(slot)):
                yield slot
        day += timedelta(days=1)


def _period_slots(
    day: date,
    period: Period,
    zone: ZoneInfo,
    length: timedelta,
    skip_period: Callable[[datetime, datetime], bool] | None = None,
) -> Iterator[Slot]:
    opening = _local_instant(day, period.start, zone)
    closing = _local_instant(day, period.end, zone)
    if skip_period is not None and skip_period(opening, closing):
        return
    cursor = opening
    while cursor + length <= closing:
        yield Slot(cursor, cursor + length)
        cursor += length


def _local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time. A time skipped by a clock change falls after the
    change; a repeated one is its first occurrence (zoneinfo's fold=0)."""
    if minutes == MINUTES_PER_DAY:
        day, minutes = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return wall.astimezone(UTC)
