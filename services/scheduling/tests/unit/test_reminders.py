"""Reminders 48 h and 2 h before a session: published once per time, worded in the
patient's own zone by the gateway stand-in."""

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from ensemble_contracts.scheduling import ReminderEvent
from ensemble_contracts.topics import NOTIFICATIONS
from ensemble_devkit.testkit import FrozenClock
from scheduling.adapters.orm import Appointment
from scheduling.domain.appointment import ChangedBy
from scheduling.domain.reminders import Reminder, Upcoming, due
from scheduling.service_layer.commands import PutPatientPreference, RescheduleAppointment
from scheduling.service_layer.reminders import SendDueReminders

from ..support import SchedulingKit, coach, referral_event, scheduling_kit, utc

NOW = utc(2027, 1, 4, 0, 0)
START = utc(2027, 1, 10, 12, 0)


@pytest.mark.parametrize(
    ("before", "sent", "expected"),
    [
        (timedelta(hours=50), set(), []),
        (timedelta(hours=48), set(), [Reminder.TWO_DAYS]),
        (timedelta(hours=30), set(), [Reminder.TWO_DAYS]),  # booked a day ahead: sent at once
        (timedelta(hours=30), {Reminder.TWO_DAYS}, []),
        (timedelta(hours=2), {Reminder.TWO_DAYS}, [Reminder.TWO_HOURS]),
        (timedelta(hours=1), set(), [Reminder.TWO_HOURS]),  # the 48-hour one is no use now
        (timedelta(hours=1), {Reminder.TWO_HOURS}, []),
        (timedelta(0), set(), []),
    ],
)
def test_which_reminders_are_due(
    before: timedelta, sent: set[Reminder], expected: list[Reminder]
) -> None:
    assert due(Upcoming(START, frozenset(sent)), START - before) == expected


def test_reminders_are_published_once_and_afresh_after_a_reschedule(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    outbox = tmp_path / "outbox.jsonl"
    kit: SchedulingKit = scheduling_kit(
        f"sqlite:///{tmp_path / 's.db'}",
        [coach("A", ["pa"], "Asia/Kolkata")],
        clock,
        notifications_outbox_file=str(outbox),
        lead_time_minutes=600,  # the session is 10 hours ahead
    )
    kit.consume(referral_event(language="pa", nhs_number="9990000018"))
    kit.execute(PutPatientPreference("9990000018", "Europe/London", 0, 24 * 60))
    (booked,) = kit.read(lambda session: list(session.exec(select(Appointment))))
    assert kit.execute(SendDueReminders()) == 1  # booked within 48 hours: the 48-hour one
    assert kit.execute(SendDueReminders()) == 0
    clock.advance(seconds=(booked.starts_at - NOW).total_seconds() - 3600)
    assert kit.execute(SendDueReminders()) == 1
    moved = kit.execute(
        RescheduleAppointment(
            booked.appointment_id, ChangedBy.PATIENT, None, booked.starts_at + timedelta(hours=3)
        )
    )
    assert moved.sequence == 1
    assert kit.execute(SendDueReminders()) == 1  # the moved session, 4 hours ahead: 48 h one
    events: list[ReminderEvent] = kit.published(NOTIFICATIONS)
    assert [e.reminder for e in events] == ["48h", "2h", "48h"]
    assert {(e.practice_ods, e.language, e.nhs_number) for e in events} == {
        ("L85001", "pa", "9990000018")
    }
    for event in events:
        kit.consume(event)
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [line["idempotency_key"] for line in lines] == [str(e.event_id) for e in events]
    local = booked.starts_at.astimezone(ZoneInfo("Europe/London"))
    assert f"at {local:%H:%M} (Europe/London)" in lines[1]["text"]
    assert "in 2 hours" in lines[1]["text"]
