"""referral lifecycle: triage, consent, assignment, SLA, notes (issue 12)

- `referrals` gains the priority, the SLA clock that runs (`sla_stage`, with `due_by`) and
  the last one whose breach was announced, consent (what, who, when, how), the coach or
  keyworker and supervisor, and the outcome of a completion or discharge.
- Open now also means `triaged` and `active`, so the one-open-referral index is rebuilt on
  the wider condition (rows that met the old one may meet the new one: only `requested`,
  `proposed` and `accepted` existed before, all open in both).
- `referral_notes`: free text per referral (notes, merged duplicate requests).

Existing untriaged referrals keep their triage clock; accepted ones get none (their
activation clock was never started).

Revision ID: 0003
Revises: 0002
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OPEN = sa.text("status IN ('requested', 'proposed', 'accepted')")
OPEN = sa.text("status IN ('requested', 'proposed', 'triaged', 'accepted', 'active')")
INDEX = "uq_referrals_open_per_practice_and_service"
STRINGS = {
    "priority": 10,
    "sla_stage": 20,
    "breach_announced_for": 20,
    "consent": 10,
    "consent_by": 100,
    "consent_method": 10,
    "worker_role": 10,
    "worker_id": 64,
    "worker_name": 100,
    "supervisor_id": 64,
    "supervisor_name": 100,
    "outcome": 30,
}


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        for name, length in STRINGS.items():
            batch_op.add_column(sa.Column(name, _string(length), nullable=True))
        batch_op.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_referrals_sla_stage"), ["sla_stage"], unique=False)
        batch_op.drop_index(INDEX, sqlite_where=OLD_OPEN, postgresql_where=OLD_OPEN)
        batch_op.create_index(
            INDEX,
            ["nhs_number", "practice_ods", "service"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
    op.execute(
        "UPDATE referrals SET sla_stage = 'triage' WHERE status IN ('requested', 'proposed')"
    )
    op.create_table(
        "referral_notes",
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _string(20), nullable=False),
        sa.Column("author", _string(100), nullable=False),
        sa.Column("practice_ods", _string(12), nullable=True),
        sa.Column("text", _string(4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
        sa.PrimaryKeyConstraint("note_id"),
    )
    with op.batch_alter_table("referral_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_notes_referral_id"), ["referral_id"], unique=False
        )


def downgrade() -> None:
    """Fails while a triaged or active referral shares a patient, practice and service
    with another open one under the old meaning; close one first."""
    with op.batch_alter_table("referral_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_notes_referral_id"))
    op.drop_table("referral_notes")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(INDEX, sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index(
            INDEX,
            ["nhs_number", "practice_ods", "service"],
            unique=True,
            sqlite_where=OLD_OPEN,
            postgresql_where=OLD_OPEN,
        )
        batch_op.drop_index(batch_op.f("ix_referrals_sla_stage"))
        batch_op.drop_column("consent_at")
        for name in reversed(STRINGS):
            batch_op.drop_column(name)
