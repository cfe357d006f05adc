"""alert content: emergency, disposition, recipient reason, acknowledgement; risk and caseload
projections; rosters (issue 9)

Revision ID: 0003
Revises: 0002
Created: 2026-12-06 17:14:51.534299
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ensemble_runtime.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient_caseloads",
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("practice_ods", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("updated_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number", "service"),
    )
    op.create_table(
        "patient_risk",
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("band", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("model_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("scored_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number"),
    )
    op.create_table(
        "roster_entries",
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("added_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("recipient", "nhs_number"),
    )
    with op.batch_alter_table("roster_entries", schema=None) as batch_op:
        batch_op.create_index("ix_roster_entries_patient", ["nhs_number"], unique=False)

    with op.batch_alter_table("practice_alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("disposition", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "recipient_reason",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                server_default="registered",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("seen_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("seen_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("actioned_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("actioned_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("practice_alerts", schema=None) as batch_op:
        batch_op.drop_column("outcome")
        batch_op.drop_column("actioned_by")
        batch_op.drop_column("actioned_at")
        batch_op.drop_column("seen_by")
        batch_op.drop_column("seen_at")
        batch_op.drop_column("recipient_reason")
        batch_op.drop_column("disposition")
        batch_op.drop_column("emergency")

    with op.batch_alter_table("roster_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_entries_patient")

    op.drop_table("roster_entries")
    op.drop_table("patient_risk")
    op.drop_table("patient_caseloads")
