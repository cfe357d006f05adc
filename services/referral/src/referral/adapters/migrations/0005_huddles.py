"""huddles (issue 12 item 3)

- `caseload_signals`: what a team should hear about at its next huddle (an admission, A&E
  attendance or discharge of a caseload patient, a band rise, a DNA, an SLA breach, a
  hot-onboarding proposal), one per event and referral.
- `huddles`: one per team and date, with the window of signals its agenda covers.
- `huddle_items`: the signals on a huddle's agenda; `huddle_actions`: actions on them, with
  an owner and a due date, open until marked done.

New tables only: nothing existing changes, and downgrading drops them (and their data).

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


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "caseload_signals",
        sa.Column("signal_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("nhs_number", _string(10), nullable=False),
        sa.Column("service", _string(30), nullable=False),
        sa.Column("practice_ods", _string(12), nullable=False),
        sa.Column("kind", _string(20), nullable=False),
        _time("occurred_at"),
        _time("recorded_at"),
        sa.Column("detail", _string(200), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
        sa.PrimaryKeyConstraint("signal_id"),
        sa.UniqueConstraint("event_id", "referral_id", name="uq_caseload_signals_event_referral"),
    )
    with op.batch_alter_table("caseload_signals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_caseload_signals_service_recorded", ["service", "recorded_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_caseload_signals_referral_id"), ["referral_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_caseload_signals_nhs_number"), ["nhs_number"], unique=False
        )
    op.create_table(
        "huddles",
        sa.Column("huddle_id", sa.Uuid(), nullable=False),
        sa.Column("team", _string(40), nullable=False),
        sa.Column("huddle_date", sa.Date(), nullable=False),
        _time("opened_at"),
        sa.Column("opened_by", _string(100), nullable=False),
        _time("window_start"),
        _time("cutoff"),
        sa.PrimaryKeyConstraint("huddle_id"),
        sa.UniqueConstraint("team", "huddle_date", name="uq_huddles_team_date"),
    )
    op.create_table(
        "huddle_items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("huddle_id", sa.Uuid(), nullable=False),
        sa.Column("signal_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["huddle_id"], ["huddles.huddle_id"]),
        sa.ForeignKeyConstraint(["signal_id"], ["caseload_signals.signal_id"]),
        sa.PrimaryKeyConstraint("item_id"),
        sa.UniqueConstraint("huddle_id", "signal_id", name="uq_huddle_items_huddle_signal"),
    )
    with op.batch_alter_table("huddle_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_huddle_items_huddle_id"), ["huddle_id"], unique=False)
    op.create_table(
        "huddle_actions",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("huddle_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("team", _string(40), nullable=False),
        sa.Column("text", _string(500), nullable=False),
        sa.Column("owner_id", _string(64), nullable=False),
        sa.Column("owner_name", _string(100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        _time("created_at"),
        sa.Column("created_by", _string(100), nullable=False),
        _time("done_at", nullable=True),
        sa.Column("done_by", _string(100), nullable=True),
        sa.ForeignKeyConstraint(["huddle_id"], ["huddles.huddle_id"]),
        sa.ForeignKeyConstraint(["item_id"], ["huddle_items.item_id"]),
        sa.PrimaryKeyConstraint("action_id"),
    )
    with op.batch_alter_table("huddle_actions", schema=None) as batch_op:
        for column in ("huddle_id", "item_id", "team"):
            batch_op.create_index(batch_op.f(f"ix_huddle_actions_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("huddle_actions", schema=None) as batch_op:
        for column in ("team", "item_id", "huddle_id"):
            batch_op.drop_index(batch_op.f(f"ix_huddle_actions_{column}"))
    op.drop_table("huddle_actions")
    with op.batch_alter_table("huddle_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_huddle_items_huddle_id"))
    op.drop_table("huddle_items")
    op.drop_table("huddles")
    with op.batch_alter_table("caseload_signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caseload_signals_nhs_number"))
        batch_op.drop_index(batch_op.f("ix_caseload_signals_referral_id"))
        batch_op.drop_index("ix_caseload_signals_service_recorded")
    op.drop_table("caseload_signals")
