"""scheduling, in one place: what it consumes and publishes, its commands, routes and components."""

from pathlib import Path

from ensemble_contracts.referral import ReferralEventType
from ensemble_contracts.topics import APPOINTMENTS, REFERRALS
from ensemble_runtime.definition import ServiceDefinition, Subscription
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.config import Settings
from scheduling.entrypoints import http
from scheduling.entrypoints.coaches_file import coaches_file
from scheduling.service_layer import handlers
from scheduling.service_layer.commands import (
    CancelAppointment,
    MarkAttended,
    MarkDidNotAttend,
    UpsertCoaches,
)

DEFINITION = ServiceDefinition(
    name="scheduling",
    title="Ensemble scheduling",
    settings=Settings,
    unit_of_work=SchedulingUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[APPOINTMENTS],
    subscriptions=[
        Subscription(
            topic=REFERRALS,
            group="scheduling.referrals",
            handlers={
                ReferralEventType.ACCEPTED: handlers.book_first_appointment,
                ReferralEventType.WITHDRAWN: handlers.close_referral,
                ReferralEventType.DECLINED: handlers.close_referral,
            },
        )
    ],
    commands={
        UpsertCoaches: handlers.upsert_coaches,
        MarkAttended: handlers.mark_attended,
        MarkDidNotAttend: handlers.mark_did_not_attend,
        CancelAppointment: handlers.cancel_appointment,
    },
    routers=[http.router],
    components=[coaches_file],  # after the store is migrated: the roster file, if any
)
