"""the outcomes page's sign-in sessions (a browser signs in with a staff or practice token once)

- `scoring_page_sessions`: one per signed-in browser, keyed by the sha256 of its cookie's
  random id, with the token's kind and principal, the user, the session's CSRF token, the
  sha256 of the env or file token that signed in (once that token is rotated or revoked the
  session ends) and when it expires (the runtime's page_sessions columns).

A new table only: nothing existing changes, and downgrading drops it (signing everyone out).

Revision ID: 0008
Revises: 0007
Created: 2026-12-07
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


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, ensemble_runtime.db.UtcDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "scoring_page_sessions",
        sa.Column("session_sha256", _string(64), nullable=False),
        sa.Column("kind", _string(20), nullable=False),
        sa.Column("principal", _string(100), nullable=False),
        sa.Column("user", _string(100), nullable=False),
        sa.Column("csrf_token", _string(64), nullable=False),
        sa.Column("token_sha256", _string(64), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("session_sha256"),
    )
    with op.batch_alter_table("scoring_page_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_scoring_page_sessions_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scoring_page_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_scoring_page_sessions_expires_at")
    op.drop_table("scoring_page_sessions")
