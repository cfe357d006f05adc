"""scheduling's own tables."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class CoachRecord(SQLModel, table=True):
    __tablename__ = "coaches"

    coach_id: str = Field(primary_key=True, max_length=50)
    display_name: str = Field(max_length=100)
    languages: list[str] = Field(sa_column=Column(JSON, nullable=False))
    timezone: str = Field(max_length=64)
    weekly_hours: dict[str, list[list[str]]] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"
    # A coach is never double-booked at one start time, whatever the code above does.
    __table_args__ = (UniqueConstraint("coach_id", "starts_at"),)

    appointment_id: UUID = Field(default_factory=uuid4, primary_key=True)
    referral_id: UUID = Field(index=True)
    # Set for a referral's first appointment only: one first appointment per referral.
    first_for_referral: UUID | None = Field(default=None, unique=True)
    nhs_number: str = Field(max_length=10, index=True)
    coach_id: str = Field(max_length=50, index=True)
    coach_timezone: str = Field(max_length=64)
    language: str = Field(max_length=20)
    starts_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    ends_at: datetime = Field(sa_type=DateTime(timezone=True))
    status: str = Field(default="booked", max_length=20, index=True)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class WaitingListEntry(SQLModel, table=True):
    """An accepted referral nobody could take yet: kept, visible, never dropped."""

    __tablename__ = "waiting_list"

    referral_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10)
    language: str | None = Field(default=None, max_length=20)
    reason: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
