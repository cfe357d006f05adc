"""Reminders: found from the store, published on the notifications topic, then handed to the
gateway by scheduling's own consumer of that topic (so a slow or failing gateway never holds
up booking, and each reminder is retried and dead-lettered like any event)."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import structlog

from ensemble_contracts.scheduling import NotificationEventType, ReminderEvent
from ensemble_contracts.topics import NOTIFICATIONS
from ensemble_runtime.definition import Command
from scheduling.adapters.gateway import MailFileGateway, Message, NoGateway, NotificationGateway
from scheduling.adapters.orm import ReminderSent
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.config import Settings
from scheduling.domain.reminders import LOOK_AHEAD, Reminder, Upcoming, due
from scheduling.service_layer.events import PRODUCER

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendDueReminders(Command[int]):
    """Publish every reminder due now (at most `limit`); answers how many."""

    limit: int = 500


def send_due_reminders(uow: SchedulingUnitOfWork, command: SendDueReminders) -> int:
    now, sent = uow.clock(), 0
    for appointment, already in uow.appointments.upcoming(now, now + LOOK_AHEAD, command.limit):
        upcoming = Upcoming(appointment.starts_at, frozenset(Reminder(r) for r in already))
        for reminder in due(upcoming, now):
            uow.appointments.mark_reminded(
                ReminderSent(
                    appointment_id=appointment.appointment_id,
                    reminder=reminder,
                    sequence=appointment.sequence,
                    sent_at=now,
                )
            )
            uow.publish(
                NOTIFICATIONS,
                ReminderEvent(
                    event_type=NotificationEventType.REMINDER_DUE,
                    producer=PRODUCER,
                    nhs_number=appointment.nhs_number,
                    appointment_id=appointment.appointment_id,
                    referral_id=appointment.referral_id,
                    practice_ods=appointment.practice_ods,
                    reminder=reminder.value,
                    starts_at=appointment.starts_at,
                    coach_timezone=appointment.coach_timezone,
                    language=appointment.language,
                ),
            )
            sent += 1
    uow.commit()
    if sent:
        log.info("reminders due published", reminders=sent)
    return sent


def gateway_for(settings: Settings) -> NotificationGateway:
    if settings.notifications_outbox_file:
        return MailFileGateway(settings.notifications_outbox_path)
    return NoGateway()


def reminder_text(event: ReminderEvent, zone: ZoneInfo) -> str:
    """In the patient's own time: `Wed 6 Jan 2027 at 09:30 (Europe/London)`."""
    at = event.starts_at.astimezone(zone)
    when = f"{at:%a} {at.day} {at:%b %Y} at {at:%H:%M} ({zone.key})"
    soon = "in 2 hours" if event.reminder == "2h" else "in 2 days"
    return f"Your health coaching session is {soon}: {when}."


def deliver_reminder(uow: SchedulingUnitOfWork, event: ReminderEvent) -> None:
    """Hand one reminder to the gateway, worded in the patient's time zone."""
    preference = uow.preferences.get(event.nhs_number)
    zone_name = preference.timezone if preference else (uow.settings.patient_timezone or "UTC")
    message = Message(
        idempotency_key=str(event.event_id),
        nhs_number=event.nhs_number,
        channel="sms",
        language=event.language,
        text=reminder_text(event, ZoneInfo(zone_name)),
    )
    gateway_for(uow.settings).send(message)
    log.info("reminder handed to the gateway", appointment_id=str(event.appointment_id))
