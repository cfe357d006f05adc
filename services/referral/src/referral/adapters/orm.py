"""referral's own table. Everything else in the store (outbox, inbox) belongs to the runtime."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, Index, text
from sqlmodel import Field, SQLModel

# Mirrors domain.referral.OPEN_STATUSES; the store enforces one open referral per service.
_OPEN = text("status IN ('requested', 'proposed', 'accepted')")


class ReferralRecord(SQLModel, table=True):
    __tablename__ = "referrals"
    __table_args__ = (
        # Two GP requests racing (or a GP request racing a proposal) cannot both stay open.
        Index(
            "uq_referrals_open_per_service",
            "nhs_number",
            "service",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
    )

    referral_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10, index=True)
    practice_ods: str = Field(max_length=10, index=True)
    service: str = Field(max_length=30)
    source: str = Field(max_length=30)
    status: str = Field(max_length=20, index=True)
    reason: str | None = Field(default=None, max_length=1000)
    decline_reason: str | None = Field(default=None, max_length=1000)
    preferred_language: str | None = Field(default=None, max_length=35)
    # The hot-onboarding event behind a proposal: one proposal per trigger, by constraint.
    source_event_id: UUID | None = Field(default=None, unique=True)
    # The encounter that scoring triggered on; a withdrawal names it, so it finds its proposal.
    trigger_event_id: UUID | None = Field(default=None)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
    due_by: datetime = Field(sa_type=DateTime(timezone=True))
