"""Use cases: keep the coach roster, book programmes on acceptance, record what happened.

Referral handlers run inside the consumer's transaction and do not commit; command handlers
(`upsert_coaches`, `mark_attended`, ...) commit their own unit of work. Every change of an
appointment publishes its AppointmentEvent in the same transaction.
"""

from uuid import UUID

import structlog

from ensemble_contracts.referral import ReferralEvent
from scheduling.adapters.orm import Appointment, PatientPreference, Programme
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.appointment import AppointmentStatus, ChangedBy
from scheduling.domain.programme import ProgrammeStatus
from scheduling.service_layer import changes
from scheduling.service_layer.changes import AppointmentNotFound, ProgrammeNotFound, change_status
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
from scheduling.service_layer.programmes import SlotTaken, book_programme, rebook_waiting_list

__all__ = ["AppointmentNotFound", "ProgrammeNotFound", "SlotTaken"]

log = structlog.get_logger(__name__)


def upsert_coaches(uow: SchedulingUnitOfWork, command: UpsertCoaches) -> int:
    """Add or replace coaches by coach_id. Existing appointments are left as they are; new
    coaches or hours may take referrals off the waiting list."""
    now = uow.clock()
    for coach in sorted(command.coaches, key=lambda c: c.coach_id):  # the booking lock order
        uow.coaches.upsert(coach, now)
    uow.flush()
    rebook_waiting_list(uow, None)
    uow.commit()
    return len(command.coaches)


def book_first_appointment(uow: SchedulingUnitOfWork, event: ReferralEvent) -> None:
    """An accepted referral gets its programme booked ahead (first session, follow-ups,
    review, with continuity), or a place on the waiting list from the session that could
    not be booked. The referral's service picks the team."""
    start_programme(
        uow,
        BookProgramme(
            event.referral_id,
            event.nhs_number,
            event.practice_ods,
            event.service,
            event.preferred_language,
        ),
        event,
    )


def start_programme(
    uow: SchedulingUnitOfWork, command: BookProgramme, cause: ReferralEvent | None
) -> bool:
    """Book the referral's programme unless it has one; False when it had."""
    if uow.programmes.get(command.referral_id) or uow.appointments.first_for_referral(
        command.referral_id
    ):
        return False  # already handled: a re-sent or re-accepted referral
    now = uow.clock()
    programme = Programme(
        referral_id=command.referral_id,
        nhs_number=command.nhs_number,
        practice_ods=command.practice_ods,
        service=command.service,
        language=command.language,
        created_at=now,
        updated_at=now,
    )
    uow.programmes.add(programme)
    uow.flush()
    book_programme(uow, programme, cause)
    return True


def book_accepted_referral(uow: SchedulingUnitOfWork, command: BookProgramme) -> bool:
    """Staff book an accepted referral's programme directly (the same rules as the event)."""
    created = start_programme(uow, command, None)
    uow.commit()
    return created


def close_referral(uow: SchedulingUnitOfWork, event: ReferralEvent) -> None:
    """A withdrawn or declined referral: cancel what is still booked, leave the waiting list."""
    for appointment in uow.appointments.booked_for_referral(event.referral_id):
        change_status(uow, appointment, AppointmentStatus.CANCELLED, event, ChangedBy.STAFF)
    entry = uow.waiting_list.get(event.referral_id)
    if entry is not None:
        uow.waiting_list.remove(entry)
    programme = uow.programmes.get(event.referral_id)
    if programme is not None:
        programme.status, programme.updated_at = ProgrammeStatus.CLOSED, uow.clock()
        uow.programmes.add(programme)


def _record(
    uow: SchedulingUnitOfWork, appointment_id: UUID, target: AppointmentStatus
) -> Appointment:
    """A staff outcome: AppointmentNotFound if unknown, InvalidTransition unless booked."""
    appointment = changes.found(uow, appointment_id)
    changes.has_started(appointment, uow.clock(), target)
    change_status(uow, appointment, target, None)
    uow.commit()
    return appointment


def mark_attended(uow: SchedulingUnitOfWork, command: MarkAttended) -> Appointment:
    return _record(uow, command.appointment_id, AppointmentStatus.ATTENDED)


def mark_did_not_attend(uow: SchedulingUnitOfWork, command: MarkDidNotAttend) -> Appointment:
    return changes.record_dna(uow, command)


def cancel_appointment(uow: SchedulingUnitOfWork, command: CancelAppointment) -> Appointment:
    return changes.cancel(uow, command)


def reschedule_appointment(
    uow: SchedulingUnitOfWork, command: RescheduleAppointment
) -> Appointment:
    return changes.reschedule(uow, command)


def put_patient_preference(
    uow: SchedulingUnitOfWork, command: PutPatientPreference
) -> PatientPreference:
    return changes.put_preference(uow, command)


def resume_programme(uow: SchedulingUnitOfWork, command: ResumeProgramme) -> int:
    return changes.resume(uow, command)
