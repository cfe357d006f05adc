"""practice access: users and their hashed bearer tokens (issue 9)

Revision ID: 0004
Revises: 0003
Created: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ensemble_runtime.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "practice_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_ods", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("practice_ods", "username", name="uq_practice_users_practice_username"),
    )
    op.create_table(
        "practice_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["practice_users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("practice_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_practice_tokens_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("practice_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_tokens_user_id")
    op.drop_table("practice_tokens")
    op.drop_table("practice_users")
