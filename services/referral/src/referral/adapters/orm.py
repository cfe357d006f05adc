"""referral's own tables. Everything else in the store (outbox, inbox) belongs to the runtime."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from ensemble_contracts.limits import ODS_CODE
from ensemble_runtime.db import UtcDateTime

# Mirrors domain.referral.OPEN_STATUSES; the store enforces one open referral per patient,
# practice and service (another practice's open referral never blocks the patient's own GP).
# A query with this very condition can use that partial index (repository.open_for).
OPEN = text("status IN ('requested', 'proposed', 'triaged', 'accepted', 'active')")


class ReferralRecord(SQLModel, table=True):
    __tablename__ = "referrals"
    __table_args__ = (
        # Two requests of one practice racing (or its request racing a proposal for it)
        # cannot both stay open.
        Index(
            "uq_referrals_open_per_practice_and_service",
            "nhs_number",
            "practice_ods",
            "service",
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
    )

    referral_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10, index=True)
    practice_ods: str = Field(max_length=ODS_CODE, index=True)
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
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    due_by: datetime = Field(sa_type=UtcDateTime)
    # Added in 0003 (the lifecycle after triage).
    priority: str | None = Field(default=None, max_length=10)
    sla_stage: str | None = Field(default=None, max_length=20, index=True)
    breach_announced_for: str | None = Field(default=None, max_length=20)
    consent: str | None = Field(default=None, max_length=10)
    consent_by: str | None = Field(default=None, max_length=100)
    consent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    consent_method: str | None = Field(default=None, max_length=10)
    worker_role: str | None = Field(default=None, max_length=10)
    worker_id: str | None = Field(default=None, max_length=64)
    worker_name: str | None = Field(default=None, max_length=100)
    supervisor_id: str | None = Field(default=None, max_length=64)
    supervisor_name: str | None = Field(default=None, max_length=100)
    outcome: str | None = Field(default=None, max_length=30)


class ReferralNoteRecord(SQLModel, table=True):
    """Free text about a referral (a note, or a duplicate request merged into it): it stays
    here, never on a topic and never in a log."""

    __tablename__ = "referral_notes"

    note_id: UUID = Field(primary_key=True)
    referral_id: UUID = Field(foreign_key="referrals.referral_id", index=True)
    kind: str = Field(max_length=20)  # "note" | "merged_request"
    author: str = Field(max_length=100)
    practice_ods: str | None = Field(default=None, max_length=ODS_CODE)  # None: staff
    text: str = Field(max_length=4000)
    created_at: datetime = Field(sa_type=UtcDateTime)


class PatientRegistrationRecord(SQLModel, table=True):
    """Which practice a patient is registered with, as the newest event seen says.

    Learnt from events referral already consumes (an encounter's PD1-3, a hot-onboarding
    trigger); `updated_at` is the time of the event that said so (its `occurred_at`), so an
    older event arriving late never overwrites a newer fact.
    """

    __tablename__ = "patient_registrations"

    nhs_number: str = Field(primary_key=True, max_length=10)
    practice_ods: str = Field(max_length=ODS_CODE)
    updated_at: datetime = Field(sa_type=UtcDateTime)
