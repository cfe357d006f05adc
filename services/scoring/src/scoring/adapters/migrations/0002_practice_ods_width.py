"""practice ODS width

patients, hospital_encounters and hot_onboarding_triggers: `practice_ods` is 12 characters,
the contract's ODS code limit (`ensemble_contracts.limits.ODS_CODE`), so an encounter naming a
practice with a longer code than 10 is stored rather than refused by PostgreSQL. (A downgrade
fails while a longer code is stored.)

Revision ID: 0002
Revises: 0001
Created: 2026-11-23 14:12:06.070658
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
    with op.batch_alter_table("hospital_encounters", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sa.VARCHAR(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=12),
            existing_nullable=True,
        )

    with op.batch_alter_table("hot_onboarding_triggers", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sa.VARCHAR(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=12),
            existing_nullable=False,
        )

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sa.VARCHAR(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=12),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
            type_=sa.VARCHAR(length=10),
            existing_nullable=True,
        )

    with op.batch_alter_table("hot_onboarding_triggers", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
            type_=sa.VARCHAR(length=10),
            existing_nullable=False,
        )

    with op.batch_alter_table("hospital_encounters", schema=None) as batch_op:
        batch_op.alter_column(
            "practice_ods",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=12),
            type_=sa.VARCHAR(length=10),
            existing_nullable=True,
        )
