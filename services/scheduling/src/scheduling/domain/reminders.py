"""When a patient is reminded of a session: 48 hours before and 2 hours before.

A reminder whose moment has passed is still sent while it is useful: the 48-hour one until
the 2-hour mark (a session booked a day ahead gets it at once), the 2-hour one until the start.
A moved session (a new `sequence`) is reminded afresh.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Reminder(StrEnum):
    TWO_DAYS = "48h"
    TWO_HOURS = "2h"


BEFORE = {Reminder.TWO_DAYS: timedelta(hours=48), Reminder.TWO_HOURS: timedelta(hours=2)}
LOOK_AHEAD = BEFORE[Reminder.TWO_DAYS]


@dataclass(frozen=True)
class Upcoming:
    starts_at: datetime
    sent: frozenset[Reminder]  # already sent for this sequence of the appointment


def due(upcoming: Upcoming, now: datetime) -> list[Reminder]:
    """The reminders to send now for one booked session."""
    if now >= upcoming.starts_at:
        return []
    if now >= upcoming.starts_at - BEFORE[Reminder.TWO_HOURS]:
        return [] if Reminder.TWO_HOURS in upcoming.sent else [Reminder.TWO_HOURS]
    if now >= upcoming.starts_at - BEFORE[Reminder.TWO_DAYS]:
        return [] if Reminder.TWO_DAYS in upcoming.sent else [Reminder.TWO_DAYS]
    return []
