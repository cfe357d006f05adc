"""A coach's diary as an iCalendar (RFC 5545) feed: one VEVENT per session, its times in the
coach's own zone (TZID with its VTIMEZONE), so calendars show 10:00 in Mumbai all year and
the right hour in London on either side of a clock change. A moved session keeps its UID and
raises its SEQUENCE; a cancelled one stays, STATUS:CANCELLED, so clients remove it.

No patient identifiers go in the feed (it may travel over a secret link): a session is named
by its kind and language, and referenced by its appointment id.
"""

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from scheduling.adapters.orm import Appointment
from scheduling.domain.coach import Coach

PRODUCT = "-//Ensemble//scheduling//EN"
KIND_NAMES = {"first": "first session", "follow_up": "follow-up", "review": "review"}
SERVICE_NAMES = {"health_coaching": "Health coaching", "complex_care": "Complex care"}


def session_title(appointment: Appointment) -> str:
    service = SERVICE_NAMES.get(appointment.service, appointment.service)
    kind = KIND_NAMES.get(appointment.kind, appointment.kind)
    return f"{service}: {kind} ({appointment.language})"


def calendar(coach: Coach, appointments: Iterable[Appointment]) -> bytes:
    feed = Calendar()
    feed.add("prodid", PRODUCT)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("x-wr-calname", f"{coach.display_name} - coaching diary")
    feed.add("x-wr-timezone", coach.timezone)
    zone = ZoneInfo(coach.timezone)
    for appointment in appointments:
        event = Event()
        event.add("uid", f"{appointment.appointment_id}@scheduling.ensemble")
        event.add("dtstamp", appointment.updated_at)
        event.add("dtstart", appointment.starts_at.astimezone(zone))
        event.add("dtend", appointment.ends_at.astimezone(zone))
        event.add("sequence", appointment.sequence)
        event.add("summary", session_title(appointment))
        event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
        event.add("description", f"Appointment {appointment.appointment_id}")
        feed.add_component(event)
    feed.add_missing_timezones()
    return bytes(feed.to_ical())
