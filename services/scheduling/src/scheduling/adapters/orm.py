"""scheduling's own tables."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from ensemble_runtime.clock import utc_now
from ensemble_runtime.db import UtcDateTime


class CoachRecord(SQLModel, table=True):
    __tablename__ = "coaches"

    coach_id: str = Field(primary_key=True, max_length=50)
    display_name: str = Field(max_length=100)
    languages: list[str] = Field(sa_column=Column(JSON, nullable=False))
    timezone: str = Field(max_length=64)
    weekly_hours: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    team: str = Field(default="health_coaching", max_length=30)
    wte: float = 1.0
    monthly_target: int | None = None
    leave: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


_NOT_CANCELLED = text("status <> 'cancelled'")
_HELD = text("status IN ('booked', 'attended')")


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"
    __table_args__ = (
        # The store itself refuses two live appointments of one coach at one start time
        # (a cancelled one frees its slot). Overlaps of other shapes are checked on booking.
        Index(
            "uq_appointments_coach_start",
            "coach_id",
            "starts_at",
            unique=True,
            sqlite_where=_NOT_CANCELLED,
            postgresql_where=_NOT_CANCELLED,
        ),
        # Each session of a referral's programme is held once (a missed one may be re-offered).
        Index(
            "uq_appointments_session_per_referral",
            "referral_id",
            "session_number",
            unique=True,
            sqlite_where=_HELD,
            postgresql_where=_HELD,
        ),
        Index("ix_appointments_coach_time", "coach_id", "starts_at", "ends_at"),
    )

    appointment_id: UUID = Field(default_factory=uuid4, primary_key=True)
    referral_id: UUID = Field(index=True)
    nhs_number: str = Field(max_length=10, index=True)
    coach_id: str = Field(max_length=50)
    coach_timezone: str = Field(max_length=64)
    language: str = Field(max_length=35)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(default="booked", max_length=20, index=True)
    kind: str = Field(default="first", max_length=20)
    session_number: int = 1  # its place in the referral's programme
    practice_ods: str | None = Field(default=None, max_length=12)
    service: str = Field(default="health_coaching", max_length=30)
    sequence: int = 0  # times rescheduled (the iCal SEQUENCE)
    changed_by: str | None = Field(default=None, max_length=20)
    change_reason: str | None = Field(default=None, max_length=200)  # never on a topic
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class WaitingListEntry(SQLModel, table=True):
    """An accepted referral nobody could take yet: kept and visible, never dropped."""

    __tablename__ = "waiting_list"

    referral_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10)
    language: str | None = Field(default=None, max_length=35)  # as the patient asked
    reason: str = Field(max_length=50)
    session_number: int = 1  # the first session of the programme still to be booked
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class Programme(SQLModel, table=True):
    """A referral's course of sessions: who it is for, whom to tell, and how it stands."""

    __tablename__ = "programmes"

    referral_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10, index=True)
    practice_ods: str = Field(max_length=12)
    service: str = Field(max_length=30)
    language: str | None = Field(default=None, max_length=35)  # as the patient asked
    status: str = Field(default="active", max_length=20)  # active, paused, closed
    dna_count: int = 0
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class PatientPreference(SQLModel, table=True):
    """When a patient can take a call, on their own clock, and whether they want a new coach."""

    __tablename__ = "patient_preferences"

    nhs_number: str = Field(primary_key=True, max_length=10)
    timezone: str = Field(max_length=64)
    day_start: int  # minutes after the patient's local midnight
    day_end: int
    coach_change_requested: bool = False
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class AppointmentChange(SQLModel, table=True):
    """Every cancellation and reschedule, who asked and why (the reason stays here)."""

    __tablename__ = "appointment_changes"

    change_id: int | None = Field(default=None, primary_key=True)
    appointment_id: UUID = Field(index=True)
    action: str = Field(max_length=20)  # cancelled, rescheduled
    changed_by: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=200)
    previous_starts_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    new_starts_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ReminderSent(SQLModel, table=True):
    """A reminder published for one version (`sequence`) of an appointment: sent once."""

    __tablename__ = "reminders_sent"

    appointment_id: UUID = Field(primary_key=True)
    reminder: str = Field(primary_key=True, max_length=10)  # 48h, 2h
    sequence: int = Field(primary_key=True)
    sent_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class CalendarLink(SQLModel, table=True):
    """A coach's secret calendar link: only its hash is kept; a new one revokes the old."""

    __tablename__ = "calendar_links"

    coach_id: str = Field(primary_key=True, max_length=50)
    secret_sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
