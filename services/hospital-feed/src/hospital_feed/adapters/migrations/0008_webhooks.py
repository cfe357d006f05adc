"""webhooks: endpoints, deliveries, recipient preferences, digests (issue 9)

Revision ID: 0008
Revises: 0007
Created: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ensemble_runtime.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column(
            "previous_secret_until", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("last_alert_id", sa.Integer(), nullable=False),
        sa.Column("last_digest_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("updated_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("recipient"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("webhook_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_attempt_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recipient", "alert_id", name="uq_webhook_delivery_per_alert"),
        sa.UniqueConstraint("webhook_id"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_queue", ["recipient", "status", "id"], unique=False
        )
        batch_op.create_index("ix_webhook_deliveries_status", ["status", "id"], unique=False)
    op.create_table(
        "recipient_preferences",
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("kinds", sa.Text(), nullable=True),
        sa.Column("bands", sa.Text(), nullable=True),
        sa.Column("delivery", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("updated_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("recipient"),
    )


def downgrade() -> None:
    op.drop_table("recipient_preferences")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status")
        batch_op.drop_index("ix_webhook_deliveries_queue")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
