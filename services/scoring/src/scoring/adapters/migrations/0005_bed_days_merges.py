"""bed days, inpatient status and merged patients (issue 11)

* `hospital_encounters`: the event's patient class (PV1-2) and, for a class change, the one
  before, so a stay can be followed from the stored events.
* `hospital_stays`: one row per visit with a stay (first admitted, last out or open), what the
  ageing scan reads to rescore patients whose bed days leave the window.
* `cohort_members`: who is in each saved cohort as last refreshed (membership changes are
  published against it; the worklist's cohort filter reads it).

Existing rows are not backfilled: visits already stored get a stay row at their next event
(a merge or an encounter of the patient), and their bed days count from then.

Revision ID: 0005
Revises: 0004
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hospital_encounters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("patient_class", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "previous_patient_class",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=True,
            )
        )
    op.create_table(
        "hospital_stays",
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("facility", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("visit_number", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("first_in", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_out", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nhs_number", "facility", "visit_number"),
    )
    op.create_index("ix_hospital_stays_bounds", "hospital_stays", ["first_in", "last_out"])
    op.create_table(
        "cohort_members",
        sa.Column("cohort", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("practice_ods", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cohort", "nhs_number"),
    )
    op.create_index("ix_cohort_members_practice", "cohort_members", ["cohort", "practice_ods"])


def downgrade() -> None:
    op.drop_index("ix_cohort_members_practice", table_name="cohort_members")
    op.drop_table("cohort_members")
    op.drop_index("ix_hospital_stays_bounds", table_name="hospital_stays")
    op.drop_table("hospital_stays")
    with op.batch_alter_table("hospital_encounters", schema=None) as batch_op:
        batch_op.drop_column("previous_patient_class")
        batch_op.drop_column("patient_class")
