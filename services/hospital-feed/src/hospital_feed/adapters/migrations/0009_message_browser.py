"""message browser: NHS number hash for search, resubmitted and discarded messages (issue 10)

Revision ID: 0009
Revises: 0008
Created: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ensemble_runtime.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Messages stored before this revision have no NHS number hash: `ensemble-hospital-feed-
# messages rehash` computes them (it needs the search key, which a migration has not).
_CORRECTIONS = sa.text("resubmitted_from IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "message_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("related_message_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message_audit", schema=None) as batch_op:
        batch_op.create_index("ix_message_audit_message_id", ["message_id"], unique=False)

    op.create_table(
        "staff_sessions",
        sa.Column("session_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("principal", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("user", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_sha256"),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_staff_sessions_expires_at", ["expires_at"], unique=False)

    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nhs_number_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("resubmitted_from", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("closed_at", ensemble_runtime.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.create_index("ix_hl7_messages_control_id", ["control_id"], unique=False)
        batch_op.create_index("ix_hl7_messages_nhs_number_hmac", ["nhs_number_hmac"], unique=False)
        batch_op.create_index(
            "ix_hl7_messages_sender_received", ["sender", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_hl7_messages_resubmitted_from",
            ["resubmitted_from"],
            unique=False,
            sqlite_where=_CORRECTIONS,
            postgresql_where=_CORRECTIONS,
        )


def downgrade() -> None:
    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_hl7_messages_resubmitted_from")
        batch_op.drop_index("ix_hl7_messages_sender_received")
        batch_op.drop_index("ix_hl7_messages_nhs_number_hmac")
        batch_op.drop_index("ix_hl7_messages_control_id")
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("closed_by")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("resubmitted_from")
        batch_op.drop_column("nhs_number_hmac")

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_sessions_expires_at")
    op.drop_table("staff_sessions")

    with op.batch_alter_table("message_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_message_audit_message_id")
    op.drop_table("message_audit")
