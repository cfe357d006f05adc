"""hospital-feed's own tables."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class Hl7Message(SQLModel, table=True):
    """Every message received, accepted or not: nothing a hospital sends is lost."""

    __tablename__ = "hl7_messages"

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=50)
    sending_facility: str = Field(default="", max_length=50, index=True)
    control_id: str = Field(default="", max_length=100, index=True)
    trigger: str = Field(default="", max_length=10)
    content_sha256: str = Field(max_length=64)
    business_key: str | None = Field(default=None, max_length=300, index=True)
    raw: str = Field(sa_type=Text)
    received_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    status: str = Field(max_length=20, index=True)  # accepted|stored|held|duplicate|rejected
    ack_code: str = Field(max_length=2)
    error_code: str = Field(default="0", max_length=5)
    error: str | None = Field(default=None, max_length=500)
    event_id: UUID | None = None


class PracticeAlert(SQLModel, table=True):
    """What a practice sees about one of its registered patients."""

    __tablename__ = "practice_alerts"
    __table_args__ = (UniqueConstraint("practice_ods", "encounter_event_id"),)

    alert_id: int | None = Field(default=None, primary_key=True)
    practice_ods: str = Field(max_length=10, index=True)
    nhs_number: str = Field(max_length=10, index=True)
    kind: str = Field(max_length=30)
    encounter_event_id: UUID
    sending_facility: str = Field(max_length=50)
    visit_number: str | None = Field(default=None, max_length=50)
    location: str | None = Field(default=None, max_length=200)
    event_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    status: str = Field(default="active", max_length=20)  # active|retracted
    retracted_by_event_id: UUID | None = None
