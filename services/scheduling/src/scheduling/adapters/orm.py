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
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


_NOT_CANCELLED = text("status <> 'cancelled'")
_FIRST = text("kind = 'first'")


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
        # A referral gets exactly one first appointment.
        Index(
            "uq_appointments_first_per_referral",
            "referral_id",
            "kind",
            unique=True,
            sqlite_where=_FIRST,
            postgresql_where=_FIRST,
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
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class WaitingListEntry(SQLModel, table=True):
    """An accepted referral nobody could take yet: kept and visible, never dropped."""

    __tablename__ = "waiting_list"

    referral_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10)
    language: str | None = Field(default=None, max_length=35)  # as the patient asked
    reason: str = Field(max_length=50)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
