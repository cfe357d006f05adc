"""hospital-feed's own tables."""

from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class MessageStatus(StrEnum):
    ACCEPTED = "accepted"  # stored; published if it was a clinical event
    REJECTED = "rejected"  # answered AE/AR; kept for staff and reprocessing
    HELD = "held"  # answered AA but no usable NHS number: staff must look
    DUPLICATE = "duplicate"  # the same business event was already published


class Hl7Message(SQLModel, table=True):
    """Every message received, accepted or not: nothing a hospital sends is lost.

    `raw` is clinical content: it is kept here (the clinical store) and never logged or
    returned by listings.
    """

    __tablename__ = "hl7_messages"
    __table_args__ = (
        # A resend is the same bytes from the same sender under the same MSH-4 and MSH-10.
        UniqueConstraint(
            "sender", "sending_facility", "control_id", "content_sha256", name="uq_hl7_resend"
        ),
        Index("ix_hl7_messages_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=50)  # authenticated principal
    sending_facility: str = Field(default="", max_length=50)  # MSH-4
    control_id: str = Field(default="", max_length=200)  # MSH-10
    trigger: str = Field(default="", max_length=10)
    content_sha256: str = Field(max_length=64)
    # sha256 of the business key, set only on the row that published the event.
    published_key: str | None = Field(default=None, max_length=64, unique=True)
    raw: str = Field(sa_type=Text)
    received_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    reprocessed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    status: str = Field(max_length=20)
    ack_code: str = Field(max_length=2)
    error_code: str = Field(default="0", max_length=5)
    error: str | None = Field(default=None, max_length=500)
    event_id: UUID | None = None


class AlertStatus(StrEnum):
    ACTIVE = "active"
    RETRACTED = "retracted"


class PracticeAlert(SQLModel, table=True):
    """What a practice sees about one of its registered patients."""

    __tablename__ = "practice_alerts"
    __table_args__ = (
        UniqueConstraint("practice_ods", "encounter_event_id", name="uq_alert_per_event"),
        Index("ix_practice_alerts_feed", "practice_ods", "alert_id"),
        Index("ix_practice_alerts_visit", "practice_ods", "nhs_number", "visit_number"),
    )

    alert_id: int | None = Field(default=None, primary_key=True)
    practice_ods: str = Field(max_length=10)
    nhs_number: str = Field(max_length=10)
    kind: str = Field(max_length=30)
    encounter_event_id: UUID
    sending_facility: str = Field(max_length=50)
    visit_number: str | None = Field(default=None, max_length=50)
    location: str | None = Field(default=None, max_length=200)
    event_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    status: str = Field(default=AlertStatus.ACTIVE, max_length=20)
    retracted_by_event_id: UUID | None = None
