"""Use cases: keep the coach roster, book first appointments, record what happened.

Referral handlers run inside the consumer's transaction and do not commit; command handlers
(`upsert_coaches`, `mark_attended`, ...) commit their own unit of work. Every change of an
appointment publishes its AppointmentEvent in the same transaction.
"""

from datetime import timedelta
from uuid import UUID

import structlog

from ensemble_contracts import Envelope
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_contracts.topics import APPOINTMENTS
from scheduling.adapters.orm import Appointment, WaitingListEntry
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.appointment import AppointmentKind, AppointmentStatus, transition
from scheduling.domain.booking import Choice, WaitingReason, choose, coaches_for
from scheduling.domain.coach import Coach
from scheduling.service_layer.commands import (
    CancelAppointment,
    MarkAttended,
    MarkDidNotAttend,
    UpsertCoaches,
)

PRODUCER = "scheduling"
# Bookings this far either side of the window count towards "fewest bookings that week".
WEEK = timedelta(days=7)

log = structlog.get_logger(__name__)

_EVENT_TYPES = {
    AppointmentStatus.BOOKED: AppointmentEventType.BOOKED,
    AppointmentStatus.CANCELLED: AppointmentEventType.CANCELLED,
    AppointmentStatus.ATTENDED: AppointmentEventType.ATTENDED,
    AppointmentStatus.DID_NOT_ATTEND: AppointmentEventType.DID_NOT_ATTEND,
}


class AppointmentNotFound(LookupError):
    pass


class SlotTaken(RuntimeError):
    """A chosen slot was found taken (should not happen under the lock); the runtime retries."""


def upsert_coaches(uow: SchedulingUnitOfWork, command: UpsertCoaches) -> int:
    """Add or replace coaches by coach_id. Existing appointments are left as they are."""
    now = uow.clock()
    for coach in sorted(command.coaches, key=lambda c: c.coach_id):  # the booking lock order
        uow.coaches.upsert(coach, now)
    uow.commit()
    return len(command.coaches)


def _publish(uow: SchedulingUnitOfWork, appointment: Appointment, cause: Envelope | None) -> None:
    envelope = cause.caused(producer=PRODUCER) if cause else {"producer": PRODUCER}
    uow.publish(
        APPOINTMENTS,
        AppointmentEvent(
            **envelope,
            event_type=_EVENT_TYPES[AppointmentStatus(appointment.status)],
            appointment_id=appointment.appointment_id,
            referral_id=appointment.referral_id,
            nhs_number=appointment.nhs_number,
            coach_id=appointment.coach_id,
            language=appointment.language,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            coach_timezone=appointment.coach_timezone,
        ),
    )


def book_first_appointment(uow: SchedulingUnitOfWork, event: ReferralEvent) -> None:
    """An accepted referral gets one first appointment, or a place on the waiting list."""
    if uow.appointments.first_for_referral(event.referral_id) or uow.waiting_list.get(
        event.referral_id
    ):
        return  # already handled: a re-sent or re-accepted referral
    policy, now = uow.settings.slot_policy, uow.clock()
    coaches = {c.coach_id: c for c in uow.coaches.all()}
    _, speakers = coaches_for(coaches.values(), event.preferred_language)
    speaker_ids = [c.coach_id for c in speakers]
    # Lock before reading their diaries: a concurrent booking for any of these coaches waits
    # for this transaction, so the free time read below stays free until commit.
    uow.coaches.lock(speaker_ids)
    earliest, latest = policy.window(now)
    taken = uow.appointments.taken_time(speaker_ids, earliest - WEEK, latest + WEEK)
    decision = choose(speakers, event.preferred_language, taken, policy, now)
    if isinstance(decision, WaitingReason):
        _wait(uow, event, decision)
        return
    # Belt and braces under the lock: the chosen time must still be free.
    slot = decision.slot
    if uow.appointments.taken_time([decision.coach_id], slot.starts_at, slot.ends_at):
        raise SlotTaken("the chosen slot was taken concurrently")
    _book(uow, event, decision, coaches[decision.coach_id])


def _book(
    uow: SchedulingUnitOfWork, event: ReferralEvent, choice: Choice, coach: Coach
) -> Appointment:
    now = uow.clock()
    appointment = Appointment(
        referral_id=event.referral_id,
        nhs_number=event.nhs_number,
        coach_id=coach.coach_id,
        coach_timezone=coach.timezone,
        language=choice.language,
        starts_at=choice.slot.starts_at,
        ends_at=choice.slot.ends_at,
        status=AppointmentStatus.BOOKED,
        kind=AppointmentKind.FIRST,
        created_at=now,
        updated_at=now,
    )
    uow.appointments.add(appointment)
    uow.flush()  # the unique indexes speak now, inside this transaction
    _publish(uow, appointment, event)
    log.info(
        "first appointment booked",
        appointment_id=str(appointment.appointment_id),
        referral_id=str(event.referral_id),
        coach_id=coach.coach_id,
        language=choice.language,
    )
    return appointment


def _wait(uow: SchedulingUnitOfWork, event: ReferralEvent, reason: WaitingReason) -> None:
    uow.waiting_list.add(
        WaitingListEntry(
            referral_id=event.referral_id,
            nhs_number=event.nhs_number,
            language=event.preferred_language,
            reason=reason,
            created_at=uow.clock(),
        )
    )
    log.warning(
        "referral put on the waiting list", referral_id=str(event.referral_id), reason=reason
    )


def close_referral(uow: SchedulingUnitOfWork, event: ReferralEvent) -> None:
    """A withdrawn or declined referral: cancel what is still booked, leave the waiting list."""
    for appointment in uow.appointments.booked_for_referral(event.referral_id):
        _change(uow, appointment, AppointmentStatus.CANCELLED, event)
    entry = uow.waiting_list.get(event.referral_id)
    if entry is not None:
        uow.waiting_list.remove(entry)


def _change(
    uow: SchedulingUnitOfWork,
    appointment: Appointment,
    target: AppointmentStatus,
    cause: Envelope | None,
) -> Appointment:
    appointment.status = transition(appointment.status, target)
    appointment.updated_at = uow.clock()
    uow.appointments.add(appointment)
    _publish(uow, appointment, cause)
    return appointment


def _record(
    uow: SchedulingUnitOfWork, appointment_id: UUID, target: AppointmentStatus
) -> Appointment:
    """A staff outcome: AppointmentNotFound if unknown, InvalidTransition unless booked."""
    appointment = uow.appointments.get(appointment_id)
    if appointment is None:
        raise AppointmentNotFound(str(appointment_id))
    _change(uow, appointment, target, None)
    uow.commit()
    return appointment


def mark_attended(uow: SchedulingUnitOfWork, command: MarkAttended) -> Appointment:
    return _record(uow, command.appointment_id, AppointmentStatus.ATTENDED)


def mark_did_not_attend(uow: SchedulingUnitOfWork, command: MarkDidNotAttend) -> Appointment:
    return _record(uow, command.appointment_id, AppointmentStatus.DID_NOT_ATTEND)


def cancel_appointment(uow: SchedulingUnitOfWork, command: CancelAppointment) -> Appointment:
    return _record(uow, command.appointment_id, AppointmentStatus.CANCELLED)
