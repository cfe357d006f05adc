"""outcomes and ROI (issue 11 item 6)

* `outcome_enrolments`: a patient's enrolment in a programme (health coaching, complex care)
  from referral.referrals.v1 (activation, completion, discharge, merges) and
  scheduling.appointments.v1 (attended sessions), with the band, PAM level and repeat
  medicines at enrolment: scoring keeps only the latest profile, so the baseline is kept here.
* `outcome_sessions`: each programme appointment's latest state; attended ones are sessions.

No backfill: enrolments are built from the events as the new consumer reads the topics.

Revision ID: 0007
Revises: 0006
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "outcome_enrolments",
        sa.Column("nhs_number", _text(10), nullable=False),
        sa.Column("programme", _text(30), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("practice_ods", _text(12), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sessions_attended", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("band", _text(20), nullable=True),
        sa.Column("pam_level", sa.Integer(), nullable=True),
        sa.Column("repeat_medicines", sa.Integer(), nullable=True),
        sa.Column("profile_as_of", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number", "programme"),
    )
    op.create_index(
        "ix_outcome_enrolments_practice", "outcome_enrolments", ["practice_ods", "programme"]
    )
    op.create_table(
        "outcome_sessions",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("nhs_number", _text(10), nullable=False),
        sa.Column("programme", _text(30), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appointment_id"),
    )
    op.create_index("ix_outcome_sessions_referral", "outcome_sessions", ["referral_id"])


def downgrade() -> None:
    op.drop_index("ix_outcome_sessions_referral", table_name="outcome_sessions")
    op.drop_table("outcome_sessions")
    op.drop_index("ix_outcome_enrolments_practice", table_name="outcome_enrolments")
    op.drop_table("outcome_enrolments")
