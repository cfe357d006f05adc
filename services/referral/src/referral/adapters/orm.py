"""referral's own table."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class Referral(SQLModel, table=True):
    __tablename__ = "referrals"

    referral_id: UUID = Field(default_factory=uuid4, primary_key=True)
    nhs_number: str = Field(max_length=10, index=True)
    practice_ods: str = Field(max_length=10, index=True)
    service: str = Field(max_length=30)
    source: str = Field(max_length=30)
    status: str = Field(max_length=20, index=True)
    reason: str | None = Field(default=None, max_length=1000)
    decline_reason: str | None = Field(default=None, max_length=1000)
    preferred_language: str | None = Field(default=None, max_length=20)
    # The hot-onboarding trigger behind a proposal: one proposal per trigger, by constraint.
    source_event_id: UUID | None = Field(default=None, unique=True)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    due_by: datetime = Field(sa_type=DateTime(timezone=True))
