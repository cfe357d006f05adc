"""Appointment events: every change of an appointment, in the transaction that made it."""

from typing import Any

from ensemble_contracts import Envelope
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_contracts.topics import APPOINTMENTS
from scheduling.adapters.orm import Appointment
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.appointment import AppointmentStatus

PRODUCER = "scheduling"

EVENT_TYPES = {
    AppointmentStatus.BOOKED: AppointmentEventType.BOOKED,
    AppointmentStatus.CANCELLED: AppointmentEventType.CANCELLED,
    AppointmentStatus.ATTENDED: AppointmentEventType.ATTENDED,
    AppointmentStatus.DID_NOT_ATTEND: AppointmentEventType.DID_NOT_ATTEND,
}


def publish_appointment(
    uow: SchedulingUnitOfWork,
    appointment: Appointment,
    cause: Envelope | None,
    event_type: str | None = None,
    **extra: Any,
) -> None:
    """The appointment as it now is; `event_type` defaults to the one of its status."""
    envelope = cause.caused(producer=PRODUCER) if cause else {"producer": PRODUCER}
    uow.publish(
        APPOINTMENTS,
        AppointmentEvent(
            **envelope,
            event_type=event_type or EVENT_TYPES[AppointmentStatus(appointment.status)],
            appointment_id=appointment.appointment_id,
            referral_id=appointment.referral_id,
            nhs_number=appointment.nhs_number,
            coach_id=appointment.coach_id,
            language=appointment.language,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            coach_timezone=appointment.coach_timezone,
            practice_ods=appointment.practice_ods,
            service=appointment.service,
            kind=appointment.kind,
            session_number=appointment.session_number,
            changed_by=appointment.changed_by,
            **extra,
        ),
    )
