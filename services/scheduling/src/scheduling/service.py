"""scheduling, in one place: what it consumes and publishes, its commands, routes and components."""

from pathlib import Path

from ensemble_contracts.referral import ReferralEventType
from ensemble_contracts.scheduling import NotificationEventType
from ensemble_contracts.topics import APPOINTMENTS, NOTIFICATIONS, REFERRALS
from ensemble_runtime.definition import ServiceDefinition, Subscription
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.config import Settings
from scheduling.entrypoints import calendar_http, http, programme_http
from scheduling.entrypoints.coaches_file import coaches_file
from scheduling.entrypoints.reminder_scheduler import reminder_scheduler
from scheduling.service_layer import calendar_links, handlers, reminders
from scheduling.service_layer.commands import (
    BookProgramme,
    CancelAppointment,
    MarkAttended,
    MarkDidNotAttend,
    PutPatientPreference,
    RescheduleAppointment,
    ResumeProgramme,
    UpsertCoaches,
)

DEFINITION = ServiceDefinition(
    name="scheduling",
    title="Ensemble scheduling",
    settings=Settings,
    unit_of_work=SchedulingUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[APPOINTMENTS, NOTIFICATIONS],
    subscriptions=[
        Subscription(
            topic=REFERRALS,
            group="scheduling.referrals",
            handlers={
                ReferralEventType.ACCEPTED: handlers.book_first_appointment,
                ReferralEventType.WITHDRAWN: handlers.close_referral,
                ReferralEventType.DECLINED: handlers.close_referral,
                ReferralEventType.COMPLETED: handlers.close_referral,
                ReferralEventType.DISCHARGED: handlers.close_referral,
            },
        ),
        # Reminders leave through the gateway from here, apart from booking.
        Subscription(
            topic=NOTIFICATIONS,
            group="scheduling.notifications",
            handlers={NotificationEventType.REMINDER_DUE: reminders.deliver_reminder},
        ),
    ],
    commands={
        UpsertCoaches: handlers.upsert_coaches,
        BookProgramme: handlers.book_accepted_referral,
        MarkAttended: handlers.mark_attended,
        MarkDidNotAttend: handlers.mark_did_not_attend,
        CancelAppointment: handlers.cancel_appointment,
        RescheduleAppointment: handlers.reschedule_appointment,
        ResumeProgramme: handlers.resume_programme,
        PutPatientPreference: handlers.put_patient_preference,
        reminders.SendDueReminders: reminders.send_due_reminders,
        calendar_links.IssueCalendarLink: calendar_links.issue_calendar_link,
        calendar_links.RevokeCalendarLink: calendar_links.revoke_calendar_link,
    },
    routers=[http.router, programme_http.router, calendar_http.router],
    # After the store is migrated: the roster file, if any, then the reminder scan.
    components=[coaches_file, reminder_scheduler],
)
