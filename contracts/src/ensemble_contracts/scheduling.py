"""scheduling.appointments.v1: coaching appointments; scheduling.notifications.v1: reminders."""

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from pydantic import Field

from ensemble_contracts.envelope import PatientEvent
from ensemble_contracts.limits import ClinicalTime, Language, OdsCode, ShortText

SessionKind = Literal["first", "follow_up", "review"]
ChangedBy = Literal["patient", "coach", "staff", "policy"]
ProgrammeStatus = Literal["active", "paused", "closed"]


class AppointmentEventType:
    BOOKED: Final = "appointment.booked"
    CANCELLED: Final = "appointment.cancelled"
    ATTENDED: Final = "appointment.attended"
    DID_NOT_ATTEND: Final = "appointment.did_not_attend"
    # schema_version 2 (ADR 4, additive):
    RESCHEDULED: Final = "appointment.rescheduled"
    DNA_ESCALATED: Final = "appointment.dna_escalated"  # the second DNA: tells the referrer


class AppointmentEvent(PatientEvent):
    """An appointment changed state. Carries the whole appointment.

    Version 2 adds `appointment.rescheduled`, `appointment.dna_escalated` and the optional
    fields below; version-1 readers ignore them."""

    schema_version: int = Field(default=2, description="Version of this event's payload shape.")
    event_type: str = Field(
        description="`appointment.booked`, `appointment.cancelled`, `appointment.attended`, "
        "`appointment.did_not_attend`, `appointment.rescheduled` (new time, same id), "
        "`appointment.dna_escalated` (the programme's second DNA: the referrer is told, the "
        "programme is closed or paused, see `programme_status`)."
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
    practice_ods: OdsCode | None = Field(
        default=None, description="The referring practice (v2), so readers can route the event."
    )
    service: ShortText | None = Field(
        default=None, description="`health_coaching` or `complex_care` (v2)."
    )
    kind: SessionKind | None = Field(default=None, description="The session's place (v2).")
    session_number: int | None = Field(
        default=None, ge=1, le=1000, description="1 for the first session of the programme (v2)."
    )
    changed_by: ChangedBy | None = Field(
        default=None, description="Who cancelled or rescheduled it (v2); reasons stay in store."
    )
    previous_starts_at: datetime | None = Field(
        default=None, description="The start before a reschedule (UTC, v2)."
    )
    programme_status: ProgrammeStatus | None = Field(
        default=None, description="The referral's programme after this change (v2)."
    )
    dna_count: int | None = Field(default=None, ge=0, le=1000, description="DNAs so far (v2).")


class NotificationEventType:
    REMINDER_DUE: Final = "reminder.due"


class ReminderEvent(PatientEvent):
    """A reminder to send the patient before a session; a gateway (SMS, email) delivers it."""

    event_type: str = Field(description="`reminder.due`.")
    appointment_id: UUID
    referral_id: UUID
    practice_ods: OdsCode | None = None
    reminder: Literal["48h", "2h"] = Field(description="How long before the start it is sent.")
    starts_at: ClinicalTime = Field(description="Start (UTC), 1900-2199.")
    coach_timezone: ShortText
    language: Language = Field(description="Language of the session (and of the message).")
