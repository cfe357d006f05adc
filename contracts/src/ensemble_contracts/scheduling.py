"""scheduling.appointments.v1: coaching appointments."""

from datetime import datetime
from typing import Final
from uuid import UUID

from pydantic import Field

from ensemble_contracts.envelope import PatientEvent
from ensemble_contracts.limits import Language, ShortText


class AppointmentEventType:
    BOOKED: Final = "appointment.booked"
    CANCELLED: Final = "appointment.cancelled"
    ATTENDED: Final = "appointment.attended"
    DID_NOT_ATTEND: Final = "appointment.did_not_attend"


class AppointmentEvent(PatientEvent):
    """An appointment changed state. Carries the whole appointment."""

    event_type: str = Field(
        description="`appointment.booked`, `appointment.cancelled`, `appointment.attended`, "
        "`appointment.did_not_attend`."
    )
    appointment_id: UUID
    referral_id: UUID
    coach_id: ShortText
    language: Language = Field(description="Language the appointment is held in (BCP 47).")
    starts_at: datetime = Field(description="Start (UTC).")
    ends_at: datetime = Field(description="End (UTC).")
    coach_timezone: ShortText = Field(
        description="IANA time zone of the coach, e.g. `Asia/Kolkata`."
    )
