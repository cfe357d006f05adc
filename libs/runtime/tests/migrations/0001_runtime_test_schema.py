"""runtime test schema: the delivery tables and the test consumer's table

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from ensemble_runtime.delivery_schema import create_delivery_tables, drop_delivery_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_delivery_tables()
    op.create_table(
        "runtime_test_seen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runtime_test_seen", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runtime_test_seen_correlation_id"), ["correlation_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("runtime_test_seen")
    drop_delivery_tables()
