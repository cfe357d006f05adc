"""visits: per-visit encounter state, patient registrations and merges (issue 10)

Revision ID: 0010
Revises: 0009
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ensemble_runtime.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("sending_facility", _text(50), nullable=False),
        sa.Column("visit_number", _text(50), nullable=False),
        sa.Column("nhs_number", _text(10), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("patient_class", _text(20), nullable=True),
        sa.Column("location", _text(200), nullable=True),
        sa.Column("practice_ods", _text(12), nullable=True),
        sa.Column("last_event_at", _time(), nullable=True),
        sa.Column("started_at", _time(), nullable=True),
        sa.Column("ended_at", _time(), nullable=True),
        sa.Column("status_before", _text(20), nullable=True),
        sa.Column("previous_location", _text(200), nullable=True),
        sa.Column("last_trigger", _text(10), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("sending_facility", "visit_number"),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_nhs_number", ["nhs_number"], unique=False)

    op.create_table(
        "registered_practices",
        sa.Column("nhs_number", _text(10), nullable=False),
        sa.Column("practice_ods", _text(12), nullable=False),
        sa.Column("as_of", _time(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number"),
    )

    op.create_table(
        "patient_merges",
        sa.Column("retired_nhs_number", _text(10), nullable=False),
        sa.Column("surviving_nhs_number", _text(10), nullable=False),
        sa.Column("merged_at", _time(), nullable=True),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("retired_nhs_number"),
    )
    with op.batch_alter_table("patient_merges", schema=None) as batch_op:
        batch_op.create_index("ix_patient_merges_surviving", ["surviving_nhs_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_merges_surviving")
    op.drop_table("patient_merges")
    op.drop_table("registered_practices")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_nhs_number")
    op.drop_table("visits")


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time() -> ensemble_runtime.db.UtcDateTime:
    return ensemble_runtime.db.UtcDateTime(timezone=True)
