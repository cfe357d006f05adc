"""page sessions remember their token: a rotated or revoked token ends them

- page_sessions.token_sha256, staff_sessions.token_sha256: the sha256 of the env or file
  token a browser signed in with (never the token); empty for a token held in the store and
  for sessions opened before, which go on until they expire.

Revision ID: 0013
Revises: 0012
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("page_sessions", "staff_sessions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "token_sha256",
                    sqlmodel.sql.sqltypes.AutoString(length=64),
                    server_default="",
                    nullable=False,
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("token_sha256")
