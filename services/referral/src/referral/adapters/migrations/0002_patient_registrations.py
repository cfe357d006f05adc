"""patient registrations, one open referral per practice

Least privilege between practices (issue 7):
- `patient_registrations`: which practice each patient is registered with, learnt from
  encounters and hot-onboarding triggers (newest event wins).
- One open referral per patient, *practice* and service: another practice's open referral
  no longer blocks the patient's own GP. The new index is looser than the old one, so
  existing rows always satisfy it.
- `referrals.practice_ods` holds an ODS code as long as the contracts allow (12).

Downgrading restores the old index, which fails while two practices hold open referrals of
one patient to one service: close one of them first.

Revision ID: 0002
Revises: 0001
Created: 2026-11-23 14:03:52.279914
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('requested', 'proposed', 'accepted')")


def upgrade() -> None:
    op.create_table(
        "patient_registrations",
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("practice_ods", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number"),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sa.VARCHAR(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=12),
            existing_nullable=False,
        )
        batch_op.drop_index(
            "uq_referrals_open_per_service", sqlite_where=OPEN, postgresql_where=OPEN
        )
        batch_op.create_index(
            "uq_referrals_open_per_practice_and_service",
            ["nhs_number", "practice_ods", "service"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_referrals_open_per_practice_and_service", sqlite_where=OPEN, postgresql_where=OPEN
        )
        batch_op.create_index(
            "uq_referrals_open_per_service",
            ["nhs_number", "service"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch_op.alter_column(
            "practice_ods",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
            type_=sa.VARCHAR(length=10),
            existing_nullable=False,
        )

    op.drop_table("patient_registrations")
