"""reopen keys, raw form, ods width

- hl7_messages.visit_key: which visit a publishing message belongs to, so a cancellation can
  re-open the business key of what it cancelled (issue 7).
- hl7_messages.raw_escaped / raw_charset: how `raw` is stored (NUL-free escaped form) and
  which charset the bytes were read with.
- practice_alerts.practice_ods: 12 characters, the contract's ODS code limit.

Revision ID: 0002
Revises: 0001
Created: 2026-11-23 14:05:09.993199
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("visit_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("raw_escaped", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "raw_charset",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                server_default="utf-8",
                nullable=False,
            )
        )
        batch_op.create_index("ix_hl7_messages_visit_key", ["visit_key"], unique=False)

    with op.batch_alter_table("practice_alerts", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sa.VARCHAR(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=12),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("practice_alerts", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
            type_=sa.VARCHAR(length=10),
            existing_nullable=False,
        )

    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_hl7_messages_visit_key")
        batch_op.drop_column("raw_charset")
        batch_op.drop_column("raw_escaped")
        batch_op.drop_column("visit_key")
