"""coaching: programmes, coach capacity, reminders (issue 12)

Revision ID: 0002
Revises: 0001
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ensemble_runtime.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = sa.text("status IN ('booked', 'attended')")
_FIRST = sa.text("kind = 'first'")


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time() -> ensemble_runtime.db.UtcDateTime:
    return ensemble_runtime.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("coaches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("team", _text(30), nullable=False, server_default="health_coaching")
        )
        batch_op.add_column(sa.Column("wte", sa.Float(), nullable=False, server_default="1.0"))
        batch_op.add_column(sa.Column("monthly_target", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("leave", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_number", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("practice_ods", _text(12), nullable=True))
        batch_op.add_column(
            sa.Column("service", _text(30), nullable=False, server_default="health_coaching")
        )
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("changed_by", _text(20), nullable=True))
        batch_op.add_column(sa.Column("change_reason", _text(200), nullable=True))
        batch_op.drop_index(
            "uq_appointments_first_per_referral", sqlite_where=_FIRST, postgresql_where=_FIRST
        )
        batch_op.create_index(
            "uq_appointments_session_per_referral",
            ["referral_id", "session_number"],
            unique=True,
            sqlite_where=_HELD,
            postgresql_where=_HELD,
        )
    with op.batch_alter_table("waiting_list", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_number", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "programmes",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("nhs_number", _text(10), nullable=False),
        sa.Column("practice_ods", _text(12), nullable=False),
        sa.Column("service", _text(30), nullable=False),
        sa.Column("language", _text(35), nullable=True),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("dna_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("referral_id"),
    )
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.create_index("ix_programmes_nhs_number", ["nhs_number"], unique=False)
    op.create_table(
        "patient_preferences",
        sa.Column("nhs_number", _text(10), nullable=False),
        sa.Column("timezone", _text(64), nullable=False),
        sa.Column("day_start", sa.Integer(), nullable=False),
        sa.Column("day_end", sa.Integer(), nullable=False),
        sa.Column("coach_change_requested", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number"),
    )
    op.create_table(
        "appointment_changes",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("action", _text(20), nullable=False),
        sa.Column("changed_by", _text(20), nullable=False),
        sa.Column("reason", _text(200), nullable=True),
        sa.Column("previous_starts_at", _time(), nullable=True),
        sa.Column("new_starts_at", _time(), nullable=True),
        sa.Column("at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("change_id"),
    )
    with op.batch_alter_table("appointment_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointment_changes_appointment_id", ["appointment_id"], unique=False
        )
    op.create_table(
        "reminders_sent",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("reminder", _text(10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("sent_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("appointment_id", "reminder", "sequence"),
    )
    op.create_table(
        "calendar_links",
        sa.Column("coach_id", _text(50), nullable=False),
        sa.Column("secret_sha256", _text(64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("coach_id"),
    )


def downgrade() -> None:
    op.drop_table("calendar_links")
    op.drop_table("reminders_sent")
    with op.batch_alter_table("appointment_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_changes_appointment_id")
    op.drop_table("appointment_changes")
    op.drop_table("patient_preferences")
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.drop_index("ix_programmes_nhs_number")
    op.drop_table("programmes")
    with op.batch_alter_table("waiting_list", schema=None) as batch_op:
        batch_op.drop_column("session_number")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_appointments_session_per_referral", sqlite_where=_HELD, postgresql_where=_HELD
        )
        # Only first sessions come back under the old rule; later ones would collide.
        batch_op.create_index(
            "uq_appointments_first_per_referral",
            ["referral_id", "kind"],
            unique=True,
            sqlite_where=_FIRST,
            postgresql_where=_FIRST,
        )
        for column in ("change_reason", "changed_by", "sequence", "service", "practice_ods"):
            batch_op.drop_column(column)
        batch_op.drop_column("session_number")
    with op.batch_alter_table("coaches", schema=None) as batch_op:
        for column in ("leave", "monthly_target", "wte", "team"):
            batch_op.drop_column(column)
