"""hospital use scans

`scan_marks`: how far the periodic scan of hospital use has got (the window cutoff up to
which patients whose admissions and attendances aged out were rescored), and an index on
`hospital_encounters.event_at` for finding what left the window.

Revision ID: 0004
Revises: 0003
Created: 2026-11-24 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scan_marks",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("up_to", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("hospital_encounters", schema=None) as batch_op:
        batch_op.create_index("ix_hospital_encounters_time", ["event_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hospital_encounters", schema=None) as batch_op:
        batch_op.drop_index("ix_hospital_encounters_time")
    op.drop_table("scan_marks")
